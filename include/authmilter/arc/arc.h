// ARC, Authenticated Received Chain (RFC 8617): validating the chain a message arrives with
// (§5.2) and adding our own ARC set to it (§5.1). Our own code on the DKIM canonicalization
// and OpenSSL signatures of dkim/canonical.h; keys come through the shared DNS layer.
//
// A Collector follows one message (headers kept, the body hashed as it streams past, once
// per canonicalization an ARC-Message-Signature asks for); validate() and seal() read it at
// the end. A chain is at most 50 sets (§4.2.1); anything past that fails before any key is
// fetched, so hostile header sections cost parsing, not crypto.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "authmilter/dkim/canonical.h"
#include "authmilter/dns/resolver.h"

namespace authmilter::arc {

inline constexpr unsigned kMaxSets = 50;
inline constexpr std::string_view kSealHeader = "ARC-Seal";
inline constexpr std::string_view kMessageSignatureHeader = "ARC-Message-Signature";
inline constexpr std::string_view kAuthResultsHeader = "ARC-Authentication-Results";
bool isArcHeader(std::string_view name);  // one of the three, any case

// cv= (§4.1.3): the chain as the sealer received it.
enum class ChainStatus { None, Pass, Fail };
std::string_view toString(ChainStatus status);  // "none", "pass", "fail"

// The result for Authentication-Results (RFC 8617 §10.1 arc=; temperror: a key could not
// be fetched, never a verdict).
enum class Result { None, Pass, Fail, TempError };
std::string_view toString(Result result);

// What checking one signature of a set found.
enum class Check { NotChecked, Pass, Fail, TempError };
std::string_view toString(Check check);  // "-", "pass", "fail", "temperror"

// One ARC set as the chain states it, and what checking it found.
struct SetReport {
  unsigned instance = 0;
  std::string domain, selector;  // the ARC-Seal's d= and s=: the sealer
  std::string cv;                // the ARC-Seal's cv=, as written
  Check ams = Check::NotChecked;  // its ARC-Message-Signature
  Check seal = Check::NotChecked;  // its ARC-Seal
  std::string problem;           // what failed in this set, in words
};

struct ChainResult {
  Result result = Result::None;
  std::string reason;      // fail / temperror: why, in words
  unsigned sets = 0;       // the highest instance: how many sets the message carries
  // pass: 0 when every ARC-Message-Signature still validates, else the oldest instance from
  // which every newer one does (§5.2 step 5): the message changed before that hop.
  unsigned oldestPass = 0;
  bool terminated = false;  // the newest ARC-Seal says cv=fail: the chain ends there
  std::vector<SetReport> details;  // by instance, 1 first (a broken structure: the sets read before the fault)
  // Per instance (index instance-1): where its AAR, AMS and AS are among the headers.
  std::vector<std::array<size_t, 3>> fields;

  // Whether a sealer may add a set, and the cv= it states (§5.1.1): never after cv=fail,
  // never past 50 sets, never on a temperror (we do not know).
  bool sealable() const { return !terminated && sets < kMaxSets && result != Result::TempError; }
  ChainStatus nextCv() const {
    return result == Result::None ? ChainStatus::None : result == Result::Pass ? ChainStatus::Pass : ChainStatus::Fail;
  }
};

// The message as ARC needs it: every header field (up to `maxHeaderBytes`) and the body
// hashes its ARC-Message-Signatures (and our seal: relaxed) ask for.
class Collector {
 public:
  explicit Collector(size_t maxHeaderBytes = 1 << 20) : maxHeaderBytes_(maxHeaderBytes) {}
  // `value` as it followed the colon (a leading space, folds with CRLF or bare LF).
  void header(std::string_view name, std::string_view value);
  // `sealing`: our own seal will need the relaxed body hash.
  void endOfHeaders(bool sealing);
  void body(std::string_view chunk);
  void endOfBody();

  bool hasArcHeaders() const { return arcHeaders_ > 0; }
  bool overflow() const { return overflow_; }
  const std::vector<dkim::HeaderField>& headers() const { return headers_; }
  // bh= for a canonicalization and l=; nullptr when it was not asked for at end of headers.
  const std::string* bodyHash(dkim::Canonicalization c, std::optional<uint64_t> limit) const;

 private:
  using HashKey = std::pair<dkim::Canonicalization, std::optional<uint64_t>>;
  size_t maxHeaderBytes_;
  size_t headerBytes_ = 0;
  size_t arcHeaders_ = 0;
  bool overflow_ = false;
  std::vector<dkim::HeaderField> headers_;
  std::map<HashKey, std::unique_ptr<dkim::BodyHasher>> hashers_;
  std::map<HashKey, std::string> hashes_;
};

struct VerifyOptions {
  unsigned minKeyBits = 1024;  // MinimumKeyBits (RFC 8301)
};

// Public keys parsed from their DNS records, shared by every session of one configuration
// snapshot: OpenSSL 3 decodes a key through its provider machinery (locks and allocations
// costing more than the RSA check itself), and the same few sealers' keys come back all day.
// The DNS answer is still fetched (through the cache, honouring its TTL) for every message;
// only the text -> key step is remembered. Bounded: emptied when it reaches `capacity`.
// Thread-safe.
class KeyCache {
 public:
  explicit KeyCache(size_t capacity = 1000) : capacity_(capacity) {}
  // The key of record `text`, or nullopt + *error as dkim::parsePublicKeyRecord says.
  std::optional<dkim::PublicKey> parse(const std::string& text, std::string* error);

 private:
  struct Entry {
    std::optional<dkim::PublicKey> key;
    std::string error;
  };
  size_t capacity_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

// RFC 8617 §5.2 over a collected message (endOfBody() called). `keys`: where parsed keys are
// kept between messages (nullptr: parse each time).
ChainResult validate(const Collector& message, dns::Resolver& resolver, const VerifyOptions& options,
                     KeyCache* keys = nullptr);

// The key we seal with (ARCSealKey): RSA, as every ARC validator knows it.
struct SealKey {
  std::string domain, selector;
  std::shared_ptr<const dkim::PrivateKey> key;
};

struct SealRequest {
  const SealKey* key = nullptr;
  ChainStatus cv = ChainStatus::None;
  // The ARC-Authentication-Results payload after "i=N; ": an authserv-id and its results.
  std::string authResults;
  std::vector<std::string> signHeaders;  // names the ARC-Message-Signature covers when present
  long long now = 0;                     // t=
};

// One new ARC set: the three field values (no leading space), to be inserted above
// everything, ARC-Seal topmost.
struct SealedSet {
  unsigned instance = 0;
  std::string authResults, messageSignature, seal;
};

// Seals `message` as instance chain.sets + 1 (chain: validate()'s result for it, sealable()).
// With cv=fail the seal covers only the new set (§5.1.1). nullopt + *error if OpenSSL
// refuses or the relaxed body hash was not asked for.
std::optional<SealedSet> seal(const Collector& message, const ChainResult& chain, const SealRequest& request,
                              std::string* error);

// The arc= result an Authentication-Results value states (the first one), if any: what our
// own inbound check said when a list re-sends the message through us.
std::optional<ChainStatus> arcResultIn(std::string_view authResultsValue);

// For tools and tests: a whole message file through one Collector and validate().
ChainResult validateMessage(std::string_view raw, dns::Resolver& resolver, const VerifyOptions& options);

}  // namespace authmilter::arc
