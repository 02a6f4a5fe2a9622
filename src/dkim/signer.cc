// DKIM signing (see the header): RFC 6376 §3.4 canonicalization and §3.7 hashing, signed
// with OpenSSL (RSA PKCS#1 v1.5 over SHA-256; Ed25519 over the SHA-256 hash, RFC 8463 §3).
#include "authmilter/dkim/signer.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "authmilter/mail/message_text.h"
#include "authmilter/util/strings.h"

namespace authmilter::dkim {

namespace {

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
      body_(std::make_unique<BodyHasher>(signer.options().body)) {}

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
  canonicalSelectedHeaders(options.header, headers_, names, canonicalHeaders_);
  names.insert(names.end(), options.oversignHeaders.begin(), options.oversignHeaders.end());
  headerList_ = std::move(names);
  headers_.clear();
  headers_.shrink_to_fit();
}

void Signing::body(std::string_view chunk) { body_->update(chunk); }

std::string Signing::signatureFor(const SignatureSpec& spec, const std::string& bodyHash, long long now,
                                  std::string* error) const {
  const auto& options = signer_.options();
  const PrivateKey& key = *spec.entry->key;
  const auto canonName = [](Canonicalization c) { return c == Canonicalization::Simple ? "simple" : "relaxed"; };
  FieldFolder field("DKIM-Signature");
  field.add("", "v=1;");
  field.add(" ", "a=" + std::string(signatureAlgorithm(key.algorithm)) + ";");
  field.add(" ", std::string("c=") + canonName(options.header) + "/" + canonName(options.body) + ";");
  field.add(" ", "d=" + spec.domain + ";");
  if (!spec.identity.empty()) field.add(" ", "i=" + quotedPrintable(spec.identity) + ";");
  field.add(" ", "s=" + spec.selector + ";");
  field.add(" ", "t=" + std::to_string(now) + ";");
  if (options.signatureTtl > 0) field.add(" ", "x=" + std::to_string(now + options.signatureTtl) + ";");
  field.addHeaderList(headerList_);
  field.add(" ", "bh=" + bodyHash + ";");
  field.add(" ", "b=");

  // RFC 6376 §3.7: the selected headers, then this field with an empty b= and no CRLF.
  std::string data = canonicalHeaders_;
  canonicalHeader(options.header, "DKIM-Signature", " " + field.text(), data);
  data.resize(data.size() - 2);

  std::string why;
  const auto signature = signSha256(key, data, &why);
  if (!signature) {
    *error = "d=" + spec.domain + " s=" + spec.selector + ": cannot sign (" + id_ + "): " + why;
    return {};
  }
  field.addFree(base64(reinterpret_cast<const unsigned char*>(signature->data()), signature->size()));
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
