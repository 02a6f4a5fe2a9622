// The pieces DKIM signing (signer.h) and ARC (arc/arc.h) share: RFC 6376 §3.4
// canonicalization of header fields and of the body (streamed into SHA-256), §3.2 tag lists,
// the folding of a signature field we write, and signing or checking SHA-256 signatures with
// OpenSSL (RSA PKCS#1 v1.5, RFC 8301; Ed25519 over the SHA-256 hash, RFC 8463 §3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authmilter/dkim/signing_key.h"

struct evp_md_ctx_st;

namespace authmilter::dkim {

enum class Canonicalization { Simple, Relaxed };

// One header field canonicalized and appended to `out` with its CRLF. `value` is what
// followed the colon (leading space and folds included; bare-LF folds are read as CRLF).
void canonicalHeader(Canonicalization c, std::string_view name, std::string_view value, std::string& out);

// One header field of a message: the name, and the value after the colon as above.
using HeaderField = std::pair<std::string, std::string>;
// RFC 6376 §5.4.2: for each name in `names` (an h= list), the bottom-most instance of that
// name not yet taken, canonicalized and appended to `out`; nothing when none is left.
void canonicalSelectedHeaders(Canonicalization c, const std::vector<HeaderField>& headers,
                              const std::vector<std::string>& names, std::string& out);

// RFC 6376 §3.4.3 (simple) and §3.4.4 (relaxed) body canonicalization streamed into
// SHA-256: complete lines are hashed as they arrive; empty lines are held back until a line
// with content follows, so trailing empty lines are never hashed. `limit` (l=): hash only
// that many canonical octets.
class BodyHasher {
 public:
  explicit BodyHasher(Canonicalization c, std::optional<uint64_t> limit = std::nullopt);
  ~BodyHasher();
  BodyHasher(const BodyHasher&) = delete;
  BodyHasher& operator=(const BodyHasher&) = delete;

  void update(std::string_view chunk);  // CRLF or bare LF line ends
  std::string finish();                 // base64 of the hash (bh=); call once

 private:
  void completeLine(std::string_view line);
  void hash(std::string_view data);

  bool relaxed_;
  std::optional<uint64_t> limit_;
  uint64_t hashed_ = 0;
  std::unique_ptr<evp_md_ctx_st, void (*)(evp_md_ctx_st*)> ctx_;
  std::string partial_;    // a line not yet ended
  std::string canonical_;  // scratch for relaxed lines
  size_t emptyLines_ = 0;  // empty lines held back
  bool content_ = false;   // a line with content was hashed
};

// Builds a folded signature field value for a field named `fieldName`: add() appends a
// piece after `joiner` (" " between tags, "" after a ':' inside h=), starting a new line
// (CRLF TAB) first when the piece would run past column 78. Folds fall only where RFC 6376
// allows FWS, and the value is hashed as folded, so any canonicalization verifies.
class FieldFolder {
 public:
  explicit FieldFolder(std::string_view fieldName) : column_(fieldName.size() + 2) {}
  void add(std::string_view joiner, std::string_view piece);
  void addFree(std::string_view text);  // b=: as much as fits, then whole lines
  // h=: the names joined by ':' with folds after the colons, ending in ';'.
  void addHeaderList(const std::vector<std::string>& names);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
  size_t column_;
};

// RFC 6376 §3.2 tag=value lists. Names are kept as written (tags are case-sensitive);
// values lose their surrounding white space (and folds); inner FWS is kept.
struct Tag {
  std::string name, value;
};
using TagList = std::vector<Tag>;
// nullopt + *error for a list that is not one: a piece without '=', a bad tag name, or a
// tag that occurs twice (§3.2: "MUST NOT"). An empty last piece (a trailing ';') is fine.
std::optional<TagList> parseTagList(std::string_view text, std::string* error);
const std::string* findTag(const TagList& tags, std::string_view name);  // nullptr when absent
// The field value with the b= tag's value removed (RFC 6376 §3.7), everything else as it was.
std::string withoutSignatureValue(std::string_view value);
// base64 with FWS ignored (RFC 6376 b= and p=); nullopt when it is not base64.
std::optional<std::string> decodeBase64(std::string_view text);

// The signature over `data` with `key` (a= rsa-sha256 or ed25519-sha256); nullopt and
// *error (OpenSSL's words) when OpenSSL refuses.
std::optional<std::string> signSha256(const PrivateKey& key, std::string_view data, std::string* error);

// A public key from a DNS key record (RFC 6376 §3.6.1, RFC 8463).
struct PublicKey {
  KeyAlgorithm algorithm = KeyAlgorithm::Rsa;
  unsigned bits = 0;
  bool testing = false;  // t=y
  std::shared_ptr<evp_pkey_st> key;
};
// nullopt + *error (words for a reason= text: "key revoked", "not a DKIM key record", ...)
// when the record cannot be used: bad syntax, v= other than DKIM1, h= without sha256, s=
// without email or *, an unknown k=, an empty p= (revoked) or one that is not a key.
std::optional<PublicKey> parsePublicKeyRecord(std::string_view text, std::string* error);
// Whether `signature` is `key`'s SHA-256 signature over `data`.
bool verifySha256(const PublicKey& key, std::string_view data, std::string_view signature);

}  // namespace authmilter::dkim
