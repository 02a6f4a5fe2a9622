// Authentication-Results formatting and authserv-id recognition (RFC 8601).
#include "authmilter/report/auth_results.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace authmilter::report {

using pipeline::AuthResult;
namespace {

TEST(AuthResultsTest, NoResultsIsNone) { EXPECT_EQ(formatAuthResults("mx.example.org", {}), "mx.example.org; none"); }

TEST(AuthResultsTest, FormatsResultsFolded) {
  const std::vector<AuthResult> results = {
      {"auth", "pass", "", {{"smtp.auth", "alice@example.org"}}},
      {"spf", "fail", "not permitted", {{"smtp.mailfrom", "example.net"}}},
  };
  EXPECT_EQ(formatAuthResults("mx.example.org", results),
            "mx.example.org;\n\tauth=pass smtp.auth=alice@example.org;\n\t"
            "spf=fail reason=\"not permitted\" smtp.mailfrom=example.net");
}

// RFC 8601 §2.2 allows a comment after the result: DMARC's policy goes there. Parentheses,
// backslashes and control characters cannot break out of it.
TEST(AuthResultsTest, CommentFollowsTheResult) {
  AuthResult dmarc{"dmarc", "fail", "", {{"header.from", "example.com"}}};
  dmarc.comment = "p=reject dis=reject";
  EXPECT_EQ(formatAuthResults("mx", {dmarc}), "mx;\n\tdmarc=fail (p=reject dis=reject) header.from=example.com");
  dmarc.comment = "a) b\\(c\r\nX-Evil: 1";
  EXPECT_EQ(formatAuthResults("mx", {dmarc}), "mx;\n\tdmarc=fail (a bcX-Evil: 1) header.from=example.com");
}

TEST(AuthResultsTest, PropertyValuesAreQuotedWhenNeeded) {
  EXPECT_EQ(formatPropertyValue("alice"), "alice");
  EXPECT_EQ(formatPropertyValue("alice@example.org"), "alice@example.org");
  EXPECT_EQ(formatPropertyValue("alice smith"), "\"alice smith\"");
  EXPECT_EQ(formatPropertyValue("a;b"), "\"a;b\"");
  EXPECT_EQ(formatPropertyValue("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(formatPropertyValue("a@b@c"), "\"a@b@c\"");
  EXPECT_EQ(formatPropertyValue("@example.org"), "@example.org");  // a DKIM i= without local part
  EXPECT_EQ(formatPropertyValue("alice@"), "\"alice@\"");
  EXPECT_EQ(formatPropertyValue(""), "\"\"");
  // No header injection through a login: CR/LF are dropped.
  EXPECT_EQ(formatPropertyValue("eve\r\nX-Evil: 1"), "\"eveX-Evil: 1\"");
}

// Found by tests/fuzz/fuzz_auth_results (regressions/fuzz_auth_results/): a value with an
// '@' is plain only as local-part "@" domain-name (RFC 8601 §2.2); a login or sender like
// "@d+.im" was written bare, which no reader can take as a pvalue.
TEST(AuthResultsTest, AnAddressIsPlainOnlyWithADomainName) {
  for (const std::string quoted : {"@d+.im", "F@examp+le.net", "a@example.org.", "a@-x.example", "a@ex_ample.org",
                                   ".a@example.org", "a..b@example.org"}) {
    EXPECT_EQ(formatPropertyValue(quoted), "\"" + quoted + "\"");
  }
  for (const std::string plain : {"first.last+tag@mail-1.example.org", "@a.example", "x+y"}) {
    EXPECT_EQ(formatPropertyValue(plain), plain);
  }
}

TEST(AuthResultsTest, AuthservIdOf) {
  EXPECT_EQ(authservIdOf("mx.example.org; spf=pass"), "mx.example.org");
  EXPECT_EQ(authservIdOf(" mx.example.org 1; none"), "mx.example.org");
  EXPECT_EQ(authservIdOf("\r\n\t(comment (nested)) MX.Example.ORG;dkim=pass"), "MX.Example.ORG");
  EXPECT_EQ(authservIdOf("\"mx.example.org\"; none"), "mx.example.org");
  EXPECT_EQ(authservIdOf("mx.example.org"), "mx.example.org");
  EXPECT_EQ(authservIdOf("mx.example.org;;;garbage ((("), "mx.example.org");
  EXPECT_EQ(authservIdOf("   "), std::nullopt);
  EXPECT_EQ(authservIdOf("(only a comment)"), std::nullopt);
  EXPECT_EQ(authservIdOf(";"), std::nullopt);
}

// RFC 8601 §5: ours compared as a domain name; lookalikes that only differ in non-ASCII
// bytes are suspicious (removed too); longer, prefixed or other names are not ours.
TEST(AuthResultsTest, ClaimOfComparesTheIdAsADomainName) {
  using C = AuthservIdClaim;
  const std::vector<std::pair<std::string, C>> table = {
      {"mx.example.org; spf=pass", C::Ours},
      {"MX.Example.Org; spf=pass", C::Ours},
      {"mx.example.org.; spf=pass", C::Ours},
      {"\"mx.example.org.\"; spf=pass", C::Ours},
      {"mx.example.org\xC2\xA0; spf=pass", C::Suspicious},
      {"\xC2\xA0mx.example.org; spf=pass", C::Suspicious},
      {"mx.example.org.\xE3\x80\x80; spf=pass", C::Suspicious},
      {"mx.example.org.evil; spf=pass", C::NotOurs},
      {"xmx.example.org; spf=pass", C::NotOurs},
      {"example.org; spf=pass", C::NotOurs},
      {"mx.example.org..; spf=pass", C::NotOurs},
      {"mx.example.org.evil\xC2\xA0; spf=pass", C::NotOurs},
      {"\xC2\xA0; spf=pass", C::NotOurs},
      {"(only a comment)", C::NotOurs},
  };
  for (const auto& [value, claim] : table) {
    EXPECT_EQ(claimOf(value, "mx.example.org"), claim) << value;
    EXPECT_EQ(claimOf(value, "MX.example.org."), claim) << value << " (our id spelt with a final dot)";
  }
}

}  // namespace
}  // namespace authmilter::report
