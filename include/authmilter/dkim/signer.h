// DKIM signing (RFC 6376 §5, RFC 8463). A Signer is built once per configuration snapshot
// (the header lists, canonicalization and x= lifetime; shared by every thread); a Signing
// follows one message and makes every signature its keys call for in one pass: the body is
// canonicalized and hashed once, as it streams past, for all of them; each key then signs the
// selected headers plus its own DKIM-Signature field (an RSA and an Ed25519 key -> two
// DKIM-Signature headers). Signatures carry t=, x= only when a lifetime is set, never l=.
//
// Canonicalization and hashing are ours and the signatures OpenSSL's: libopendkim's signer
// leaks its parsed key on every Ed25519 signature (Debian 2.11.0~beta2: about 1.3 KB per
// message, found by LeakSanitizer) and folds its own header so that simple header
// canonicalization breaks. libopendkim still verifies (verifier.h), and the tests hold every
// signature made here to libopendkim and to dkimpy.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/dkim/canonical.h"
#include "authmilter/dkim/signing_table.h"

namespace authmilter::dkim {

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

  const SignOptions& options() const { return options_; }
  // Signs a small message with `key` for `domain`; why it could not (empty: it can sign
  // with this key). Run at load so that a key OpenSSL refuses is a configuration error, not
  // a failure on the first message.
  std::string selfTest(const KeyEntry& key, const std::string& domain) const;

 private:
  SignOptions options_;
};

class Signing {
 public:
  // `id` names the message in errors (the queue id).
  Signing(const Signer& signer, std::vector<SignatureSpec> specs, std::string_view id);
  ~Signing();
  Signing(const Signing&) = delete;
  Signing& operator=(const Signing&) = delete;

  // One header field: name, and the value after the colon with its leading space, folded
  // with CRLF or bare LF. In message order. Kept (moved in) until endOfHeaders().
  void header(std::string name, std::string value);
  void endOfHeaders();
  void body(std::string_view chunk);  // CRLF (or bare LF) line ends
  // Every signature, in the order of the specs; false + *error (naming d= and s=) if one
  // could not be made. Call once.
  bool finish(std::vector<MadeSignature>* signatures, std::string* error);

 private:
  std::string signatureFor(const SignatureSpec& spec, const std::string& bodyHash, long long now,
                           std::string* error) const;

  const Signer& signer_;
  std::vector<SignatureSpec> specs_;
  std::string id_;
  std::vector<std::pair<std::string, std::string>> headers_;  // until the end of the headers
  std::vector<std::string> headerList_;  // h=
  std::string canonicalHeaders_;  // the selected headers, canonicalized, in h= order
  std::unique_ptr<BodyHasher> body_;
};

// A whole message (a file's text, CRLF or bare LF) signed with `specs`; for tests and tools.
bool signMessage(const Signer& signer, const std::vector<SignatureSpec>& specs, std::string_view raw,
                 std::vector<MadeSignature>* signatures, std::string* error);

}  // namespace authmilter::dkim
