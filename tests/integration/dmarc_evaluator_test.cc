// dmarc::Evaluator through the real DNS path (LdnsResolver against TestDnsServer): each
// policy x aligned through SPF / DKIM / neither, strict and relaxed alignment, sp, np, t=y,
// psd=y, the tree walk's bound, several records, broken records, DNS trouble, and the same
// questions under RFC 7489 where the two methods differ (PSL, pct). Expectations are
// RFC 9989's (section named at each test) or RFC 7489's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "authmilter/dmarc/evaluator.h"
#include "authmilter/dns/ldns_resolver.h"
#include "temp_dir.h"
#include "test_dns_server.h"

namespace authmilter::dmarc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testsupport::TestDnsServer;
using namespace std::chrono_literals;

const std::string kZone = R"(
$TTL 300
test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
_dmarc.none.test. TXT "v=DMARC1; p=none"
_dmarc.quarantine.test. TXT "v=DMARC1; p=quarantine"
_dmarc.reject.test. TXT "v=DMARC1; p=reject"
_dmarc.strict.test. TXT "v=DMARC1; p=reject; aspf=s; adkim=s"
_dmarc.parent.test. TXT "v=DMARC1; p=reject; sp=quarantine; np=none"
exists.parent.test. A 192.0.2.1
mx.parent.test. MX 10 mail.parent.test.
_dmarc.nonp.test. TXT "v=DMARC1; p=reject; sp=quarantine"
_dmarc.own.parent.test. TXT "v=DMARC1; p=none"
_dmarc.testing.test. TXT "v=DMARC1; p=reject; t=y"
_dmarc.testq.test. TXT "v=DMARC1; p=quarantine; t=y"
_dmarc.gov.test. TXT "v=DMARC1; p=reject; psd=y"
_dmarc.dept.org.test. TXT "v=DMARC1; p=none; psd=n"
_dmarc.org.test. TXT "v=DMARC1; p=reject"
_dmarc.deep.test. TXT "v=DMARC1; p=reject"
_dmarc.f.g.h.i.j.k.deep.test. TXT "v=DMARC1; p=none"
_dmarc.multi.test. TXT "v=DMARC1; p=reject"
_dmarc.multi.test. TXT "v=DMARC1; p=none"
_dmarc.mixed.test. TXT "v=spf1 -all"
_dmarc.mixed.test. TXT "v=DMARC1; p=reject"
_dmarc.notfirst.test. TXT "p=reject; v=DMARC1"
_dmarc.lower.test. TXT "v=dmarc1; p=reject"
_dmarc.badp.test. TXT "v=DMARC1; p=bogus"
_dmarc.badprua.test. TXT "v=DMARC1; p=bogus; rua=mailto:dmarc@badprua.test"
_dmarc.badsp.test. TXT "v=DMARC1; p=reject; sp=sometimes"
_dmarc.nop.test. TXT "v=DMARC1; rua=mailto:dmarc@nop.test"
_dmarc.bare.test. TXT "v=DMARC1"
_dmarc.unknown.test. TXT "v=DMARC1; p=reject; future=yes; adkim=x" "; pct=50"
_dmarc.pct0.test. TXT "v=DMARC1; p=reject; pct=0"
_dmarc.pct50.test. TXT "v=DMARC1; p=reject; pct=50"
_dmarc.pct100.test. TXT "v=DMARC1; p=reject; pct=100"
_dmarc.example.co.uk. TXT "v=DMARC1; p=reject"
!drop _dmarc.slow.test TXT
!drop _dmarc.slowwalk.test TXT
_dmarc.lateslow.test. TXT "v=DMARC1; p=reject; np=reject"
!drop ghost.lateslow.test A
)";

class DmarcEvaluatorTest : public ::testing::Test {
 protected:
  std::shared_ptr<dns::Resolver> resolver() const {
    dns::ResolverOptions o;
    o.nameservers = {{"127.0.0.1", server_.port()}};
    o.timeout = 300ms;
    o.tries = 1;
    return std::make_shared<dns::LdnsResolver>(o);
  }

  Outcome evaluate(const Input& input, Standard standard = Standard::Rfc9989, unsigned draw = 0) const {
    EvaluatorOptions options;
    options.standard = standard;
    if (standard == Standard::Rfc7489) options.psl = psl();
    options.random = [draw] { return draw; };
    return Evaluator(resolver(), options).evaluate(input);
  }

  static std::shared_ptr<const PublicSuffixList> psl() {
    static const auto list = std::make_shared<const PublicSuffixList>("");  // Debian's publicsuffix
    return list;
  }

  static Input spfPass(const std::string& from, const std::string& mailFromDomain) {
    return {from, {"pass", mailFromDomain}, {}};
  }
  static Input dkimPass(const std::string& from, const std::string& d) {
    return {from, {}, {{"pass", d, "s1", true}}};
  }
  static Input unaligned(const std::string& from) {
    return {from, {"pass", "elsewhere.example"}, {{"pass", "elsewhere.example", "s1", true}}};
  }

  TestDnsServer server_{kZone};
};

// RFC 9989 §4.4, §5.3.5, §4.10.1: each policy, passing through either identifier, or not.
TEST_F(DmarcEvaluatorTest, EachPolicyAlignedThroughSpfThroughDkimOrNeither) {
  for (const std::string policy : {"none", "quarantine", "reject"}) {
    SCOPED_TRACE(policy);
    const std::string domain = policy + ".test";
    const Outcome spf = evaluate(spfPass(domain, "bounces." + domain));
    EXPECT_EQ(spf.result, Result::Pass);
    EXPECT_TRUE(spf.spfAligned);
    EXPECT_EQ(spf.disposition, Policy::None);
    EXPECT_EQ(spf.orgDomain, domain);

    const Outcome dkim = evaluate(dkimPass(domain, domain));
    EXPECT_EQ(dkim.result, Result::Pass);
    EXPECT_THAT(dkim.dkimAligned, ElementsAre(domain));

    const Outcome neither = evaluate(unaligned(domain));
    EXPECT_EQ(neither.result, Result::Fail);
    EXPECT_EQ(toString(neither.policy), policy);
    EXPECT_EQ(neither.policyTag, "p");
    EXPECT_EQ(toString(neither.disposition), policy);
    EXPECT_EQ(neither.policyDomain, domain);
  }
}

// Only pass results authenticate: an SPF softfail or a failed signature of the right
// domain does not align, and a signature set aside (LBodyPolicy) does not count.
TEST_F(DmarcEvaluatorTest, OnlyPassingResultsAlign) {
  Input in{"reject.test", {"softfail", "reject.test"}, {{"fail", "reject.test", "s1", false}}};
  in.dkim.push_back({"pass", "reject.test", "l", false});
  const Outcome o = evaluate(in);
  EXPECT_EQ(o.result, Result::Fail);
  EXPECT_FALSE(o.spfAligned);
  EXPECT_TRUE(o.dkimAligned.empty());
  EXPECT_EQ(o.disposition, Policy::Reject);
}

// RFC 9989 §4.4.1/§4.4.2: strict alignment needs the identical name.
TEST_F(DmarcEvaluatorTest, StrictAlignmentNeedsTheSameName) {
  EXPECT_EQ(evaluate(spfPass("strict.test", "bounces.strict.test")).result, Result::Fail);
  EXPECT_EQ(evaluate(dkimPass("strict.test", "mail.strict.test")).result, Result::Fail);
  EXPECT_EQ(evaluate(spfPass("strict.test", "STRICT.test.")).result, Result::Pass);
  EXPECT_EQ(evaluate(dkimPass("strict.test", "strict.test")).result, Result::Pass);
  // Relaxed: the same Organizational Domain, in either direction.
  EXPECT_EQ(evaluate(dkimPass("mail.reject.test", "reject.test")).result, Result::Pass);
  EXPECT_EQ(evaluate(spfPass("reject.test", "a.b.reject.test")).result, Result::Pass);
  // A sibling under a shared parent without a record of its own is not the same org.
  EXPECT_EQ(evaluate(dkimPass("reject.test", "test")).result, Result::Fail);
}

// RFC 9989 §4.10.1: a subdomain without its own record gets sp; a non-existent one
// (no A, AAAA or MX, §3.2.13) np; the domain itself p; its own record beats both.
TEST_F(DmarcEvaluatorTest, SubdomainPolicySpAndNonExistentNp) {
  const Outcome self = evaluate(unaligned("parent.test"));
  EXPECT_EQ(self.policy, Policy::Reject);
  EXPECT_EQ(self.policyTag, "p");

  const Outcome existing = evaluate(unaligned("exists.parent.test"));
  EXPECT_EQ(existing.result, Result::Fail);
  EXPECT_EQ(existing.policyDomain, "parent.test");
  EXPECT_EQ(existing.policyTag, "sp");
  EXPECT_EQ(existing.disposition, Policy::Quarantine);

  const Outcome mxOnly = evaluate(unaligned("mx.parent.test"));
  EXPECT_EQ(mxOnly.policyTag, "sp");

  const Outcome ghost = evaluate(unaligned("ghost.parent.test"));
  EXPECT_EQ(ghost.policyTag, "np");
  EXPECT_EQ(ghost.disposition, Policy::None);
  EXPECT_EQ(server_.queryCount("ghost.parent.test", "MX"), 0u) << "NXDOMAIN on A settles it";

  const Outcome own = evaluate(unaligned("own.parent.test"));
  EXPECT_EQ(own.policyDomain, "own.parent.test");
  EXPECT_EQ(own.disposition, Policy::None);

  // Without np=, a non-existent subdomain gets sp.
  EXPECT_EQ(evaluate(unaligned("ghost.nonp.test")).policyTag, "sp");
  // RFC 7489 has no np: sp.
  EXPECT_EQ(evaluate(unaligned("ghost.parent.test"), Standard::Rfc7489).policyTag, "sp");
}

// RFC 9989 §4.7 t=y: one step below the policy (reject -> quarantine -> none). RFC 7489
// has no t tag.
TEST_F(DmarcEvaluatorTest, TestingModeLowersThePolicyOneStep) {
  const Outcome reject = evaluate(unaligned("testing.test"));
  EXPECT_EQ(reject.result, Result::Fail);
  EXPECT_EQ(reject.policy, Policy::Reject);
  EXPECT_EQ(reject.disposition, Policy::Quarantine);
  EXPECT_EQ(reject.lowered, "t=y");
  EXPECT_EQ(evaluate(unaligned("testq.test")).disposition, Policy::None);
  EXPECT_EQ(evaluate(unaligned("testing.test"), Standard::Rfc7489).disposition, Policy::Reject);
}

// RFC 9989 §4.10.2 with psd=y: the Organizational Domain is one label below the PSD, and
// the PSD's record is the policy when nothing below publishes one.
TEST_F(DmarcEvaluatorTest, PsdYesMakesTheNameBelowThePsdTheOrganizationalDomain) {
  const Outcome o = evaluate(dkimPass("mail.agency.gov.test", "agency.gov.test"));
  EXPECT_EQ(o.result, Result::Pass);
  EXPECT_EQ(o.orgDomain, "agency.gov.test");
  EXPECT_EQ(o.policyDomain, "gov.test");

  const Outcome other = evaluate(dkimPass("mail.agency.gov.test", "other.gov.test"));
  EXPECT_EQ(other.result, Result::Fail);
  EXPECT_EQ(other.policyTag, "p") << "the PSD record has neither sp nor np";
  EXPECT_EQ(other.disposition, Policy::Reject);
  // Under RFC 7489 the PSL (no entry for gov.test) makes gov.test the org: they align.
  EXPECT_EQ(evaluate(dkimPass("mail.agency.gov.test", "other.gov.test"), Standard::Rfc7489).result,
            Result::Pass);
}

// psd=n stops the walk: that name is the Organizational Domain of everything below it.
TEST_F(DmarcEvaluatorTest, PsdNoMakesItsOwnOrganizationalDomain) {
  const Outcome o = evaluate(dkimPass("a.dept.org.test", "org.test"));
  EXPECT_EQ(o.orgDomain, "dept.org.test");
  EXPECT_EQ(o.result, Result::Fail);
  EXPECT_EQ(o.policyDomain, "dept.org.test");
  EXPECT_EQ(o.disposition, Policy::None);
  EXPECT_EQ(server_.queryCount("_dmarc.org.test", "TXT"), 0u) << "the walk stops at psd=n";
  EXPECT_EQ(evaluate(dkimPass("a.dept.org.test", "b.dept.org.test")).result, Result::Pass);
}

// RFC 9989 §4.10: at most 8 queries; a name of 8 or more labels jumps to its last 7.
TEST_F(DmarcEvaluatorTest, TreeWalkAsksAtMostEightQuestions) {
  EXPECT_THAT(treeWalkNames("a.mail.example.com"),
              ElementsAre("a.mail.example.com", "mail.example.com", "example.com", "com"));
  EXPECT_EQ(treeWalkNames("a.b.c.d.e.f.g.h.i.j.mail.example.com").size(), kMaxTreeWalkQueries);
  EXPECT_EQ(treeWalkNames("a.b.c.d.e.f.g.h.i.j.mail.example.com")[1], "g.h.i.j.mail.example.com");
  EXPECT_EQ(treeWalkNames("a.b.c.d.e.f.g.h").size(), 8u);
  EXPECT_THAT(treeWalkNames("com"), ElementsAre("com"));

  server_.resetCounts();
  const std::string deep = "a.b.c.d.e.f.g.h.i.j.k.deep.test";  // 13 labels
  const Outcome o = evaluate(unaligned(deep));
  EXPECT_EQ(o.result, Result::Fail);
  EXPECT_EQ(o.policyDomain, "deep.test");
  EXPECT_EQ(o.policyTag, "p") << "the record has no sp";
  size_t dmarcQueries = 0;
  for (const auto& name : treeWalkNames(deep)) dmarcQueries += server_.queryCount("_dmarc." + name, "TXT");
  EXPECT_EQ(dmarcQueries, 8u);
  // The record 7 labels up from the jump (f.g.h.i.j.k.deep.test, 8 labels) is never seen.
  EXPECT_EQ(server_.queryCount("_dmarc.f.g.h.i.j.k.deep.test", "TXT"), 0u);
  EXPECT_EQ(o.lookups.size(), 8u) << "each name asked once, though policy and org walks both need it";
}

// RFC 9989 §4.10 step 2: several DMARC records are none; non-DMARC TXT records are not
// records; v=DMARC1 must come first and is case-sensitive.
TEST_F(DmarcEvaluatorTest, WhichTxtRecordsAreDmarcRecords) {
  EXPECT_EQ(evaluate(unaligned("multi.test")).result, Result::None);
  EXPECT_EQ(evaluate(unaligned("mixed.test")).disposition, Policy::Reject);
  EXPECT_EQ(evaluate(unaligned("notfirst.test")).result, Result::None);
  EXPECT_EQ(evaluate(unaligned("lower.test")).result, Result::None);
  const Outcome nothing = evaluate(unaligned("nothing.test"));
  EXPECT_EQ(nothing.result, Result::None);
  EXPECT_THAT(nothing.reason, HasSubstr("no DMARC record"));
}

// RFC 9989 §4.7 p, §4.8, §4.10.1: no p= means p=none; an invalid p/sp means p=none when
// rua= is valid and no DMARC processing (permerror) otherwise; unknown tags are ignored and
// bad values of other tags keep their defaults. RFC 7489 requires p=.
TEST_F(DmarcEvaluatorTest, RecordsWithMissingOrInvalidValues) {
  const Outcome badp = evaluate(unaligned("badp.test"));
  EXPECT_EQ(badp.result, Result::PermError);
  EXPECT_THAT(badp.reason, HasSubstr("p=bogus"));

  const Outcome badprua = evaluate(unaligned("badprua.test"));
  EXPECT_EQ(badprua.result, Result::Fail);
  EXPECT_EQ(badprua.disposition, Policy::None);
  EXPECT_THAT(badprua.reason, HasSubstr("treated as p=none"));

  EXPECT_EQ(evaluate(unaligned("badsp.test")).result, Result::PermError);

  const Outcome nop = evaluate(unaligned("nop.test"));
  EXPECT_EQ(nop.result, Result::Fail);
  EXPECT_EQ(nop.disposition, Policy::None);
  EXPECT_EQ(evaluate(unaligned("bare.test")).disposition, Policy::None);
  EXPECT_EQ(evaluate(unaligned("bare.test"), Standard::Rfc7489).result, Result::PermError);
  EXPECT_EQ(evaluate(unaligned("nop.test"), Standard::Rfc7489).disposition, Policy::None);

  const Outcome unknown = evaluate(spfPass("unknown.test", "mail.unknown.test"));
  EXPECT_EQ(unknown.result, Result::Pass) << "adkim=x and future=yes are ignored; aspf stays relaxed";
  EXPECT_EQ(evaluate(unaligned("unknown.test"), Standard::Rfc9989, 99).disposition, Policy::Reject)
      << "pct is not an RFC 9989 tag";
}

// RFC 7489 §6.6.4 pct: the policy applies to pct% of failing messages, the rest get the
// next lower policy. The draw is injected, so this is deterministic.
TEST_F(DmarcEvaluatorTest, Rfc7489PctSamplesDeterministically) {
  EXPECT_EQ(evaluate(unaligned("pct0.test"), Standard::Rfc7489, 0).disposition, Policy::Quarantine);
  EXPECT_EQ(evaluate(unaligned("pct50.test"), Standard::Rfc7489, 49).disposition, Policy::Reject);
  const Outcome sampledOut = evaluate(unaligned("pct50.test"), Standard::Rfc7489, 50);
  EXPECT_EQ(sampledOut.disposition, Policy::Quarantine);
  EXPECT_EQ(sampledOut.lowered, "pct=50");
  EXPECT_EQ(evaluate(unaligned("pct100.test"), Standard::Rfc7489, 99).disposition, Policy::Reject);
  EXPECT_EQ(evaluate(unaligned("pct0.test"), Standard::Rfc9989, 0).disposition, Policy::Reject);
}

// RFC 7489 §3.2: the Organizational Domain from the Public Suffix List, so a name under a
// multi-label suffix (co.uk) finds the record of its registered domain.
TEST_F(DmarcEvaluatorTest, Rfc7489UsesThePublicSuffixList) {
  server_.resetCounts();
  const Outcome o = evaluate(dkimPass("a.b.example.co.uk", "example.co.uk"), Standard::Rfc7489);
  EXPECT_EQ(o.result, Result::Pass);
  EXPECT_EQ(o.orgDomain, "example.co.uk");
  EXPECT_EQ(o.policyDomain, "example.co.uk");
  EXPECT_EQ(server_.queryCount("_dmarc.b.example.co.uk", "TXT"), 0u) << "no walk: author, then org";
  EXPECT_EQ(server_.queryCount("_dmarc.co.uk", "TXT"), 0u);
  EXPECT_EQ(evaluate(dkimPass("a.b.example.co.uk", "other.co.uk"), Standard::Rfc7489).result, Result::Fail);
  // RFC 9989 gets the same Organizational Domain by walking.
  EXPECT_EQ(evaluate(dkimPass("a.b.example.co.uk", "example.co.uk")).orgDomain, "example.co.uk");
  EXPECT_EQ(psl()->organizationalDomain("a.b.example.co.uk"), "example.co.uk");
  EXPECT_EQ(psl()->organizationalDomain("co.uk"), "co.uk");
}

// PublicSuffixList FILE: another list decides.
TEST_F(DmarcEvaluatorTest, PublicSuffixListFromAFile) {
  testsupport::TempDir dir;
  dir.write("psl.dat", "// test list\ntest\ngov.test\n");
  const PublicSuffixList list(dir.file("psl.dat"));
  EXPECT_EQ(list.organizationalDomain("mail.agency.gov.test"), "agency.gov.test");
  EXPECT_EQ(list.organizationalDomain("a.b.reject.test"), "reject.test");
  EXPECT_THROW(PublicSuffixList(dir.file("missing.dat")), std::runtime_error);
}

// RFC 9989 §5.3.6: DNS trouble leaves the result open: temperror, never fail or none.
TEST_F(DmarcEvaluatorTest, DnsTimeoutsAreTemperrors) {
  const Outcome o = evaluate(unaligned("slow.test"));
  EXPECT_EQ(o.result, Result::TempError);
  EXPECT_THAT(o.reason, HasSubstr("_dmarc.slow.test"));
  EXPECT_EQ(evaluate(unaligned("a.slowwalk.test")).result, Result::TempError);
  EXPECT_EQ(evaluate(unaligned("ghost.lateslow.test")).result, Result::TempError) << "existence unknown";
  EXPECT_EQ(evaluate(spfPass("reject.test", "x.slowwalk.test")).result, Result::Fail)
      << "an identifier outside the author's org needs no walk";
  EXPECT_EQ(evaluate(spfPass("slowwalk.test", "x.slowwalk.test")).result, Result::TempError);
}

}  // namespace
}  // namespace authmilter::dmarc
