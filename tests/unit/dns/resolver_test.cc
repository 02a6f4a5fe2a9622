// Nameserver addresses, resolv.conf, record type names, and the wire form handed to
// libopendkim (parsed back with ldns).
#include "authmilter/dns/resolver.h"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include "authmilter/dkim/dns_bridge.h"
#include "temp_dir.h"

namespace authmilter::dns {
namespace {

TEST(NameserverTest, ParsesEveryForm) {
  std::string why;
  EXPECT_EQ(parseNameserver("192.0.2.1", &why), (Nameserver{"192.0.2.1", 53}));
  EXPECT_EQ(parseNameserver("127.0.0.1:5353", &why), (Nameserver{"127.0.0.1", 5353}));
  EXPECT_EQ(parseNameserver("2001:db8::1", &why), (Nameserver{"2001:db8::1", 53}));
  EXPECT_EQ(parseNameserver("[::1]:5353", &why), (Nameserver{"::1", 5353}));
  EXPECT_EQ(parseNameserver("[::1]", &why), (Nameserver{"::1", 53}));
  EXPECT_EQ(Nameserver({"::1", 5353}).text(), "[::1]:5353");
  EXPECT_EQ(Nameserver({"127.0.0.1", 53}).text(), "127.0.0.1:53");
}

TEST(NameserverTest, RefusesWhatIsNotANumericAddressAndPort) {
  for (const char* bad : {"dns.example.com", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:53x",
                          "[::1", "[::1]5353", "[::1]:", "300.1.1.1", ""}) {
    std::string why;
    EXPECT_FALSE(parseNameserver(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(NameserverTest, ReadsResolvConf) {
  testsupport::TempDir dir;
  const auto path = dir.write("resolv.conf",
                              "# comment\nsearch example.com\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"
                              "nameserver fe80::1%eth0\noptions timeout:1\n");
  std::string why;
  const auto list = nameserversFromResolvConf(path, &why);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0], (Nameserver{"192.0.2.53", 53}));
  EXPECT_EQ(list[1], (Nameserver{"2001:db8::53", 53}));
  EXPECT_TRUE(nameserversFromResolvConf(dir.write("empty.conf", "search x\n"), &why).empty());
  EXPECT_NE(why.find("no usable nameserver"), std::string::npos);
}

TEST(RrTypeTest, NamesBothWays) {
  EXPECT_EQ(parseRrType("txt"), RrType::TXT);
  EXPECT_EQ(parseRrType("AAAA"), RrType::AAAA);
  EXPECT_EQ(parseRrType("TYPE99"), RrType::SPF);
  EXPECT_EQ(rrTypeName(RrType::MX), "MX");
  EXPECT_EQ(rrTypeName(static_cast<RrType>(257)), "TYPE257");
  EXPECT_FALSE(parseRrType("TYPE0"));
  EXPECT_FALSE(parseRrType("bogus"));
  EXPECT_EQ(canonicalName("Example.COM."), "example.com");
}

// Parses `wire` with ldns and returns (rcode, the TXT rdata strings of the answer's RRs).
std::pair<ldns_pkt_rcode, std::vector<std::vector<std::string>>> parseWire(const std::vector<uint8_t>& wire) {
  ldns_pkt* pkt = nullptr;
  EXPECT_EQ(ldns_wire2pkt(&pkt, wire.data(), wire.size()), LDNS_STATUS_OK);
  std::vector<std::vector<std::string>> rrs;
  const ldns_rr_list* answer = ldns_pkt_answer(pkt);
  for (size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
    std::vector<std::string> strings;
    const ldns_rr* rr = ldns_rr_list_rr(answer, i);
    for (size_t j = 0; j < ldns_rr_rd_count(rr); ++j) {
      const ldns_rdf* rdf = ldns_rr_rdf(rr, j);
      strings.emplace_back(reinterpret_cast<const char*>(ldns_rdf_data(rdf)) + 1, ldns_rdf_data(rdf)[0]);
    }
    rrs.push_back(strings);
  }
  const auto rcode = ldns_pkt_get_rcode(pkt);
  ldns_pkt_free(pkt);
  return {rcode, rrs};
}

TEST(AnswerToWireTest, LongTxtIsCutInto255OctetStrings) {
  DnsAnswer answer;
  answer.status = DnsStatus::Ok;
  answer.ttl = 300;
  const std::string key = "v=DKIM1; k=rsa; p=" + std::string(600, 'A');
  answer.records.push_back({key, 0});
  answer.records.push_back({"", 0});
  const auto [rcode, rrs] = parseWire(dkim::answerToWire("sel._domainkey.example.com", RrType::TXT, answer));
  EXPECT_EQ(rcode, LDNS_RCODE_NOERROR);
  ASSERT_EQ(rrs.size(), 2u);
  ASSERT_EQ(rrs[0].size(), 3u);
  EXPECT_EQ(rrs[0][0].size(), 255u);
  EXPECT_EQ(rrs[0][0] + rrs[0][1] + rrs[0][2], key);
  EXPECT_EQ(rrs[1], std::vector<std::string>{""});
}

TEST(AnswerToWireTest, StatusesBecomeRcodes) {
  DnsAnswer nx;
  nx.status = DnsStatus::NxDomain;
  EXPECT_EQ(parseWire(dkim::answerToWire("a.example", RrType::TXT, nx)).first, LDNS_RCODE_NXDOMAIN);
  DnsAnswer nodata;
  nodata.status = DnsStatus::NoData;
  const auto [rcode, rrs] = parseWire(dkim::answerToWire("a.example", RrType::TXT, nodata));
  EXPECT_EQ(rcode, LDNS_RCODE_NOERROR);
  EXPECT_TRUE(rrs.empty());
  DnsAnswer fail;
  fail.status = DnsStatus::ServFail;
  EXPECT_EQ(parseWire(dkim::answerToWire("a.example", RrType::TXT, fail)).first, LDNS_RCODE_SERVFAIL);
}

}  // namespace
}  // namespace authmilter::dns
