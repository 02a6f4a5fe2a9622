// CIDR parsing and matching: IPv4, IPv6, IPv4-mapped clients, bad entries.
#include "authmilter/net/cidr_set.h"

#include <gtest/gtest.h>

namespace authmilter::net {
namespace {

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

CidrSet setOf(std::initializer_list<const char*> entries) {
  CidrSet set;
  for (const char* e : entries) {
    std::string error;
    auto cidr = Cidr::parse(e, &error);
    EXPECT_TRUE(cidr.has_value()) << e << ": " << error;
    if (cidr) set.add(*cidr);
  }
  return set;
}

TEST(IpAddressTest, ParsesAndUnmaps) {
  EXPECT_EQ(ip("192.0.2.1").family(), IpAddress::Family::V4);
  EXPECT_EQ(ip("2001:db8::1").family(), IpAddress::Family::V6);
  EXPECT_EQ(ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
  EXPECT_EQ(ip("[192.0.2.1]"), ip("192.0.2.1"));
  EXPECT_EQ(ip("[IPv6:2001:db8::1]"), ip("2001:db8::1"));
  EXPECT_EQ(ip("2001:DB8::1").toString(), "2001:db8::1");
  for (const char* bad : {"", "192.0.2", "192.0.2.256", "1.2.3.4.5", "host.example", "2001:db8:::1", "[1.2.3.4"}) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
  }
}

TEST(CidrSetTest, MatchesIpv4Networks) {
  const auto set = setOf({"192.0.2.0/24", "198.51.100.7", "10.0.0.0/8"});
  EXPECT_TRUE(set.contains(ip("192.0.2.0")));
  EXPECT_TRUE(set.contains(ip("192.0.2.255")));
  EXPECT_FALSE(set.contains(ip("192.0.3.0")));
  EXPECT_TRUE(set.contains(ip("198.51.100.7")));
  EXPECT_FALSE(set.contains(ip("198.51.100.8")));
  EXPECT_TRUE(set.contains(ip("10.255.0.1")));
  EXPECT_FALSE(set.contains(ip("11.0.0.1")));
}

TEST(CidrSetTest, MatchesIpv6Networks) {
  const auto set = setOf({"2001:db8::/32", "::1", "2001:db8:ffff::/127"});
  EXPECT_TRUE(set.contains(ip("2001:db8:1::5")));
  EXPECT_FALSE(set.contains(ip("2001:db9::1")));
  EXPECT_TRUE(set.contains(ip("::1")));
  EXPECT_FALSE(set.contains(ip("::2")));
}

TEST(CidrSetTest, Ipv4MappedClientMatchesIpv4Entry) {
  const auto set = setOf({"192.0.2.0/24"});
  EXPECT_TRUE(set.contains(ip("::ffff:192.0.2.9")));
  EXPECT_FALSE(set.contains(ip("::ffff:192.0.3.9")));
  // An IPv4 client never matches an IPv6 network and vice versa.
  EXPECT_FALSE(setOf({"::/0"}).contains(ip("192.0.2.1")));
  EXPECT_FALSE(setOf({"0.0.0.0/0"}).contains(ip("2001:db8::1")));
}

TEST(CidrSetTest, MappedNetworkEntryIsTheIpv4Network) {
  const auto set = setOf({"::ffff:192.0.2.0/120"});
  EXPECT_TRUE(set.contains(ip("192.0.2.77")));
  EXPECT_FALSE(set.contains(ip("192.0.3.77")));
}

TEST(CidrSetTest, ZeroPrefixMatchesEverythingOfItsFamily) {
  EXPECT_TRUE(setOf({"0.0.0.0/0"}).contains(ip("203.0.113.1")));
  EXPECT_TRUE(setOf({"::/0"}).contains(ip("2001:db8::1")));
}

TEST(CidrSetTest, RejectsBadEntries) {
  for (const char* bad : {"192.0.2.0/33", "2001:db8::/129", "192.0.2.0/", "192.0.2.0/24x", "192.0.2.0/-1",
                          "192.0.2.1/24", "example.org", "300.1.1.1", "::ffff:1.2.3.0/64", "[192.0.2.1]"}) {
    std::string error;
    EXPECT_FALSE(Cidr::parse(bad, &error).has_value()) << bad;
    EXPECT_NE(error.find(bad), std::string::npos) << "error names the entry: " << error;
  }
}

}  // namespace
}  // namespace authmilter::net
