// SPF (RFC 7208): check_host() in our own code on the shared DNS layer.
//
// Why not libspf2: Debian's libspf2 1.2.10 gets 76 of the 203 cases of the RFC 4408
// conformance suite wrong (lookup limits per include level, CIDR /0, IPv4-mapped
// clients, lax record syntax, unexpanded explanations, "invalid" for both syntax and DNS
// errors), and its assertions abort the process. Correcting that from outside would mean
// parsing every record (to validate it), knowing which lookup belongs to which term (to
// count them) and expanding explanations ourselves: re-implementing it. So the evaluation
// is ours, and libspf2 is kept in the tests as a differential check on the same cases.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/dns/resolver.h"
#include "authmilter/net/ip_address.h"

namespace authmilter::spf {

enum class Result { None, Neutral, Pass, Fail, SoftFail, TempError, PermError };

// "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" (RFC 7208 §2.6).
std::string_view toString(Result result);

struct Limits {
  unsigned dnsTerms = 10;    // §4.6.4: include, a, mx, ptr, exists, redirect over all levels
  unsigned voidLookups = 2;  // §4.6.4: lookups answered NXDOMAIN or with no records
  unsigned mxNames = 10;     // §4.6.4: more MX records than this: permerror
  unsigned ptrNames = 10;    // §4.6.4: PTR names past this are ignored
};

struct CheckOptions {
  // Fetch and expand the exp= explanation on a fail (§6.2). Off by default: the text
  // comes from the sender's DNS, and only a rejection message needs it.
  bool fetchExplanation = false;
  // One deadline for the whole evaluation (all levels; a caller may share one deadline
  // between several checks); a lookup is not started after it
  // passed, and the result is then temperror. A lookup already started may add at most
  // DNSTimeout x DNSRetries.
  std::chrono::milliseconds timeout{20'000};  // RFC 7208 §4.6.4: SHOULD allow at least 20 s
  std::string receiver = "unknown";  // %{r}: the host doing the check (AuthservID)
  Limits limits;
};

// One DNS question asked during a check, in order (for authmilter-check and debug logs).
struct Lookup {
  std::string name;
  dns::RrType type = dns::RrType::TXT;
  dns::DnsStatus status = dns::DnsStatus::Ok;
  size_t records = 0;
  bool fromCache = false;
};

struct CheckResult {
  Result result = Result::None;
  std::string identity;     // "mailfrom" or "helo"
  std::string sender;       // the <sender> checked: "user@domain", "postmaster@helo"
  std::string domain;       // the <domain> checked first (MAIL FROM domain or HELO name)
  std::string mechanism;    // what decided: "-all", "ip4:192.0.2.0/24", "include:x", "default", "redirect=x"
  std::string problem;      // permerror / temperror: why, in words
  std::string explanation;  // fail with fetchExplanation: the expanded exp= text (may be empty)
  std::vector<Lookup> lookups;
  unsigned dnsTerms = 0;     // terms that counted toward the limit of 10
  unsigned voidLookups = 0;
};

class Checker {
 public:
  using Deadline = std::chrono::steady_clock::time_point;  // {}: now + options.timeout

  Checker(std::shared_ptr<dns::Resolver> resolver, CheckOptions options);

  // RFC 7208 §4: check_host(ip, domain, sender). `helo` feeds %{h}. An IPv4-mapped IPv6
  // client is the IPv4 client it is (IpAddress unmaps it).
  CheckResult checkHost(const net::IpAddress& ip, std::string_view domain, std::string_view sender,
                        std::string_view helo, Deadline deadline = {}) const;

  // The MAIL FROM identity (§2.4). `mailFrom` is the reverse-path without angle brackets;
  // an empty one (the null sender <>) checks "postmaster@HELO" instead, with identity
  // "helo". A sender without '@' or local part gets "postmaster" as its local part.
  CheckResult checkMailFrom(const net::IpAddress& ip, std::string_view helo, std::string_view mailFrom,
                            Deadline deadline = {}) const;

  // The HELO identity (§2.3): check_host(ip, helo, "postmaster@" helo). A HELO that is not
  // a multi-label domain name (an address literal, a bare word) gives none.
  CheckResult checkHelo(const net::IpAddress& ip, std::string_view helo, Deadline deadline = {}) const;

  const CheckOptions& options() const { return options_; }

 private:
  std::shared_ptr<dns::Resolver> resolver_;
  CheckOptions options_;
};

// RFC 7208 §9.1 Received-SPF header value (without the name), e.g.
//   pass (mx.example.org: domain of alice@example.com designates 192.0.2.1 as permitted
//   sender) receiver=mx.example.org; client-ip=192.0.2.1; envelope-from="alice@example.com";
//   helo=mail.example.com; identity=mailfrom; mechanism="ip4:192.0.2.0/24"
// Folded with "\n\t"; every value is quoted or sanitised so DNS text cannot inject lines.
std::string formatReceivedSpf(const CheckResult& result, const net::IpAddress& ip, std::string_view helo,
                              std::string_view mailFrom, std::string_view receiver);

}  // namespace authmilter::spf
