// ARC chain validation, RFC 8617 §5.2 (see the header).
#include "authmilter/arc/arc.h"

#include <algorithm>
#include <cctype>

#include "authmilter/mail/message_text.h"
#include "authmilter/util/strings.h"

namespace authmilter::arc {

namespace {

using dkim::Canonicalization;

enum Field { kAar = 0, kAms = 1, kAs = 2 };
constexpr const char* kFieldName[] = {"ARC-Authentication-Results", "ARC-Message-Signature", "ARC-Seal"};
constexpr size_t kNone = static_cast<size_t>(-1);

int fieldOf(std::string_view name) {
  for (int f = kAar; f <= kAs; ++f) {
    if (util::iequals(name, kFieldName[f])) return f;
  }
  return -1;
}

// A decimal instance 1-50 (more digits than that could never be one).
std::optional<unsigned> instanceNumber(std::string_view text) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  unsigned n = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  return n;
}

// AAR: "i=N;" then the A-R payload (§4.1.1).
std::optional<unsigned> aarInstance(std::string_view value) {
  value = util::trim(value);
  const size_t semi = value.find(';');
  if (semi == std::string_view::npos) return std::nullopt;
  const std::string_view tag = value.substr(0, semi);
  const size_t eq = tag.find('=');
  if (eq == std::string_view::npos || util::trim(tag.substr(0, eq)) != "i") return std::nullopt;
  std::string digits;
  for (char c : tag.substr(eq + 1)) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') digits.push_back(c);
  }
  return instanceNumber(digits);
}

struct KeyAnswer {
  std::optional<dkim::PublicKey> key;
  bool temporary = false;
  std::string problem;
};

class KeyFetcher {
 public:
  KeyFetcher(dns::Resolver& resolver, const VerifyOptions& options, KeyCache* keys)
      : resolver_(resolver), options_(options), keys_(keys) {}

  const KeyAnswer& get(const std::string& domain, const std::string& selector) {
    const std::string name = selector + "._domainkey." + domain;
    if (const auto it = cache_.find(name); it != cache_.end()) return it->second;
    KeyAnswer out;
    const dns::DnsAnswer answer = resolver_.lookup(name, dns::RrType::TXT);
    if (dns::isTemporary(answer.status)) {
      out.temporary = true;
      out.problem = "key " + name + " unavailable (" + std::string(dns::statusName(answer.status)) + ")";
    } else if (answer.status != dns::DnsStatus::Ok) {
      out.problem = "no key at " + name;
    } else {
      for (const auto& record : answer.records) {
        std::string why;
        if (auto key = keys_ ? keys_->parse(record.text, &why) : dkim::parsePublicKeyRecord(record.text, &why)) {
          out.key = std::move(key);
          break;
        }
        if (out.problem.empty()) out.problem = name + ": " + why;
      }
      if (out.key) out.problem.clear();
      if (out.key && out.key->algorithm == dkim::KeyAlgorithm::Rsa && out.key->bits < options_.minKeyBits) {
        out.problem = name + ": RSA key of " + std::to_string(out.key->bits) + " bits, under MinimumKeyBits";
        out.key.reset();
      }
    }
    return cache_.emplace(name, std::move(out)).first->second;
  }

 private:
  dns::Resolver& resolver_;
  const VerifyOptions& options_;
  KeyCache* keys_;
  std::map<std::string, KeyAnswer> cache_;
};

// One signature (AMS or AS) checked against its key.
struct SignatureCheck {
  Check check = Check::NotChecked;
  std::string problem;
};

SignatureCheck checkSignature(KeyFetcher& keys, const dkim::TagList& tags, std::string_view data) {
  const std::string& a = *dkim::findTag(tags, "a");
  dkim::KeyAlgorithm algorithm;
  if (a == "rsa-sha256") {
    algorithm = dkim::KeyAlgorithm::Rsa;
  } else if (a == "ed25519-sha256") {
    algorithm = dkim::KeyAlgorithm::Ed25519;
  } else {
    return {Check::Fail, "algorithm a=" + util::sanitize(a) + " not allowed (RFC 8301)"};
  }
  const auto signature = dkim::decodeBase64(*dkim::findTag(tags, "b"));
  if (!signature || signature->empty()) return {Check::Fail, "b= is not a signature"};
  const KeyAnswer& key = keys.get(util::toLower(*dkim::findTag(tags, "d")), *dkim::findTag(tags, "s"));
  if (key.temporary) return {Check::TempError, key.problem};
  if (!key.key) return {Check::Fail, key.problem};
  if (key.key->algorithm != algorithm) return {Check::Fail, "key type does not match a=" + a};
  if (!dkim::verifySha256(*key.key, data, *signature)) return {Check::Fail, "signature did not verify"};
  return {Check::Pass, {}};
}

bool hasTags(const dkim::TagList& tags, std::initializer_list<const char*> names, std::string* missing) {
  for (const char* name : names) {
    if (dkim::findTag(tags, name) == nullptr) {
      *missing = std::string(name) + "=";
      return false;
    }
  }
  return true;
}

std::optional<Canonicalization> canonicalization(std::string_view word) {
  if (word == "simple") return Canonicalization::Simple;
  if (word == "relaxed") return Canonicalization::Relaxed;
  return std::nullopt;
}

// c= (header/body; default simple/simple as in DKIM) and l=; nullopt when malformed.
struct Canon {
  Canonicalization header = Canonicalization::Simple, body = Canonicalization::Simple;
  std::optional<uint64_t> limit;
};
std::optional<Canon> canonOf(const dkim::TagList& tags) {
  Canon out;
  if (const auto* c = dkim::findTag(tags, "c")) {
    const size_t slash = c->find('/');
    const auto h = canonicalization(c->substr(0, slash));
    const auto b = slash == std::string::npos ? Canonicalization::Simple : canonicalization(c->substr(slash + 1));
    if (!h || !b) return std::nullopt;
    out.header = *h;
    out.body = *b;
  }
  if (const auto* l = dkim::findTag(tags, "l")) {
    if (l->empty() || l->size() > 19 || !std::all_of(l->begin(), l->end(), ::isdigit)) return std::nullopt;
    out.limit = std::stoull(*l);
  }
  return out;
}

// The set's ARC-Message-Signature over the message (RFC 6376 §3.7 with i= for v=).
SignatureCheck checkMessageSignature(const Collector& message, KeyFetcher& keys, size_t index,
                                     const dkim::TagList& tags) {
  const auto canon = canonOf(tags);
  if (!canon) return {Check::Fail, "bad c= or l="};
  std::vector<std::string> names;
  const std::string& h = *dkim::findTag(tags, "h");
  size_t start = 0;
  while (start <= h.size()) {
    size_t end = h.find(':', start);
    if (end == std::string::npos) end = h.size();
    std::string name = util::toLower(util::trim(h.substr(start, end - start)));
    std::erase_if(name, [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
    if (name == "arc-seal") return {Check::Fail, "h= covers ARC-Seal"};
    if (!name.empty()) names.push_back(std::move(name));
    start = end + 1;
  }
  if (names.empty()) return {Check::Fail, "h= is empty"};
  const std::string* bodyHash = message.bodyHash(canon->body, canon->limit);
  const auto stated = dkim::decodeBase64(*dkim::findTag(tags, "bh"));
  const auto computed = bodyHash ? dkim::decodeBase64(*bodyHash) : std::nullopt;
  if (!stated || !computed || *stated != *computed) return {Check::Fail, "body hash did not verify"};
  std::string data;
  dkim::canonicalSelectedHeaders(canon->header, message.headers(), names, data);
  const auto& self = message.headers()[index];
  dkim::canonicalHeader(canon->header, self.first, dkim::withoutSignatureValue(self.second), data);
  data.resize(data.size() - 2);
  return checkSignature(keys, tags, data);
}

// The set's ARC-Seal over sets 1..instance, each AAR, AMS, AS in that order, relaxed (§5.1.1).
SignatureCheck checkSeal(const Collector& message, KeyFetcher& keys, const std::vector<std::array<size_t, 3>>& fields,
                         unsigned instance, const dkim::TagList& tags) {
  std::string data;
  for (unsigned i = 1; i <= instance; ++i) {
    for (int f = kAar; f <= kAs; ++f) {
      const auto& [name, value] = message.headers()[fields[i - 1][f]];
      const bool self = i == instance && f == kAs;
      dkim::canonicalHeader(Canonicalization::Relaxed, name, self ? dkim::withoutSignatureValue(value) : value, data);
    }
  }
  data.resize(data.size() - 2);
  return checkSignature(keys, tags, data);
}

ChainResult failed(ChainResult r, std::string reason) {
  r.result = Result::Fail;
  r.reason = std::move(reason);
  return r;
}

}  // namespace

bool isArcHeader(std::string_view name) { return fieldOf(name) >= 0; }

std::string_view toString(ChainStatus status) {
  switch (status) {
    case ChainStatus::None: return "none";
    case ChainStatus::Pass: return "pass";
    case ChainStatus::Fail: return "fail";
  }
  return "none";
}

std::string_view toString(Result result) {
  switch (result) {
    case Result::None: return "none";
    case Result::Pass: return "pass";
    case Result::Fail: return "fail";
    case Result::TempError: return "temperror";
  }
  return "none";
}

std::string_view toString(Check check) {
  switch (check) {
    case Check::NotChecked: return "-";
    case Check::Pass: return "pass";
    case Check::Fail: return "fail";
    case Check::TempError: return "temperror";
  }
  return "-";
}

void Collector::header(std::string_view name, std::string_view value) {
  if (isArcHeader(name)) ++arcHeaders_;
  if (overflow_) return;
  headerBytes_ += name.size() + value.size() + 3;
  if (headerBytes_ > maxHeaderBytes_) {
    overflow_ = true;
    headers_.clear();
    return;
  }
  headers_.emplace_back(std::string(name), std::string(value));
}

void Collector::endOfHeaders(bool sealing) {
  const auto want = [&](HashKey key) {
    if (hashers_.count(key) == 0) hashers_.emplace(key, std::make_unique<dkim::BodyHasher>(key.first, key.second));
  };
  if (sealing) want({Canonicalization::Relaxed, std::nullopt});
  if (overflow_ || arcHeaders_ > 3 * kMaxSets) return;  // validate() fails these without hashing
  for (const auto& [name, value] : headers_) {
    if (fieldOf(name) != kAms) continue;
    std::string why;
    const auto tags = dkim::parseTagList(value, &why);
    const auto canon = tags ? canonOf(*tags) : std::nullopt;
    if (canon) want({canon->body, canon->limit});
  }
}

void Collector::body(std::string_view chunk) {
  for (auto& [key, hasher] : hashers_) hasher->update(chunk);
}

void Collector::endOfBody() {
  for (auto& [key, hasher] : hashers_) hashes_[key] = hasher->finish();
  hashers_.clear();
}

const std::string* Collector::bodyHash(dkim::Canonicalization c, std::optional<uint64_t> limit) const {
  const auto it = hashes_.find({c, limit});
  return it == hashes_.end() ? nullptr : &it->second;
}

std::optional<dkim::PublicKey> KeyCache::parse(const std::string& text, std::string* error) {
  {
    std::lock_guard lock(mutex_);
    if (const auto it = entries_.find(text); it != entries_.end()) {
      *error = it->second.error;
      return it->second.key;
    }
  }
  Entry entry;
  entry.key = dkim::parsePublicKeyRecord(text, &entry.error);  // outside the lock
  *error = entry.error;
  std::lock_guard lock(mutex_);
  if (entries_.size() >= capacity_) entries_.clear();
  entries_.emplace(text, entry);
  return entry.key;
}

ChainResult validate(const Collector& message, dns::Resolver& resolver, const VerifyOptions& options,
                     KeyCache* keyCache) {
  ChainResult r;
  if (!message.hasArcHeaders()) return r;
  if (message.overflow()) return failed(r, "header section too large to check");
  const auto& headers = message.headers();

  // Step 1: every ARC field, by instance; exactly one of each per set, 1..N without gaps.
  size_t count = 0;
  std::vector<std::array<size_t, 3>> fields;
  std::vector<dkim::TagList> amsTags, asTags;
  for (size_t i = 0; i < headers.size(); ++i) {
    const int f = fieldOf(headers[i].first);
    if (f < 0) continue;
    if (++count > 3 * kMaxSets) return failed(r, "more than " + std::to_string(kMaxSets) + " ARC sets");
    std::optional<unsigned> instance;
    std::string why;
    std::optional<dkim::TagList> tags;
    if (f == kAar) {
      instance = aarInstance(headers[i].second);
    } else {
      tags = dkim::parseTagList(headers[i].second, &why);
      if (!tags) return failed(r, std::string(kFieldName[f]) + ": " + why);
      if (const auto* v = dkim::findTag(*tags, "i")) instance = instanceNumber(*v);
    }
    if (!instance || *instance < 1) return failed(r, std::string(kFieldName[f]) + " without a valid i=");
    if (*instance > kMaxSets) return failed(r, "ARC set i=" + std::to_string(*instance) + " is past the limit of 50");
    if (*instance > fields.size()) {
      fields.resize(*instance, {kNone, kNone, kNone});
      amsTags.resize(*instance);
      asTags.resize(*instance);
    }
    auto& slot = fields[*instance - 1][f];
    if (slot != kNone) return failed(r, "two " + std::string(kFieldName[f]) + " fields with i=" + std::to_string(*instance));
    slot = i;
    if (f == kAms) amsTags[*instance - 1] = std::move(*tags);
    if (f == kAs) asTags[*instance - 1] = std::move(*tags);
  }
  const auto n = static_cast<unsigned>(fields.size());
  r.sets = n;
  for (unsigned i = 1; i <= n; ++i) {
    for (int f = kAar; f <= kAs; ++f) {
      if (fields[i - 1][f] == kNone) {
        return failed(r, "ARC set i=" + std::to_string(i) + " has no " + kFieldName[f]);
      }
    }
    std::string missing;
    if (!hasTags(amsTags[i - 1], {"a", "b", "bh", "d", "h", "s"}, &missing)) {
      return failed(r, "ARC-Message-Signature i=" + std::to_string(i) + " has no " + missing);
    }
    if (!hasTags(asTags[i - 1], {"a", "b", "cv", "d", "s"}, &missing)) {
      return failed(r, "ARC-Seal i=" + std::to_string(i) + " has no " + missing);
    }
    if (dkim::findTag(asTags[i - 1], "h") != nullptr) return failed(r, "ARC-Seal i=" + std::to_string(i) + " has h=");
    SetReport set;
    set.instance = i;
    set.domain = util::sanitize(util::toLower(*dkim::findTag(asTags[i - 1], "d")));
    set.selector = util::sanitize(*dkim::findTag(asTags[i - 1], "s"));
    set.cv = util::sanitize(*dkim::findTag(asTags[i - 1], "cv"));
    r.details.push_back(std::move(set));
  }
  r.fields = fields;

  // Step 2: the newest seal says the chain already failed: it ends there.
  if (r.details.back().cv == "fail") {
    r.terminated = true;
    return failed(r, "ARC-Seal i=" + std::to_string(n) + " says cv=fail");
  }
  // Step 3: cv=none on the first set, cv=pass on every later one.
  for (const auto& set : r.details) {
    const char* expected = set.instance == 1 ? "none" : "pass";
    if (set.cv != expected) {
      return failed(r, "ARC-Seal i=" + std::to_string(set.instance) + " has cv=" + set.cv + ", expected " + expected);
    }
  }

  KeyFetcher keys(resolver, options, keyCache);
  // Step 4: the newest ARC-Message-Signature must validate.
  const auto ams = [&](unsigned i) {
    auto& set = r.details[i - 1];
    const auto check = checkMessageSignature(message, keys, fields[i - 1][kAms], amsTags[i - 1]);
    set.ams = check.check;
    if (!check.problem.empty()) set.problem = "ARC-Message-Signature: " + check.problem;
    return check;
  };
  if (const auto check = ams(n); check.check != Check::Pass) {
    r.result = check.check == Check::TempError ? Result::TempError : Result::Fail;
    r.reason = "ARC-Message-Signature i=" + std::to_string(n) + ": " + check.problem;
    return r;
  }
  // Step 5: the oldest instance from which every ARC-Message-Signature still validates.
  for (unsigned i = n - 1; i >= 1; --i) {
    if (ams(i).check != Check::Pass) {
      r.oldestPass = i + 1;
      break;
    }
  }
  // Step 6: every ARC-Seal, newest first.
  for (unsigned i = n; i >= 1; --i) {
    auto& set = r.details[i - 1];
    const auto check = checkSeal(message, keys, fields, i, asTags[i - 1]);
    set.seal = check.check;
    if (check.check == Check::Pass) continue;
    set.problem = "ARC-Seal: " + check.problem;
    r.result = check.check == Check::TempError ? Result::TempError : Result::Fail;
    r.reason = "ARC-Seal i=" + std::to_string(i) + ": " + check.problem;
    return r;
  }
  r.result = Result::Pass;
  return r;
}

std::optional<ChainStatus> arcResultIn(std::string_view value) {
  // resinfo pieces are separated by ';' outside comments and quoted strings.
  std::vector<std::string> pieces(1);
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\\' && (quoted || depth > 0)) {
      ++i;
    } else if (quoted) {
      quoted = c != '"';
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0 && c == '"') {
      quoted = true;
    } else if (depth == 0 && c == ';') {
      pieces.emplace_back();
    } else if (depth == 0) {
      pieces.back().push_back(c);
    }
  }
  for (size_t i = 1; i < pieces.size(); ++i) {
    const std::string_view piece = util::trim(pieces[i]);
    const size_t eq = piece.find('=');
    if (eq == std::string_view::npos || !util::iequals(util::trim(piece.substr(0, eq)), "arc")) continue;
    std::string_view result = util::trim(piece.substr(eq + 1));
    result = result.substr(0, result.find_first_of(" \t\r\n"));
    if (util::iequals(result, "pass")) return ChainStatus::Pass;
    if (util::iequals(result, "none")) return ChainStatus::None;
    if (util::iequals(result, "fail")) return ChainStatus::Fail;
    return std::nullopt;  // temperror or worse: what it said is not known
  }
  return std::nullopt;
}

ChainResult validateMessage(std::string_view raw, dns::Resolver& resolver, const VerifyOptions& options) {
  const mail::MessageText text = mail::splitMessageText(raw);
  Collector collector;
  for (const auto& [name, value] : text.headers) collector.header(name, value);
  collector.endOfHeaders(false);
  collector.body(text.body);
  collector.endOfBody();
  return validate(collector, resolver, options);
}

}  // namespace authmilter::arc
