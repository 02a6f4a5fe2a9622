// DKIM signing on libopendkim (see the header). libopendkim canonicalizes, hashes and signs;
// this file feeds it one message once for every key and turns its failures into words.
#include "authmilter/dkim/signer.h"

#include <cstdint>
#include <stdexcept>

#include "authmilter/util/message_text.h"
#include "authmilter/util/opendkim.h"

namespace authmilter::dkim {

namespace {

// A NULL-terminated char* array over `names`, as dkim_options() takes header lists.
std::vector<const char*> cList(const std::vector<std::string>& names) {
  std::vector<const char*> out;
  for (const auto& n : names) out.push_back(n.c_str());
  out.push_back(nullptr);
  return out;
}

dkim_canon_t canon(Canonicalization c) { return c == Canonicalization::Simple ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED; }

// libopendkim is told not to fold (margin 0): it hashes the DKIM-Signature field as it folds
// it before b= is known, and where the empty b= fits on a line the full one does not, so its
// own folding breaks simple header canonicalization (seen with Ed25519's shorter fields).
// We fold the one-line value where folding cannot change the hash: inside the b= value
// (RFC 6376 §3.7: deleted with its surrounding white space before hashing), and, when headers
// are hashed relaxed, at the blanks between tags (relaxed turns any white space run into one
// SP; RFC 6376 §3.4.2). Lines stay within 78 columns where the tags allow.
std::string fold(std::string_view value, bool relaxedHeaders) {
  constexpr size_t kWidth = 78;
  const size_t b = value.find("; b=");
  if (b == std::string_view::npos) return std::string(value);
  const std::string_view tags = value.substr(0, b + 1);  // "v=1; ... h=...;"
  const std::string_view signature = value.substr(b + 4);
  std::string out;
  size_t column = sizeof "DKIM-Signature: " - 1;
  if (relaxedHeaders) {
    size_t start = 0;
    while (start < tags.size()) {
      size_t end = tags.find("; ", start);
      end = end == std::string_view::npos ? tags.size() : end + 1;
      const std::string_view tag = tags.substr(start, end - start);
      if (start > 0) {
        if (column + 1 + tag.size() > kWidth) {
          out += "\r\n\t";
          column = 8;
        } else {
          out += ' ';
          ++column;
        }
      }
      out += tag;
      column += tag.size();
      start = end + 1;
    }
  } else {
    out += tags;
  }
  out += " b=";
  for (size_t i = 0; i < signature.size(); i += kWidth - 10) out += "\r\n\t" + std::string(signature.substr(i, kWidth - 10));
  return out;
}

std::string statusText(int status) {
  const char* text = dkim_getresultstr(status);
  return text != nullptr ? text : "status " + std::to_string(status);
}

}  // namespace

const std::vector<std::string>& defaultSignHeaders() {
  static const std::vector<std::string> names{
      "from",        "reply-to",    "subject",          "date",          "to",               "cc",
      "resent-date", "resent-from", "resent-to",        "resent-cc",     "in-reply-to",      "references",
      "list-id",     "list-help",   "list-unsubscribe", "list-subscribe", "list-post",       "list-owner",
      "list-archive", "message-id", "mime-version",     "content-type"};
  return names;
}

const std::vector<std::string>& defaultOversignHeaders() {
  static const std::vector<std::string> names{"from", "to", "subject", "date", "message-id", "content-type",
                                              "mime-version"};
  return names;
}

Signer::Signer(SignOptions options) : options_(std::move(options)) {
  lib_ = dkim_init(nullptr, nullptr);
  if (lib_ == nullptr) throw std::runtime_error("libopendkim: dkim_init failed");
  u_int flags = DKIM_LIBFLAGS_FIXCRLF;  // a body with bare LF is signed as the CRLF it will be on the wire
  uint64_t ttl = options_.signatureTtl;
  auto sign = cList(options_.signHeaders);
  auto oversign = cList(options_.oversignHeaders);
  std::string failed;
  if (dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK) failed = "flags";
  if (ttl > 0 && dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_SIGNATURETTL, &ttl, sizeof ttl) != DKIM_STAT_OK) {
    failed = "SignatureTTL";
  }
  // libopendkim turns the list into one regular expression of bounded size.
  if (!options_.signHeaders.empty() &&
      dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, sign.data(), sizeof(char**)) != DKIM_STAT_OK) {
    failed = "SignHeaders (too many or too long names?)";
  }
  if (!options_.oversignHeaders.empty() &&
      dkim_options(lib_, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, oversign.data(), sizeof(char**)) != DKIM_STAT_OK) {
    failed = "OversignHeaders";
  }
  if (!failed.empty()) {
    dkim_close(lib_);
    throw std::runtime_error("libopendkim refused " + failed);
  }
}

Signer::~Signer() { dkim_close(lib_); }

std::string Signer::selfTest(const KeyEntry& key, const std::string& domain) const {
  SignatureSpec spec;
  spec.domain = domain;
  spec.selector = key.selector;
  spec.entry = &key;
  std::vector<MadeSignature> made;
  std::string error;
  const std::string message = "From: <postmaster@" + domain + ">\r\nSubject: authmilter key check\r\n\r\nok\r\n";
  if (!signMessage(*this, {spec}, message, &made, &error)) return error;
  return {};
}

Signing::Signing(const Signer& signer, std::vector<SignatureSpec> specs, std::string_view id)
    : relaxedHeaders_(signer.options().header == Canonicalization::Relaxed) {
  const std::string name = id.empty() ? std::string("authmilter") : std::string(id);
  for (auto& spec : specs) {
    Handle h{std::move(spec)};
    const PrivateKey& key = *h.spec.entry->key;
    DKIM_STAT status = DKIM_STAT_OK;
    h.dkim = dkim_sign(signer.library(), reinterpret_cast<const u_char*>(name.c_str()), nullptr,
                       reinterpret_cast<dkim_sigkey_t>(const_cast<char*>(key.pem.c_str())),
                       reinterpret_cast<const u_char*>(h.spec.selector.c_str()),
                       reinterpret_cast<const u_char*>(h.spec.domain.c_str()), canon(signer.options().header),
                       canon(signer.options().body),
                       key.algorithm == KeyAlgorithm::Ed25519 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256, -1,
                       &status);
    if (h.dkim == nullptr) {
      fail(h, "cannot start", status);
      continue;
    }
    if (const DKIM_STAT s = dkim_set_margin(h.dkim, 0); s != DKIM_STAT_OK) fail(h, "cannot set the margin", s);
    if (!h.spec.identity.empty()) {
      const DKIM_STAT s = dkim_set_signer(h.dkim, reinterpret_cast<const u_char*>(h.spec.identity.c_str()));
      if (s != DKIM_STAT_OK) fail(h, "cannot set i=", s);
    }
    handles_.push_back(std::move(h));
  }
}

Signing::~Signing() {
  for (auto& h : handles_) {
    if (h.dkim != nullptr) dkim_free(h.dkim);
  }
}

void Signing::fail(const Handle& h, const std::string& what, int status) {
  if (!error_.empty()) return;
  const char* detail = h.dkim != nullptr ? dkim_geterror(h.dkim) : nullptr;
  error_ = "d=" + h.spec.domain + " s=" + h.spec.selector + ": " + what + ": " + statusText(status) +
           (detail != nullptr && *detail ? std::string(" (") + detail + ")" : "");
}

void Signing::header(std::string_view name, std::string_view value) {
  if (!error_.empty()) return;
  util::wireHeaderField(name, value, buffer_);
  for (auto& h : handles_) {
    const DKIM_STAT s = dkim_header(h.dkim, reinterpret_cast<u_char*>(buffer_.data()), buffer_.size());
    if (s != DKIM_STAT_OK) fail(h, "header", s);
  }
}

void Signing::endOfHeaders() {
  if (!error_.empty()) return;
  for (auto& h : handles_) {
    const DKIM_STAT s = dkim_eoh(h.dkim);
    if (s != DKIM_STAT_OK) fail(h, "end of headers", s);
  }
}

void Signing::body(std::string_view chunk) {
  if (!error_.empty() || chunk.empty()) return;
  auto* data = reinterpret_cast<u_char*>(const_cast<char*>(chunk.data()));
  for (auto& h : handles_) {
    const DKIM_STAT s = dkim_body(h.dkim, data, chunk.size());
    if (s != DKIM_STAT_OK) fail(h, "body", s);
  }
}

bool Signing::finish(std::vector<MadeSignature>* signatures, std::string* error) {
  for (auto& h : handles_) {
    if (!error_.empty()) break;
    DKIM_STAT s = dkim_eom(h.dkim, nullptr);
    if (s != DKIM_STAT_OK) {
      fail(h, "signing", s);
      break;
    }
    u_char* value = nullptr;
    size_t length = 0;
    // The first line starts after "DKIM-Signature: ".
    s = dkim_getsighdr_d(h.dkim, sizeof "DKIM-Signature: " - 1, &value, &length);
    if (s != DKIM_STAT_OK || value == nullptr) {
      fail(h, "signature header", s);
      break;
    }
    signatures->push_back({h.spec.domain, h.spec.selector,
                           std::string(signatureAlgorithm(h.spec.entry->key->algorithm)),
                           fold(std::string_view(reinterpret_cast<char*>(value), length),
                                relaxedHeaders_)});
  }
  if (!error_.empty()) {
    signatures->clear();
    *error = error_;
    return false;
  }
  return true;
}

bool signMessage(const Signer& signer, const std::vector<SignatureSpec>& specs, std::string_view raw,
                 std::vector<MadeSignature>* signatures, std::string* error) {
  const util::MessageText message = util::splitMessageText(raw);
  Signing signing(signer, specs, "authmilter");
  for (const auto& [name, value] : message.headers) signing.header(name, value);
  signing.endOfHeaders();
  signing.body(message.body);
  return signing.finish(signatures, error);
}

}  // namespace authmilter::dkim
