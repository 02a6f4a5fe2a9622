// DKIM signing (see the header): RFC 6376 §3.4 canonicalization and §3.7 hashing, signed
// with OpenSSL (RSA PKCS#1 v1.5 over SHA-256; Ed25519 over the SHA-256 hash, RFC 8463 §3).
#include "authmilter/dkim/signer.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "authmilter/mail/message_text.h"
#include "authmilter/util/strings.h"

namespace authmilter::dkim {

namespace {

using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

constexpr size_t kWidth = 78;                           // fold DKIM-Signature lines at this column
constexpr size_t kFieldName = sizeof "DKIM-Signature: " - 1;

bool isWsp(char c) { return c == ' ' || c == '\t'; }

MdCtx newSha256() {
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
  return ctx;
}

std::string opensslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "OpenSSL failed";
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

// RFC 6376 §3.4.2, relaxed: the name in lower case; the value unfolded, each run of white
// space one SP, none at its start or end; CRLF.
void relaxedHeader(std::string_view name, std::string_view value, std::string& out) {
  while (!name.empty() && isWsp(name.back())) name.remove_suffix(1);
  for (char c : name) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  out.push_back(':');
  bool space = false, text = false;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;  // unfold
    if (isWsp(c)) {
      space = true;
      continue;
    }
    if (space && text) out.push_back(' ');
    out.push_back(c);
    space = false;
    text = true;
  }
  out += "\r\n";
}

// RFC 6376 §3.4.1, simple: the field as it stands on the wire (bare-LF folds as the CRLF
// they will be), CRLF.
void simpleHeader(std::string_view name, std::string_view value, std::string& out) {
  std::string field;
  mail::wireHeaderField(name, value, field);
  out += field;
  out += "\r\n";
}

void canonicalHeader(Canonicalization c, std::string_view name, std::string_view value, std::string& out) {
  if (c == Canonicalization::Relaxed) {
    relaxedHeader(name, value, out);
  } else {
    simpleHeader(name, value, out);
  }
}

// dkim-quoted-printable (RFC 6376 §2.11) for i=: everything but printable ASCII other than
// ';' and '=' as =XX.
std::string quotedPrintable(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (c > 0x20 && c < 0x7f && c != ';' && c != '=') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'=', hex[c >> 4], hex[c & 15]};
    }
  }
  return out;
}

// Builds a folded field value: `add` appends a piece after `joiner` (" " between tags, ""
// after a ':' inside h=), starting a new line (CRLF TAB) first when the piece would run past
// kWidth. Folding points are all places where RFC 6376 allows FWS, and the value is hashed
// as folded, so any canonicalization verifies.
class Folder {
 public:
  void add(std::string_view joiner, std::string_view piece) {
    if (column_ + joiner.size() + piece.size() > kWidth && column_ > 8) {
      out_ += "\r\n\t";
      column_ = 8;
    } else {
      out_ += joiner;
      column_ += joiner.size();
    }
    out_ += piece;
    column_ += piece.size();
  }
  // The b= value: as much as fits on the current line, then whole lines.
  void addFree(std::string_view text) {
    while (!text.empty()) {
      if (column_ >= kWidth) {
        out_ += "\r\n\t";
        column_ = 8;
      }
      const size_t n = std::min(text.size(), kWidth - column_);
      out_ += text.substr(0, n);
      column_ += n;
      text.remove_prefix(n);
    }
  }
  const std::string& text() const { return out_; }

 private:
  std::string out_;
  size_t column_ = kFieldName;
};

}  // namespace

// RFC 6376 §3.4.3 (simple) and §3.4.4 (relaxed) body canonicalization, streamed into SHA-256:
// complete lines are hashed as they arrive; empty lines are held back until a line with
// content follows, so trailing empty lines are never hashed.
class Signing::BodyHash {
 public:
  explicit BodyHash(Canonicalization c) : relaxed_(c == Canonicalization::Relaxed), ctx_(newSha256()) {}

  void update(std::string_view chunk) {
    while (!chunk.empty()) {
      const size_t lf = chunk.find('\n');
      if (lf == std::string_view::npos) {
        partial_.append(chunk);
        return;
      }
      std::string_view line = chunk.substr(0, lf);
      chunk.remove_prefix(lf + 1);
      if (!partial_.empty()) {
        partial_.append(line);
        line = partial_;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF, or a bare LF as CRLF
      completeLine(line);
      partial_.clear();
    }
  }

  // base64 of the hash (bh=).
  std::string finish() {
    if (!partial_.empty()) completeLine(partial_);  // a last line without CRLF gets one
    if (!relaxed_ && !content_) hash("\r\n");       // simple: an empty body is one CRLF
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned size = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest, &size) != 1) throw std::runtime_error("SHA-256 failed");
    return base64(digest, size);
  }

 private:
  void completeLine(std::string_view line) {
    if (relaxed_) {
      // White space runs become one SP; none at the end of the line.
      canonical_.clear();
      bool space = false;
      for (char c : line) {
        if (isWsp(c)) {
          space = true;
          continue;
        }
        if (space) canonical_.push_back(' ');
        canonical_.push_back(c);
        space = false;
      }
      line = canonical_;
    }
    if (line.empty()) {
      ++emptyLines_;
      return;
    }
    for (; emptyLines_ > 0; --emptyLines_) hash("\r\n");
    hash(line);
    hash("\r\n");
    content_ = true;
  }

  void hash(std::string_view data) {
    if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) throw std::runtime_error("SHA-256 failed");
  }

  bool relaxed_;
  MdCtx ctx_;
  std::string partial_;    // a line not yet ended
  std::string canonical_;  // scratch for relaxed lines
  size_t emptyLines_ = 0;  // empty lines held back
  bool content_ = false;   // a line with content was hashed
};

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

Signer::Signer(SignOptions options) : options_(std::move(options)) {}

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
    : signer_(signer),
      specs_(std::move(specs)),
      id_(id.empty() ? "authmilter" : id),
      body_(std::make_unique<BodyHash>(signer.options().body)) {}

Signing::~Signing() = default;

void Signing::header(std::string name, std::string value) { headers_.emplace_back(std::move(name), std::move(value)); }

// h=: every header the message has from SignHeaders, top to bottom, then each of
// OversignHeaders once more (RFC 6376 §5.4.2: a name with no instance left signs its absence,
// so a copy added later breaks the signature). Hashing takes, for each name in h=, the
// bottom-most instance not yet taken (§5.4.2), and nothing when none is left.
void Signing::endOfHeaders() {
  const auto& options = signer_.options();
  std::vector<std::string> names;
  for (const auto& [name, value] : headers_) {
    std::string lower = util::toLower(name);
    if (std::find(options.signHeaders.begin(), options.signHeaders.end(), lower) != options.signHeaders.end()) {
      names.push_back(std::move(lower));
    }
  }
  std::vector<bool> taken(headers_.size(), false);
  for (const auto& name : names) {
    for (size_t i = headers_.size(); i-- > 0;) {
      if (!taken[i] && util::iequals(headers_[i].first, name)) {
        taken[i] = true;
        canonicalHeader(options.header, headers_[i].first, headers_[i].second, canonicalHeaders_);
        break;
      }
    }
  }
  names.insert(names.end(), options.oversignHeaders.begin(), options.oversignHeaders.end());
  for (const auto& name : names) headerList_ += (headerList_.empty() ? "" : ":") + name;
  headers_.clear();
  headers_.shrink_to_fit();
}

void Signing::body(std::string_view chunk) { body_->update(chunk); }

std::string Signing::signatureFor(const SignatureSpec& spec, const std::string& bodyHash, long long now,
                                  std::string* error) const {
  const auto& options = signer_.options();
  const PrivateKey& key = *spec.entry->key;
  const auto canonName = [](Canonicalization c) { return c == Canonicalization::Simple ? "simple" : "relaxed"; };
  Folder field;
  field.add("", "v=1;");
  field.add(" ", "a=" + std::string(signatureAlgorithm(key.algorithm)) + ";");
  field.add(" ", std::string("c=") + canonName(options.header) + "/" + canonName(options.body) + ";");
  field.add(" ", "d=" + spec.domain + ";");
  if (!spec.identity.empty()) field.add(" ", "i=" + quotedPrintable(spec.identity) + ";");
  field.add(" ", "s=" + spec.selector + ";");
  field.add(" ", "t=" + std::to_string(now) + ";");
  if (options.signatureTtl > 0) field.add(" ", "x=" + std::to_string(now + options.signatureTtl) + ";");
  // h= folds after its colons (RFC 6376 §3.5: FWS around ':' is allowed).
  size_t start = 0;
  const std::string h = headerList_ + ";";
  while (start < h.size()) {
    const size_t colon = h.find(':', start);
    const size_t end = colon == std::string::npos ? h.size() : colon + 1;
    field.add(start == 0 ? " " : "", (start == 0 ? "h=" : "") + h.substr(start, end - start));
    start = end;
  }
  field.add(" ", "bh=" + bodyHash + ";");
  field.add(" ", "b=");

  // RFC 6376 §3.7: the selected headers, then this field with an empty b= and no CRLF.
  std::string data = canonicalHeaders_;
  canonicalHeader(options.header, "DKIM-Signature", " " + field.text(), data);
  data.resize(data.size() - 2);

  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string signature;
  size_t size = 0;
  bool ok = false;
  if (key.algorithm == KeyAlgorithm::Ed25519) {
    // RFC 8463 §3: PureEdDSA over the SHA-256 hash of the data.
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digestSize = 0;
    ok = ctx && EVP_Digest(data.data(), data.size(), digest, &digestSize, EVP_sha256(), nullptr) == 1 &&
         EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.pkey.get()) == 1 &&
         EVP_DigestSign(ctx.get(), nullptr, &size, digest, digestSize) == 1;
    signature.resize(size);
    ok = ok && EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, digest,
                              digestSize) == 1;
  } else {
    ok = ctx && EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey.get()) == 1 &&
         EVP_DigestSignUpdate(ctx.get(), data.data(), data.size()) == 1 &&
         EVP_DigestSignFinal(ctx.get(), nullptr, &size) == 1;
    signature.resize(size);
    ok = ok && EVP_DigestSignFinal(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size) == 1;
  }
  if (!ok) {
    *error = "d=" + spec.domain + " s=" + spec.selector + ": cannot sign (" + id_ + "): " + opensslError();
    return {};
  }
  field.addFree(base64(reinterpret_cast<const unsigned char*>(signature.data()), size));
  return field.text();
}

bool Signing::finish(std::vector<MadeSignature>* signatures, std::string* error) {
  const std::string bodyHash = body_->finish();
  const long long now = static_cast<long long>(std::time(nullptr));
  for (const auto& spec : specs_) {
    if (!spec.entry || !spec.entry->key || !spec.entry->key->pkey) {
      *error = "d=" + spec.domain + " s=" + spec.selector + ": no key loaded";
      signatures->clear();
      return false;
    }
    std::string value = signatureFor(spec, bodyHash, now, error);
    if (value.empty()) {
      signatures->clear();
      return false;
    }
    signatures->push_back({spec.domain, spec.selector, std::string(signatureAlgorithm(spec.entry->key->algorithm)),
                           std::move(value)});
  }
  return true;
}

bool signMessage(const Signer& signer, const std::vector<SignatureSpec>& specs, std::string_view raw,
                 std::vector<MadeSignature>* signatures, std::string* error) {
  const mail::MessageText message = mail::splitMessageText(raw);
  Signing signing(signer, specs, "authmilter");
  for (const auto& [name, value] : message.headers) signing.header(std::string(name), std::string(value));
  signing.endOfHeaders();
  signing.body(message.body);
  return signing.finish(signatures, error);
}

}  // namespace authmilter::dkim
