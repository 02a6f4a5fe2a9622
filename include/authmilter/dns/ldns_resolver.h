// The resolver that talks to the network: ldns builds and parses the packets; the
// exchange itself (UDP with EDNS0, TCP when the reply is truncated) is a few lines of
// poll() against one deadline per try, so that no lookup outlives DNSTimeout x DNSRetries.
// Stateless apart from its options: every lookup has its own sockets, so it is
// thread-safe without locks. Put a CachingResolver in front of it.
#pragma once

#include <chrono>
#include <vector>

#include "authmilter/dns/resolver.h"

namespace authmilter::dns {

struct ResolverOptions {
  std::vector<Nameserver> nameservers;      // asked in order, one per try, round the list
  std::chrono::milliseconds timeout{5000};  // per try (DNSTimeout)
  unsigned tries = 2;                       // DNSRetries: tries in all, at least 1
  uint16_t ednsSize = 1232;                 // EDNS0 UDP payload size we advertise (DNS flag day 2020)
};

class LdnsResolver : public Resolver {
 public:
  explicit LdnsResolver(ResolverOptions options);
  DnsAnswer lookup(std::string_view name, RrType type) override;
  const ResolverOptions& options() const { return options_; }

 private:
  ResolverOptions options_;
};

}  // namespace authmilter::dns
