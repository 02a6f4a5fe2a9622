// The test DNS server itself, queried on loopback with ldns as the client: answers, negative
// answers with the SOA, CNAME chains, EDNS and truncation, the misbehaviour directives, the
// counters, zone replacement, IPv6, and a prompt stop with work still pending.
#include <arpa/inet.h>
// Before ldns: without it, ldns/common.h defines `false` and `true` as macros.
#include <stdbool.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "daemon_harness.h"
#include "test_dns_server.h"

namespace authmilter::testsupport {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

struct PktFree {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;

constexpr const char* kSoa =
    "example.test. SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60\n";

struct QueryOptions {
  bool tcp = false;
  bool ipv6 = false;
  std::optional<uint16_t> edns;  // advertised UDP size; none: no OPT record
  bool rd = true;
  std::chrono::milliseconds timeout = 2s;
};

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket& operator=(Socket&&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_storage serverAddress(const TestDnsServer& server, bool ipv6, socklen_t& len) {
  sockaddr_storage addr{};
  if (ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(server.port());
    in6->sin6_addr = in6addr_loopback;
    len = sizeof(sockaddr_in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(server.port());
    in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sockaddr_in);
  }
  return addr;
}

uint16_t nextId() {
  static std::atomic<uint16_t> id{0x4000};
  return id++;
}

Bytes queryWire(const std::string& name, ldns_rr_type type, const QueryOptions& options, uint16_t id) {
  PktPtr query(ldns_pkt_query_new(ldns_dname_new_frm_str(name.c_str()), type, LDNS_RR_CLASS_IN,
                                  options.rd ? LDNS_RD : 0));
  if (!query) throw std::runtime_error("cannot build a query for " + name);
  ldns_pkt_set_id(query.get(), id);
  if (options.edns) ldns_pkt_set_edns_udp_size(query.get(), *options.edns);
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, query.get(), &size) != LDNS_STATUS_OK) throw std::runtime_error("pkt2wire");
  Bytes result(wire, wire + size);
  free(wire);
  return result;
}

// Sends `message` as it is (UDP or TCP, through ldns) and returns the raw reply, if any.
std::optional<Bytes> exchangeRaw(const TestDnsServer& server, const Bytes& message, const QueryOptions& options) {
  socklen_t len = 0;
  const sockaddr_storage to = serverAddress(server, options.ipv6, len);
  ldns_buffer* qbin = ldns_buffer_new(message.size());
  ldns_buffer_write(qbin, message.data(), message.size());  // ldns sends up to the position
  const auto ms = options.timeout.count();
  const timeval timeout{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  uint8_t* answer = nullptr;
  size_t answerSize = 0;
  const ldns_status status = options.tcp ? ldns_tcp_send(&answer, qbin, &to, len, timeout, &answerSize)
                                         : ldns_udp_send(&answer, qbin, &to, len, timeout, &answerSize);
  ldns_buffer_free(qbin);
  if (status != LDNS_STATUS_OK || answer == nullptr) {
    free(answer);
    return std::nullopt;
  }
  Bytes result(answer, answer + answerSize);
  free(answer);
  return result;
}

// One query; the parsed reply, or null when none came within the timeout.
PktPtr exchange(const TestDnsServer& server, const std::string& name, ldns_rr_type type,
                const QueryOptions& options = {}) {
  const uint16_t id = nextId();
  const auto reply = exchangeRaw(server, queryWire(name, type, options, id), options);
  if (!reply) return nullptr;
  ldns_pkt* parsed = nullptr;
  if (ldns_wire2pkt(&parsed, reply->data(), reply->size()) != LDNS_STATUS_OK) {
    ADD_FAILURE() << "unparsable reply";
    return nullptr;
  }
  PktPtr pkt(parsed);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), id);
  return pkt;
}

// "owner ttl IN TYPE rdata" with single spaces.
std::string rrText(const ldns_rr* rr) {
  char* text = ldns_rr2str(rr);
  std::string s = text ? text : "";
  free(text);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  for (char& c : s) {
    if (c == '\t') c = ' ';
  }
  return s;
}

std::vector<std::string> section(const ldns_pkt* pkt, ldns_pkt_section which) {
  const ldns_rr_list* list = nullptr;
  switch (which) {
    case LDNS_SECTION_ANSWER:
      list = ldns_pkt_answer(pkt);
      break;
    case LDNS_SECTION_AUTHORITY:
      list = ldns_pkt_authority(pkt);
      break;
    case LDNS_SECTION_ADDITIONAL:
      list = ldns_pkt_additional(pkt);
      break;
    default:
      list = ldns_pkt_question(pkt);
      break;
  }
  std::vector<std::string> result;
  for (size_t i = 0; list && i < ldns_rr_list_rr_count(list); ++i) result.push_back(rrText(ldns_rr_list_rr(list, i)));
  return result;
}

std::vector<std::string> answers(const ldns_pkt* pkt) { return section(pkt, LDNS_SECTION_ANSWER); }

// Name compression makes an owner name take the case of an earlier occurrence of the name
// (the question's), so comparisons that mix cases go through this.
std::vector<std::string> lowered(std::vector<std::string> texts) {
  for (auto& text : texts) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return texts;
}
std::vector<std::string> authority(const ldns_pkt* pkt) { return section(pkt, LDNS_SECTION_AUTHORITY); }

const std::string kSoaText =
    "example.test. 300 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60";

// A TCP connection to the server, for what ldns_tcp_send cannot do (several queries on one
// connection, a query left unanswered).
Socket connectTcp(const TestDnsServer& server) {
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  socklen_t len = 0;
  const sockaddr_storage to = serverAddress(server, false, len);
  if (s.get() < 0 || ::connect(s.get(), reinterpret_cast<const sockaddr*>(&to), len) != 0) {
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  }
  return s;
}

void sendAll(int fd, const Bytes& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed");
    sent += static_cast<size_t>(n);
  }
}

Bytes framed(const Bytes& message) {
  Bytes out{static_cast<uint8_t>(message.size() >> 8), static_cast<uint8_t>(message.size() & 0xff)};
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

// Reads exactly `n` bytes; nullopt on EOF or timeout.
std::optional<Bytes> readExactly(int fd, size_t n, std::chrono::milliseconds timeout) {
  Bytes data;
  const auto deadline = Clock::now() + timeout;
  while (data.size() < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
    uint8_t buf[4096];
    const ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - data.size()), 0);
    if (got <= 0) return std::nullopt;
    data.insert(data.end(), buf, buf + got);
  }
  return data;
}

PktPtr readFramedReply(int fd) {
  const auto prefix = readExactly(fd, 2, 2s);
  if (!prefix) return nullptr;
  const auto body = readExactly(fd, (static_cast<size_t>((*prefix)[0]) << 8) | (*prefix)[1], 2s);
  if (!body) return nullptr;
  ldns_pkt* parsed = nullptr;
  if (ldns_wire2pkt(&parsed, body->data(), body->size()) != LDNS_STATUS_OK) return nullptr;
  return PktPtr(parsed);
}

// A TXT record of about 1000 bytes in four strings.
std::string bigTxtZone() {
  std::string zone = "big.example.test. TXT";
  for (char c : {'a', 'b', 'c', 'd'}) zone += " \"" + std::string(250, c) + "\"";
  return zone + "\n";
}

// ------------------------------------------------------------------------------------------

TEST(TestDnsServer, AnswersAAndMultiStringTxtThroughLdnsResolver) {
  TestDnsServer server(
      "host.example.test. 600 A 192.0.2.1\n"
      "host.example.test. A 192.0.2.2\n"
      "host.example.test. TXT \"v=spf1 \" \"-all\"\n");
  EXPECT_EQ(server.nameserver4(), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(server.nameserver6(), "[::1]:" + std::to_string(server.port()));

  ldns_resolver* res = ldns_resolver_new();
  ldns_rdf* ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "127.0.0.1");
  ASSERT_EQ(ldns_resolver_push_nameserver(res, ns), LDNS_STATUS_OK);
  ldns_rdf_deep_free(ns);
  ldns_resolver_set_port(res, server.port());
  ldns_resolver_set_retry(res, 1);
  ldns_resolver_set_timeout(res, timeval{2, 0});
  ldns_rdf* name = ldns_dname_new_frm_str("host.example.test.");

  PktPtr a(ldns_resolver_query(res, name, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD));
  ASSERT_TRUE(a);
  EXPECT_EQ(ldns_pkt_get_rcode(a.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(answers(a.get()), (std::vector<std::string>{"host.example.test. 600 IN A 192.0.2.1",
                                                         "host.example.test. 300 IN A 192.0.2.2"}));

  PktPtr txt(ldns_resolver_query(res, name, LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, LDNS_RD));
  ASSERT_TRUE(txt);
  ASSERT_EQ(ldns_pkt_ancount(txt.get()), 1);
  const ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(txt.get()), 0);
  ASSERT_EQ(ldns_rr_rd_count(rr), 2u);
  char* first = ldns_rdf2str(ldns_rr_rdf(rr, 0));
  char* second = ldns_rdf2str(ldns_rr_rdf(rr, 1));
  EXPECT_STREQ(first, "\"v=spf1 \"");
  EXPECT_STREQ(second, "\"-all\"");
  free(first);
  free(second);

  ldns_rdf_deep_free(name);
  ldns_resolver_deep_free(res);
}

TEST(TestDnsServer, ReplyHeaderAndCaseInsensitiveNames) {
  TestDnsServer server("Host.Example.Test. A 192.0.2.1\n");
  QueryOptions noRd;
  noRd.rd = false;
  PktPtr reply = exchange(server, "hOST.example.TEST.", LDNS_RR_TYPE_A, noRd);
  ASSERT_TRUE(reply);
  EXPECT_TRUE(ldns_pkt_qr(reply.get()));
  EXPECT_TRUE(ldns_pkt_aa(reply.get()));
  EXPECT_TRUE(ldns_pkt_ra(reply.get()));
  EXPECT_FALSE(ldns_pkt_rd(reply.get()));
  EXPECT_FALSE(ldns_pkt_tc(reply.get()));
  EXPECT_EQ(section(reply.get(), LDNS_SECTION_QUESTION), std::vector<std::string>{"hOST.example.TEST. IN A"});
  EXPECT_EQ(lowered(answers(reply.get())), lowered({"host.example.test. 300 IN A 192.0.2.1"}));
  EXPECT_FALSE(ldns_pkt_edns(reply.get()));  // no OPT asked, none given

  reply = exchange(server, "host.example.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(reply);
  EXPECT_TRUE(ldns_pkt_rd(reply.get()));
}

TEST(TestDnsServer, NxdomainNodataAndEmptyNonTerminalCarryTheSoa) {
  TestDnsServer server(std::string(kSoa) +
                       "a.example.test. A 192.0.2.1\n"
                       "x.deep.example.test. TXT \"deep\"\n"
                       "other.invalid. A 192.0.2.9\n");
  PktPtr nodata = exchange(server, "a.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(nodata);
  EXPECT_EQ(ldns_pkt_get_rcode(nodata.get()), LDNS_RCODE_NOERROR);
  EXPECT_TRUE(answers(nodata.get()).empty());
  EXPECT_EQ(authority(nodata.get()), std::vector<std::string>{kSoaText});

  PktPtr ent = exchange(server, "deep.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(ent);
  EXPECT_EQ(ldns_pkt_get_rcode(ent.get()), LDNS_RCODE_NOERROR);
  EXPECT_TRUE(answers(ent.get()).empty());
  EXPECT_EQ(authority(ent.get()), std::vector<std::string>{kSoaText});

  PktPtr nx = exchange(server, "missing.deep.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(nx);
  EXPECT_EQ(ldns_pkt_get_rcode(nx.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_TRUE(answers(nx.get()).empty());
  EXPECT_EQ(authority(nx.get()), std::vector<std::string>{kSoaText});

  // Outside every SOA: negative answers without authority.
  PktPtr outside = exchange(server, "nothing.invalid.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(outside);
  EXPECT_EQ(ldns_pkt_get_rcode(outside.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_TRUE(authority(outside.get()).empty());
  PktPtr outsideNodata = exchange(server, "other.invalid.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(outsideNodata);
  EXPECT_EQ(ldns_pkt_get_rcode(outsideNodata.get()), LDNS_RCODE_NOERROR);
  EXPECT_TRUE(authority(outsideNodata.get()).empty());
}

TEST(TestDnsServer, ClosestEnclosingSoaIsChosen) {
  TestDnsServer server(std::string(kSoa) +
                       "sub.example.test. SOA ns.sub.example.test. h.sub.example.test. 7 1 1 1 30\n");
  PktPtr reply = exchange(server, "x.sub.example.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(reply);
  EXPECT_EQ(ldns_pkt_get_rcode(reply.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(authority(reply.get()),
            std::vector<std::string>{"sub.example.test. 300 IN SOA ns.sub.example.test. h.sub.example.test. 7 1 1 1 30"});
}

TEST(TestDnsServer, FollowsCnameChains) {
  TestDnsServer server(std::string(kSoa) +
                       "a.example.test. CNAME b.example.test.\n"
                       "b.example.test. 60 CNAME C.example.test.\n"
                       "c.example.test. TXT \"end\"\n"
                       "dangling.example.test. CNAME gone.example.test.\n"
                       "loop1.example.test. CNAME loop2.example.test.\n"
                       "loop2.example.test. CNAME loop1.example.test.\n");
  PktPtr chain = exchange(server, "a.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(chain);
  EXPECT_EQ(ldns_pkt_get_rcode(chain.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(lowered(answers(chain.get())), lowered({"a.example.test. 300 IN CNAME b.example.test.",
                                                   "b.example.test. 60 IN CNAME c.example.test.",
                                                   "c.example.test. 300 IN TXT \"end\""}));
  EXPECT_TRUE(authority(chain.get()).empty());

  // The chain ends in a name with no A: NODATA for the final name, SOA in authority.
  PktPtr nodata = exchange(server, "a.example.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(nodata);
  EXPECT_EQ(ldns_pkt_get_rcode(nodata.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(answers(nodata.get()).size(), 2u);
  EXPECT_EQ(authority(nodata.get()), std::vector<std::string>{kSoaText});

  PktPtr dangling = exchange(server, "dangling.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(dangling);
  EXPECT_EQ(ldns_pkt_get_rcode(dangling.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(answers(dangling.get()),
            std::vector<std::string>{"dangling.example.test. 300 IN CNAME gone.example.test."});
  EXPECT_EQ(authority(dangling.get()), std::vector<std::string>{kSoaText});

  // Asking for the CNAME itself does not follow it.
  PktPtr cname = exchange(server, "a.example.test.", LDNS_RR_TYPE_CNAME);
  ASSERT_TRUE(cname);
  EXPECT_EQ(answers(cname.get()), std::vector<std::string>{"a.example.test. 300 IN CNAME b.example.test."});

  // A loop is answered (with the loop) rather than followed for ever.
  PktPtr loop = exchange(server, "loop1.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(loop);
  EXPECT_EQ(answers(loop.get()).size(), 2u);
}

TEST(TestDnsServer, CnameChainsStopAfterTenHops) {
  std::string zone;
  for (int i = 0; i < 15; ++i) {
    zone += "c" + std::to_string(i) + ".example.test. CNAME c" + std::to_string(i + 1) + ".example.test.\n";
  }
  TestDnsServer server(zone);
  PktPtr reply = exchange(server, "c0.example.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(reply);
  EXPECT_EQ(answers(reply.get()).size(), 10u);
}

TEST(TestDnsServer, ServfailDirective) {
  TestDnsServer server(
      "h.example.test. A 192.0.2.1\n"
      "h.example.test. TXT \"t\"\n"
      "!servfail H.Example.Test TXT\n"
      "!servfail all.example.test\n");
  PktPtr txt = exchange(server, "h.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(txt);
  EXPECT_EQ(ldns_pkt_get_rcode(txt.get()), LDNS_RCODE_SERVFAIL);
  EXPECT_TRUE(answers(txt.get()).empty());
  PktPtr a = exchange(server, "h.example.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(a);
  EXPECT_EQ(ldns_pkt_get_rcode(a.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(answers(a.get()).size(), 1u);
  PktPtr all = exchange(server, "all.example.test.", LDNS_RR_TYPE_MX);
  ASSERT_TRUE(all);
  EXPECT_EQ(ldns_pkt_get_rcode(all.get()), LDNS_RCODE_SERVFAIL);
}

TEST(TestDnsServer, TruncateDirectiveSendsTcOverUdpAndDataOverTcp) {
  TestDnsServer server("t.example.test. TXT \"small\"\n!truncate t.example.test. TXT\n");
  QueryOptions udp;
  udp.edns = 4096;
  PktPtr viaUdp = exchange(server, "t.example.test.", LDNS_RR_TYPE_TXT, udp);
  ASSERT_TRUE(viaUdp);
  EXPECT_TRUE(ldns_pkt_tc(viaUdp.get()));
  EXPECT_TRUE(answers(viaUdp.get()).empty());

  QueryOptions tcp;
  tcp.tcp = true;
  PktPtr viaTcp = exchange(server, "t.example.test.", LDNS_RR_TYPE_TXT, tcp);
  ASSERT_TRUE(viaTcp);
  EXPECT_FALSE(ldns_pkt_tc(viaTcp.get()));
  EXPECT_EQ(answers(viaTcp.get()), std::vector<std::string>{"t.example.test. 300 IN TXT \"small\""});
}

TEST(TestDnsServer, LargeAnswerTruncatedWithoutEdnsButNotWithIt) {
  TestDnsServer server(bigTxtZone());
  PktPtr plain = exchange(server, "big.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(plain);
  EXPECT_TRUE(ldns_pkt_tc(plain.get()));
  EXPECT_EQ(ldns_pkt_ancount(plain.get()), 0);
  EXPECT_FALSE(ldns_pkt_edns(plain.get()));

  QueryOptions small;
  small.edns = 800;
  PktPtr tooSmall = exchange(server, "big.example.test.", LDNS_RR_TYPE_TXT, small);
  ASSERT_TRUE(tooSmall);
  EXPECT_TRUE(ldns_pkt_tc(tooSmall.get()));
  EXPECT_EQ(ldns_pkt_ancount(tooSmall.get()), 0);
  EXPECT_TRUE(ldns_pkt_edns(tooSmall.get()));

  QueryOptions edns;
  edns.edns = 1232;
  PktPtr full = exchange(server, "big.example.test.", LDNS_RR_TYPE_TXT, edns);
  ASSERT_TRUE(full);
  EXPECT_FALSE(ldns_pkt_tc(full.get()));
  EXPECT_EQ(ldns_pkt_ancount(full.get()), 1);
  EXPECT_TRUE(ldns_pkt_edns(full.get()));
  EXPECT_EQ(ldns_pkt_edns_udp_size(full.get()), 1232);

  QueryOptions tcp;
  tcp.tcp = true;
  PktPtr viaTcp = exchange(server, "big.example.test.", LDNS_RR_TYPE_TXT, tcp);
  ASSERT_TRUE(viaTcp);
  EXPECT_FALSE(ldns_pkt_tc(viaTcp.get()));
  EXPECT_EQ(ldns_pkt_ancount(viaTcp.get()), 1);
}

TEST(TestDnsServer, DropDirectiveNeverAnswers) {
  TestDnsServer server("d.example.test. A 192.0.2.1\n!drop d.example.test.\n");
  QueryOptions quick;
  quick.timeout = 300ms;
  EXPECT_FALSE(exchange(server, "d.example.test.", LDNS_RR_TYPE_A, quick));
  EXPECT_EQ(server.queryCount("d.example.test", "A"), 1u);
}

TEST(TestDnsServer, DelayedAnswerDoesNotHoldUpOthers) {
  TestDnsServer server(
      "slow.example.test. TXT \"slow\"\n"
      "fast.example.test. TXT \"fast\"\n"
      "!delay 300 slow.example.test.\n");
  const auto start = Clock::now();
  auto slow = std::async(std::launch::async, [&server] {
    PktPtr reply = exchange(server, "slow.example.test.", LDNS_RR_TYPE_TXT);
    return std::make_pair(std::move(reply), Clock::now());
  });
  // The slow query is in the server before the fast one is sent.
  ASSERT_TRUE(waitUntil(2s, [&] { return server.queryCount("slow.example.test", "TXT") == 1; }));
  PktPtr fast = exchange(server, "fast.example.test.", LDNS_RR_TYPE_TXT);
  const auto fastAt = Clock::now();
  auto [slowReply, slowAt] = slow.get();

  ASSERT_TRUE(fast);
  ASSERT_TRUE(slowReply);
  EXPECT_EQ(answers(fast.get()), std::vector<std::string>{"fast.example.test. 300 IN TXT \"fast\""});
  EXPECT_EQ(answers(slowReply.get()), std::vector<std::string>{"slow.example.test. 300 IN TXT \"slow\""});
  EXPECT_GE(slowAt - start, 300ms);
  EXPECT_LT(fastAt - start, 200ms);
  EXPECT_LT(fastAt + 100ms, slowAt);
}

TEST(TestDnsServer, DelayAppliesOverTcpToo) {
  TestDnsServer server("slow.example.test. TXT \"slow\"\n!delay 100 slow.example.test. TXT\n");
  QueryOptions tcp;
  tcp.tcp = true;
  const auto start = Clock::now();
  PktPtr reply = exchange(server, "slow.example.test.", LDNS_RR_TYPE_TXT, tcp);
  ASSERT_TRUE(reply);
  EXPECT_GE(Clock::now() - start, 100ms);
  EXPECT_EQ(answers(reply.get()).size(), 1u);
}

TEST(TestDnsServer, CountsQueries) {
  TestDnsServer server("c.example.test. TXT \"c\"\n");
  EXPECT_EQ(server.totalQueries(), 0u);
  exchange(server, "c.example.test.", LDNS_RR_TYPE_TXT);
  exchange(server, "C.EXAMPLE.test.", LDNS_RR_TYPE_TXT);
  QueryOptions tcp;
  tcp.tcp = true;
  exchange(server, "c.example.test.", LDNS_RR_TYPE_TXT, tcp);
  exchange(server, "c.example.test.", LDNS_RR_TYPE_A);
  exchange(server, "nx.example.test.", LDNS_RR_TYPE_TXT);

  EXPECT_EQ(server.queryCount("c.example.test", "TXT"), 3u);
  EXPECT_EQ(server.queryCount("C.Example.Test.", "txt"), 3u);
  EXPECT_EQ(server.tcpQueryCount("c.example.test", "TXT"), 1u);
  EXPECT_EQ(server.queryCount("c.example.test", "A"), 1u);
  EXPECT_EQ(server.tcpQueryCount("c.example.test", "A"), 0u);
  EXPECT_EQ(server.queryCount("nx.example.test", "TXT"), 1u);
  EXPECT_EQ(server.queryCount("never.example.test", "TXT"), 0u);
  EXPECT_EQ(server.totalQueries(), 5u);

  server.resetCounts();
  EXPECT_EQ(server.totalQueries(), 0u);
  EXPECT_EQ(server.queryCount("c.example.test", "TXT"), 0u);
  EXPECT_EQ(server.tcpQueryCount("c.example.test", "TXT"), 0u);
}

TEST(TestDnsServer, SetZoneReplacesDataAndDirectivesWhileRunning) {
  TestDnsServer server("z.example.test. TXT \"old\"\n!servfail other.example.test.\n");
  PktPtr before = exchange(server, "z.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(before);
  EXPECT_EQ(answers(before.get()), std::vector<std::string>{"z.example.test. 300 IN TXT \"old\""});

  server.setZone("z.example.test. TXT \"new\"\nother.example.test. A 192.0.2.7\n");
  PktPtr after = exchange(server, "z.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(after);
  EXPECT_EQ(answers(after.get()), std::vector<std::string>{"z.example.test. 300 IN TXT \"new\""});
  PktPtr other = exchange(server, "other.example.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(other);
  EXPECT_EQ(ldns_pkt_get_rcode(other.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(answers(other.get()).size(), 1u);

  // A bad zone is refused and the running one stays.
  EXPECT_THROW(server.setZone("z.example.test. A not-an-address\n"), std::runtime_error);
  PktPtr still = exchange(server, "z.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(still);
  EXPECT_EQ(answers(still.get()), std::vector<std::string>{"z.example.test. 300 IN TXT \"new\""});
}

TEST(TestDnsServer, ServesIpv6WhenAvailable) {
  TestDnsServer server("six.example.test. AAAA 2001:db8::1\n");
  if (!server.hasIpv6()) GTEST_SKIP() << "no IPv6 on loopback";
  QueryOptions v6;
  v6.ipv6 = true;
  PktPtr udp = exchange(server, "six.example.test.", LDNS_RR_TYPE_AAAA, v6);
  ASSERT_TRUE(udp);
  EXPECT_EQ(answers(udp.get()), std::vector<std::string>{"six.example.test. 300 IN AAAA 2001:db8::1"});
  v6.tcp = true;
  PktPtr tcp = exchange(server, "six.example.test.", LDNS_RR_TYPE_AAAA, v6);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(answers(tcp.get()).size(), 1u);
  EXPECT_EQ(server.tcpQueryCount("six.example.test", "AAAA"), 1u);
}

TEST(TestDnsServer, SeveralQueriesOnOneTcpConnection) {
  TestDnsServer server("one.example.test. A 192.0.2.1\ntwo.example.test. A 192.0.2.2\n");
  Socket s = connectTcp(server);
  Bytes both = framed(queryWire("one.example.test.", LDNS_RR_TYPE_A, {}, 1));
  const Bytes second = framed(queryWire("two.example.test.", LDNS_RR_TYPE_A, {}, 2));
  both.insert(both.end(), second.begin(), second.end());
  sendAll(s.get(), both);
  PktPtr r1 = readFramedReply(s.get());
  PktPtr r2 = readFramedReply(s.get());
  ASSERT_TRUE(r1);
  ASSERT_TRUE(r2);
  EXPECT_EQ(ldns_pkt_id(r1.get()), 1);
  EXPECT_EQ(ldns_pkt_id(r2.get()), 2);
  EXPECT_EQ(answers(r2.get()), std::vector<std::string>{"two.example.test. 300 IN A 192.0.2.2"});
  // A third query, sent after the replies, on the same connection.
  sendAll(s.get(), framed(queryWire("one.example.test.", LDNS_RR_TYPE_A, {}, 3)));
  PktPtr r3 = readFramedReply(s.get());
  ASSERT_TRUE(r3);
  EXPECT_EQ(ldns_pkt_id(r3.get()), 3);
  EXPECT_EQ(server.tcpQueryCount("one.example.test", "A"), 2u);
}

TEST(TestDnsServer, MalformedQueriesGetFormerrOrNothing) {
  TestDnsServer server("ok.example.test. A 192.0.2.1\n");
  QueryOptions quick;
  quick.timeout = 300ms;
  // A header claiming a question that is not there.
  const Bytes broken{0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 'x'};
  const auto reply = exchangeRaw(server, broken, quick);
  ASSERT_TRUE(reply);
  ASSERT_GE(reply->size(), 12u);
  EXPECT_EQ((*reply)[0], 0xab);
  EXPECT_EQ((*reply)[1], 0xcd);
  EXPECT_NE((*reply)[2] & 0x80, 0);               // QR
  EXPECT_EQ((*reply)[3] & 0x0f, LDNS_RCODE_FORMERR);

  // Not even an ID: ignored.
  quick.timeout = 100ms;
  EXPECT_FALSE(exchangeRaw(server, Bytes{0x01}, quick));

  // And still serving, over TCP as well after a bad message there.
  Socket s = connectTcp(server);
  sendAll(s.get(), framed(broken));
  PktPtr formerr = readFramedReply(s.get());
  ASSERT_TRUE(formerr);
  EXPECT_EQ(ldns_pkt_get_rcode(formerr.get()), LDNS_RCODE_FORMERR);
  sendAll(s.get(), framed(queryWire("ok.example.test.", LDNS_RR_TYPE_A, {}, 9)));
  PktPtr ok = readFramedReply(s.get());
  ASSERT_TRUE(ok);
  EXPECT_EQ(answers(ok.get()).size(), 1u);
  EXPECT_TRUE(exchange(server, "ok.example.test.", LDNS_RR_TYPE_A));
}

TEST(TestDnsServer, ZoneTextFeatures) {
  TestDnsServer server(
      "; a comment line\n"
      "$TTL 1h\n"
      "$ORIGIN example.test.\n"
      "@ SOA ns hostmaster ( 1 ; serial\n"
      "      3600 600 86400 60 )\n"
      "www A 192.0.2.1   ; relative to the origin\n"
      "    TXT \"same owner; not a comment\"\n"
      "abs.other.test. 42 A 192.0.2.2\n"
      "\n"
      "$ORIGIN sub\n"
      "deep MX 10 mail\n");
  PktPtr www = exchange(server, "www.example.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(www);
  EXPECT_EQ(answers(www.get()), std::vector<std::string>{"www.example.test. 3600 IN A 192.0.2.1"});
  PktPtr txt = exchange(server, "www.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(txt);
  EXPECT_EQ(answers(txt.get()), std::vector<std::string>{"www.example.test. 3600 IN TXT \"same owner; not a comment\""});
  PktPtr abs = exchange(server, "abs.other.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(abs);
  EXPECT_EQ(answers(abs.get()), std::vector<std::string>{"abs.other.test. 42 IN A 192.0.2.2"});
  PktPtr mx = exchange(server, "deep.sub.example.test.", LDNS_RR_TYPE_MX);
  ASSERT_TRUE(mx);
  EXPECT_EQ(answers(mx.get()), std::vector<std::string>{"deep.sub.example.test. 3600 IN MX 10 mail.sub.example.test."});
  PktPtr nx = exchange(server, "nx.example.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(nx);
  EXPECT_EQ(authority(nx.get()),
            std::vector<std::string>{"example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60"});

  // CRLF line ends are accepted.
  TestDnsServer crlf("crlf.example.test. TXT \"x\"\r\n!servfail sf.example.test.\r\n");
  PktPtr crlfTxt = exchange(crlf, "crlf.example.test.", LDNS_RR_TYPE_TXT);
  ASSERT_TRUE(crlfTxt);
  EXPECT_EQ(answers(crlfTxt.get()), std::vector<std::string>{"crlf.example.test. 300 IN TXT \"x\""});

  // Without $ORIGIN, names without a final dot are relative to the root.
  TestDnsServer plain("nodot.example.test A 192.0.2.3\n!servfail nodot2.example.test\n");
  PktPtr nodot = exchange(plain, "nodot.example.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(nodot);
  EXPECT_EQ(answers(nodot.get()), std::vector<std::string>{"nodot.example.test. 300 IN A 192.0.2.3"});
  PktPtr sf = exchange(plain, "nodot2.example.test.", LDNS_RR_TYPE_A);
  ASSERT_TRUE(sf);
  EXPECT_EQ(ldns_pkt_get_rcode(sf.get()), LDNS_RCODE_SERVFAIL);
}

// The error message for `zone`, or "" when it is accepted.
std::string zoneError(const std::string& zone) {
  try {
    TestDnsServer server(zone);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(TestDnsServer, ZoneErrorsNameTheLine) {
  const std::string badRdata = zoneError("ok.example.test. A 192.0.2.1\n\nbad.example.test. A 192.0.2\n");
  EXPECT_NE(badRdata.find("line 3"), std::string::npos) << badRdata;
  EXPECT_NE(badRdata.find("bad.example.test."), std::string::npos) << badRdata;
  const std::string badDirective = zoneError("; c\n!explode x.example.test.\n");
  EXPECT_NE(badDirective.find("line 2"), std::string::npos) << badDirective;
  const std::string badType = zoneError("!drop x.example.test. NOSUCHTYPE\n");
  EXPECT_NE(badType.find("line 1"), std::string::npos) << badType;
  const std::string badDelay = zoneError("!delay soon x.example.test.\n");
  EXPECT_NE(badDelay.find("line 1"), std::string::npos) << badDelay;
  const std::string unclosed = zoneError("a.example.test. TXT ( \"x\"\n");
  EXPECT_NE(unclosed.find("line 1"), std::string::npos) << unclosed;
  EXPECT_NE(zoneError("$INCLUDE other\n").find("line 1"), std::string::npos);
  EXPECT_EQ(zoneError(""), "");
}

TEST(TestDnsServer, FixedPortAndBindFailure) {
  TestDnsServer first("");
  TestDnsServer second("", 0);
  EXPECT_NE(first.port(), second.port());
  try {
    TestDnsServer clash("", first.port());
    ADD_FAILURE() << "a second server bound port " << first.port();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bind"), std::string::npos) << e.what();
  }
}

TEST(TestDnsServer, DestructorReturnsPromptlyWithWorkPending) {
  auto server = std::make_unique<TestDnsServer>(
      "slow.example.test. TXT \"slow\"\n"
      "!delay 5000 slow.example.test.\n"
      "!drop dropped.example.test.\n");
  // A UDP query whose answer waits five seconds.
  Socket udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  socklen_t len = 0;
  const sockaddr_storage to = serverAddress(*server, false, len);
  const Bytes slowQuery = queryWire("slow.example.test.", LDNS_RR_TYPE_TXT, {}, 7);
  ASSERT_EQ(::sendto(udp.get(), slowQuery.data(), slowQuery.size(), 0, reinterpret_cast<const sockaddr*>(&to), len),
            static_cast<ssize_t>(slowQuery.size()));
  // A TCP query the server reads and never answers, the connection left open, and a delayed
  // answer on another TCP connection.
  Socket tcp = connectTcp(*server);
  sendAll(tcp.get(), framed(queryWire("dropped.example.test.", LDNS_RR_TYPE_A, {}, 8)));
  Socket tcpSlow = connectTcp(*server);
  sendAll(tcpSlow.get(), framed(queryWire("slow.example.test.", LDNS_RR_TYPE_TXT, {}, 9)));
  ASSERT_TRUE(waitUntil(2s, [&] {
    return server->queryCount("slow.example.test", "TXT") == 2 && server->queryCount("dropped.example.test", "A") == 1;
  }));

  const auto start = Clock::now();
  server.reset();
  EXPECT_LT(Clock::now() - start, 250ms);
  // The server's end of the connections is closed: EOF, no reply.
  EXPECT_FALSE(readExactly(tcp.get(), 1, 1s));
  EXPECT_FALSE(readExactly(tcpSlow.get(), 1, 1s));
}

}  // namespace
}  // namespace authmilter::testsupport
