// DKIM verification on libopendkim (see the header). libopendkim does the cryptography,
// canonicalization and tag parsing; this file decides what each outcome means for a
// postmaster and for DMARC (RFC 8601 result and reason).
#include "authmilter/dkim/verifier.h"

#include <algorithm>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "authmilter/dkim/dns_bridge.h"
#include "authmilter/dkim/opendkim.h"
#include "authmilter/mail/message_text.h"
#include "authmilter/util/strings.h"

namespace authmilter::dkim {

std::string_view toString(Result result) {
  switch (result) {
    case Result::None: return "none";
    case Result::Pass: return "pass";
    case Result::Fail: return "fail";
    case Result::Policy: return "policy";
    case Result::Neutral: return "neutral";
    case Result::TempError: return "temperror";
    case Result::PermError: return "permerror";
  }
  return "none";
}

namespace {

DKIM_CBSTAT prescreenHook(DKIM* handle, DKIM_SIGINFO** sigs, int count) {
  if (auto* v = static_cast<Verification*>(dkim_get_user_context(handle))) {
    v->prescreen(reinterpret_cast<void**>(sigs), count);
  }
  return DKIM_CBSTAT_CONTINUE;
}

std::string text(const unsigned char* s) { return s == nullptr ? std::string() : reinterpret_cast<const char*>(s); }

std::string tag(DKIM_SIGINFO* sig, const char* name) {
  return text(dkim_sig_gettagvalue(sig, false, reinterpret_cast<u_char*>(const_cast<char*>(name))));
}

// The first 8 characters of b= with folding white space removed (RFC 6008 §4).
std::string bPrefix(const std::string& b) {
  std::string out;
  for (char c : b) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    out.push_back(c);
    if (out.size() == 8) break;
  }
  return out;
}

std::string shortKeyReason(unsigned bits) {
  return std::to_string(bits) + "-bit key is shorter than MinimumKeyBits (RFC 8301 3.2)";
}

// What a signature that did not pass means (RFC 8601 result, reason). README's "DKIM
// results" table gives the RFC section behind each row: `fail` only when a verification
// test ran and failed (RFC 8601 2.7.1: the body hash or the signature did not verify);
// RFC 6376's other PERMFAIL conditions of the signature or the key are `permerror`, its
// TEMPFAIL (key unavailable, 6.1.2) is `temperror`.
std::pair<Result, std::string> failure(int error, int bodyHash, const SignatureResult& r) {
  const std::string key = r.selector + "._domainkey." + r.domain;
  switch (error) {
    case DKIM_SIGERROR_OK:
    case DKIM_SIGERROR_BADSIG:
      return {Result::Fail, bodyHash == DKIM_SIGBH_MISMATCH ? "body hash did not verify" : "signature did not verify"};
    case DKIM_SIGERROR_EXPIRED: return {Result::PermError, "signature expired (x=)"};
    case DKIM_SIGERROR_FUTURE: return {Result::PermError, "signature timestamp in the future (t=)"};
    case DKIM_SIGERROR_KEYREVOKED: return {Result::PermError, "key revoked (empty p=)"};
    case DKIM_SIGERROR_KEYFAIL: return {Result::TempError, "key lookup failed: " + key};
    case DKIM_SIGERROR_NOKEY: return {Result::PermError, "no key at " + key};
    case DKIM_SIGERROR_KEYTOOSMALL: return {Result::Policy, "key shorter than MinimumKeyBits"};
    case DKIM_SIGERROR_INVALID_H: return {Result::PermError, "From is not signed (h=)"};
    // The key record (RFC 6376 6.1.2: PERMFAIL key syntax error, inappropriate key algorithm).
    // Our DNS bridge hands libopendkim well-formed replies, so a "corrupt reply" is the record.
    case DKIM_SIGERROR_DNSSYNTAX: return {Result::PermError, "key record at " + key + " is not a valid tag list"};
    case DKIM_SIGERROR_KEYDECODE: return {Result::PermError, "key at " + key + " cannot be decoded (p=)"};
    case DKIM_SIGERROR_KEYTYPEUNKNOWN: return {Result::PermError, "unknown key type (k=) at " + key};
    case DKIM_SIGERROR_KEYVERSION: return {Result::PermError, "key record at " + key + " is not v=DKIM1"};
    case DKIM_SIGERROR_KEYHASHMISMATCH: return {Result::PermError, "key h= at " + key + " excludes the signature's hash"};
    case DKIM_SIGERROR_MULTIREPLY: return {Result::PermError, "several key records at " + key};
    case DKIM_SIGERROR_DOMAIN: return {Result::PermError, "i= is not in d=, or d= is invalid (RFC 6376 3.5)"};
    case DKIM_SIGERROR_SUBDOMAIN: return {Result::PermError, "key t=s forbids an i= in a subdomain of d="};
    default: {
      const char* why = dkim_sig_geterrorstr(error);
      return {Result::PermError, why != nullptr ? why : "invalid signature"};
    }
  }
}

}  // namespace

Verifier::Verifier(std::shared_ptr<dns::Resolver> resolver, VerifyOptions options)
    : resolver_(std::move(resolver)), options_(options) {
  lib_ = dkim_init(nullptr, nullptr);
  if (lib_ == nullptr) throw std::runtime_error("libopendkim: dkim_init failed");
  dkim::installDkimDns(lib_, *resolver_);
  // No FIXCRLF: it copies every body byte once per canonicalization, while the MTAs hand
  // CRLF bodies; body() mends the rare chunk with a bare CR or LF itself, and finish() ends
  // an unterminated last line (header values are mended in header()).
  u_int flags = 0;
  u_int minBits = options_.minKeyBits;
  if (dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK ||
      dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minBits, sizeof minBits) != DKIM_STAT_OK ||
      dkim_set_prescreen(lib_, prescreenHook) != DKIM_STAT_OK) {
    dkim_close(lib_);
    throw std::runtime_error("libopendkim: cannot set options");
  }
}

Verifier::~Verifier() { dkim_close(lib_); }

// A DKIM-Signature's tag-list (RFC 6376 §3.2), read from its text: the tags a report
// names, and the first tag name that occurs twice (which makes the whole list invalid).
Verification::RawSignature Verification::readSignature(std::string_view list) {
  RawSignature raw;
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(';', start);
    if (end == std::string_view::npos) end = list.size();
    const std::string_view item = list.substr(start, end - start);
    start = end + 1;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(util::trim(item.substr(0, eq)));
    if (raw.duplicateTag.empty() && std::find(names.begin(), names.end(), name) != names.end()) {
      raw.duplicateTag = util::sanitize(name);
    }
    std::string value;
    for (char c : item.substr(eq + 1)) {
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') value.push_back(c);
    }
    if (name == "d") raw.domain = util::sanitize(value);
    if (name == "s") raw.selector = util::sanitize(value);
    if (name == "a") raw.algorithm = util::sanitize(value);
    if (name == "i") raw.identity = util::sanitize(value);
    if (name == "b") raw.bPrefix = util::sanitize(bPrefix(value));
    names.push_back(std::move(name));
  }
  return raw;
}

Verification::Verification(const Verifier& verifier) : verifier_(verifier) {
  DKIM_STAT status = DKIM_STAT_OK;
  handle_ = dkim_verify(verifier_.library(), reinterpret_cast<const u_char*>("authmilter"), nullptr, &status);
  if (handle_ == nullptr) {
    failed_ = true;
    failure_ = std::string("libopendkim: ") + dkim_getresultstr(status);
    return;
  }
  dkim_set_user_context(handle_, this);
}

Verification::~Verification() {
  if (handle_ != nullptr) dkim_free(handle_);
}

void Verification::prescreen(void** sigs, int count) {
  for (int i = static_cast<int>(verifier_.options().maxSignatures); i < count; ++i) {
    dkim_sig_ignore(static_cast<DKIM_SIGINFO*>(sigs[i]));
    ++unchecked_;
  }
}

void Verification::header(std::string_view name, std::string_view value) {
  if (util::iequals(name, "DKIM-Signature")) {
    if (++seen_ <= verifier_.options().maxSignatures && value.size() <= 65536) rawSignatures_.push_back(readSignature(value));
  }
  if (failed_ || overflow_) return;
  headerBytes_ += name.size() + value.size() + 3;
  if (headerBytes_ > verifier_.options().maxHeaderBytes) {
    overflow_ = true;
    return;
  }
  // libopendkim's FIXCRLF only mends the body.
  mail::wireHeaderField(name, value, buffer_);
  dkim_header(handle_, reinterpret_cast<u_char*>(buffer_.data()), buffer_.size());
}

void Verification::endOfHeaders() {
  if (failed_ || overflow_) return;
  const DKIM_STAT status = dkim_eoh(handle_);
  if (status == DKIM_STAT_NOSIG) noSignatures_ = true;
}

void Verification::body(std::string_view chunk) {
  if (failed_ || overflow_ || noSignatures_ || chunk.empty()) return;
  const bool crBefore = std::exchange(crBefore_, chunk.back() == '\r');
  lineOpen_ = chunk.back() != '\n';
  if (!mail::isCrlfOnly(chunk, crBefore)) {
    // Hashed as it was on the wire: a bare LF or a bare CR becomes CRLF.
    mail::mendLineEnds(chunk, crBefore, fixedBody_);
    chunk = fixedBody_;
  }
  dkim_body(handle_, reinterpret_cast<u_char*>(const_cast<char*>(chunk.data())), chunk.size());
}

std::vector<SignatureResult> Verification::finish() {
  std::vector<SignatureResult> results;
  auto whole = [&](std::string reason) {
    SignatureResult r;
    r.result = Result::PermError;
    r.reason = std::move(reason);
    results.push_back(std::move(r));
    return results;
  };
  if (overflow_) {
    return whole("headers exceed DKIMMaxHeaderBytes (" + std::to_string(verifier_.options().maxHeaderBytes) +
                 "): not verified");
  }
  if (failed_) return seen_ > 0 ? whole(failure_) : results;
  if (seen_ == 0) return results;

  DKIM_SIGINFO** sigs = nullptr;
  int count = 0;
  if (!noSignatures_) {
    _Bool testKey = false;
    if (lineOpen_) {
      // RFC 6376 3.4.3/3.4.4: a body whose last line has no line end is hashed with one.
      static const char kCrlf[] = "\r\n";
      const size_t open = crBefore_ ? 1 : 0;  // a final CR gets its LF only
      dkim_body(handle_, reinterpret_cast<u_char*>(const_cast<char*>(kCrlf + open)), 2 - open);
    }
    dkim_eom(handle_, &testKey);
    if (dkim_getsiglist(handle_, &sigs, &count) != DKIM_STAT_OK) count = 0;
  }
  for (int i = 0; i < count; ++i) {
    DKIM_SIGINFO* sig = sigs[i];
    const unsigned flags = dkim_sig_getflags(sig);
    if ((flags & DKIM_SIGFLAG_IGNORE) != 0) continue;  // past MaximumSignatures: counted in unchecked_
    SignatureResult r;
    r.domain = util::sanitize(text(dkim_sig_getdomain(sig)));
    r.selector = util::sanitize(text(dkim_sig_getselector(sig)));
    r.algorithm = util::sanitize(tag(sig, "a"));
    r.bPrefix = util::sanitize(bPrefix(tag(sig, "b")));
    r.identity = util::sanitize(tag(sig, "i"));
    if (r.identity.empty() && !r.domain.empty()) r.identity = "@" + r.domain;
    r.testing = (flags & DKIM_SIGFLAG_TESTKEY) != 0;

    const auto raw = std::find_if(rawSignatures_.begin(), rawSignatures_.end(), [&](const RawSignature& v) {
      return v.bPrefix == r.bPrefix && v.domain == r.domain;
    });
    if (raw != rawSignatures_.end() && !raw->duplicateTag.empty()) {
      r.result = Result::PermError;
      r.reason = "tag " + raw->duplicateTag + "= occurs twice (RFC 6376 3.2)";
      results.push_back(std::move(r));
      continue;
    }
    const int error = dkim_sig_geterror(sig);
    const int bodyHash = dkim_sig_getbh(sig);
    const bool passed = error == DKIM_SIGERROR_OK && (flags & DKIM_SIGFLAG_PASSED) != 0 &&
                        bodyHash == DKIM_SIGBH_MATCH;
    dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
    dkim_sig_getsignalg(sig, &alg);
    if (passed) {
      unsigned int bits = 0;
      dkim_sig_getkeysize(sig, &bits);
      if (alg == DKIM_SIGN_RSASHA1) {
        r.result = Result::Policy;
        r.reason = "rsa-sha1 is not acceptable (RFC 8301 3.1)";
      } else if (alg != DKIM_SIGN_ED25519SHA256 && bits < verifier_.options().minKeyBits) {
        r.result = Result::Policy;
        r.reason = shortKeyReason(bits);
      } else {
        r.result = Result::Pass;
      }
      ssize_t bodyLength = -1, canonicalized = -1, signedLength = -1;
      if (dkim_sig_getcanonlen(handle_, sig, &bodyLength, &canonicalized, &signedLength) == DKIM_STAT_OK &&
          signedLength >= 0 && bodyLength > signedLength) {
        r.partialBody = true;
        r.reason = "l= covers " + std::to_string(signedLength) + " of " + std::to_string(bodyLength) +
                   " body bytes";
      }
    } else {
      std::tie(r.result, r.reason) = failure(error, bodyHash, r);
      // RFC 8301 3.1: rsa-sha1 MUST NOT be used for verifying, so a well-formed rsa-sha1
      // signature is `policy` whatever its check said (a temporary key failure included:
      // no later attempt could make it pass). A malformed one or a missing key stays
      // permerror, which says more.
      // RFC 8301 3.2: an RSA key under MinimumKeyBits is never valid, and libopendkim checks
      // the body hash before the key size.
      unsigned int bits = 0;
      const bool shortKey = alg != DKIM_SIGN_ED25519SHA256 && dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK &&
                            bits > 0 && bits < verifier_.options().minKeyBits;
      if (alg == DKIM_SIGN_RSASHA1 && r.result != Result::PermError) {
        r.reason = "rsa-sha1 is not acceptable (RFC 8301 3.1); " + r.reason;
        r.result = Result::Policy;
      } else if (shortKey && (r.result == Result::Fail || error == DKIM_SIGERROR_KEYTOOSMALL)) {
        r.reason = shortKeyReason(bits) + (r.result == Result::Fail ? "; " + r.reason : "");
        r.result = Result::Policy;
      }
      // RFC 6376 §3.6.1 t=y: a failing signature from a testing key counts as no signature.
      if (r.testing && r.result == Result::Fail) {
        r.result = Result::Neutral;
        r.reason = "testing key (t=y): " + r.reason;
      }
    }
    if (r.testing && r.result == Result::Pass) r.reason = "testing key (t=y)";
    results.push_back(std::move(r));
  }
  // Signatures libopendkim could not parse at all are missing from its list.
  const char* error = dkim_geterror(handle_);
  for (const auto& raw : rawSignatures_) {
    const bool listed = std::any_of(results.begin(), results.end(), [&](const SignatureResult& r) {
      return r.bPrefix == raw.bPrefix && r.domain == raw.domain;
    });
    if (listed) continue;
    SignatureResult r;
    r.result = Result::PermError;
    r.reason = std::string("malformed signature") + (error != nullptr && *error ? std::string(": ") + error : "");
    r.domain = raw.domain;
    r.selector = raw.selector;
    r.algorithm = raw.algorithm;
    r.identity = raw.identity;
    r.bPrefix = raw.bPrefix;
    results.push_back(std::move(r));
  }
  return results;
}

std::vector<SignatureResult> verifyMessage(const Verifier& verifier, std::string_view raw, size_t* unchecked) {
  const mail::MessageText message = mail::splitMessageText(raw);
  Verification v(verifier);
  for (const auto& [name, value] : message.headers) v.header(name, value);
  v.endOfHeaders();
  if (!message.body.empty()) v.body(message.body);
  auto results = v.finish();
  if (unchecked) *unchecked = v.uncheckedSignatures();
  return results;
}

}  // namespace authmilter::dkim
