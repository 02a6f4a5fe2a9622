// dns_bench: lookups per second through the DNS layer against the test DNS server on
// loopback: uncached (every lookup a UDP exchange: LdnsResolver) and cached (a warm
// CachingResolver, as checks for a busy domain see it), from 1 and N threads. It
// measures; it asserts nothing about speed. The server runs in this process, so the
// uncached figures include its work too (on the same cores).
//
//   dns_bench [--names N] [--lookups N] [--threads N[,N...]]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "authmilter/dns/caching_resolver.h"
#include "authmilter/dns/ldns_resolver.h"
#include "test_dns_server.h"

using namespace authmilter;

namespace {

struct Options {
  int names = 1000;
  int lookups = 20000;  // per row; uncached rows use a tenth
  std::vector<int> threads = {1, 4};
};

std::vector<int> parseList(const char* s) {
  std::vector<int> out;
  for (const char* p = s; *p;) {
    out.push_back(std::atoi(p));
    p = std::strchr(p, ',');
    if (!p) break;
    ++p;
  }
  return out;
}

// Runs `total` lookups spread over `threads` threads, cycling over the names; returns
// lookups per second and counts any answer that is not Ok.
std::pair<double, int> run(dns::Resolver& resolver, const std::vector<std::string>& names, int total, int threads) {
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < total;) {
        const auto a = resolver.lookup(names[static_cast<size_t>(i) % names.size()], dns::RrType::TXT);
        if (a.status != dns::DnsStatus::Ok) failures.fetch_add(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {total / seconds, failures.load()};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--names")) {
      o.names = std::atoi(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--lookups")) {
      o.lookups = std::atoi(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--threads")) {
      o.threads = parseList(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: dns_bench [--names N] [--lookups N] [--threads N[,N...]]\n");
      return 2;
    }
  }
  if (o.names < 1 || o.lookups < 10 || o.threads.empty()) {
    std::fprintf(stderr, "dns_bench: --names >= 1, --lookups >= 10, --threads N[,N...]\n");
    return 2;
  }

  std::string zone = "$TTL 3600\n";
  std::vector<std::string> names;
  for (int i = 0; i < o.names; ++i) {
    names.push_back("name" + std::to_string(i) + ".bench.test");
    zone += names.back() + ". IN TXT \"v=spf1 ip4:192.0.2." + std::to_string(i % 256) + " -all\"\n";
  }
  testsupport::TestDnsServer server(zone);
  dns::ResolverOptions options;
  options.nameservers = {{"127.0.0.1", server.port()}};

  std::printf("%-10s %8s %10s %14s %9s\n", "mode", "threads", "lookups", "lookups/s", "failures");
  int failuresInAll = 0;
  for (const int threads : o.threads) {
    dns::LdnsResolver uncached(options);
    const int total = std::max(10, o.lookups / 10);
    const auto [rate, failures] = run(uncached, names, total, threads);
    failuresInAll += failures;
    std::printf("%-10s %8d %10d %14.0f %9d\n", "uncached", threads, total, rate, failures);
  }
  for (const int threads : o.threads) {
    dns::CachingResolver cached(std::make_shared<dns::LdnsResolver>(options),
                                {.maxEntries = static_cast<size_t>(o.names) + 1, .maxTtl = 3600});
    for (const auto& name : names) cached.lookup(name, dns::RrType::TXT);  // warm it
    const auto [rate, failures] = run(cached, names, o.lookups, threads);
    failuresInAll += failures;
    std::printf("%-10s %8d %10d %14.0f %9d\n", "cached", threads, o.lookups, rate, failures);
  }
  std::printf("server saw %zu queries\n", server.totalQueries());
  return failuresInAll == 0 ? 0 : 1;
}
