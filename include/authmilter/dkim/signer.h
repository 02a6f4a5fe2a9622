// DKIM signing (RFC 6376 §5, RFC 8463) on libopendkim. A Signer is built once per
// configuration snapshot (one library handle with the header lists and x= lifetime; thread-
// safe for concurrent messages); a Signing follows one message and makes every signature
// its keys call for in one pass: each header and body chunk is handed to one libopendkim
// handle per key as it arrives (an RSA and an Ed25519 key -> two DKIM-Signature headers).
// Signatures carry t=, x= only when a lifetime is set, and never l=.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/dkim/signing_table.h"

struct dkim;
struct dkim_lib;

namespace authmilter::dkim {

enum class Canonicalization { Simple, Relaxed };

struct SignOptions {
  Canonicalization header = Canonicalization::Relaxed;  // Canonicalization header/body
  Canonicalization body = Canonicalization::Relaxed;
  std::vector<std::string> signHeaders;      // SignHeaders, lower case; must hold "from"
  std::vector<std::string> oversignHeaders;  // OversignHeaders, lower case
  unsigned signatureTtl = 0;                 // SignatureTTL in seconds; 0: no x=
};

// RFC 6376 §5.4.1's recommended header fields, plus Message-ID, MIME-Version and
// Content-Type (which OversignHeaders protects by default).
const std::vector<std::string>& defaultSignHeaders();
// From, To, Subject, Date, Message-ID, Content-Type, MIME-Version: one more h= entry than
// the message has, so that a copy added later breaks the signature (RFC 6376 §8.15).
const std::vector<std::string>& defaultOversignHeaders();

// One signature made.
struct MadeSignature {
  std::string domain, selector, algorithm;  // d=, s=, a=
  std::string value;  // the DKIM-Signature field body, folded with "\r\n\t", no leading space
};

class Signer {
 public:
  explicit Signer(SignOptions options);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  const SignOptions& options() const { return options_; }
  dkim_lib* library() const { return lib_; }
  // Signs a small message with `key` for `domain`; what libopendkim said if it could not
  // (empty: it can sign with this key). Run at load so that a key libopendkim refuses is a
  // configuration error, not a failure on the first message.
  std::string selfTest(const KeyEntry& key, const std::string& domain) const;

 private:
  SignOptions options_;
  dkim_lib* lib_ = nullptr;
};

class Signing {
 public:
  // `id` names the message in libopendkim's own diagnostics (the queue id).
  Signing(const Signer& signer, std::vector<SignatureSpec> specs, std::string_view id);
  ~Signing();
  Signing(const Signing&) = delete;
  Signing& operator=(const Signing&) = delete;

  // One header field: name, and the value after the colon with its leading space, folded
  // with CRLF or bare LF. In message order.
  void header(std::string_view name, std::string_view value);
  void endOfHeaders();
  void body(std::string_view chunk);  // CRLF line ends
  // Every signature, in the order of the specs; false + *error (naming d= and s=) if
  // libopendkim failed on any of them. Call once.
  bool finish(std::vector<MadeSignature>* signatures, std::string* error);

 private:
  struct Handle {
    SignatureSpec spec;
    ::dkim* dkim = nullptr;
  };
  void fail(const Handle& h, const std::string& what, int status);

  std::vector<Handle> handles_;
  bool relaxedHeaders_;
  std::string error_;
  std::string buffer_;
};

// A whole message (a file's text, CRLF or bare LF) signed with `specs`; for tests and tools.
bool signMessage(const Signer& signer, const std::vector<SignatureSpec>& specs, std::string_view raw,
                 std::vector<MadeSignature>* signatures, std::string* error);

}  // namespace authmilter::dkim
