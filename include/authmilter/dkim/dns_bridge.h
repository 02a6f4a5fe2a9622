// libopendkim resolves through our Resolver (and so through the shared cache and the
// configured nameservers): its query hooks (dkim_dns_set_query_*) get a reply that we
// build in DNS wire form from the Resolver's answer, as libopendkim parses res_query's.
// A timeout becomes DKIM_DNS_EXPIRED and every other temporary failure (SERVFAIL, REFUSED,
// truncation with TCP failing) DKIM_DNS_ERROR: libopendkim says "key unavailable", a
// TEMPFAIL (RFC 6376 6.1.2). NXDOMAIN/NODATA become an empty reply with that RCODE (no key).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "authmilter/dns/resolver.h"

struct dkim_lib;

namespace authmilter::dkim {

// Installs the hooks on `lib`; `resolver` must outlive the library handle's use.
void installDkimDns(dkim_lib* lib, dns::Resolver& resolver);

// The answer as a DNS reply to (name, type) in wire form: what the DKIM hooks hand to
// libopendkim. Records are owned by `name` (the CNAME chain is already followed).
std::vector<uint8_t> answerToWire(const std::string& name, dns::RrType type, const dns::DnsAnswer& answer);

}  // namespace authmilter::dkim
