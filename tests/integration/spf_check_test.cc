// spf::Checker through the real DNS path: LdnsResolver against TestDnsServer on loopback
// (the fixture is in spf_check_fixture.h). Here: every mechanism and qualifier, CIDR lengths,
// syntax errors, and the redirect= and exp= modifiers (RFC 7208 §4.6, §5, §6). Macros,
// result codes, DNS errors and the lookup limits are in spf_macro_limits_test.cc; the
// identities, hostile input and the Received-SPF header in spf_identity_header_test.cc.
// The expectations are RFC 7208's (section named at each test), not whatever the evaluator
// happens to do; the openspf suite lives in spf_conformance_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>
#include <string>
#include <vector>

#include "authmilter/spf/spf.h"
#include "spf_check_fixture.h"

namespace authmilter::spf {
namespace {

using namespace testing_support;
using ::testing::StartsWith;

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

}  // namespace
}  // namespace authmilter::spf
