// SPF record syntax (RFC 7208 §4.6.1, §5, §6, §12) and macro expansion (§7), in process.
#include <gtest/gtest.h>

#include "authmilter/spf/macro.h"
#include "authmilter/spf/record.h"

namespace authmilter::spf {
namespace {

TEST(SpfRecordTest, RecognisesOnlyVersion1FollowedBySpaceOrEnd) {
  EXPECT_TRUE(isSpfRecord("v=spf1"));
  EXPECT_TRUE(isSpfRecord("V=SPF1 -all"));
  EXPECT_FALSE(isSpfRecord("v=spf10 -all"));
  EXPECT_FALSE(isSpfRecord("v=spf1-all"));
  EXPECT_FALSE(isSpfRecord(" v=spf1 -all"));
  EXPECT_FALSE(isSpfRecord("spf2.0/pra -all"));
}

TEST(SpfRecordTest, ParsesMechanismsQualifiersCidrsAndModifiers) {
  std::string why;
  const auto r = parseRecord("v=spf1 ip4:192.0.2.0/24 -a:%{d}.example/28//64 ~mx//0 ?ptr ip6:2001:db8::/0 "
                             "include:_spf.example.com exists:%{ir}.bl.example a/0 all "
                             "redirect=_spf.example.net exp=exp.%{d} x-unknown=%{h}  ",
                             &why);
  ASSERT_TRUE(r) << why;
  ASSERT_EQ(r->mechanisms.size(), 9u);
  EXPECT_EQ(r->mechanisms[0].kind, MechanismKind::Ip4);
  EXPECT_EQ(r->mechanisms[0].cidr4, 24u);
  EXPECT_EQ(r->mechanisms[1].qualifier, '-');
  EXPECT_EQ(r->mechanisms[1].domainSpec, "%{d}.example");
  EXPECT_EQ(r->mechanisms[1].cidr4, 28u);
  EXPECT_EQ(r->mechanisms[1].cidr6, 64u);
  EXPECT_EQ(r->mechanisms[2].qualifier, '~');
  EXPECT_EQ(r->mechanisms[2].cidr4, 32u);
  EXPECT_EQ(r->mechanisms[2].cidr6, 0u);
  EXPECT_EQ(r->mechanisms[3].kind, MechanismKind::Ptr);
  EXPECT_EQ(r->mechanisms[4].cidr6, 0u);
  EXPECT_EQ(r->mechanisms[7].kind, MechanismKind::A);
  EXPECT_EQ(r->mechanisms[7].cidr4, 0u);
  EXPECT_EQ(r->mechanisms[8].kind, MechanismKind::All);
  EXPECT_EQ(r->redirect, "_spf.example.net");
  EXPECT_EQ(r->explanation, "exp.%{d}");
}

TEST(SpfRecordTest, SyntaxErrorsAnywhereArePermerrors) {
  for (const char* record : {
           "v=spf1 ip4:192.0.2.0/33",            // CIDR over 32
           "v=spf1 ip4:192.0.2.0/32x",           // junk after the length
           "v=spf1 ip4:192.0.2.0/024",           // leading zero
           "v=spf1 ip4:192.0.02.1",              // leading zero in an octet
           "v=spf1 ip4:192.0.2",                 // three octets
           "v=spf1 ip6:2001:db8::/129",          // CIDR over 128
           "v=spf1 ip6:2001:db8::g",             // not an address
           "v=spf1 a:1.2.3.4",                   // numeric top label
           "v=spf1 a:",                          // empty domain
           "v=spf1 mx:",                         //
           "v=spf1 exists:",                     //
           "v=spf1 ptr:",                        //
           "v=spf1 include:",                    //
           "v=spf1 include",                     //
           "v=spf1 a:foo..example.com:80",       // colon in the top label
           "v=spf1 a:example",                   // not a dotted name
           "v=spf1 redirect:example.com",        // redirect used as a mechanism
           "v=spf1 all:foo",                     // all takes no argument
           "v=spf1 foo",                         // unknown mechanism
           "v=spf1 -",                           // qualifier alone
           "v=spf1 redirect=a.example redirect=b.example",  // duplicate redirect
           "v=spf1 exp=a.example exp=b.example",            // duplicate exp
           "v=spf1 redirect=",                   // empty redirect
           "v=spf1 exists:%{x}.example.com",     // unknown macro letter
           "v=spf1 exists:%{c}.example.com",     // c only in explanations
           "v=spf1 exists:%{d0}.example.com",    // transformer 0
           "v=spf1 exists:%{d.example.com",      // unterminated macro
           "v=spf1 exists:%x.example.com",       // '%' not followed by { % _ -
           "v=spf1 x=%",                         // unknown modifier with a bad macro-string
           "v=spf1 a:ex\x01mple.com",            // control character
           "v=spf1 a:\xc3\xa9xample.com",        // non-ASCII
           "v=spf1\t-all",                       // tab is not a term separator
       }) {
    std::string why;
    EXPECT_FALSE(parseRecord(record, &why)) << record;
    EXPECT_FALSE(why.empty()) << record;
  }
}

TEST(SpfRecordTest, ValidOddities) {
  for (const char* record : {
           "v=spf1",                             // empty: neutral
           "v=spf1 -all ",                       // trailing space
           "v=spf1  a  -all",                    // several spaces between terms
           "v=spf1 a:foo-bar.123-45",            // numeric top label with a hyphen is allowed
           "v=spf1 a:example.com.",              // final dot
           "v=spf1 exists:%{l}%%%_%-.example.com",
           "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4",  // a valid unknown modifier name
           "v=spf1 -all redirect=x.example",     // redirect after mechanisms
           "v=spf1 include:%{d}",                // domain-end may be a macro
       }) {
    std::string why;
    EXPECT_TRUE(parseRecord(record, &why)) << record << ": " << why;
  }
}

// RFC 7208 §7.4's examples, verbatim.
class SpfMacroTest : public ::testing::Test {
 protected:
  SpfMacroTest() {
    context_.sender = "strong-bad@email.example.com";
    context_.localPart = "strong-bad";
    context_.senderDomain = "email.example.com";
    context_.domain = "email.example.com";
    context_.ip = *net::IpAddress::parse("192.0.2.3");
    context_.helo = "mx.example.org";
    context_.receiver = "mx.example.net";
    context_.now = 1234567890;
  }
  std::string expand(const std::string& text, bool explain = false) {
    auto out = expandMacros(text, context_, explain);
    return out ? *out : "(invalid)";
  }
  MacroContext context_;
};

TEST_F(SpfMacroTest, Rfc7208Section7_4Examples) {
  EXPECT_EQ(expand("%{s}"), "strong-bad@email.example.com");
  EXPECT_EQ(expand("%{o}"), "email.example.com");
  EXPECT_EQ(expand("%{d}"), "email.example.com");
  EXPECT_EQ(expand("%{d4}"), "email.example.com");
  EXPECT_EQ(expand("%{d3}"), "email.example.com");
  EXPECT_EQ(expand("%{d2}"), "example.com");
  EXPECT_EQ(expand("%{d1}"), "com");
  EXPECT_EQ(expand("%{dr}"), "com.example.email");
  EXPECT_EQ(expand("%{d2r}"), "example.email");
  EXPECT_EQ(expand("%{l}"), "strong-bad");
  EXPECT_EQ(expand("%{l-}"), "strong.bad");
  EXPECT_EQ(expand("%{lr}"), "strong-bad");
  EXPECT_EQ(expand("%{lr-}"), "bad.strong");
  EXPECT_EQ(expand("%{l1r-}"), "strong");
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}"), "3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp._spf.%{d2}"), "bad.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}"), "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}"), "3.2.0.192.in-addr.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{d2}.trusted-domains.example.net"), "example.com.trusted-domains.example.net");
  context_.ip = *net::IpAddress::parse("2001:db8::cb01");
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}"),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
}

TEST_F(SpfMacroTest, EscapesUpperCaseAndExplanationLetters) {
  EXPECT_EQ(expand("%%%_%-"), "% %20");
  EXPECT_EQ(expand("%{S}"), "strong-bad%40email.example.com");
  context_.localPart = "a b\xff";
  EXPECT_EQ(expand("%{L}"), "a%20b%FF");
  EXPECT_EQ(expand("%{c} %{r} %{t}", true), "192.0.2.3 mx.example.net 1234567890");
  EXPECT_EQ(expand("%{c}"), "(invalid)");  // c, r, t only in explanations
  EXPECT_EQ(expand("a b"), "(invalid)");   // spaces only in explanations
  EXPECT_EQ(expand("%{h}"), "mx.example.org");
  EXPECT_EQ(expand("%{p}"), "unknown");    // no way to validate here
  context_.ip = *net::IpAddress::parse("2001:db8::cb01");
  EXPECT_EQ(expand("%{c} %{v}", true), "2001:db8::cb01 ip6");
  EXPECT_EQ(expand("%{d1000r}"), "com.example.email");  // more parts than there are: all
}

TEST(SpfMacroTruncateTest, LongNamesLoseLabelsFromTheLeft) {
  std::string name;
  for (int i = 0; i < 30; ++i) name += "label" + std::to_string(i) + ".";
  name += "example.com";
  const std::string t = truncateDomain(name);
  EXPECT_LE(t.size(), 253u);
  EXPECT_GT(t.size(), 240u);
  EXPECT_TRUE(t.ends_with(".example.com"));
  EXPECT_TRUE(name.ends_with(t));
  EXPECT_TRUE(t.starts_with("label"));
}

}  // namespace
}  // namespace authmilter::spf
