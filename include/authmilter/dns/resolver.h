// The one DNS layer every check uses (SPF through libspf2, DKIM through libopendkim,
// DMARC directly): a question (name, type) gets an answer whose status tells the five
// outcomes apart, because they mean different things to the checks: a missing record is
// a verdict ("none"), a failure to get one is only ever a temporary error.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace authmilter::dns {

// The record types the checks ask for (RFC 1035, 3596); other values are passed through.
enum class RrType : uint16_t {
  A = 1,
  NS = 2,
  CNAME = 5,
  SOA = 6,
  PTR = 12,
  MX = 15,
  TXT = 16,
  AAAA = 28,
  SPF = 99,
};
std::string rrTypeName(RrType type);                    // "TXT", or "TYPE123"
std::optional<RrType> parseRrType(std::string_view s);  // case-insensitive; "TYPE123" too

enum class DnsStatus {
  Ok,        // at least one record of the type asked for
  NxDomain,  // the name does not exist (RCODE 3)
  NoData,    // the name exists but has no record of this type
  ServFail,  // every server asked failed: SERVFAIL, REFUSED, FORMERR, a broken reply
  Timeout,   // no server answered in time: DNSTimeout x DNSRetries
};
std::string_view statusName(DnsStatus status);  // "ok", "nxdomain", "nodata", "servfail", "timeout"
// ServFail and Timeout: the answer is not known, so a check must say temperror.
inline bool isTemporary(DnsStatus s) { return s == DnsStatus::ServFail || s == DnsStatus::Timeout; }

struct DnsRecord {
  // TXT: the record's character-strings joined with nothing between them (RFC 7208 §3.3,
  // RFC 6376 §3.6.2.2). A/AAAA: the address in text form. MX/PTR/CNAME/NS: the target
  // name without the final dot. Anything else: ldns's presentation form of the rdata.
  std::string text;
  uint16_t preference = 0;  // MX only
  bool operator==(const DnsRecord&) const = default;
};

struct DnsAnswer {
  DnsStatus status = DnsStatus::Timeout;
  std::vector<DnsRecord> records;  // the records of the type asked for, after CNAMEs
  // Ok: the smallest TTL along the CNAME chain and the RRset. NxDomain/NoData: the
  // negative TTL (RFC 2308 §5: min of the SOA's TTL and MINIMUM), 0 when the reply carried
  // no SOA. From the cache: what is left of it.
  uint32_t ttl = 0;
  std::string canonicalName;  // where the CNAME chain ended; the name asked for if none
  std::string detail;         // for logs: why a ServFail/Timeout, which server
  bool fromCache = false;
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Blocks for at most DNSTimeout x DNSRetries. Thread-safe. `name` may end in a dot.
  virtual DnsAnswer lookup(std::string_view name, RrType type) = 0;
};

// A nameserver address: "192.0.2.1", "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]:5353".
struct Nameserver {
  std::string address;  // numeric, without brackets
  uint16_t port = 53;
  std::string text() const;  // "192.0.2.1:53", "[2001:db8::1]:53"
  bool operator==(const Nameserver&) const = default;
};
std::optional<Nameserver> parseNameserver(std::string_view text, std::string* error);
// The "nameserver" lines of a resolv.conf; empty (with *error set) if it has none.
std::vector<Nameserver> nameserversFromResolvConf(const std::string& path, std::string* error);
// What the C library would ask: /etc/resolv.conf's nameservers, or 127.0.0.1 if none.
std::vector<Nameserver> systemNameservers();

// Lower case, no final dot: the form names are compared and cached in.
std::string canonicalName(std::string_view name);

}  // namespace authmilter::dns
