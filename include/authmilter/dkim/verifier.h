// DKIM verification (RFC 6376, RFC 8301, RFC 8463) on libopendkim, resolving keys through
// the shared DNS layer. A Verifier is built once per configuration snapshot (one library
// handle, thread-safe for concurrent messages); a Verification follows one message:
// headers and body chunks are handed to libopendkim as they arrive (no second copy of the
// message), and finish() classifies every signature.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/dns/resolver.h"

struct dkim;
struct dkim_lib;

namespace authmilter::dkim {

struct VerifyOptions {
  unsigned maxSignatures = 5;       // MaximumSignatures: later ones are not checked
  unsigned minKeyBits = 1024;       // MinimumKeyBits (RFC 8301): shorter keys are "policy"
  size_t maxHeaderBytes = 1 << 20;  // DKIMMaxHeaderBytes: past it, no signature can pass
};

// RFC 8601 §2.7.1 results.
enum class Result { None, Pass, Fail, Policy, Neutral, TempError, PermError };
std::string_view toString(Result result);

struct SignatureResult {
  Result result = Result::None;
  std::string reason;     // why, in words ("body hash did not verify", "key revoked", ...)
  std::string domain;     // d=
  std::string identity;   // i= (or "@d" when absent)
  std::string selector;   // s=
  std::string algorithm;  // a=
  std::string bPrefix;    // the first 8 characters of b= (RFC 6008 header.b)
  bool partialBody = false;  // l= covers less than the body: content was added after signing
  bool testing = false;      // key flag t=y
};

class Verifier {
 public:
  Verifier(std::shared_ptr<dns::Resolver> resolver, VerifyOptions options);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  const VerifyOptions& options() const { return options_; }
  dkim_lib* library() const { return lib_; }

 private:
  std::shared_ptr<dns::Resolver> resolver_;
  VerifyOptions options_;
  dkim_lib* lib_ = nullptr;
};

class Verification {
 public:
  explicit Verification(const Verifier& verifier);
  ~Verification();
  Verification(const Verification&) = delete;
  Verification& operator=(const Verification&) = delete;

  // One header field as it stood in the message: name, and the value after the colon
  // (with its leading space if it had one). Line ends may be CRLF or bare LF.
  void header(std::string_view name, std::string_view value);
  void endOfHeaders();
  void body(std::string_view chunk);  // CRLF line ends, as the MTA hands it on
  // Classifies every signature (empty: the message had none). Call once.
  std::vector<SignatureResult> finish();

  size_t uncheckedSignatures() const { return unchecked_; }  // past MaximumSignatures
  size_t signaturesSeen() const { return seen_; }

  // libopendkim's prescreen hook: ignores signatures past MaximumSignatures.
  void prescreen(void** sigs, int count);

 private:
  const Verifier& verifier_;
  ::dkim* handle_ = nullptr;
  bool noSignatures_ = false;  // eoh said so: no need to hash the body
  bool crBefore_ = false;      // the body so far ends in CR (its LF may start the next chunk)
  bool lineOpen_ = false;      // the body so far ends inside a line (no LF yet)
  std::string fixedBody_;      // a body chunk with bare CR or LF, mended to CRLF
  bool overflow_ = false;      // headers past maxHeaderBytes
  bool failed_ = false;        // libopendkim refused the message (reason in failure_)
  std::string failure_;
  size_t headerBytes_ = 0;
  size_t seen_ = 0;
  size_t unchecked_ = 0;
  std::string buffer_;
  // What each DKIM-Signature (up to MaximumSignatures) says of itself, read from its text
  // once: libopendkim drops the ones it cannot parse, and those must still be reported
  // (permerror), never "none"; and it does not check for duplicated tags.
  struct RawSignature {
    std::string domain, selector, algorithm, identity, bPrefix;  // sanitized, as in SignatureResult
    std::string duplicateTag;  // a tag name that occurs twice (RFC 6376 §3.2), or empty
  };
  static RawSignature readSignature(std::string_view tagList);
  std::vector<RawSignature> rawSignatures_;
};

// A whole message as a file holds it (authmilter-check, tests): bare LF line ends become
// CRLF as an MTA would transmit them, the header fields are unfolded into name and value
// and everything goes through one Verification. *unchecked: signatures past the maximum.
std::vector<SignatureResult> verifyMessage(const Verifier& verifier, std::string_view raw, size_t* unchecked);

}  // namespace authmilter::dkim
