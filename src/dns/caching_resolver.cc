// The shared DNS cache with LRU eviction and coalescing of identical lookups.
#include "authmilter/dns/caching_resolver.h"

#include <algorithm>

#include "authmilter/metrics/metrics.h"

namespace authmilter::dns {

namespace {
bool cacheable(const DnsAnswer& a) { return !isTemporary(a.status) && a.ttl > 0; }
}  // namespace

CachingResolver::CachingResolver(std::shared_ptr<Resolver> upstream, CacheOptions options, Clock clock)
    : upstream_(std::move(upstream)), options_(options), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

DnsAnswer CachingResolver::lookup(std::string_view name, RrType type) {
  const std::string key = canonicalName(name) + '/' + std::to_string(static_cast<unsigned>(type));
  std::shared_ptr<InFlight> flight;
  {
    std::unique_lock lock(mutex_);
    const auto now = clock_();
    if (const auto it = index_.find(key); it != index_.end()) {
      if (it->second->expires > now) {
        lru_.splice(lru_.begin(), lru_, it->second);
        ++stats_.hits;
        metrics::countDnsCacheHit();
        DnsAnswer answer = it->second->answer;
        answer.fromCache = true;
        answer.ttl = static_cast<uint32_t>(
            std::chrono::ceil<std::chrono::seconds>(it->second->expires - now).count());
        return answer;
      }
      lru_.erase(it->second);
      index_.erase(it);
    }
    if (const auto it = inFlight_.find(key); it != inFlight_.end()) {
      // The leader's lookup is bounded by DNSTimeout x DNSRetries, so this wait is too.
      auto shared = it->second;
      ++stats_.coalesced;
      metrics::countDnsCoalesced();
      shared->cv.wait(lock, [&] { return shared->done; });
      return shared->answer;
    }
    flight = std::make_shared<InFlight>();
    inFlight_.emplace(key, flight);
    ++stats_.misses;
  }

  DnsAnswer answer;
  try {
    answer = upstream_->lookup(name, type);
  } catch (const std::exception& e) {
    answer.status = DnsStatus::ServFail;
    answer.detail = std::string("internal error: ") + e.what();
  }
  metrics::countDnsUpstream(answer.status);
  if (cacheable(answer)) answer.ttl = std::min(answer.ttl, options_.maxTtl);

  std::lock_guard lock(mutex_);
  if (cacheable(answer)) store(key, answer, clock_());
  flight->answer = answer;
  flight->done = true;
  inFlight_.erase(key);
  flight->cv.notify_all();
  return answer;
}

void CachingResolver::store(const std::string& key, const DnsAnswer& answer,
                            std::chrono::steady_clock::time_point now) {
  if (options_.maxEntries == 0) return;
  if (const auto it = index_.find(key); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front({key, answer, now + std::chrono::seconds(answer.ttl)});
  index_.emplace(key, lru_.begin());
  while (lru_.size() > options_.maxEntries) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

CachingResolver::Stats CachingResolver::stats() const {
  std::lock_guard lock(mutex_);
  Stats s = stats_;
  s.entries = lru_.size();
  return s;
}

std::shared_ptr<CachingResolver> makeCachingResolver(const ResolverOptions& resolver, const CacheOptions& cache) {
  return std::make_shared<CachingResolver>(std::make_shared<LdnsResolver>(resolver), cache);
}

}  // namespace authmilter::dns
