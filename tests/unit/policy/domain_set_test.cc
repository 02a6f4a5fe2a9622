// Domain normalization (case, trailing dot, IDN, literals) and DomainSet lookups.
#include "authmilter/policy/domain_set.h"

#include <gtest/gtest.h>

#include "authmilter/policy/host_list.h"

namespace authmilter::policy {
namespace {

TEST(NormalizeDomainTest, CaseTrailingDotAndIdn) {
  EXPECT_EQ(normalizeDomain("Example.ORG"), "example.org");
  EXPECT_EQ(normalizeDomain("example.org."), "example.org");
  EXPECT_EQ(normalizeDomain("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(normalizeDomain("BÜCHER.example"), "xn--bcher-kva.example");
  EXPECT_EQ(normalizeDomain("XN--BCHER-KVA.example"), "xn--bcher-kva.example");
  EXPECT_EQ(normalizeDomain("[192.0.2.1]"), "[192.0.2.1]");
  EXPECT_EQ(normalizeDomain("[IPv6:2001:DB8::1]"), "[ipv6:2001:db8::1]");
}

TEST(NormalizeDomainTest, RejectsMalformedNames) {
  for (const char* bad : {"", ".", "example..org", ".example.org", "exa mple.org", "example.org..", "a/b.example",
                          "[192.0.2.1", "[not-an-ip]", "exa\xff" "mple.org"}) {
    EXPECT_FALSE(normalizeDomain(bad).has_value()) << bad;
  }
  EXPECT_FALSE(normalizeDomain(std::string(64, 'a') + ".example").has_value());
  EXPECT_TRUE(normalizeDomain(std::string(63, 'a') + ".example").has_value());
}

TEST(DomainSetTest, ExactAndSubdomainEntries) {
  DomainSet set;
  std::string error;
  ASSERT_TRUE(set.add("example.org", &error));
  ASSERT_TRUE(set.add(".sub.example.net", &error));
  ASSERT_TRUE(set.add("bücher.example", &error));
  ASSERT_TRUE(set.add("[192.0.2.1]", &error));
  EXPECT_TRUE(set.contains("example.org"));
  EXPECT_FALSE(set.contains("www.example.org"));
  EXPECT_TRUE(set.contains("a.sub.example.net"));
  EXPECT_TRUE(set.contains("b.a.sub.example.net"));
  EXPECT_FALSE(set.contains("sub.example.net"));
  EXPECT_TRUE(set.contains("xn--bcher-kva.example"));
  EXPECT_TRUE(set.contains("[192.0.2.1]"));
  EXPECT_FALSE(set.contains("[192.0.2.2]"));
  EXPECT_FALSE(set.add("bad..name", &error));
  EXPECT_NE(error.find("bad..name"), std::string::npos);
}

TEST(HostListTest, NetworksAndNames) {
  HostList list;
  std::string error;
  ASSERT_TRUE(list.add("192.0.2.0/24", &error));
  ASSERT_TRUE(list.add("2001:db8::1", &error));
  ASSERT_TRUE(list.add("mx.example.org", &error));
  ASSERT_TRUE(list.add(".backup.example.net", &error));
  EXPECT_TRUE(list.matches(net::IpAddress::parse("192.0.2.9"), "unknown"));
  EXPECT_TRUE(list.matches(net::IpAddress::parse("::ffff:192.0.2.9"), ""));
  EXPECT_TRUE(list.matches(net::IpAddress::parse("2001:db8::1"), ""));
  EXPECT_TRUE(list.matches(net::IpAddress::parse("203.0.113.5"), "MX.Example.org"));
  EXPECT_TRUE(list.matches(std::nullopt, "a.backup.example.net"));
  EXPECT_FALSE(list.matches(net::IpAddress::parse("203.0.113.5"), "[203.0.113.5]"));
  EXPECT_FALSE(list.matches(net::IpAddress::parse("203.0.113.5"), "evil.example"));
  EXPECT_FALSE(list.matches(std::nullopt, ""));
  EXPECT_FALSE(list.add("192.0.2.0/99", &error));
}

}  // namespace
}  // namespace authmilter::policy
