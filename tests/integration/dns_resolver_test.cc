// The DNS layer against a real DNS server on loopback (TestDnsServer): what each check
// will see (TXT joining, CNAME, the five outcomes), TCP fallback, EDNS0, the cache and
// coalescing on the wire, libspf2 and libopendkim resolving through it, authmilter-dns.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "authmilter/dkim/dns_bridge.h"
#include "authmilter/dns/caching_resolver.h"
#include "authmilter/dns/ldns_resolver.h"
#include "daemon_harness.h"
#include "spf_dns_bridge.h"
#include "test_dns_server.h"

#include "authmilter/dkim/opendkim.h"

extern "C" {
#include <spf2/spf.h>
}

namespace authmilter::dns {
namespace {

using testsupport::TestDnsServer;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// A 1024-bit RSA public key (public data; its private half was thrown away).
constexpr const char* kDkimKey =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCeJ01dAZcSCArXyhKCQBHcneLCV9jHiofdMg9xuZ1/G1+a7rz4PVInTy9cqQrnDYJxJFLXMDAG"
    "84Lpvq5hNa6Urf+4gRGvBfmmLf8QMMFVmkM+K7X24DluFComHdlTq0ZRIcEChRguydjesjEMrApPVCfqn5t3jOta1zoTuOH1+wIDAQAB";

std::string zone() {
  const std::string quarter(250, 'x');
  std::string z = R"(
$TTL 300
example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60
multi.example.test. IN TXT "v=spf1 " "ip4:192.0.2.0/24" " -all"
host.example.test. IN A 192.0.2.10
host.example.test. IN AAAA 2001:db8::10
example.test. IN MX 20 mx2.example.test.
example.test. IN MX 10 mx1.example.test.
10.2.0.192.in-addr.arpa. IN PTR host.example.test.
alias.example.test. 120 IN CNAME alias2.example.test.
alias2.example.test. 200 IN CNAME multi.example.test.
dangling.example.test. IN CNAME gone.example.test.
nodata.example.test. IN A 192.0.2.11
fail.example.test. IN TXT "never seen"
!servfail fail.example.test
drop.example.test. IN TXT "never seen"
!drop drop.example.test
tc.example.test. IN TXT "came over tcp"
!truncate tc.example.test
slow.example.test. IN TXT "late"
!delay 300 slow.example.test
spf.example.test. IN TXT "v=spf1 ip4:198.51.100.0/24 a:host.example.test -all"
sel._domainkey.example.test. IN TXT "v=DKIM1; k=rsa; p=)";
  z += kDkimKey;
  z += "\"\nslow._domainkey.example.test. IN TXT \"v=DKIM1; p=x\"\n!drop slow._domainkey.example.test\n";
  z += "big.example.test. IN TXT \"" + quarter + "\" \"" + quarter + "\" \"" + quarter + "\" \"" + quarter + "\"\n";
  return z;
}

class DnsResolverTest : public ::testing::Test {
 protected:
  ResolverOptions options(std::chrono::milliseconds timeout = 2000ms, unsigned tries = 2) const {
    ResolverOptions o;
    o.nameservers = {{"127.0.0.1", server_.port()}};
    o.timeout = timeout;
    o.tries = tries;
    return o;
  }
  TestDnsServer server_{zone()};
};

TEST_F(DnsResolverTest, TxtStringsAreJoinedWithNothingBetween) {
  LdnsResolver resolver(options());
  const auto a = resolver.lookup("multi.example.test", RrType::TXT);
  ASSERT_EQ(a.status, DnsStatus::Ok) << a.detail;
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_EQ(a.records[0].text, "v=spf1 ip4:192.0.2.0/24 -all");
  EXPECT_EQ(a.ttl, 300u);
  EXPECT_THAT(a.detail, HasSubstr("127.0.0.1:" + std::to_string(server_.port())));
}

TEST_F(DnsResolverTest, AddressMxAndPtrRecords) {
  LdnsResolver resolver(options());
  const auto a = resolver.lookup("HOST.Example.Test.", RrType::A);
  ASSERT_EQ(a.status, DnsStatus::Ok) << a.detail;
  EXPECT_EQ(a.records, (std::vector<DnsRecord>{{"192.0.2.10", 0}}));
  const auto aaaa = resolver.lookup("host.example.test", RrType::AAAA);
  EXPECT_EQ(aaaa.records, (std::vector<DnsRecord>{{"2001:db8::10", 0}}));
  auto mx = resolver.lookup("example.test", RrType::MX).records;
  std::sort(mx.begin(), mx.end(), [](const auto& x, const auto& y) { return x.preference < y.preference; });
  EXPECT_EQ(mx, (std::vector<DnsRecord>{{"mx1.example.test", 10}, {"mx2.example.test", 20}}));
  EXPECT_EQ(resolver.lookup("10.2.0.192.in-addr.arpa", RrType::PTR).records,
            (std::vector<DnsRecord>{{"host.example.test", 0}}));
}

TEST_F(DnsResolverTest, CnameChainIsFollowedAndTheSmallestTtlKept) {
  LdnsResolver resolver(options());
  const auto a = resolver.lookup("alias.example.test", RrType::TXT);
  ASSERT_EQ(a.status, DnsStatus::Ok) << a.detail;
  EXPECT_EQ(a.records[0].text, "v=spf1 ip4:192.0.2.0/24 -all");
  EXPECT_EQ(a.canonicalName, "multi.example.test");
  EXPECT_EQ(a.ttl, 120u);
  // A CNAME to a name that does not exist: NXDOMAIN for the chain (RFC 6604).
  const auto dangling = resolver.lookup("dangling.example.test", RrType::TXT);
  EXPECT_EQ(dangling.status, DnsStatus::NxDomain);
  EXPECT_EQ(dangling.canonicalName, "gone.example.test");
}

TEST_F(DnsResolverTest, NxDomainNoDataAndServFailAreTold) {
  LdnsResolver resolver(options());
  const auto nx = resolver.lookup("nothing.example.test", RrType::TXT);
  EXPECT_EQ(nx.status, DnsStatus::NxDomain);
  EXPECT_EQ(nx.ttl, 60u);  // RFC 2308: min(SOA TTL 3600, MINIMUM 60)
  const auto nodata = resolver.lookup("nodata.example.test", RrType::TXT);
  EXPECT_EQ(nodata.status, DnsStatus::NoData);
  EXPECT_EQ(nodata.ttl, 60u);
  // An empty non-terminal exists: NODATA, not NXDOMAIN.
  EXPECT_EQ(resolver.lookup("_domainkey.example.test", RrType::TXT).status, DnsStatus::NoData);
  // No SOA above the name: negative, but with no TTL to cache it for.
  const auto noSoa = resolver.lookup("nothing.invalid", RrType::TXT);
  EXPECT_EQ(noSoa.status, DnsStatus::NxDomain);
  EXPECT_EQ(noSoa.ttl, 0u);
  const auto fail = resolver.lookup("fail.example.test", RrType::TXT);
  EXPECT_EQ(fail.status, DnsStatus::ServFail);
  EXPECT_THAT(fail.detail, HasSubstr("SERVFAIL"));
  EXPECT_TRUE(isTemporary(fail.status));
}

TEST_F(DnsResolverTest, AnInvalidNameDoesNotExistAndIsNotSent) {
  LdnsResolver resolver(options());
  const auto a = resolver.lookup(std::string(64, 'a') + ".example.test", RrType::TXT);
  EXPECT_EQ(a.status, DnsStatus::NxDomain);
  EXPECT_THAT(a.detail, HasSubstr("not a valid domain name"));
  EXPECT_EQ(resolver.lookup("a..example.test", RrType::TXT).status, DnsStatus::NxDomain);
  EXPECT_EQ(server_.totalQueries(), 0u);
}

TEST_F(DnsResolverTest, ATimeoutIsTemporaryAndBoundedByTimeoutTimesTries) {
  LdnsResolver resolver(options(150ms, 3));
  const auto start = std::chrono::steady_clock::now();
  const auto a = resolver.lookup("drop.example.test", RrType::TXT);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(a.status, DnsStatus::Timeout);
  EXPECT_TRUE(isTemporary(a.status));
  EXPECT_THAT(a.detail, HasSubstr("no reply within 150 ms"));
  EXPECT_EQ(server_.queryCount("drop.example.test", "TXT"), 3u);
  EXPECT_GE(elapsed, 450ms);
  EXPECT_LT(elapsed, 450ms + 500ms);  // the bound, plus scheduling slack; never another round
}

TEST_F(DnsResolverTest, NextNameserverIsTriedWhenOneRefuses) {
  // A port nobody listens on: the kernel answers "port unreachable" at once.
  const int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sin), len), 0);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&sin), &len);
  const uint16_t deadPort = ntohs(sin.sin_port);
  ::close(s);
  auto o = options();
  o.nameservers.insert(o.nameservers.begin(), Nameserver{"127.0.0.1", deadPort});
  LdnsResolver resolver(o);
  const auto a = resolver.lookup("multi.example.test", RrType::TXT);
  ASSERT_EQ(a.status, DnsStatus::Ok) << a.detail;
  EXPECT_THAT(a.detail, HasSubstr(std::to_string(server_.port())));
  // Only the dead one: a failure that says which server and why.
  o.nameservers.resize(1);
  const auto dead = LdnsResolver(o).lookup("multi.example.test", RrType::TXT);
  EXPECT_EQ(dead.status, DnsStatus::ServFail);
  EXPECT_THAT(dead.detail, HasSubstr("127.0.0.1:" + std::to_string(deadPort)));
}

TEST_F(DnsResolverTest, TruncatedAnswerIsAskedAgainOverTcp) {
  LdnsResolver resolver(options());
  const auto a = resolver.lookup("tc.example.test", RrType::TXT);
  ASSERT_EQ(a.status, DnsStatus::Ok) << a.detail;
  EXPECT_EQ(a.records[0].text, "came over tcp");
  EXPECT_THAT(a.detail, HasSubstr("over TCP"));
  EXPECT_EQ(server_.queryCount("tc.example.test", "TXT"), 2u);
  EXPECT_EQ(server_.tcpQueryCount("tc.example.test", "TXT"), 1u);
}

TEST_F(DnsResolverTest, Edns0LetsALargeAnswerComeOverUdp) {
  LdnsResolver resolver(options());
  const auto a = resolver.lookup("big.example.test", RrType::TXT);
  ASSERT_EQ(a.status, DnsStatus::Ok) << a.detail;
  EXPECT_EQ(a.records[0].text, std::string(1000, 'x'));
  EXPECT_EQ(server_.tcpQueryCount("big.example.test", "TXT"), 0u);
  // Without EDNS0 the same answer does not fit in 512 octets: it comes over TCP.
  auto o = options();
  o.ednsSize = 0;
  EXPECT_EQ(LdnsResolver(o).lookup("big.example.test", RrType::TXT).records[0].text.size(), 1000u);
  EXPECT_EQ(server_.tcpQueryCount("big.example.test", "TXT"), 1u);
}

TEST_F(DnsResolverTest, Ipv6Nameserver) {
  ASSERT_TRUE(server_.hasIpv6()) << "this machine has no ::1";
  auto o = options();
  std::string why;
  o.nameservers = {*parseNameserver(server_.nameserver6(), &why)};
  const auto a = LdnsResolver(o).lookup("host.example.test", RrType::AAAA);
  ASSERT_EQ(a.status, DnsStatus::Ok) << a.detail;
  EXPECT_THAT(a.detail, HasSubstr("[::1]:"));
}

class CachedDnsTest : public DnsResolverTest {
 protected:
  std::shared_ptr<CachingResolver> cache(CacheOptions o = {}) {
    return std::make_shared<CachingResolver>(std::make_shared<LdnsResolver>(options()), o, [this] { return now_; });
  }
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
};

TEST_F(CachedDnsTest, RepeatedLookupIsAnsweredFromTheCacheUntilTheTtlRunsOut) {
  auto resolver = cache();
  EXPECT_FALSE(resolver->lookup("multi.example.test", RrType::TXT).fromCache);
  const auto cached = resolver->lookup("Multi.Example.Test.", RrType::TXT);
  EXPECT_TRUE(cached.fromCache);
  EXPECT_EQ(cached.records[0].text, "v=spf1 ip4:192.0.2.0/24 -all");
  EXPECT_EQ(server_.queryCount("multi.example.test", "TXT"), 1u);
  now_ += 300s;
  EXPECT_FALSE(resolver->lookup("multi.example.test", RrType::TXT).fromCache);
  EXPECT_EQ(server_.queryCount("multi.example.test", "TXT"), 2u);
}

TEST_F(CachedDnsTest, NegativeAnswersAreCachedForTheSoaMinimum) {
  auto resolver = cache();
  resolver->lookup("nothing.example.test", RrType::TXT);
  resolver->lookup("nodata.example.test", RrType::TXT);
  now_ += 59s;
  EXPECT_EQ(resolver->lookup("nothing.example.test", RrType::TXT).status, DnsStatus::NxDomain);
  EXPECT_EQ(resolver->lookup("nodata.example.test", RrType::TXT).status, DnsStatus::NoData);
  EXPECT_EQ(server_.queryCount("nothing.example.test", "TXT"), 1u);
  EXPECT_EQ(server_.queryCount("nodata.example.test", "TXT"), 1u);
  now_ += 1s;
  resolver->lookup("nothing.example.test", RrType::TXT);
  EXPECT_EQ(server_.queryCount("nothing.example.test", "TXT"), 2u);
}

TEST_F(CachedDnsTest, ServFailIsAskedAgain) {
  auto resolver = cache();
  resolver->lookup("fail.example.test", RrType::TXT);
  const auto before = server_.queryCount("fail.example.test", "TXT");
  EXPECT_EQ(resolver->lookup("fail.example.test", RrType::TXT).status, DnsStatus::ServFail);
  EXPECT_GT(server_.queryCount("fail.example.test", "TXT"), before);
}

TEST_F(CachedDnsTest, ConcurrentIdenticalLookupsPutOneQueryOnTheWire) {
  auto resolver = cache();
  constexpr int kThreads = 8;
  std::vector<DnsAnswer> answers(kThreads);
  std::vector<std::thread> threads;
  // slow.example.test is answered after 300 ms, so all eight ask while the first waits.
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { answers[i] = resolver->lookup("slow.example.test", RrType::TXT); });
  }
  for (auto& t : threads) t.join();
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, DnsStatus::Ok) << a.detail;
    EXPECT_EQ(a.records[0].text, "late");
  }
  EXPECT_EQ(server_.queryCount("slow.example.test", "TXT"), 1u);
  const auto stats = resolver->stats();
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.coalesced + stats.hits, static_cast<uint64_t>(kThreads - 1));
}

TEST_F(CachedDnsTest, CacheStaysWithinItsBound) {
  auto resolver = cache({.maxEntries = 3, .maxTtl = 3600});
  for (const char* name : {"multi", "host", "nodata", "alias", "big"}) {
    resolver->lookup(std::string(name) + ".example.test", RrType::TXT);
  }
  EXPECT_EQ(resolver->stats().entries, 3u);
  resolver->lookup("multi.example.test", RrType::TXT);  // the oldest: gone, asked again
  EXPECT_EQ(server_.queryCount("multi.example.test", "TXT"), 2u);
}

// libspf2 through our layer: the server sees its queries, and the second evaluation is
// answered from the cache.
TEST_F(CachedDnsTest, Libspf2ResolvesThroughTheSharedResolver) {
  auto resolver = cache();
  testsupport::SpfDnsBridge bridge(resolver);
  SPF_server_t* spf = SPF_server_new_dns(bridge.server(), 0);
  ASSERT_NE(spf, nullptr);
  for (int round = 0; round < 2; ++round) {
    SPF_request_t* request = SPF_request_new(spf);
    ASSERT_EQ(SPF_request_set_ipv4_str(request, "192.0.2.10"), SPF_E_SUCCESS);
    ASSERT_EQ(SPF_request_set_helo_dom(request, "host.example.test"), SPF_E_SUCCESS);
    ASSERT_EQ(SPF_request_set_env_from(request, "user@spf.example.test"), SPF_E_SUCCESS);
    SPF_response_t* response = nullptr;
    SPF_request_query_mailfrom(request, &response);
    ASSERT_NE(response, nullptr);
    EXPECT_EQ(SPF_response_result(response), SPF_RESULT_PASS) << "round " << round;  // via a:host.example.test
    SPF_response_free(response);
    SPF_request_free(request);
  }
  SPF_server_free(spf);
  EXPECT_EQ(server_.queryCount("spf.example.test", "TXT"), 1u);
  EXPECT_EQ(server_.queryCount("host.example.test", "A"), 1u);
  // RFC 7208 §4.4: TXT only, no type SPF (99) query; and nothing else went on the wire.
  EXPECT_EQ(server_.queryCount("spf.example.test", "SPF"), 0u);
  EXPECT_EQ(server_.totalQueries(), 2u);
  EXPECT_GE(resolver->stats().hits, 2u);
}

TEST_F(CachedDnsTest, Libspf2SeesATimeoutAsTemperror) {
  TestDnsServer dropAll("spf.example.test. IN TXT \"v=spf1 -all\"\n!drop spf.example.test\n");
  ResolverOptions o;
  o.nameservers = {{"127.0.0.1", dropAll.port()}};
  o.timeout = 100ms;
  o.tries = 1;
  testsupport::SpfDnsBridge bridge(std::make_shared<LdnsResolver>(o));
  SPF_server_t* spf = SPF_server_new_dns(bridge.server(), 0);
  SPF_request_t* request = SPF_request_new(spf);
  SPF_request_set_ipv4_str(request, "192.0.2.10");
  SPF_request_set_env_from(request, "user@spf.example.test");
  SPF_response_t* response = nullptr;
  // libspf2 reports "(invalid)" as the result; only its return code says DNS failure.
  // The SPF stage maps that to temperror (RFC 7208 §2.6.6).
  EXPECT_EQ(SPF_request_query_mailfrom(request, &response), SPF_E_DNS_ERROR);
  ASSERT_NE(response, nullptr);
  EXPECT_NE(SPF_response_result(response), SPF_RESULT_PASS);
  SPF_response_free(response);
  SPF_request_free(request);
  SPF_server_free(spf);
}

// libopendkim through our layer: a key fetch shows on the server once, and again from
// the cache; a key that does not exist and a timeout are told apart.
TEST_F(CachedDnsTest, LibopendkimFetchesKeysThroughTheSharedResolver) {
  auto resolver = cache();
  DKIM_LIB* lib = dkim_init(nullptr, nullptr);
  ASSERT_NE(lib, nullptr);
  dkim::installDkimDns(lib, *resolver);
  char error[256] = {};
  int dnssec = 0;
  char selector[] = "sel";
  char domain[] = "example.test";
  EXPECT_EQ(dkim_test_key(lib, selector, domain, nullptr, 0, &dnssec, error, sizeof error), 0) << error;
  EXPECT_EQ(dkim_test_key(lib, selector, domain, nullptr, 0, &dnssec, error, sizeof error), 0) << error;
  EXPECT_EQ(server_.queryCount("sel._domainkey.example.test", "TXT"), 1u);

  char missing[] = "missing";
  EXPECT_NE(dkim_test_key(lib, missing, domain, nullptr, 0, &dnssec, error, sizeof error), 0);
  const std::string noKey = error;
  dkim_close(lib);

  // A key server that never answers: a different error (temporary), not "no key".
  auto slow = std::make_shared<CachingResolver>(
      std::make_shared<LdnsResolver>(options(100ms, 1)), CacheOptions{});
  lib = dkim_init(nullptr, nullptr);
  dkim::installDkimDns(lib, *slow);
  char slowSelector[] = "slow";
  EXPECT_NE(dkim_test_key(lib, slowSelector, domain, nullptr, 0, &dnssec, error, sizeof error), 0);
  EXPECT_NE(std::string(error), noKey);
  EXPECT_THAT(std::string(error), HasSubstr("timed out"));
  dkim_close(lib);
}

TEST_F(DnsResolverTest, AuthmilterDnsPrintsWhatTheChecksSee) {
  const std::string ns = "127.0.0.1:" + std::to_string(server_.port());
  auto [status, out] = testsupport::runAuthmilterDns({"--nameserver", ns, "alias.example.test", "TXT"});
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("status: ok"));
  EXPECT_THAT(out, HasSubstr("TXT \"v=spf1 ip4:192.0.2.0/24 -all\""));
  EXPECT_THAT(out, HasSubstr("canonical name: multi.example.test"));

  std::tie(status, out) = testsupport::runAuthmilterDns({"--nameserver", ns, "nothing.example.test", "TXT"});
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr("status: nxdomain"));

  testsupport::TempDir dir;
  const auto conf = dir.write("authmilter.conf", "Nameservers " + ns + "\nDNSTimeout 100ms\nDNSRetries 1\n");
  std::tie(status, out) = testsupport::runAuthmilterDns({"-c", conf, "drop.example.test", "TXT"});
  EXPECT_EQ(status, 1) << out;
  EXPECT_THAT(out, HasSubstr("status: timeout"));
  EXPECT_THAT(out, HasSubstr("no reply within 100 ms"));

  std::tie(status, out) = testsupport::runAuthmilterDns({"example.test", "BOGUS"});
  EXPECT_EQ(status, 2) << out;
  EXPECT_THAT(out, HasSubstr("unknown record type 'BOGUS'"));
}

}  // namespace
}  // namespace authmilter::dns
