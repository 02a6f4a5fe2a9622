// Canonicalization, tag lists and SHA-256 signatures shared by DKIM signing and ARC (see the
// header).
#include "authmilter/dkim/canonical.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "authmilter/mail/message_text.h"
#include "authmilter/util/strings.h"

namespace authmilter::dkim {

namespace {

constexpr size_t kWidth = 78;  // fold signature fields at this column

bool isWsp(char c) { return c == ' ' || c == '\t'; }
bool isFws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

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

using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

}  // namespace

void canonicalHeader(Canonicalization c, std::string_view name, std::string_view value, std::string& out) {
  if (c == Canonicalization::Relaxed) {
    relaxedHeader(name, value, out);
    return;
  }
  // RFC 6376 §3.4.1, simple: the field as it stands on the wire, CRLF.
  std::string field;
  mail::wireHeaderField(name, value, field);
  out += field;
  out += "\r\n";
}

void canonicalSelectedHeaders(Canonicalization c, const std::vector<HeaderField>& headers,
                              const std::vector<std::string>& names, std::string& out) {
  std::vector<bool> taken(headers.size(), false);
  for (const auto& name : names) {
    for (size_t i = headers.size(); i-- > 0;) {
      if (!taken[i] && util::iequals(headers[i].first, name)) {
        taken[i] = true;
        canonicalHeader(c, headers[i].first, headers[i].second, out);
        break;
      }
    }
  }
}

BodyHasher::BodyHasher(Canonicalization c, std::optional<uint64_t> limit)
    : relaxed_(c == Canonicalization::Relaxed), limit_(limit), ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
}

BodyHasher::~BodyHasher() = default;

void BodyHasher::update(std::string_view chunk) {
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

std::string BodyHasher::finish() {
  if (!partial_.empty()) completeLine(partial_);  // a last line without CRLF gets one
  if (!relaxed_ && !content_) hash("\r\n");       // simple: an empty body is one CRLF
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), digest, &size) != 1) throw std::runtime_error("SHA-256 failed");
  return base64(digest, size);
}

void BodyHasher::completeLine(std::string_view line) {
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

void BodyHasher::hash(std::string_view data) {
  if (limit_) {
    if (hashed_ >= *limit_) return;
    data = data.substr(0, static_cast<size_t>(std::min<uint64_t>(data.size(), *limit_ - hashed_)));
  }
  hashed_ += data.size();
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) throw std::runtime_error("SHA-256 failed");
}

void FieldFolder::add(std::string_view joiner, std::string_view piece) {
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

void FieldFolder::addFree(std::string_view text) {
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

void FieldFolder::addHeaderList(const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string piece = (i == 0 ? "h=" : "") + names[i] + (i + 1 == names.size() ? ";" : ":");
    add(i == 0 ? " " : "", piece);
  }
}

std::optional<TagList> parseTagList(std::string_view text, std::string* error) {
  TagList tags;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(start, end - start);
    start = end + 1;
    const bool last = end == text.size();
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      if (last && std::all_of(item.begin(), item.end(), isFws)) break;  // "a=1;" ends the list
      *error = "'" + util::sanitize(util::trim(item)) + "' is not a tag=value";
      return std::nullopt;
    }
    std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    while (!name.empty() && isFws(name.front())) name.remove_prefix(1);
    while (!name.empty() && isFws(name.back())) name.remove_suffix(1);
    while (!value.empty() && isFws(value.front())) value.remove_prefix(1);
    while (!value.empty() && isFws(value.back())) value.remove_suffix(1);
    const bool nameOk = !name.empty() && std::isalpha(static_cast<unsigned char>(name.front())) &&
                        std::all_of(name.begin(), name.end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                        });
    if (!nameOk) {
      *error = "'" + util::sanitize(name) + "' is not a tag name";
      return std::nullopt;
    }
    if (findTag(tags, name) != nullptr) {
      *error = "tag " + std::string(name) + "= occurs twice";
      return std::nullopt;
    }
    tags.push_back({std::string(name), std::string(value)});
    if (last) break;
  }
  return tags;
}

const std::string* findTag(const TagList& tags, std::string_view name) {
  for (const auto& t : tags) {
    if (t.name == name) return &t.value;
  }
  return nullptr;
}

std::string withoutSignatureValue(std::string_view value) {
  std::string out;
  size_t start = 0;
  while (start < value.size()) {
    size_t end = value.find(';', start);
    if (end == std::string_view::npos) end = value.size();
    const std::string_view item = value.substr(start, end - start);
    const size_t eq = item.find('=');
    std::string_view name = eq == std::string_view::npos ? std::string_view{} : item.substr(0, eq);
    while (!name.empty() && isFws(name.front())) name.remove_prefix(1);
    while (!name.empty() && isFws(name.back())) name.remove_suffix(1);
    out.append(name == "b" ? item.substr(0, eq + 1) : item);
    if (end < value.size()) out.push_back(';');
    start = end + 1;
  }
  return out;
}

std::optional<std::string> decodeBase64(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (isFws(c)) continue;
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                    c == '/' || c == '=';
    if (!ok) return std::nullopt;
    clean.push_back(c);
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  if (clean.empty()) return std::string();
  // '=' only as the padding of the last quantum, at most two ("====" would make the size
  // below negative).
  const size_t data = clean.find('=');
  if (data != std::string::npos && (clean.size() - data > 2 || clean.find_first_not_of('=', data) != std::string::npos)) {
    return std::nullopt;
  }
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) return std::nullopt;
  size_t size = static_cast<size_t>(n);
  for (size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i) --size;  // DecodeBlock counts padding
  out.resize(size);
  return out;
}

std::optional<std::string> signSha256(const PrivateKey& key, std::string_view data, std::string* error) {
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
    *error = opensslError();
    return std::nullopt;
  }
  signature.resize(size);
  return signature;
}

std::optional<PublicKey> parsePublicKeyRecord(std::string_view text, std::string* error) {
  std::string why;
  const auto tags = parseTagList(text, &why);
  if (!tags) {
    *error = "key record syntax: " + why;
    return std::nullopt;
  }
  // §3.6.1: v=, when present, must come first and be DKIM1.
  if (const auto* v = findTag(*tags, "v"); v && (*v != "DKIM1" || tags->front().name != "v")) {
    *error = "not a DKIM key record";
    return std::nullopt;
  }
  if (const auto* h = findTag(*tags, "h")) {
    bool sha256 = false;
    for (const auto& word : util::splitList(std::string(*h))) sha256 = sha256 || word == "sha256";
    if (!sha256) {
      *error = "key record does not allow sha256 (h=" + util::sanitize(*h) + ")";
      return std::nullopt;
    }
  }
  if (const auto* s = findTag(*tags, "s")) {
    bool email = false;
    for (const auto& word : util::splitList(std::string(*s))) email = email || word == "*" || word == "email";
    if (!email) {
      *error = "key record is not for email (s=" + util::sanitize(*s) + ")";
      return std::nullopt;
    }
  }
  PublicKey out;
  const auto* k = findTag(*tags, "k");
  if (k == nullptr || *k == "rsa") {
    out.algorithm = KeyAlgorithm::Rsa;
  } else if (*k == "ed25519") {
    out.algorithm = KeyAlgorithm::Ed25519;
  } else {
    *error = "unknown key type k=" + util::sanitize(*k);
    return std::nullopt;
  }
  if (const auto* t = findTag(*tags, "t")) {
    for (const auto& flag : util::splitList(std::string(*t))) out.testing = out.testing || flag == "y";
  }
  const auto* p = findTag(*tags, "p");
  if (p == nullptr) {
    *error = "key record has no p=";
    return std::nullopt;
  }
  const auto raw = decodeBase64(*p);
  if (!raw) {
    *error = "key p= is not base64";
    return std::nullopt;
  }
  if (raw->empty()) {
    *error = "key revoked";
    return std::nullopt;
  }
  EVP_PKEY* pkey = nullptr;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw->data());
  if (out.algorithm == KeyAlgorithm::Ed25519) {
    pkey = raw->size() == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes, raw->size()) : nullptr;
  } else {
    pkey = d2i_PUBKEY(nullptr, &bytes, static_cast<long>(raw->size()));
    if (pkey != nullptr && EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
      EVP_PKEY_free(pkey);
      pkey = nullptr;
    }
  }
  ERR_clear_error();
  if (pkey == nullptr) {
    *error = "key p= is not a public key";
    return std::nullopt;
  }
  out.bits = static_cast<unsigned>(EVP_PKEY_get_bits(pkey));
  out.key.reset(pkey, EVP_PKEY_free);
  return out;
}

bool verifySha256(const PublicKey& key, std::string_view data, std::string_view signature) {
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx) return false;
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  bool ok = false;
  if (key.algorithm == KeyAlgorithm::Ed25519) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digestSize = 0;
    ok = EVP_Digest(data.data(), data.size(), digest, &digestSize, EVP_sha256(), nullptr) == 1 &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), sig, signature.size(), digest, digestSize) == 1;
  } else {
    ok = EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.key.get()) == 1 &&
         EVP_DigestVerifyUpdate(ctx.get(), data.data(), data.size()) == 1 &&
         EVP_DigestVerifyFinal(ctx.get(), sig, signature.size()) == 1;
  }
  ERR_clear_error();
  return ok;
}

}  // namespace authmilter::dkim
