// parseMailAddress: how each envelope address form is taken apart.
#include "authmilter/mail/address.h"

#include <gtest/gtest.h>

namespace authmilter::mail {
namespace {

TEST(MailAddressTest, PlainAddress) {
  const auto a = parseMailAddress("<User@Example.ORG>");
  ASSERT_TRUE(a.valid);
  EXPECT_EQ(a.localPart, "User");
  EXPECT_EQ(a.domain, "example.org");
  EXPECT_EQ(a.text, "User@Example.ORG");
  EXPECT_FALSE(a.routingInLocalPart);
  EXPECT_FALSE(a.sourceRoute);
}

TEST(MailAddressTest, NullSender) {
  const auto a = parseMailAddress("<>");
  EXPECT_TRUE(a.valid);
  EXPECT_TRUE(a.null);
  EXPECT_TRUE(parseMailAddress("< >").null);
}

TEST(MailAddressTest, RoutingDevicesAreFlagged) {
  EXPECT_TRUE(parseMailAddress("<user%other.example@local.example>").routingInLocalPart);
  EXPECT_TRUE(parseMailAddress("<other.example!user@local.example>").routingInLocalPart);
  EXPECT_TRUE(parseMailAddress("<\"user@other.example\"@local.example>").routingInLocalPart);
  EXPECT_TRUE(parseMailAddress("<u@EXT@LOCAL.example>").routingInLocalPart);
  EXPECT_TRUE(parseMailAddress("<EXT!u>").routingInLocalPart);
  const auto routed = parseMailAddress("<@relay.example,@r2.example:user@other.example>");
  ASSERT_TRUE(routed.valid);
  EXPECT_TRUE(routed.sourceRoute);
  EXPECT_EQ(routed.domain, "other.example");
}

TEST(MailAddressTest, QuotedLocalPart) {
  const auto a = parseMailAddress("<\"john \\\"q\\\" doe\"@example.org>");
  ASSERT_TRUE(a.valid);
  EXPECT_EQ(a.localPart, "john \"q\" doe");
  EXPECT_EQ(a.domain, "example.org");
  EXPECT_FALSE(a.routingInLocalPart);
}

TEST(MailAddressTest, DomainForms) {
  EXPECT_EQ(parseMailAddress("<u@example.org.>").domain, "example.org");
  EXPECT_EQ(parseMailAddress("<u@[192.0.2.1]>").domain, "[192.0.2.1]");
  EXPECT_EQ(parseMailAddress("<u@bücher.example>").domain, "xn--bcher-kva.example");
  const auto bare = parseMailAddress("<user>");
  EXPECT_TRUE(bare.valid);
  EXPECT_FALSE(bare.hasDomain);
  EXPECT_TRUE(parseMailAddress("user@example.org").valid);  // without brackets
}

TEST(MailAddressTest, Malformed) {
  for (const char* bad : {"<user@example.org", "user@example.org>", "<\"unterminated@example.org>", "<@example.org>",
                          "<u@>", "<u@exa mple.org>", "<@route-without-colon>", "<u@[1.2.3.999]>"}) {
    EXPECT_FALSE(parseMailAddress(bad).valid) << bad;
  }
}

TEST(MailAddressTest, ControlCharactersAreNotCopiedIntoText) {
  const auto a = parseMailAddress("<a\r\nX-Injected: 1@example.org>");
  EXPECT_EQ(a.text.find('\n'), std::string::npos);
  EXPECT_EQ(a.text.find('\r'), std::string::npos);
}

}  // namespace
}  // namespace authmilter::mail
