// spf::Checker through the real DNS path: LdnsResolver against TestDnsServer on loopback.
// Every mechanism and qualifier, CIDR lengths, modifiers, macros, each result code, both
// lookup limits, loops, timeouts, the identities, hostile input, and the Received-SPF
// header. The expectations are RFC 7208's (section named at each test), not whatever the
// evaluator happens to do; the openspf suite lives in spf_conformance_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/dns/caching_resolver.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/policy/ip_address.h"
#include "authmilter/spf/spf.h"
#include "authmilter/util/strings.h"
#include "test_dns_server.h"

namespace authmilter::spf {
namespace {

using dns::DnsStatus;
using dns::RrType;
using policy::IpAddress;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testsupport::TestDnsServer;
using namespace std::chrono_literals;

constexpr const char* kClient4 = "192.0.2.10";
constexpr const char* kClient6 = "2001:db8::10";
constexpr const char* kHelo = "mail.helo.test";
constexpr const char* kReceiver = "mx.receiver.test";

const std::string kHeader =
    "$TTL 300\n"
    "test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n";

IpAddress ip(std::string_view text) {
  const auto a = IpAddress::parse(text);
  if (!a) throw std::runtime_error("bad test address " + std::string(text));
  return *a;
}

// One character-string in zone-file syntax: quotes and backslashes escaped, every octet
// outside printable ASCII as \DDD, so control and 8-bit bytes reach the wire as they are.
std::string zoneString(std::string_view text) { return util::quoteEscaped(text); }

// A TXT record holding `text`, cut into character-strings of `chunk` octets (a cut may fall
// inside a term: RFC 7208 §3.3 joins them with nothing between).
std::string txt(std::string_view name, std::string_view text, size_t chunk = 255) {
  std::string line = std::string(name) + ". IN TXT";
  if (text.empty()) line += " \"\"";
  for (size_t i = 0; i < text.size(); i += chunk) line += " " + zoneString(text.substr(i, chunk));
  return line + "\n";
}

std::string txtStrings(std::string_view name, const std::vector<std::string>& strings) {
  std::string line = std::string(name) + ". IN TXT";
  for (const auto& s : strings) line += " " + zoneString(s);
  return line + "\n";
}

// "20010db8...": the 32 nibbles of an IPv6 address, dotted, in order or reversed.
std::string dottedNibbles(std::string_view hex32, bool reversed) {
  std::string out;
  for (size_t i = 0; i < hex32.size(); ++i) {
    if (!out.empty()) out += '.';
    out += hex32[reversed ? hex32.size() - 1 - i : i];
  }
  return out;
}
// 2001:db8::10 written out.
constexpr std::string_view kClient6Hex = "20010db8000000000000000000000010";

// The support hosts the mechanism tests point at.
std::string hostZone() {
  return "host.m.test. IN A 192.0.2.10\n"
         "host.m.test. IN AAAA 2001:db8::10\n"
         "near.m.test. IN A 192.0.2.99\n"
         "near.m.test. IN AAAA 2001:db8::99\n"
         "far.m.test. IN A 198.51.100.1\n"
         "far.m.test. IN AAAA 2001:db8:ffff::1\n"
         "v4only.m.test. IN A 192.0.2.10\n"
         "ex.m.test. IN A 127.0.0.2\n"
         "mxhost.m.test. IN MX 10 host.m.test.\n"
         "mxnear.m.test. IN MX 10 near.m.test.\n"
         "mxfar.m.test. IN MX 10 far.m.test.\n"
         "nomx.m.test. IN A 192.0.2.10\n"
         "10.2.0.192.in-addr.arpa. IN PTR host.m.test.\n"
         "20.2.0.192.in-addr.arpa. IN PTR host.m.test.\n" +
         dottedNibbles(kClient6Hex, true) + ".ip6.arpa. IN PTR host.m.test.\n";
}

std::string describe(const CheckResult& r) {
  std::string s = "result=" + std::string(toString(r.result)) + " mechanism='" + r.mechanism + "' problem='" +
                  r.problem + "' explanation='" + r.explanation + "' terms=" + std::to_string(r.dnsTerms) +
                  " void=" + std::to_string(r.voidLookups) + " lookups:";
  for (const auto& l : r.lookups) {
    s += " " + l.name + "/" + dns::rrTypeName(l.type) + "=" + std::string(dns::statusName(l.status));
  }
  return s;
}

// How often the check asked (name, type), by its own account.
size_t asked(const CheckResult& r, std::string_view name, RrType type) {
  size_t n = 0;
  for (const auto& l : r.lookups) {
    if (l.type == type && dns::canonicalName(l.name) == dns::canonicalName(name)) ++n;
  }
  return n;
}

class SpfCheckTest : public ::testing::Test {
 protected:
  void serve(const std::string& records) { server_.setZone(kHeader + records); }

  std::shared_ptr<dns::Resolver> resolver(std::chrono::milliseconds timeout = 2000ms, unsigned tries = 1) const {
    dns::ResolverOptions o;
    o.nameservers = {{"127.0.0.1", server_.port()}};
    o.timeout = timeout;
    o.tries = tries;
    return std::make_shared<dns::LdnsResolver>(o);
  }

  Checker checker(CheckOptions o = {}) const {
    o.receiver = kReceiver;
    return Checker(resolver(), o);
  }
  Checker explaining() const {
    CheckOptions o;
    o.fetchExplanation = true;
    return checker(o);
  }

  // check_host(ip, domain, "user@domain") with the default HELO.
  CheckResult host(std::string_view domain, std::string_view client = kClient4) const {
    return checker().checkHost(ip(client), domain, "user@" + std::string(domain), kHelo);
  }

  struct Row {
    std::string record;
    std::string client;
    std::string result;
    std::string mechanism = {};  // a substring of CheckResult::mechanism, when given
    std::string extra = {};      // more zone lines; {D} stands for the row's domain
  };
  // Each row gets its own domain rN.rows.test holding its record; all are served at once.
  void runRows(const std::vector<Row>& rows) {
    std::string zone = hostZone();
    for (size_t i = 0; i < rows.size(); ++i) {
      const std::string domain = "r" + std::to_string(i) + ".rows.test";
      zone += txt(domain, rows[i].record);
      std::string extra = rows[i].extra;
      for (size_t at; (at = extra.find("{D}")) != std::string::npos;) extra.replace(at, 3, domain);
      zone += extra;
    }
    serve(zone);
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      const auto r = host("r" + std::to_string(i) + ".rows.test", row.client);
      EXPECT_EQ(toString(r.result), row.result)
          << "record '" << row.record << "', client " << row.client << ": " << describe(r);
      if (!row.mechanism.empty()) {
        EXPECT_THAT(r.mechanism, HasSubstr(row.mechanism)) << "record '" << row.record << "'";
      }
      if (r.result == Result::PermError || r.result == Result::TempError) {
        EXPECT_FALSE(r.problem.empty()) << "record '" << row.record << "' gave " << toString(r.result)
                                        << " without a problem";
      }
    }
  }

  TestDnsServer server_{kHeader};
};

// ---------------------------------------------------------------------------------------
// Mechanisms (RFC 7208 §4.6.2, §5)

TEST_F(SpfCheckTest, AllWithEachQualifier) {  // §4.6.2, §5.1
  runRows({
      {"v=spf1 all", kClient4, "pass", "all"},
      {"v=spf1 +all", kClient4, "pass", "all"},
      {"v=spf1 -all", kClient4, "fail", "all"},
      {"v=spf1 ~all", kClient4, "softfail", "all"},
      {"v=spf1 ?all", kClient4, "neutral", "all"},
      {"v=spf1 -all", kClient6, "fail", "all"},
      {"v=spf1 ~all ", kClient4, "softfail", "all"},  // trailing space is allowed
      {"v=spf1  -all", kClient4, "fail", "all"},      // so are several spaces between terms
      {"v=spf1 -ALL", kClient4, "fail"},              // §4.6.1: names are case-insensitive
      // §5.1: mechanisms after "all" are never tested (a lookup there would not count).
      {"v=spf1 ~all ip4:192.0.2.10", kClient4, "softfail", "all"},
  });
}

TEST_F(SpfCheckTest, Ip4MatchesByPrefixLength) {  // §5.6
  runRows({
      {"v=spf1 ip4:192.0.2.10 -all", kClient4, "pass", "ip4:192.0.2.10"},
      {"v=spf1 ip4:192.0.2.10/32 -all", kClient4, "pass", "ip4:192.0.2.10/32"},
      {"v=spf1 ip4:192.0.2.11/32 -all", kClient4, "fail", "all"},
      {"v=spf1 ip4:192.0.2.11 -all", kClient4, "fail", "all"},
      {"v=spf1 ip4:192.0.2.0/24 -all", kClient4, "pass", "ip4:192.0.2.0/24"},
      {"v=spf1 ip4:192.0.2.255/24 -all", kClient4, "pass"},  // host bits are ignored
      {"v=spf1 ip4:192.0.3.0/24 -all", kClient4, "fail"},
      {"v=spf1 ip4:0.0.0.0/0 -all", kClient4, "pass"},
      {"v=spf1 ip4:203.0.113.7/0 -all", kClient4, "pass"},
      {"v=spf1 +ip4:192.0.2.0/24 -all", kClient4, "pass"},
      {"v=spf1 -ip4:192.0.2.0/24 +all", kClient4, "fail", "ip4:192.0.2.0/24"},
      {"v=spf1 ~ip4:192.0.2.0/24 +all", kClient4, "softfail", "ip4:192.0.2.0/24"},
      {"v=spf1 ?ip4:192.0.2.0/24 +all", kClient4, "neutral", "ip4:192.0.2.0/24"},
      {"v=spf1 ip4:192.0.2.0/25 ip4:192.0.2.8/29 -all", kClient4, "pass", "ip4:192.0.2.0/25"},
      {"v=spf1 IP4:192.0.2.10 -all", kClient4, "pass"},
  });
}

TEST_F(SpfCheckTest, Ip6MatchesByPrefixLength) {  // §5.6
  runRows({
      {"v=spf1 ip6:2001:db8::10 -all", kClient6, "pass", "ip6:2001:db8::10"},
      {"v=spf1 ip6:2001:db8::10/128 -all", kClient6, "pass"},
      {"v=spf1 ip6:2001:db8::11/128 -all", kClient6, "fail", "all"},
      {"v=spf1 ip6:2001:db8::11 -all", kClient6, "fail"},
      {"v=spf1 ip6:2001:db8::/64 -all", kClient6, "pass", "ip6:2001:db8::/64"},
      {"v=spf1 ip6:2001:db8:0:0:ffff::/64 -all", kClient6, "pass"},
      {"v=spf1 ip6:2001:db8:0:1::/64 -all", kClient6, "fail"},
      {"v=spf1 ip6:::/0 -all", kClient6, "pass"},
      {"v=spf1 ip6:2001:db8:0:0:0:0:0:10 -all", kClient6, "pass"},
      {"v=spf1 -ip6:2001:db8::/32 +all", kClient6, "fail", "ip6:2001:db8::/32"},
      {"v=spf1 ~ip6:2001:db8::/32 +all", kClient6, "softfail"},
      {"v=spf1 ?ip6:2001:db8::/32 +all", kClient6, "neutral"},
  });
}

TEST_F(SpfCheckTest, Ip4AndIp6NeverMatchTheOtherFamily) {  // §5.6
  runRows({
      {"v=spf1 ip6:::/0 -all", kClient4, "fail", "all"},
      {"v=spf1 ip4:0.0.0.0/0 -all", kClient6, "fail", "all"},
      {"v=spf1 ip6:::ffff:192.0.2.10 -all", kClient4, "fail", "all"},
  });
}

TEST_F(SpfCheckTest, AMechanismWithCidrLengths) {  // §5.3, §5.6
  const std::string nearSelf = "{D}. IN A 192.0.2.99\n{D}. IN AAAA 2001:db8::99\n";
  runRows({
      {"v=spf1 a -all", kClient4, "pass", "a", "{D}. IN A 192.0.2.10\n"},
      {"v=spf1 a -all", kClient4, "fail", "all", nearSelf},
      {"v=spf1 a/24 -all", kClient4, "pass", "a/24", nearSelf},
      {"v=spf1 a/32 -all", kClient4, "fail", "", nearSelf},
      {"v=spf1 a:host.m.test -all", kClient4, "pass", "a:host.m.test"},
      {"v=spf1 a:near.m.test -all", kClient4, "fail"},
      {"v=spf1 a:near.m.test/24 -all", kClient4, "pass", "a:near.m.test/24"},
      {"v=spf1 a:far.m.test/24 -all", kClient4, "fail"},
      {"v=spf1 a:far.m.test/0 -all", kClient4, "pass"},  // any address, once the name has one
      {"v=spf1 a:host.m.test//64 -all", kClient4, "pass"},
      {"v=spf1 a:near.m.test/24//64 -all", kClient4, "pass"},
      {"v=spf1 a:near.m.test//64 -all", kClient4, "fail"},  // the IPv4 length stays 32
      {"v=spf1 -a:host.m.test +all", kClient4, "fail", "a:host.m.test"},
      {"v=spf1 ~a:host.m.test +all", kClient4, "softfail"},
      {"v=spf1 ?a:host.m.test +all", kClient4, "neutral"},
      {"v=spf1 a:nothing.m.test -all", kClient4, "fail"},  // NXDOMAIN: no match
  });
}

TEST_F(SpfCheckTest, AMechanismForAnIpv6ClientComparesAaaaRecords) {  // §5, §5.3
  const std::string nearSelf = "{D}. IN A 192.0.2.10\n{D}. IN AAAA 2001:db8::99\n";
  runRows({
      {"v=spf1 a:host.m.test -all", kClient6, "pass"},
      {"v=spf1 a:v4only.m.test -all", kClient6, "fail"},  // it has an A 192.0.2.10, no AAAA
      {"v=spf1 a -all", kClient6, "fail", "all", nearSelf},
      {"v=spf1 a//64 -all", kClient6, "pass", "a//64", nearSelf},
      {"v=spf1 a/24 -all", kClient6, "fail", "", nearSelf},  // /24 applies to IPv4 only
      {"v=spf1 a:near.m.test/24//64 -all", kClient6, "pass"},
      {"v=spf1 a:near.m.test/24 -all", kClient6, "fail"},
      {"v=spf1 a:far.m.test//0 -all", kClient6, "pass"},
      {"v=spf1 a:near.m.test//128 -all", kClient6, "fail"},
  });
  // The IPv6 client asked for AAAA and never for A.
  EXPECT_GE(server_.queryCount("host.m.test", "AAAA"), 1u);
  EXPECT_EQ(server_.queryCount("host.m.test", "A"), 0u);
  EXPECT_EQ(server_.queryCount("v4only.m.test", "A"), 0u);
}

TEST_F(SpfCheckTest, MxMechanism) {  // §5.4
  runRows({
      {"v=spf1 mx:mxhost.m.test -all", kClient4, "pass", "mx:mxhost.m.test"},
      {"v=spf1 mx -all", kClient4, "pass", "mx", "{D}. IN MX 10 host.m.test.\n"},
      {"v=spf1 mx -all", kClient4, "fail", "all", "{D}. IN MX 10 near.m.test.\n"},
      {"v=spf1 mx/24 -all", kClient4, "pass", "mx/24", "{D}. IN MX 10 near.m.test.\n"},
      {"v=spf1 mx/0 -all", kClient4, "pass", "mx/0", "{D}. IN MX 10 far.m.test.\n"},
      {"v=spf1 mx//0 -all", kClient6, "pass", "mx//0", "{D}. IN MX 10 far.m.test.\n"},
      {"v=spf1 mx//0 -all", kClient4, "fail", "", "{D}. IN MX 10 far.m.test.\n"},  // IPv4 length stays 32
      {"v=spf1 mx:mxnear.m.test -all", kClient4, "fail"},
      {"v=spf1 mx:mxnear.m.test/24 -all", kClient4, "pass"},
      {"v=spf1 mx:mxnear.m.test//64 -all", kClient6, "pass"},
      {"v=spf1 mx:mxnear.m.test -all", kClient6, "fail"},
      {"v=spf1 mx:mxfar.m.test/0 -all", kClient4, "pass"},
      {"v=spf1 mx:mxhost.m.test -all", kClient6, "pass"},  // AAAA of the MX host
      {"v=spf1 -mx:mxhost.m.test +all", kClient4, "fail", "mx:mxhost.m.test"},
      {"v=spf1 ~mx:mxhost.m.test +all", kClient4, "softfail"},
      {"v=spf1 ?mx:mxhost.m.test +all", kClient4, "neutral"},
  });
}

TEST_F(SpfCheckTest, MxWithoutMxRecordsDoesNotFallBackToTheAddress) {  // §5.4: no implicit MX
  serve(hostZone() + txt("d.mx.test", "v=spf1 mx:nomx.m.test -all"));
  const auto r = host("d.mx.test");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);  // nomx.m.test has A 192.0.2.10 but no MX
  EXPECT_EQ(server_.queryCount("nomx.m.test", "MX"), 1u);
  EXPECT_EQ(server_.queryCount("nomx.m.test", "A"), 0u);
  EXPECT_EQ(r.voidLookups, 1u);  // §4.6.4: an answer with no records is a void lookup
}

TEST_F(SpfCheckTest, PtrMechanismMatchesValidatedNames) {  // §5.5
  serve(hostZone() + txt("m.test", "v=spf1 ptr -all") + txt("host.ptr.test", "v=spf1 ptr:host.m.test -all") +
        txt("other.ptr.test", "v=spf1 ptr:other.test -all") + txt("sub.ptr.test", "v=spf1 ptr:m.test -all") +
        txt("neg.ptr.test", "v=spf1 -ptr:m.test +all") + "40.2.0.192.in-addr.arpa. IN PTR host.m.test.\n" +
        "!servfail 40.2.0.192.in-addr.arpa\n");
  auto r = host("m.test");  // host.m.test is a subdomain of m.test, and resolves to the client
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_THAT(r.mechanism, HasSubstr("ptr"));
  EXPECT_EQ(asked(r, "10.2.0.192.in-addr.arpa", RrType::PTR), 1u) << describe(r);
  EXPECT_EQ(toString(host("host.ptr.test").result), "pass");
  EXPECT_EQ(toString(host("sub.ptr.test").result), "pass");
  EXPECT_EQ(toString(host("other.ptr.test").result), "fail");
  EXPECT_EQ(toString(host("neg.ptr.test").result), "fail");
  // 192.0.2.20 points at host.m.test too, but host.m.test does not point back: not validated.
  r = host("m.test", "192.0.2.20");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  // No PTR record at all.
  EXPECT_EQ(toString(host("m.test", "192.0.2.30").result), "fail");
  // A DNS error on the PTR lookup: the mechanism just does not match (not temperror).
  r = host("m.test", "192.0.2.40");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  // IPv6: the ip6.arpa name, then AAAA of the name found.
  r = host("m.test", kClient6);
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(asked(r, dottedNibbles(kClient6Hex, true) + ".ip6.arpa", RrType::PTR), 1u) << describe(r);
  EXPECT_EQ(asked(r, "host.m.test", RrType::AAAA), 1u) << describe(r);
}

// §4.6.4: "the evaluation of each PTR record MUST NOT result in querying more than 10
// address records"; §5.5: names past that are ignored, not an error.
TEST_F(SpfCheckTest, PtrLooksUpAtMostTenNames) {
  std::string zone = txt("p12.test", "v=spf1 ptr:p12.test -all") + txt("q12.test", "v=spf1 ptr:q12.test -all");
  for (int i = 1; i <= 12; ++i) {
    const std::string n = std::to_string(i);
    zone += "50.2.0.192.in-addr.arpa. IN PTR h" + n + ".p12.test.\n";
    zone += "h" + n + ".p12.test. IN A 192.0.2.50\n";
    zone += "51.2.0.192.in-addr.arpa. IN PTR h" + n + ".q12.test.\n";
    zone += "h" + n + ".q12.test. IN A 198.51.100." + n + "\n";
  }
  serve(zone);
  auto r = host("p12.test", "192.0.2.50");  // every name validates
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  r = host("q12.test", "192.0.2.51");  // none does: no match, and no error
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  size_t addressLookups = 0;
  for (int i = 1; i <= 12; ++i) addressLookups += server_.queryCount("h" + std::to_string(i) + ".q12.test", "A");
  EXPECT_LE(addressLookups, 10u);
  EXPECT_EQ(r.dnsTerms, 1u);
}

TEST_F(SpfCheckTest, ExistsAsksForAnARecordEvenForAnIpv6Client) {  // §5.7
  runRows({
      {"v=spf1 exists:ex.m.test -all", kClient4, "pass", "exists:ex.m.test"},
      {"v=spf1 exists:ex.m.test -all", kClient6, "pass", "exists:ex.m.test"},
      {"v=spf1 exists:nothing.m.test -all", kClient4, "fail", "all"},
      {"v=spf1 exists:v4only.m.test -all", kClient6, "pass"},
      {"v=spf1 -exists:ex.m.test +all", kClient4, "fail", "exists:ex.m.test"},
      {"v=spf1 ~exists:ex.m.test +all", kClient4, "softfail"},
      {"v=spf1 ?exists:ex.m.test +all", kClient4, "neutral"},
      {"v=spf1 exists:ex.m.test. -all", kClient4, "pass"},  // §7.1: domain-end may end in a dot
      {"v=spf1 a:host.m.test. -all", kClient4, "pass"},
  });
  EXPECT_EQ(server_.queryCount("ex.m.test", "AAAA"), 0u);
  EXPECT_EQ(server_.queryCount("v4only.m.test", "AAAA"), 0u);
}

TEST_F(SpfCheckTest, IncludeMapsTheIncludedResult) {  // §5.2 table
  const std::string targets =
      txt("pass.inc.test", "v=spf1 +all") + txt("fail.inc.test", "v=spf1 -all") + txt("soft.inc.test", "v=spf1 ~all") +
      txt("neutral.inc.test", "v=spf1 ?all") + txt("empty.inc.test", "v=spf1") +
      txt("perm.inc.test", "v=spf1 foo:bar") + txt("temp.inc.test", "v=spf1 +all") + "!servfail temp.inc.test\n" +
      "nodata.inc.test. IN A 192.0.2.10\n" + txt("mine.inc.test", "v=spf1 ip4:192.0.2.0/24 -all");
  runRows({
      {"v=spf1 include:pass.inc.test -all", kClient4, "pass", "include:pass.inc.test", targets},
      {"v=spf1 -include:pass.inc.test +all", kClient4, "fail", "include:pass.inc.test"},
      {"v=spf1 ~include:pass.inc.test +all", kClient4, "softfail"},
      {"v=spf1 ?include:pass.inc.test -all", kClient4, "neutral"},
      // fail, softfail and neutral inside: no match, go on.
      {"v=spf1 include:fail.inc.test ?all", kClient4, "neutral", "all"},
      {"v=spf1 include:soft.inc.test -all", kClient4, "fail", "all"},
      {"v=spf1 include:neutral.inc.test -all", kClient4, "fail", "all"},
      {"v=spf1 include:empty.inc.test ~all", kClient4, "softfail", "all"},
      {"v=spf1 include:mine.inc.test -all", kClient4, "pass"},
      {"v=spf1 include:mine.inc.test -all", "192.0.3.1", "fail"},
      // temperror and permerror propagate; none is permerror.
      {"v=spf1 include:temp.inc.test +all", kClient4, "temperror"},
      {"v=spf1 include:perm.inc.test +all", kClient4, "permerror"},
      {"v=spf1 include:nodata.inc.test +all", kClient4, "permerror"},
      {"v=spf1 include:nothing.inc.test +all", kClient4, "permerror"},
      {"v=spf1 include:a..b.inc.test +all", kClient4, "permerror"},  // malformed target: none
      {"v=spf1 include -all", kClient4, "permerror"},                // include needs a domain
  });
}

// ---------------------------------------------------------------------------------------
// Syntax errors: permerror, whatever matched before them (§4.6)

TEST_F(SpfCheckTest, InvalidCidrLengthsArePermerror) {  // §5.6 grammar
  runRows({
      {"v=spf1 ip4:1.2.3.4/33 +all", kClient4, "permerror"},
      {"v=spf1 ip4:1.2.3.4/32x +all", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10/024 +all", kClient4, "permerror"},  // no leading zeros
      {"v=spf1 ip4:192.0.2.10/ +all", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10/-1 +all", kClient4, "permerror"},
      {"v=spf1 ip6:2001:db8::/129 +all", kClient6, "permerror"},
      {"v=spf1 ip6:2001:db8::/064 +all", kClient6, "permerror"},
      {"v=spf1 a/33 +all", kClient4, "permerror"},
      {"v=spf1 a//129 +all", kClient4, "permerror"},
      {"v=spf1 a:host.m.test/024 +all", kClient4, "permerror"},
      {"v=spf1 mx/33 +all", kClient4, "permerror"},
      {"v=spf1 mx//129 +all", kClient4, "permerror"},
      {"v=spf1 ip4:1.2.3 +all", kClient4, "permerror"},
      {"v=spf1 ip4:1.2.3.256 +all", kClient4, "permerror"},
      {"v=spf1 ip4: +all", kClient4, "permerror"},
      {"v=spf1 ip4 +all", kClient4, "permerror"},
      {"v=spf1 ip6:192.0.2.10 +all", kClient4, "permerror"},
      {"v=spf1 ip6:2001:db8::1::2 +all", kClient6, "permerror"},
      {"v=spf1 ip4:192.0.2.10//64 +all", kClient4, "permerror"},  // no dual length on ip4
  });
}

TEST_F(SpfCheckTest, SyntaxErrorsArePermerrorEvenAfterAMatch) {  // §4.6: the whole record is checked
  runRows({
      {"v=spf1 +all foo:bar", kClient4, "permerror"},  // unknown mechanism
      {"v=spf1 +all foo", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 redirect:r.test", kClient4, "permerror"},  // a modifier used as a mechanism
      {"v=spf1 ip4:192.0.2.10 exp:e.test -all", kClient4, "permerror"},
      {"v=spf1 ++all", kClient4, "permerror"},
      {"v=spf1 +-all", kClient4, "permerror"},
      {"v=spf1 -all =foo", kClient4, "permerror"},  // a modifier without a name
      {"v=spf1 ip4:192.0.2.10 1x=foo", kClient4, "permerror"},
      {"v=spf1 all:host.m.test", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 -all redirect=a.test redirect=b.test", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 -all exp=a.test exp=b.test", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 exists:%{c}.m.test", kClient4, "permerror"},  // §7.2: c only in exp
      {"v=spf1 ip4:192.0.2.10 exists:%{r}.m.test", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 exists:%{t}.m.test", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 exists:%{x}.m.test", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 exists:%{l.m.test", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 exists:%z.m.test", kClient4, "permerror"},  // §7.1: '%' then not {%_-
      {"v=spf1 ip4:192.0.2.10 exists:%{l2x}.m.test", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 exists:100%.m.test", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 moo=%{q}", kClient4, "permerror"},  // an unknown modifier's macros too
  });
}

TEST_F(SpfCheckTest, BadDomainSpecsArePermerror) {  // §4.6.1, §7.1: domain-end = "." toplabel
  runRows({
      {"v=spf1 +all a:1.2.3.4", kClient4, "permerror"},  // an all-numeric top label
      {"v=spf1 a:1.2.3.4 +all", kClient4, "permerror"},
      {"v=spf1 a: +all", kClient4, "permerror"},
      {"v=spf1 mx: +all", kClient4, "permerror"},
      {"v=spf1 ptr: +all", kClient4, "permerror"},
      {"v=spf1 exists +all", kClient4, "permerror"},
      {"v=spf1 exists: +all", kClient4, "permerror"},
      {"v=spf1 include:foo.example.com:80 +all", kClient4, "permerror"},
      {"v=spf1 a:host.m.test:80 +all", kClient4, "permerror"},
      {"v=spf1 exists:ex.m.test/24 +all", kClient4, "permerror"},  // exists takes no length
      {"v=spf1 a:host.m.-test +all", kClient4, "permerror"},
      {"v=spf1 ip4:192.0.2.10 redirect=", kClient4, "permerror"},
      {"v=spf1 -all exp=", kClient4, "permerror"},
  });
}

TEST_F(SpfCheckTest, ControlAndNonAsciiBytesArePermerror) {  // §4.6.1, §12: SP-separated ASCII only
  runRows({
      {"v=spf1 ip4:192.0.2.10\t-all", kClient4, "permerror"},
      {"v=spf1 a:ho\x07st.m.test +all", kClient4, "permerror"},
      {"v=spf1 +all \x01", kClient4, "permerror"},
      {"v=spf1 +all\r\n-all", kClient4, "permerror"},
      {"v=spf1 a:h\xc3\xa9.m.test +all", kClient4, "permerror"},  // UTF-8 é
      {"v=spf1 +all \xff", kClient4, "permerror"},
      {std::string("v=spf1 +all ", 12) + std::string(1, '\0') + "x", kClient4, "permerror"},
  });
}

TEST_F(SpfCheckTest, UnknownModifiersAreIgnored) {  // §6
  runRows({
      {"v=spf1 moo=bar ip4:192.0.2.10 -all", kClient4, "pass"},
      {"v=spf1 moo.cow-x_y=%{l}.anything -all", kClient4, "fail", "all"},
      {"v=spf1 -all foo=", kClient4, "fail"},
      {"v=spf1 x=y ?all z=1.2.3.4", kClient4, "neutral"},
  });
}

// ---------------------------------------------------------------------------------------
// redirect= (§6.1)

TEST_F(SpfCheckTest, RedirectIsFollowedOnlyWhenNothingMatched) {
  serve(txt("r.test", "v=spf1 ip4:192.0.2.10 redirect=target.r.test") +
        txt("first.r.test", "v=spf1 redirect=target.r.test ip4:192.0.2.10") + txt("target.r.test", "v=spf1 a -all") +
        "target.r.test. IN A 192.0.2.99\n");
  auto r = host("r.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(server_.queryCount("target.r.test", "TXT"), 0u);
  // Position does not matter: the mechanisms are tried first.
  r = host("first.r.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(server_.queryCount("target.r.test", "TXT"), 0u);
  // Nothing matched: the target's record decides, with the target as <domain> ("a" is its A).
  r = host("r.test", "192.0.2.99");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(asked(r, "target.r.test", RrType::A), 1u) << describe(r);
  EXPECT_EQ(r.dnsTerms, 2u);  // redirect + a
  r = host("r.test", "192.0.2.98");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  EXPECT_EQ(r.domain, "r.test");  // the domain checked first
}

TEST_F(SpfCheckTest, RedirectIsIgnoredWhenTheRecordHasAll) {  // §5.1
  serve(txt("q.r.test", "v=spf1 ?all redirect=target.r.test") + txt("s.r.test", "v=spf1 redirect=target.r.test ~all") +
        txt("target.r.test", "v=spf1 -all"));
  EXPECT_EQ(toString(host("q.r.test").result), "neutral");
  EXPECT_EQ(toString(host("s.r.test").result), "softfail");
  EXPECT_EQ(server_.queryCount("target.r.test", "TXT"), 0u);
}

TEST_F(SpfCheckTest, RedirectToADomainWithoutARecordIsPermerror) {  // §6.1: none becomes permerror
  serve(txt("nodata.r.test", "v=spf1 redirect=plain.r.test") + "plain.r.test. IN A 192.0.2.10\n" +
        txt("nx.r.test", "v=spf1 redirect=nothing.r.test") + txt("bad.r.test", "v=spf1 redirect=a..b.r.test") +
        txt("notspf.r.test", "v=spf1 redirect=text.r.test") + txt("text.r.test", "hello world") +
        txt("temp.r.test", "v=spf1 redirect=fail.r.test") + txt("fail.r.test", "v=spf1 +all") +
        "!servfail fail.r.test\n");
  for (const char* domain : {"nodata.r.test", "nx.r.test", "bad.r.test", "notspf.r.test"}) {
    const auto r = host(domain);
    EXPECT_EQ(toString(r.result), "permerror") << domain << ": " << describe(r);
    EXPECT_FALSE(r.problem.empty()) << domain;
  }
  const auto r = host("temp.r.test");
  EXPECT_EQ(toString(r.result), "temperror") << describe(r);
}

TEST_F(SpfCheckTest, RedirectChangesTheDomainButNotTheSender) {  // §6.1, §7.2: d is the target, o is not
  serve(txt("o.test", "v=spf1 redirect=target.o.test") +
        txt("target.o.test", "v=spf1 exists:%{o}.%{d}.%{l}.chk.test -all") +
        "o.test.target.o.test.alice.chk.test. IN A 127.0.0.2\n");
  const auto r = checker().checkMailFrom(ip(kClient4), kHelo, "alice@o.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(server_.queryCount("o.test.target.o.test.alice.chk.test", "A"), 1u);
}

TEST_F(SpfCheckTest, RedirectTargetMayUseMacrosAndModifierNamesIgnoreCase) {  // §6.1, §4.6.1
  serve(txt("mac.r.test", "v=spf1 Redirect=_spf.%{d}") + txt("_spf.mac.r.test", "v=spf1 ip4:192.0.2.10 -all"));
  auto r = host("mac.r.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(asked(r, "_spf.mac.r.test", RrType::TXT), 1u) << describe(r);
  r = host("mac.r.test", "192.0.2.11");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
}

// ---------------------------------------------------------------------------------------
// exp= (§6.2)

std::string expZone() {
  return txt("e.test", "v=spf1 -all exp=why.e.test") + txt("why.e.test", "Denied: %{i} is not %{d}'s") +
         txt("soft.e.test", "v=spf1 ~all exp=why.e.test") + txt("pass.e.test", "v=spf1 +all exp=why.e.test");
}

TEST_F(SpfCheckTest, ExplanationIsFetchedOnlyWhenAsked) {
  serve(expZone());
  auto r = host("e.test");
  EXPECT_EQ(toString(r.result), "fail");
  EXPECT_EQ(r.explanation, "");
  EXPECT_EQ(server_.queryCount("why.e.test", "TXT"), 0u);
  EXPECT_EQ(r.dnsTerms, 0u);  // §4.6.4: exp does not count

  r = explaining().checkHost(ip(kClient4), "e.test", "user@e.test", kHelo);
  EXPECT_EQ(toString(r.result), "fail");
  EXPECT_EQ(r.explanation, "Denied: 192.0.2.10 is not e.test's");
  EXPECT_EQ(server_.queryCount("why.e.test", "TXT"), 1u);
  EXPECT_EQ(r.dnsTerms, 0u);
}

TEST_F(SpfCheckTest, ExplanationOnlyForFail) {  // §6.2: "If check_host() results in a fail"
  serve(expZone());
  for (const char* domain : {"soft.e.test", "pass.e.test"}) {
    const auto r = explaining().checkHost(ip(kClient4), domain, "user@e.test", kHelo);
    EXPECT_NE(r.result, Result::Fail) << domain;
    EXPECT_EQ(r.explanation, "") << domain;
  }
}

TEST_F(SpfCheckTest, ExplanationExpandsItsMacros) {  // §6.2, §7.2, §7.3
  serve(txt("x.e.test", "v=spf1 -all exp=why.%{d}") +
        txt("why.x.e.test", "%{s} %{l} %{o} %{d} %{i} %{c} %{r} %{h} %{v} %{ir} %{d1} %%%_%- %{L-}") +
        txt("t.e.test", "v=spf1 -all exp=time.e.test") + txt("time.e.test", "at %{t}."));
  CheckOptions o;
  o.fetchExplanation = true;
  auto r = checker(o).checkHost(ip(kClient4), "x.e.test", "strong-bad@email.example.com", kHelo);
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  EXPECT_EQ(r.explanation,
            "strong-bad@email.example.com strong-bad email.example.com x.e.test 192.0.2.10 192.0.2.10 "
            "mx.receiver.test mail.helo.test in-addr 10.2.0.192 test % %20 strong.bad");

  // %{c} is the readable address, %{i} the dotted nibbles, for IPv6.
  r = checker(o).checkHost(ip(kClient6), "x.e.test", "strong-bad@email.example.com", kHelo);
  EXPECT_EQ(r.explanation, "strong-bad@email.example.com strong-bad email.example.com x.e.test " +
                               dottedNibbles(kClient6Hex, false) +
                               " 2001:db8::10 mx.receiver.test mail.helo.test ip6 " + dottedNibbles(kClient6Hex, true) +
                               " test % %20 strong.bad");

  // %{t}: seconds since the epoch, now.
  const auto before = std::time(nullptr);
  r = checker(o).checkHost(ip(kClient4), "t.e.test", "user@t.e.test", kHelo);
  const auto after = std::time(nullptr);
  ASSERT_THAT(r.explanation, StartsWith("at "));
  const std::string digits = r.explanation.substr(3, r.explanation.size() - 4);
  ASSERT_FALSE(digits.empty());
  ASSERT_EQ(digits.find_first_not_of("0123456789"), std::string::npos) << r.explanation;
  EXPECT_GE(std::stoll(digits), static_cast<long long>(before));
  EXPECT_LE(std::stoll(digits), static_cast<long long>(after));
}

TEST_F(SpfCheckTest, ExplanationFromAMultiStringTxtIsJoined) {  // §6.2, §3.3
  serve(txt("m.e.test", "v=spf1 -all exp=why.m.e.test") +
        txtStrings("why.m.e.test", {"Mail from %{o} ", "is not accepted", " from %", "{i}."}));
  const auto r = explaining().checkMailFrom(ip(kClient4), kHelo, "user@m.e.test");
  EXPECT_EQ(toString(r.result), "fail");
  EXPECT_EQ(r.explanation, "Mail from m.e.test is not accepted from 192.0.2.10.");
}

TEST_F(SpfCheckTest, ExplanationOfAnIncludedRecordIsNotUsed) {  // §6.2 note
  serve(txt("outer.e.test", "v=spf1 include:inner.e.test -all exp=outer-why.e.test") +
        txt("inner.e.test", "v=spf1 -all exp=inner-why.e.test") + txt("outer-why.e.test", "outer says no") +
        txt("inner-why.e.test", "inner says no") + txt("noexp.e.test", "v=spf1 include:inner.e.test -all"));
  auto r = explaining().checkMailFrom(ip(kClient4), kHelo, "user@outer.e.test");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  EXPECT_EQ(r.explanation, "outer says no");
  EXPECT_EQ(server_.queryCount("inner-why.e.test", "TXT"), 0u);
  r = explaining().checkMailFrom(ip(kClient4), kHelo, "user@noexp.e.test");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  EXPECT_EQ(r.explanation, "");
  EXPECT_EQ(server_.queryCount("inner-why.e.test", "TXT"), 0u);
}

TEST_F(SpfCheckTest, ExplanationAfterRedirectComesFromTheTarget) {  // §6.2 note
  serve(txt("from.e.test", "v=spf1 exp=from-why.e.test redirect=to.e.test") +
        txt("to.e.test", "v=spf1 -all exp=to-why.e.test") + txt("from-why.e.test", "origin explains") +
        txt("to-why.e.test", "%{d} explains for %{o}") +
        txt("bare.e.test", "v=spf1 exp=from-why.e.test redirect=plain.e.test") + txt("plain.e.test", "v=spf1 -all"));
  auto r = explaining().checkMailFrom(ip(kClient4), kHelo, "user@from.e.test");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  EXPECT_EQ(r.explanation, "to.e.test explains for from.e.test");
  EXPECT_EQ(server_.queryCount("from-why.e.test", "TXT"), 0u);
  // The target has no exp=: no explanation, and still not the original domain's.
  r = explaining().checkMailFrom(ip(kClient4), kHelo, "user@bare.e.test");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  EXPECT_EQ(r.explanation, "");
  EXPECT_EQ(server_.queryCount("from-why.e.test", "TXT"), 0u);
}

TEST_F(SpfCheckTest, UnusableExplanationLeavesItEmptyAndTheResultFail) {  // §6.2
  serve(txt("nx.e.test", "v=spf1 -all exp=nothing.e.test") + txt("nodata.e.test", "v=spf1 -all exp=host.e.test") +
        "host.e.test. IN A 192.0.2.1\n" + txt("two.e.test", "v=spf1 -all exp=two-why.e.test") +
        txt("two-why.e.test", "first") + txt("two-why.e.test", "second") +
        txt("syntax.e.test", "v=spf1 -all exp=bad-why.e.test") + txt("bad-why.e.test", "bad %{x} macro") +
        txt("fail.e.test", "v=spf1 -all exp=sf-why.e.test") + txt("sf-why.e.test", "never") +
        "!servfail sf-why.e.test\n" + txt("drop.e.test", "v=spf1 -all exp=drop-why.e.test") +
        txt("drop-why.e.test", "never") + "!drop drop-why.e.test\n" +
        // §6.2: the explanation "MUST be limited to US-ASCII"; §7.1: macro-literal is %x21-24 / %x26-7E.
        txt("ctl.e.test", "v=spf1 -all exp=ctl-why.e.test") + txt("ctl-why.e.test", "line one\r\nline two") +
        txt("utf8.e.test", "v=spf1 -all exp=utf8-why.e.test") + txt("utf8-why.e.test", "caf\xc3\xa9 refus\xc3\xa9"));
  CheckOptions o;
  o.fetchExplanation = true;
  o.receiver = kReceiver;
  const Checker c(resolver(300ms, 1), o);
  for (const char* domain : {"nx.e.test", "nodata.e.test", "two.e.test", "syntax.e.test", "fail.e.test", "drop.e.test",
                             "ctl.e.test", "utf8.e.test"}) {
    const auto r = c.checkMailFrom(ip(kClient4), kHelo, std::string("user@") + domain);
    EXPECT_EQ(toString(r.result), "fail") << domain << ": " << describe(r);
    EXPECT_EQ(r.explanation, "") << domain;
  }
}

// ---------------------------------------------------------------------------------------
// Macros (§7), observed as the names an exists: asks for

TEST_F(SpfCheckTest, MacrosExpandInDomainSpecs) {  // §7.2, §7.3, §7.4
  struct Case {
    std::string macro;
    std::string client;
    std::string expansion;
  };
  const std::string v6 = dottedNibbles(kClient6Hex, false);
  const std::string v6r = dottedNibbles(kClient6Hex, true);
  // Sender strong-bad@email.example.com, <domain> mN.mac.test, HELO mail.helo.test.
  const std::vector<Case> cases = {
      {"%{l}", kClient4, "strong-bad"},
      {"%{o}", kClient4, "email.example.com"},
      {"%{d}", kClient4, "{D}"},
      {"%{d2}", kClient4, "mac.test"},
      {"%{d1r}", kClient4, "{N}"},
      {"%{dr}", kClient4, "test.mac.{N}"},
      {"%{d127}", kClient4, "{D}"},
      {"%{o1}", kClient4, "com"},
      {"%{o2r}", kClient4, "example.email"},
      {"%{i}", kClient4, "192.0.2.10"},
      {"%{ir}", kClient4, "10.2.0.192"},
      {"%{i2r}", kClient4, "0.192"},
      {"%{v}", kClient4, "in-addr"},
      {"%{h}", kClient4, "mail.helo.test"},
      {"%{h2}", kClient4, "helo.test"},
      {"%{l-}", kClient4, "strong.bad"},
      {"%{lr-}", kClient4, "bad.strong"},
      {"%{l1r-}", kClient4, "strong"},
      {"%{l1r+-}", kClient4, "strong"},
      {"%{lr}", kClient4, "strong-bad"},  // no '.' to split at
      {"%{ir}.%{v}._spf.%{d2}", kClient4, "10.2.0.192.in-addr._spf.mac.test"},
      {"%{i}", kClient6, v6},
      {"%{ir}", kClient6, v6r},
      {"%{v}", kClient6, "ip6"},
      {"%{ir}.%{v}._spf.%{d2}", kClient6, v6r + ".ip6._spf.mac.test"},
      {"%{i8}", kClient6, "0.0.0.0.0.0.1.0"},
  };
  std::string zone;
  std::vector<std::string> expected;
  for (size_t n = 0; n < cases.size(); ++n) {
    const std::string label = "m" + std::to_string(n);
    const std::string domain = label + ".mac.test";
    std::string name = cases[n].expansion + ".q" + std::to_string(n) + ".test";  // rows may expand alike
    for (size_t at; (at = name.find("{D}")) != std::string::npos;) name.replace(at, 3, domain);
    for (size_t at; (at = name.find("{N}")) != std::string::npos;) name.replace(at, 3, label);
    zone += txt(domain, "v=spf1 exists:" + cases[n].macro + ".q" + std::to_string(n) + ".test -all");
    zone += name + ". IN A 127.0.0.2\n";
    expected.push_back(name);
  }
  serve(zone);
  for (size_t n = 0; n < cases.size(); ++n) {
    const auto r = checker().checkHost(ip(cases[n].client), "m" + std::to_string(n) + ".mac.test",
                                       "strong-bad@email.example.com", kHelo);
    EXPECT_EQ(toString(r.result), "pass")
        << cases[n].macro << " from " << cases[n].client << " should ask for " << expected[n] << ": " << describe(r);
    EXPECT_EQ(server_.queryCount(expected[n], "A"), 1u) << cases[n].macro << " " << cases[n].client;
  }
}

TEST_F(SpfCheckTest, SenderMacroAndEscapesInExplanation) {  // §7.1, §7.3
  serve(txt("s.mac.test", "v=spf1 -all exp=why.s.mac.test") +
        txt("why.s.mac.test", "[%{s}] [%{S}] [%{L}] [%{O}] [%%] [%_] [%-] [%{l1r+-=_/,}]"));
  const auto r = explaining().checkHost(ip(kClient4), "s.mac.test", "jack&jill=up@email.example.com", kHelo);
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  // Upper-case letters: expanded, then URL-escaped outside RFC 3986 "unreserved".
  EXPECT_EQ(r.explanation,
            "[jack&jill=up@email.example.com] [jack%26jill%3Dup%40email.example.com] [jack%26jill%3Dup] "
            "[email.example.com] [%] [ ] [%20] [jack&jill]");
}

TEST_F(SpfCheckTest, UpperCaseMacroIsUrlEscapedInAName) {  // §7.3
  serve(txt("u.mac.test", "v=spf1 exists:%{L}.u.q.test -all") + "a%2Bb.u.q.test. IN A 127.0.0.2\n");
  const auto r = checker().checkMailFrom(ip(kClient4), kHelo, "a+b@u.mac.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(asked(r, "a%2Bb.u.q.test", RrType::A), 1u) << describe(r);
}

TEST_F(SpfCheckTest, PMacroIsTheValidatedNameOrUnknown) {  // §7.3
  serve(hostZone() + txt("p.mac.test", "v=spf1 exists:%{p}.p.q.test -all") + "host.m.test.p.q.test. IN A 127.0.0.2\n" +
        "unknown.p.q.test. IN A 127.0.0.3\n");
  auto r = host("p.mac.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(server_.queryCount("host.m.test.p.q.test", "A"), 1u);
  EXPECT_EQ(server_.queryCount("unknown.p.q.test", "A"), 0u);
  r = host("p.mac.test", "192.0.2.20");  // PTR host.m.test, which does not resolve back
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(server_.queryCount("unknown.p.q.test", "A"), 1u);
  r = host("p.mac.test", "192.0.2.30");  // no PTR
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(server_.queryCount("unknown.p.q.test", "A"), 2u);
}

TEST_F(SpfCheckTest, MissingLocalPartIsPostmaster) {  // §4.3
  serve(txt("lp.test", "v=spf1 exists:%{l}.lp.q.test -all") + "postmaster.lp.q.test. IN A 127.0.0.2\n");
  auto r = checker().checkMailFrom(ip(kClient4), kHelo, "@lp.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.sender, "postmaster@lp.test");
  // The API's promise for a sender without '@'.
  r = checker().checkMailFrom(ip(kClient4), kHelo, "lp.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.sender, "postmaster@lp.test");
}

// §7.3: an expanded name over 253 characters loses labels on the left until it fits.
TEST_F(SpfCheckTest, ExpandedNameOver253IsTruncatedFromTheLeft) {
  const std::string a(60, 'a'), b(60, 'b'), c(60, 'c'), d(60, 'd'), e(59, 'e');
  const std::string longHelo = a + "." + b + "." + c + "." + d;  // 243: with ".trunc.test", 254
  const std::string fitHelo = a + "." + b + "." + c + "." + e;   // 242: with ".trunc.test", 253
  const std::string cut = b + "." + c + "." + d + ".trunc.test";
  const std::string whole = fitHelo + ".trunc.test";
  ASSERT_EQ(whole.size(), 253u);
  serve(txt("trunc.test", "v=spf1 exists:%{h}.trunc.test -all") + cut + ". IN A 127.0.0.2\n" + whole +
        ". IN A 127.0.0.2\n");
  auto r = checker().checkMailFrom(ip(kClient4), longHelo, "user@trunc.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(server_.queryCount(cut, "A"), 1u);
  r = checker().checkMailFrom(ip(kClient4), fitHelo, "user@trunc.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(server_.queryCount(whole, "A"), 1u);
}

// ---------------------------------------------------------------------------------------
// Results (§2.6) and record selection (§4.3 - §4.5)

TEST_F(SpfCheckTest, NoneWhenThereIsNoSpfRecord) {  // §4.3, §4.5
  serve("nodata.none.test. IN A 192.0.2.10\n" + txt("text.none.test", "hello world") +
        txt("spf10.none.test", "v=spf10 -all") + txt("spf1x.none.test", "v=spf1x -all") +
        txt("nov.none.test", "spf1 -all") + txt("prefix.none.test", " v=spf1 -all"));
  for (const char* domain : {"nodata.none.test", "nothing.none.test", "text.none.test", "spf10.none.test",
                             "spf1x.none.test", "nov.none.test", "prefix.none.test"}) {
    const auto r = host(domain);
    EXPECT_EQ(toString(r.result), "none") << domain << ": " << describe(r);
    EXPECT_EQ(r.dnsTerms, 0u) << domain;
  }
  // And the one lookup made says why.
  const auto nx = host("nothing.none.test");
  ASSERT_EQ(nx.lookups.size(), 1u) << describe(nx);
  EXPECT_EQ(nx.lookups[0].status, DnsStatus::NxDomain);
  EXPECT_EQ(nx.lookups[0].type, RrType::TXT);
}

TEST_F(SpfCheckTest, NoneForAMalformedDomain) {  // §4.3
  serve(txt("test", "v=spf1 -all") + txt("a.b.test", "v=spf1 -all"));
  const std::string label64(64, 'x');
  for (const std::string& domain :
       {std::string("a..b.test"), label64 + ".test", std::string("test"), std::string(".a.b.test"), std::string("")}) {
    const auto r = checker().checkHost(ip(kClient4), domain, "user@" + domain, kHelo);
    EXPECT_EQ(toString(r.result), "none") << "'" << domain << "': " << describe(r);
  }
  EXPECT_EQ(toString(checker().checkMailFrom(ip(kClient4), kHelo, "user@localhost").result), "none");
  EXPECT_EQ(server_.queryCount("test", "TXT"), 0u);  // a single label is not even asked for
}

TEST_F(SpfCheckTest, NeutralWhenNothingMatches) {  // §4.7
  serve(txt("n.test", "v=spf1 ip4:198.51.100.1 a:far.m.test") + txt("empty.n.test", "v=spf1") + hostZone());
  auto r = host("n.test");
  EXPECT_EQ(toString(r.result), "neutral") << describe(r);
  EXPECT_EQ(r.mechanism, "default");
  r = host("empty.n.test");
  EXPECT_EQ(toString(r.result), "neutral") << describe(r);
  EXPECT_EQ(r.mechanism, "default");
}

TEST_F(SpfCheckTest, TwoSpfRecordsArePermerror) {  // §4.5
  serve(txt("two.test", "v=spf1 -all") + txt("two.test", "v=spf1 +all") + txt("one.test", "v=spf1 -all") +
        txt("one.test", "v=spf10 +all") + txt("one.test", "some verification token"));
  auto r = host("two.test");
  EXPECT_EQ(toString(r.result), "permerror") << describe(r);
  EXPECT_FALSE(r.problem.empty());
  r = host("one.test");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
}

TEST_F(SpfCheckTest, MultiStringRecordIsJoinedWithoutSpaces) {  // §3.3
  serve(txtStrings("ms.test", {"v=spf1 ip4:192.0.2", ".10 -a", "ll"}));
  const auto r = host("ms.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(toString(host("ms.test", "192.0.2.11").result), "fail");
}

TEST_F(SpfCheckTest, OnlyTxtIsAskedForTheRecord) {  // §3.1, §4.4
  serve(txt("t.test", "v=spf1 -all") + "t.test. IN SPF \"v=spf1 +all\"\n");
  const auto r = host("t.test");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  EXPECT_EQ(server_.queryCount("t.test", "TXT"), 1u);
  EXPECT_EQ(server_.queryCount("t.test", "SPF"), 0u);
}

TEST_F(SpfCheckTest, ServfailIsTemperror) {  // §4.4, §5
  serve(hostZone() + txt("sf.test", "v=spf1 -all") + "!servfail sf.test\n" +
        txt("a.sf.test", "v=spf1 a:bad.sf.test +all") + "bad.sf.test. IN A 192.0.2.10\n!servfail bad.sf.test\n" +
        txt("mx.sf.test", "v=spf1 mx:bad.sf.test +all") + txt("ex.sf.test", "v=spf1 exists:bad.sf.test +all") +
        txt("mxa.sf.test", "v=spf1 mx:mx-bad.sf.test +all") + "mx-bad.sf.test. IN MX 10 bad.sf.test.\n" +
        txt("after.sf.test", "v=spf1 ip4:192.0.2.10 a:bad.sf.test -all"));
  for (const char* domain : {"sf.test", "a.sf.test", "mx.sf.test", "ex.sf.test", "mxa.sf.test"}) {
    const auto r = host(domain);
    EXPECT_EQ(toString(r.result), "temperror") << domain << ": " << describe(r);
    EXPECT_FALSE(r.problem.empty()) << domain;
  }
  auto r = host("sf.test");
  ASSERT_FALSE(r.lookups.empty());
  EXPECT_EQ(r.lookups[0].status, DnsStatus::ServFail);
  // A term after the match is never evaluated, so its DNS failure does not matter.
  r = host("after.sf.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(asked(r, "bad.sf.test", RrType::A), 0u);
}

TEST_F(SpfCheckTest, TimeoutIsTemperror) {  // §4.4, §5
  serve(txt("drop.test", "v=spf1 -all") + "!drop drop.test\n" + txt("a.drop.test", "v=spf1 a:slow.drop.test +all") +
        "slow.drop.test. IN A 192.0.2.10\n!drop slow.drop.test\n" +
        txt("inc.drop.test", "v=spf1 include:drop.test +all"));
  const Checker c(resolver(300ms, 1), CheckOptions{});
  const auto start = std::chrono::steady_clock::now();
  for (const char* domain : {"drop.test", "a.drop.test", "inc.drop.test"}) {
    const auto r = c.checkHost(ip(kClient4), domain, std::string("user@") + domain, kHelo);
    EXPECT_EQ(toString(r.result), "temperror") << domain << ": " << describe(r);
    EXPECT_FALSE(r.problem.empty()) << domain;
    ASSERT_FALSE(r.lookups.empty()) << domain;
    EXPECT_EQ(r.lookups.back().status, DnsStatus::Timeout) << domain << ": " << describe(r);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);  // three timeouts of 300 ms, no retries
}

TEST_F(SpfCheckTest, OverallDeadlineGivesTemperror) {  // §4.6.4: elapsed-time limit → temperror
  serve(txt("dl.test", "v=spf1 a:slow1.dl.test a:slow2.dl.test -all") + "slow1.dl.test. IN A 198.51.100.1\n" +
        "slow2.dl.test. IN A 198.51.100.2\n!delay 600 slow1.dl.test A\n");
  CheckOptions o;
  o.timeout = 200ms;
  const auto start = std::chrono::steady_clock::now();
  const auto r = Checker(resolver(2000ms, 1), o).checkHost(ip(kClient4), "dl.test", "user@dl.test", kHelo);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(toString(r.result), "temperror") << describe(r);
  EXPECT_FALSE(r.problem.empty());
  EXPECT_EQ(server_.queryCount("slow2.dl.test", "A"), 0u);  // not started after the deadline
  EXPECT_LT(elapsed, 1500ms);
}

// ptr turns a DNS error into "no match" (§5.5), but running out of time is §4.6.4's
// temperror: past the deadline `ptr -all` must not become fail.
TEST_F(SpfCheckTest, OverallDeadlineBeforePtrGivesTemperror) {
  serve(txt("dlp.test", "v=spf1 a:slow1.dlp.test ptr -all") + "slow1.dlp.test. IN A 198.51.100.1\n" +
        "!delay 600 slow1.dlp.test A\n");
  CheckOptions o;
  o.timeout = 200ms;
  const auto r = Checker(resolver(2000ms, 1), o).checkHost(ip(kClient4), "dlp.test", "user@dlp.test", kHelo);
  EXPECT_EQ(toString(r.result), "temperror") << describe(r);
  EXPECT_NE(r.problem.find("SPFTimeout"), std::string::npos) << r.problem;
}

// ---------------------------------------------------------------------------------------
// Limits (§4.6.4)

// Twelve hosts that exist but are not the client.
std::string termHosts() {
  std::string z;
  for (int i = 1; i <= 12; ++i) z += "n" + std::to_string(i) + ".lim.test. IN A 198.51.100." + std::to_string(i) + "\n";
  return z;
}

TEST_F(SpfCheckTest, TenDnsTermsAcrossIncludesAreFineElevenArePermerror) {
  serve(termHosts() +
        // 3 a + include = 4, then 6 in the included record: 10.
        txt("ten.lim.test", "v=spf1 a:n1.lim.test a:n2.lim.test a:n3.lim.test include:ten-in.lim.test -all") +
        txt("ten-in.lim.test",
            "v=spf1 a:n4.lim.test a:n5.lim.test mx:n6.lim.test exists:nx7.lim.test ptr:lim.test "
            "a:n8.lim.test ip4:192.0.2.10") +
        "n6.lim.test. IN MX 10 n9.lim.test.\n" +
        // The same plus one more a: 11.
        txt("eleven.lim.test", "v=spf1 a:n1.lim.test a:n2.lim.test a:n3.lim.test include:eleven-in.lim.test -all") +
        txt("eleven-in.lim.test",
            "v=spf1 a:n4.lim.test a:n5.lim.test mx:n6.lim.test a:n10.lim.test ptr:lim.test "
            "a:n8.lim.test a:n11.lim.test ip4:192.0.2.10"));
  auto r = host("ten.lim.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.dnsTerms, 10u);
  r = host("eleven.lim.test");
  EXPECT_EQ(toString(r.result), "permerror") << describe(r);
  EXPECT_FALSE(r.problem.empty());
  EXPECT_EQ(server_.queryCount("n11.lim.test", "A"), 0u);  // the 11th term is not looked up
}

TEST_F(SpfCheckTest, RedirectCountsAsATerm) {
  std::string zone = termHosts();
  // r0 -> r1 -> ... each one a: and a redirect: 2 terms per hop.
  for (int i = 0; i < 5; ++i) {
    zone += txt("r" + std::to_string(i) + ".red.test",
                "v=spf1 a:n" + std::to_string(i + 1) + ".lim.test redirect=r" + std::to_string(i + 1) + ".red.test");
  }
  zone += txt("r5.red.test", "v=spf1 ip4:192.0.2.10 -all");                  // reached after 10 terms
  zone += txt("x0.red.test", "v=spf1 a:n12.lim.test redirect=r0.red.test");  // one more: 12
  serve(zone);
  auto r = host("r0.red.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.dnsTerms, 10u);
  r = host("x0.red.test");
  EXPECT_EQ(toString(r.result), "permerror") << describe(r);
}

TEST_F(SpfCheckTest, OnlyEvaluatedTermsCount) {  // §4.6.4 "during a check"; ip4/ip6/all/exp are free
  std::string many = "v=spf1 ip4:192.0.2.10";
  for (int i = 1; i <= 12; ++i) many += " a:n" + std::to_string(i) + ".lim.test";
  std::string unmetered = "v=spf1 exp=why.lim.test";
  for (int i = 0; i < 30; ++i) {
    unmetered += " ip4:203.0." + std::to_string(i) + ".0/24 ip6:2001:db8:" + std::to_string(i + 1) + "::/48";
  }
  for (int i = 1; i <= 10; ++i) unmetered += " a:n" + std::to_string(i) + ".lim.test";
  unmetered += " -all";
  serve(termHosts() + txt("many.lim.test", many) + txt("unmetered.lim.test", unmetered) + txt("why.lim.test", "no"));
  auto r = host("many.lim.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.dnsTerms, 0u);
  r = explaining().checkHost(ip(kClient4), "unmetered.lim.test", "user@unmetered.lim.test", kHelo);
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  EXPECT_EQ(r.dnsTerms, 10u);
  EXPECT_EQ(r.explanation, "no");
}

TEST_F(SpfCheckTest, TwoVoidLookupsAreFineThreeArePermerror) {
  serve(hostZone() + "nodata.void.test. IN TXT \"not an address\"\n" +
        txt("two.void.test", "v=spf1 a:nx1.void.test exists:nx2.void.test ip4:192.0.2.10 -all") +
        txt("three.void.test", "v=spf1 a:nx1.void.test exists:nx2.void.test a:nx3.void.test ip4:192.0.2.10 -all") +
        // NODATA counts as much as NXDOMAIN.
        txt("mixed.void.test", "v=spf1 mx:nodata.void.test a:nodata.void.test exists:nx1.void.test +all") +
        // Answers with records do not count.
        txt("full.void.test", "v=spf1 a:far.m.test a:far.m.test a:far.m.test exists:nx1.void.test +all"));
  auto r = host("two.void.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.voidLookups, 2u);
  r = host("three.void.test");
  EXPECT_EQ(toString(r.result), "permerror") << describe(r);
  EXPECT_FALSE(r.problem.empty());
  r = host("mixed.void.test");
  EXPECT_EQ(toString(r.result), "permerror") << describe(r);
  r = host("full.void.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.voidLookups, 1u);
}

TEST_F(SpfCheckTest, MoreThanTenMxNamesArePermerror) {
  std::string zone = termHosts();
  for (int i = 1; i <= 11; ++i) {
    const std::string mx = " IN MX " + std::to_string(i) + " n" + std::to_string(i) + ".lim.test.\n";
    if (i <= 10) zone += "ten.mx.test." + mx;
    zone += "eleven.mx.test." + mx;
  }
  zone += txt("a.mx.test", "v=spf1 mx:ten.mx.test ip4:192.0.2.10 -all") +
          txt("b.mx.test", "v=spf1 mx:eleven.mx.test ip4:192.0.2.10 -all");
  serve(zone);
  auto r = host("a.mx.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.dnsTerms, 1u);  // the address lookups of the MX names are not terms
  r = host("b.mx.test");
  EXPECT_EQ(toString(r.result), "permerror") << describe(r);
  EXPECT_FALSE(r.problem.empty());
}

TEST_F(SpfCheckTest, LoopsArePermerrorNotHangs) {
  serve(txt("self.loop.test", "v=spf1 include:self.loop.test -all") +
        txt("r1.loop.test", "v=spf1 redirect=r2.loop.test") + txt("r2.loop.test", "v=spf1 redirect=r1.loop.test") +
        txt("mixed.loop.test", "v=spf1 include:mixed2.loop.test -all") +
        txt("mixed2.loop.test", "v=spf1 redirect=mixed.loop.test"));
  const auto start = std::chrono::steady_clock::now();
  for (const char* domain : {"self.loop.test", "r1.loop.test", "mixed.loop.test"}) {
    const auto r = host(domain);
    EXPECT_EQ(toString(r.result), "permerror") << domain << ": " << describe(r);
    EXPECT_FALSE(r.problem.empty()) << domain;
  }
  EXPECT_LE(server_.queryCount("self.loop.test", "TXT"), 11u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

// ---------------------------------------------------------------------------------------
// Clients, identities, what the result records

TEST_F(SpfCheckTest, Ipv4MappedClientIsAnIpv4Client) {  // §5: "MUST still be considered an IPv4 address"
  serve(txt("mapped.test", "v=spf1 -ip4:1.2.3.4 ip6:::ffff:1.2.3.4 +all") +
        txt("a.mapped.test", "v=spf1 a:h.mapped.test exists:%{ir}.%{v}.mapped.test -all") +
        "h.mapped.test. IN A 192.0.2.1\n4.3.2.1.in-addr.mapped.test. IN A 127.0.0.2\n");
  const auto client = ip("::ffff:1.2.3.4");
  ASSERT_EQ(client.family(), IpAddress::Family::V4);
  auto r = checker().checkHost(client, "mapped.test", "user@mapped.test", kHelo);
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  EXPECT_THAT(r.mechanism, HasSubstr("ip4:1.2.3.4"));
  r = checker().checkHost(client, "a.mapped.test", "user@a.mapped.test", kHelo);
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(asked(r, "h.mapped.test", RrType::A), 1u) << describe(r);
  EXPECT_EQ(asked(r, "h.mapped.test", RrType::AAAA), 0u) << describe(r);
}

TEST_F(SpfCheckTest, NullSenderChecksPostmasterAtTheHelo) {  // §2.4
  serve(txt(kHelo, "v=spf1 exists:%{l}.%{o}.%{d}.nl.test -all") +
        "postmaster.mail.helo.test.mail.helo.test.nl.test. IN A 127.0.0.2\n");
  const auto r = checker().checkMailFrom(ip(kClient4), kHelo, "");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.identity, "helo");
  EXPECT_EQ(r.sender, "postmaster@mail.helo.test");
  EXPECT_EQ(r.domain, "mail.helo.test");
}

TEST_F(SpfCheckTest, CheckHeloUsesPostmasterAtTheHelo) {  // §2.3
  serve(txt(kHelo, "v=spf1 exists:%{l}.%{d}.hl.test -all") + "postmaster.mail.helo.test.hl.test. IN A 127.0.0.2\n");
  auto r = checker().checkHelo(ip(kClient4), kHelo);
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.identity, "helo");
  EXPECT_EQ(r.sender, "postmaster@mail.helo.test");
  EXPECT_EQ(r.domain, "mail.helo.test");
  // MAIL FROM with a sender: identity mailfrom.
  r = checker().checkMailFrom(ip(kClient4), kHelo, "someone@mail.helo.test");
  EXPECT_EQ(r.identity, "mailfrom");
  EXPECT_EQ(r.sender, "someone@mail.helo.test");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);  // someone.mail.helo.test.hl.test does not exist
}

TEST_F(SpfCheckTest, HeloThatIsNotADomainIsNone) {  // §2.3, §4.3
  serve(txt("localhost", "v=spf1 -all") + txt("[192.0.2.10]", "v=spf1 -all"));
  for (const char* helo : {"[192.0.2.10]", "[IPv6:2001:db8::10]", "localhost", "192.0.2.10"}) {
    const auto r = checker().checkHelo(ip(kClient4), helo);
    EXPECT_EQ(toString(r.result), "none") << helo << ": " << describe(r);
    EXPECT_EQ(r.identity, "helo") << helo;
  }
  // §2.3: "This SPF check can only be performed when the HELO string is a valid,
  // multi-label domain name": an address literal or a bare word is not looked up at all.
  for (const char* helo : {"[192.0.2.10]", "[IPv6:2001:db8::10]", "localhost"}) {
    const auto r = checker().checkHelo(ip(kClient4), helo);
    EXPECT_TRUE(r.lookups.empty()) << helo << ": " << describe(r);
  }
  // The null sender with such a HELO: postmaster@[192.0.2.10] has no domain to check either.
  const auto r = checker().checkMailFrom(ip(kClient4), "[192.0.2.10]", "");
  EXPECT_EQ(toString(r.result), "none") << describe(r);
  EXPECT_TRUE(r.lookups.empty()) << describe(r);
  EXPECT_EQ(server_.queryCount("[192.0.2.10]", "TXT"), 0u);
  EXPECT_EQ(server_.queryCount("localhost", "TXT"), 0u);
}

TEST_F(SpfCheckTest, LookupsRecordEachQuestionInOrder) {
  serve(hostZone() + txt("lk.test", "v=spf1 a:far.m.test exists:nothing.m.test mx:mxhost.m.test -all"));
  const auto r = checker().checkMailFrom(ip(kClient4), kHelo, "user@lk.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_THAT(r.mechanism, HasSubstr("mx:mxhost.m.test"));
  EXPECT_EQ(r.dnsTerms, 3u);
  EXPECT_EQ(r.voidLookups, 1u);
  EXPECT_EQ(r.identity, "mailfrom");
  EXPECT_EQ(r.sender, "user@lk.test");
  EXPECT_EQ(r.domain, "lk.test");
  ASSERT_EQ(r.lookups.size(), 5u) << describe(r);
  const struct {
    const char* name;
    RrType type;
    DnsStatus status;
    size_t records;
  } want[] = {{"lk.test", RrType::TXT, DnsStatus::Ok, 1},
              {"far.m.test", RrType::A, DnsStatus::Ok, 1},
              {"nothing.m.test", RrType::A, DnsStatus::NxDomain, 0},
              {"mxhost.m.test", RrType::MX, DnsStatus::Ok, 1},
              {"host.m.test", RrType::A, DnsStatus::Ok, 1}};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(dns::canonicalName(r.lookups[i].name), want[i].name) << i;
    EXPECT_EQ(r.lookups[i].type, want[i].type) << i;
    EXPECT_EQ(r.lookups[i].status, want[i].status) << i;
    EXPECT_EQ(r.lookups[i].records, want[i].records) << i;
    EXPECT_FALSE(r.lookups[i].fromCache) << i;
  }
}

TEST_F(SpfCheckTest, ASecondCheckThroughTheCacheAsksNothing) {
  serve(hostZone() + txt("c.test", "v=spf1 a:far.m.test mx:mxhost.m.test -all"));
  dns::ResolverOptions o;
  o.nameservers = {{"127.0.0.1", server_.port()}};
  o.timeout = 2000ms;
  o.tries = 1;
  const Checker c(dns::makeCachingResolver(o, dns::CacheOptions{}), CheckOptions{});
  const auto first = c.checkMailFrom(ip(kClient4), kHelo, "user@c.test");
  const auto queries = server_.totalQueries();
  const auto second = c.checkMailFrom(ip(kClient4), kHelo, "user@c.test");
  EXPECT_EQ(toString(first.result), "pass") << describe(first);
  EXPECT_EQ(toString(second.result), "pass") << describe(second);
  EXPECT_EQ(server_.totalQueries(), queries);
  ASSERT_EQ(second.lookups.size(), first.lookups.size());
  for (const auto& l : second.lookups) EXPECT_TRUE(l.fromCache) << l.name;
  EXPECT_EQ(second.dnsTerms, first.dnsTerms);  // the limit counts terms, cached or not
}

// ---------------------------------------------------------------------------------------
// Long and hostile input (run these under AUTHMILTER_SANITIZE)

TEST_F(SpfCheckTest, FourKilobyteRecord) {
  std::string record = "v=spf1";
  for (int i = 0; record.size() < 4000; ++i) {
    record += " ip4:10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24";
  }
  record += " ip4:192.0.2.10 -all";
  ASSERT_GE(record.size(), 4000u);
  serve(txt("big.test", record, 200));  // cuts fall inside terms
  auto r = host("big.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_THAT(r.mechanism, HasSubstr("ip4:192.0.2.10"));
  EXPECT_EQ(r.dnsTerms, 0u);
  r = host("big.test", "192.0.2.11");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
}

TEST_F(SpfCheckTest, ExplanationLadenWithTransformers) {
  const std::string piece = "%{l1r+-=_/,}|%{lr+-=_/,}|%{l2r+-=_/,}|%{L}|%{d2r}|%{ir}|%{S}%%%_%-;";
  std::string text;
  for (int i = 0; i < 40; ++i) text += piece;
  serve(txt("hx.test", "v=spf1 -all exp=why.hx.test") + txt("why.hx.test", text));
  const std::string sender = "a-b+c=d_e/f,g@hx.test";
  const auto r = explaining().checkHost(ip(kClient4), "hx.test", sender, kHelo);
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  const std::string expanded =
      "a|g.f.e.d.c.b.a|b.a|a-b%2Bc%3Dd_e%2Ff%2Cg|test.hx|10.2.0.192|a-b%2Bc%3Dd_e%2Ff%2Cg%40hx.test% %20;";
  std::string want;
  for (int i = 0; i < 40; ++i) want += expanded;
  EXPECT_EQ(r.explanation, want);
}

TEST_F(SpfCheckTest, FfBytesInSenderAndHelo) {
  serve(txt("ff.test", "v=spf1 exists:%{l}.ff.test exists:%{h}.ff.test -all"));
  const std::string sender = "\xff\xfe\x80@ff.test";
  const std::string helo = "h\xff.helo.test";
  auto r = checker().checkMailFrom(ip(kClient4), helo, sender);
  // Neither name exists: two void lookups, no match, -all.
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  r = checker().checkHelo(ip(kClient4), helo);
  EXPECT_EQ(toString(r.result), "none") << describe(r);
  r = checker().checkMailFrom(ip(kClient4), kHelo, "user@\xff\xff.test");
  EXPECT_EQ(toString(r.result), "none") << describe(r);
  const std::string header = formatReceivedSpf(r, ip(kClient4), helo, sender, kReceiver);
  for (const unsigned char c : header) EXPECT_LT(c, 0x80) << "8-bit byte in: " << header;
}

TEST_F(SpfCheckTest, TwoHundredMacrosInOneDomainSpec) {  // §7.3 truncation at scale
  std::string spec;
  for (int i = 0; i < 200; ++i) spec += "%{l}.";
  spec += "many.test";
  // "ab." x 200 + "many.test" is 609 characters; labels go from the left until <= 253: 81 stay.
  std::string name;
  for (int i = 0; i < 81; ++i) name += "ab.";
  name += "many.test";
  ASSERT_EQ(name.size(), 252u);
  serve(txt("many.test", "v=spf1 exists:" + spec + " -all") + name + ". IN A 127.0.0.2\n");
  const auto r = checker().checkMailFrom(ip(kClient4), kHelo, "ab@many.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(server_.queryCount(name, "A"), 1u);
  EXPECT_EQ(r.dnsTerms, 1u);
}

// ---------------------------------------------------------------------------------------
// Received-SPF (§9.1)

// The header value taken apart: result, comment, key=value pairs (unquoted), or why not.
struct ParsedHeader {
  std::string result;
  std::string comment;
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string error;
  std::string value(const std::string& key) const {
    for (const auto& [k, v] : pairs) {
      if (k == key) return v;
    }
    return "<absent>";
  }
  size_t count(const std::string& key) const {
    size_t n = 0;
    for (const auto& p : pairs) n += p.first == key;
    return n;
  }
};

// RFC 5322 dot-atom-text: atext runs joined by single dots.
bool isDotAtom(std::string_view v) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  if (v.empty() || v.front() == '.' || v.back() == '.') return false;
  for (size_t i = 0; i < v.size(); ++i) {
    const unsigned char c = v[i];
    if (c == '.') {
      if (v[i + 1] == '.') return false;
    } else if (!std::isalnum(c) && kSpecials.find(static_cast<char>(c)) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// RFC 5322 structure: folding only as "\n" + WSP; no other control characters; the comment
// nests with quoted-pairs; values are tokens or quoted-strings.
ParsedHeader parseReceivedSpf(const std::string& header) {
  ParsedHeader p;
  std::string s;
  for (size_t i = 0; i < header.size(); ++i) {
    const unsigned char c = header[i];
    if (c == '\n') {
      if (i + 1 >= header.size() || (header[i + 1] != '\t' && header[i + 1] != ' ')) {
        p.error = "line break not followed by blank space at " + std::to_string(i);
        return p;
      }
      continue;  // unfold
    }
    if (c < 0x20 && c != '\t') {
      p.error = "control character " + std::to_string(c) + " at " + std::to_string(i);
      return p;
    }
    if (c >= 0x7f) {
      p.error = "non-ASCII byte at " + std::to_string(i);
      return p;
    }
    s += static_cast<char>(c);
  }
  size_t i = 0;
  auto skipBlank = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) p.result += s[i++];
  skipBlank();
  if (i < s.size() && s[i] == '(') {
    int depth = 0;
    for (; i < s.size(); ++i) {
      if (s[i] == '\\') {
        p.comment += s[++i];
        continue;
      }
      if (s[i] == '(') ++depth;
      if (s[i] == ')' && --depth == 0) break;
      if (depth > 0 && !(s[i] == '(' && depth == 1)) p.comment += s[i];
    }
    if (i >= s.size()) {
      p.error = "unterminated comment";
      return p;
    }
    ++i;
  }
  while (true) {
    skipBlank();
    if (i >= s.size()) break;
    std::string key;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-' || s[i] == '_')) {
      key += s[i++];
    }
    if (key.empty() || i >= s.size() || s[i] != '=') {
      p.error = "expected key= at " + std::to_string(i) + " in: " + s;
      return p;
    }
    ++i;
    std::string value;
    const bool quotedValue = i < s.size() && s[i] == '"';
    if (quotedValue) {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value += s[i++];
      }
      if (i >= s.size()) {
        p.error = "unterminated quoted string for " + key;
        return p;
      }
      ++i;
    } else {
      while (i < s.size() && s[i] != ';' && s[i] != ' ' && s[i] != '\t' && s[i] != '"' && s[i] != '(') value += s[i++];
    }
    if (!quotedValue && !isDotAtom(value)) {
      p.error = "value of " + key + " is neither dot-atom nor quoted-string: " + value;
      return p;
    }
    p.pairs.emplace_back(util::toLower(key), value);
    skipBlank();
    if (i < s.size()) {
      if (s[i] != ';') {
        p.error = "expected ';' after " + key + " at " + std::to_string(i) + " in: " + s;
        return p;
      }
      ++i;
    }
  }
  return p;
}

class ReceivedSpfTest : public SpfCheckTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ReceivedSpfTest, HeaderNamesResultClientSenderHeloIdentityReceiver) {
  const std::string result = GetParam();
  serve(txt("pass.hdr.test", "v=spf1 +all") + txt("fail.hdr.test", "v=spf1 -all") +
        txt("softfail.hdr.test", "v=spf1 ~all") + txt("neutral.hdr.test", "v=spf1 ?all") +
        "none.hdr.test. IN A 192.0.2.10\n" + txt("temperror.hdr.test", "v=spf1 -all") +
        "!servfail temperror.hdr.test\n" + txt("permerror.hdr.test", "v=spf1 foo:bar"));
  const std::string mailFrom = "user@" + result + ".hdr.test";
  const auto r = checker().checkMailFrom(ip(kClient4), kHelo, mailFrom);
  ASSERT_EQ(toString(r.result), result) << describe(r);
  const std::string header = formatReceivedSpf(r, ip(kClient4), kHelo, mailFrom, kReceiver);
  EXPECT_THAT(header, StartsWith(result + " ")) << header;
  const auto p = parseReceivedSpf(header);
  ASSERT_EQ(p.error, "") << header;
  EXPECT_EQ(p.result, result);
  EXPECT_EQ(p.value("client-ip"), kClient4) << header;
  EXPECT_EQ(p.value("envelope-from"), mailFrom) << header;
  EXPECT_EQ(p.value("helo"), kHelo) << header;
  EXPECT_EQ(p.value("identity"), "mailfrom") << header;
  EXPECT_EQ(p.value("receiver"), kReceiver) << header;
  for (const auto& [key, value] : p.pairs) EXPECT_EQ(p.count(key), 1u) << key << " twice in " << header;
}

INSTANTIATE_TEST_SUITE_P(EveryResult, ReceivedSpfTest,
                         ::testing::Values("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"));

TEST_F(SpfCheckTest, ReceivedSpfForIpv6AndTheNullSender) {
  serve(txt(kHelo, "v=spf1 ip6:2001:db8::/64 -all"));
  const auto r = checker().checkMailFrom(ip(kClient6), kHelo, "");
  ASSERT_EQ(toString(r.result), "pass") << describe(r);
  const std::string header = formatReceivedSpf(r, ip(kClient6), kHelo, "", kReceiver);
  const auto p = parseReceivedSpf(header);
  ASSERT_EQ(p.error, "") << header;
  EXPECT_EQ(p.result, "pass");
  EXPECT_EQ(p.value("client-ip"), kClient6) << header;
  EXPECT_EQ(p.value("identity"), "helo") << header;
  EXPECT_EQ(p.value("helo"), kHelo) << header;
  EXPECT_EQ(p.value("receiver"), kReceiver) << header;
  EXPECT_NE(p.value("envelope-from"), "<absent>") << header;
}

TEST_F(SpfCheckTest, ReceivedSpfCannotBeBrokenByHostileText) {
  CheckResult r;
  r.result = Result::PermError;
  r.identity = "mailfrom";
  r.sender = "\"x\r\nX-Sender: 1\"@evil.test";
  r.domain = "evil.test";
  r.mechanism = "-all\r\nX-Injected: yes\"; client-ip=6.6.6.6; (";
  r.problem = "bad \"quote\" \\ (paren ) ) \n\r\x01\x7f\xff; receiver=evil";
  r.explanation = "line1\r\nX-Evil: 1\"; client-ip=6.6.6.6";
  const std::string helo = "evil\r\nX-Helo: 1\"; identity=helo";
  const std::string mailFrom = "\"x\r\nX-Sender: 1\"@evil.test";
  const std::string header = formatReceivedSpf(r, ip(kClient4), helo, mailFrom, "mx\r\n.receiver.test");
  EXPECT_EQ(header.find('\r'), std::string::npos) << header;
  const auto p = parseReceivedSpf(header);
  ASSERT_EQ(p.error, "") << header;
  EXPECT_EQ(p.result, "permerror");
  EXPECT_EQ(p.count("client-ip"), 1u) << header;
  EXPECT_EQ(p.value("client-ip"), kClient4) << header;
  EXPECT_EQ(p.count("identity"), 1u) << header;
  EXPECT_EQ(p.value("identity"), "mailfrom") << header;
  EXPECT_EQ(p.count("receiver"), 1u) << header;
  for (const auto& [key, value] : p.pairs) {
    EXPECT_EQ(p.count(key), 1u) << key << " twice in " << header;
    EXPECT_THAT(key, ::testing::Not(StartsWith("x-"))) << header;
  }
}

// The same through DNS: an explanation and a record with CR, LF and quotes.
TEST_F(SpfCheckTest, ReceivedSpfCannotBeBrokenByDnsText) {
  serve(txt("inj.test", "v=spf1 -all exp=why.inj.test") +
        txt("why.inj.test", "no\r\nX-Injected: 1\"; client-ip=6.6.6.6 (") +
        txt("bad.inj.test", "v=spf1 a:x\r\nX-Injected:\"1\".test +all"));
  for (const char* domain : {"inj.test", "bad.inj.test"}) {
    const std::string mailFrom = std::string("user@") + domain;
    const auto r = explaining().checkMailFrom(ip(kClient4), kHelo, mailFrom);
    EXPECT_NE(r.result, Result::Pass) << describe(r);
    const std::string header = formatReceivedSpf(r, ip(kClient4), kHelo, mailFrom, kReceiver);
    EXPECT_EQ(header.find('\r'), std::string::npos) << header;
    const auto p = parseReceivedSpf(header);
    ASSERT_EQ(p.error, "") << header;
    EXPECT_EQ(p.count("client-ip"), 1u) << header;
    EXPECT_EQ(p.value("client-ip"), kClient4) << header;
    EXPECT_EQ(p.value("envelope-from"), mailFrom) << header;
    for (const auto& [key, value] : p.pairs) EXPECT_EQ(p.count(key), 1u) << key << " twice in " << header;
  }
}

}  // namespace
}  // namespace authmilter::spf
