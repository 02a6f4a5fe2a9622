// spf::Checker through the real DNS path (fixture in spf_check_fixture.h), continued:
// macros (RFC 7208 §7), each result code and how the record is selected (§2.6, §4.3 - §4.5),
// DNS errors and timeouts (§4.4, §4.6.4), and both lookup limits and loops (§4.6.4).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "authmilter/spf/spf.h"
#include "spf_check_fixture.h"

namespace authmilter::spf {
namespace {

using namespace testing_support;
using dns::DnsStatus;

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

}  // namespace
}  // namespace authmilter::spf
