// The cache every session and thread shares, in front of any Resolver: answers live for
// their TTL (capped by DNSCacheMaxTTL), negative answers too (RFC 2308, when the reply
// carried an SOA), temporary failures never. At most DNSCacheSize entries; the least
// recently used goes first. Identical questions asked while one is on the wire wait for
// that one instead of asking again (a burst of mail from one domain asks once).
//
// One mutex guards it all: it is held for a hash lookup and a list splice, never across a
// query, and a lookup that reaches the network costs a thousand times more.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/dns/resolver.h"

namespace authmilter::dns {

struct CacheOptions {
  size_t maxEntries = 10000;  // DNSCacheSize; 0 turns the cache off (coalescing stays)
  uint32_t maxTtl = 3600;     // DNSCacheMaxTTL, seconds
};

class CachingResolver : public Resolver {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // `clock` is for tests, which move time instead of sleeping.
  CachingResolver(std::shared_ptr<Resolver> upstream, CacheOptions options, Clock clock = {});
  DnsAnswer lookup(std::string_view name, RrType type) override;

  struct Stats {
    uint64_t hits = 0;       // answered from the cache
    uint64_t misses = 0;     // sent upstream
    uint64_t coalesced = 0;  // waited for an identical lookup already upstream
    size_t entries = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    std::string key;
    DnsAnswer answer;
    std::chrono::steady_clock::time_point expires;
  };
  struct InFlight {
    bool done = false;
    DnsAnswer answer;
    std::condition_variable cv;
  };

  void store(const std::string& key, const DnsAnswer& answer, std::chrono::steady_clock::time_point now);

  std::shared_ptr<Resolver> upstream_;
  CacheOptions options_;
  Clock clock_;

  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::unordered_map<std::string, std::shared_ptr<InFlight>> inFlight_;
  Stats stats_;
};

// The resolver a configuration gets: a CachingResolver in front of an LdnsResolver.
std::shared_ptr<CachingResolver> makeCachingResolver(const ResolverOptions& resolver, const CacheOptions& cache);

}  // namespace authmilter::dns
