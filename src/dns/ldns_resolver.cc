// A lookup: build the query with ldns (RD, EDNS0, random ID), send it over UDP to the
// next nameserver, wait until the try's deadline, retry over TCP on TC, then read the
// reply: follow the CNAME chain inside it, collect the RRset, or work out NXDOMAIN/NODATA
// and the negative TTL from the SOA (RFC 2308 §5).
#include "authmilter/dns/ldns_resolver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <random>

#include "authmilter/dns/ldns_util.h"

namespace authmilter::dns {

namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

uint16_t randomId() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return static_cast<uint16_t>(std::uniform_int_distribution<unsigned>(0, 65535)(generator));
}

std::string rdfText(const ldns_rdf* rdf) {
  char* s = ldns_rdf2str(rdf);
  std::string text = s ? s : "";
  free(s);
  return text;
}

std::string dnameText(const ldns_rdf* rdf) {
  std::string text = rdfText(rdf);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

// Waits until `fd` is ready for `events` or the deadline passes.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 60'000)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

struct Exchange {
  enum Kind { Reply, NoReply, Failed } kind = NoReply;
  std::vector<uint8_t> wire;
  std::string error;  // Failed: why
};

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

Address toAddress(const Nameserver& ns) {
  Address a;
  if (ns.address.find(':') != std::string::npos) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(ns.port);
    inet_pton(AF_INET6, ns.address.c_str(), &sin6->sin6_addr);
    a.length = sizeof *sin6;
    a.family = AF_INET6;
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(ns.port);
    inet_pton(AF_INET, ns.address.c_str(), &sin->sin_addr);
    a.length = sizeof *sin;
  }
  return a;
}

Exchange failed(const std::string& what) { return {Exchange::Failed, {}, what + ": " + std::strerror(errno)}; }

uint16_t idOf(const std::vector<uint8_t>& wire) { return static_cast<uint16_t>(wire[0] << 8 | wire[1]); }

// One datagram out, the first datagram back that carries our ID. A connected socket only
// sees the server's datagrams, and reports an ICMP "port unreachable" as ECONNREFUSED.
Exchange udpExchange(const Address& to, const std::vector<uint8_t>& query, Clock::time_point deadline) {
  Fd sock(::socket(to.family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.fd < 0) return failed("socket");
  if (::connect(sock.fd, reinterpret_cast<const sockaddr*>(&to.storage), to.length) != 0) return failed("connect");
  if (::send(sock.fd, query.data(), query.size(), 0) < 0) return failed("send");
  std::vector<uint8_t> buffer(65535);
  while (waitFor(sock.fd, POLLIN, deadline)) {
    const ssize_t n = ::recv(sock.fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return failed("receive");
    }
    if (n < 12 || static_cast<uint16_t>(buffer[0] << 8 | buffer[1]) != idOf(query)) continue;
    buffer.resize(static_cast<size_t>(n));
    return {Exchange::Reply, std::move(buffer), {}};
  }
  return {};
}

// RFC 1035 §4.2.2 / RFC 7766: the message with a two-byte length in front, both ways.
Exchange tcpExchange(const Address& to, const std::vector<uint8_t>& query, Clock::time_point deadline) {
  Fd sock(::socket(to.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.fd < 0) return failed("socket");
  if (::connect(sock.fd, reinterpret_cast<const sockaddr*>(&to.storage), to.length) != 0) {
    if (errno != EINPROGRESS) return failed("TCP connect");
    if (!waitFor(sock.fd, POLLOUT, deadline)) return {};
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      errno = error;
      return failed("TCP connect");
    }
  }
  std::vector<uint8_t> out(2 + query.size());
  out[0] = static_cast<uint8_t>(query.size() >> 8);
  out[1] = static_cast<uint8_t>(query.size());
  std::copy(query.begin(), query.end(), out.begin() + 2);
  for (size_t sent = 0; sent < out.size();) {
    if (!waitFor(sock.fd, POLLOUT, deadline)) return {};
    const ssize_t n = ::send(sock.fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return failed("TCP send");
    }
    sent += static_cast<size_t>(n);
  }
  std::vector<uint8_t> in(2);
  size_t want = 2;
  for (size_t got = 0; got < want;) {
    if (!waitFor(sock.fd, POLLIN, deadline)) return {};
    const ssize_t n = ::recv(sock.fd, in.data() + got, want - got, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return failed("TCP receive");
    }
    if (n == 0) return {Exchange::Failed, {}, "TCP connection closed before the whole reply"};
    got += static_cast<size_t>(n);
    if (got == 2 && want == 2) {
      want = 2 + (static_cast<size_t>(in[0]) << 8 | in[1]);
      in.resize(want);
      if (want < 2 + 12) return {Exchange::Failed, {}, "TCP reply too short"};
    }
  }
  in.erase(in.begin(), in.begin() + 2);
  if (idOf(in) != idOf(query)) return {Exchange::Failed, {}, "TCP reply with another ID"};
  return {Exchange::Reply, std::move(in), {}};
}

DnsRecord recordOf(const ldns_rr* rr) {
  DnsRecord record;
  const auto count = ldns_rr_rd_count(rr);
  switch (static_cast<RrType>(ldns_rr_get_type(rr))) {
    case RrType::A:
    case RrType::AAAA:
      if (count == 1) {
        const ldns_rdf* rdf = ldns_rr_rdf(rr, 0);
        const bool v4 = ldns_rdf_size(rdf) == 4;
        char text[INET6_ADDRSTRLEN] = {};
        if (v4 || ldns_rdf_size(rdf) == 16) inet_ntop(v4 ? AF_INET : AF_INET6, ldns_rdf_data(rdf), text, sizeof text);
        record.text = text;
      }
      return record;
    case RrType::TXT:
    case RrType::SPF:
      // Each rdf is one character-string: a length byte, then the bytes. Joined as is.
      for (size_t i = 0; i < count; ++i) {
        const ldns_rdf* rdf = ldns_rr_rdf(rr, i);
        if (ldns_rdf_size(rdf) < 1) continue;
        const auto* data = ldns_rdf_data(rdf);
        const size_t length = std::min<size_t>(data[0], ldns_rdf_size(rdf) - 1);
        record.text.append(reinterpret_cast<const char*>(data + 1), length);
      }
      return record;
    case RrType::MX:
      if (count == 2) {
        record.preference = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
        record.text = dnameText(ldns_rr_rdf(rr, 1));
      }
      return record;
    case RrType::PTR:
    case RrType::CNAME:
    case RrType::NS:
      if (count == 1) record.text = dnameText(ldns_rr_rdf(rr, 0));
      return record;
    default:
      for (size_t i = 0; i < count; ++i) {
        if (i) record.text += ' ';
        record.text += rdfText(ldns_rr_rdf(rr, i));
      }
      return record;
  }
}

// Reads a NOERROR or NXDOMAIN reply to (qname, type).
DnsAnswer interpret(const ldns_pkt* reply, const ldns_rdf* qname, RrType type) {
  DnsAnswer answer;
  const ldns_rr_list* records = ldns_pkt_answer(reply);
  const ldns_rdf* current = qname;
  uint32_t ttl = std::numeric_limits<uint32_t>::max();
  // A chain longer than this is a loop or an attack; what we have so far is the answer.
  for (int hop = 0; hop < 16; ++hop) {
    const ldns_rr* cname = nullptr;
    for (size_t i = 0; i < ldns_rr_list_rr_count(records); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(records, i);
      if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || ldns_dname_compare(ldns_rr_owner(rr), current) != 0) continue;
      if (ldns_rr_get_type(rr) == static_cast<ldns_rr_type>(type)) {
        answer.records.push_back(recordOf(rr));
        ttl = std::min(ttl, ldns_rr_ttl(rr));
      } else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) == 1) {
        cname = rr;
      }
    }
    if (!answer.records.empty() || cname == nullptr) break;
    ttl = std::min(ttl, ldns_rr_ttl(cname));
    current = ldns_rr_rdf(cname, 0);
  }
  answer.canonicalName = dnameText(current);
  if (!answer.records.empty()) {
    answer.status = DnsStatus::Ok;
    answer.ttl = ttl;
    return answer;
  }
  answer.status = ldns_pkt_get_rcode(reply) == LDNS_RCODE_NXDOMAIN ? DnsStatus::NxDomain : DnsStatus::NoData;
  // RFC 2308 §5: the negative TTL is the smaller of the SOA's TTL and its MINIMUM field.
  // Without an SOA the answer must not be cached: ttl stays 0.
  answer.ttl = 0;
  const ldns_rr_list* authority = ldns_pkt_authority(reply);
  for (size_t i = 0; i < ldns_rr_list_rr_count(authority); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(authority, i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) == 7) {
      answer.ttl = std::min(ldns_rr_ttl(rr), ldns_rdf2native_int32(ldns_rr_rdf(rr, 6)));
      break;
    }
  }
  return answer;
}

std::string rcodeName(ldns_pkt_rcode rcode) {
  const ldns_lookup_table* entry = ldns_lookup_by_id(ldns_rcodes, rcode);
  return entry ? entry->name : "RCODE" + std::to_string(static_cast<int>(rcode));
}

}  // namespace

LdnsResolver::LdnsResolver(ResolverOptions options) : options_(std::move(options)) {
  options_.tries = std::max(1u, options_.tries);
}

DnsAnswer LdnsResolver::lookup(std::string_view name, RrType type) {
  DnsAnswer answer;
  answer.canonicalName = std::string(name);
  if (!answer.canonicalName.empty() && answer.canonicalName.back() == '.') answer.canonicalName.pop_back();
  std::string absolute = std::string(name);
  if (absolute.empty() || absolute.back() != '.') absolute += '.';
  RdfPtr qname(ldns_dname_new_frm_str(absolute.c_str()));
  // Longer than 255 octets, a label over 63, an empty label: no such name can exist.
  if (!qname || absolute == "..") {
    answer.status = DnsStatus::NxDomain;
    answer.detail = "'" + std::string(name) + "' is not a valid domain name";
    return answer;
  }
  if (options_.nameservers.empty()) {
    answer.status = DnsStatus::ServFail;
    answer.detail = "no nameservers configured";
    return answer;
  }
  std::vector<uint8_t> query;
  PktPtr packet(ldns_pkt_query_new(ldns_rdf_clone(qname.get()), static_cast<ldns_rr_type>(type), LDNS_RR_CLASS_IN,
                                   LDNS_RD));
  if (packet) {
    ldns_pkt_set_id(packet.get(), randomId());
    ldns_pkt_set_edns_udp_size(packet.get(), options_.ednsSize);
    query = toWire(packet.get());
  }
  if (query.empty()) {
    answer.status = DnsStatus::ServFail;
    answer.detail = "cannot build a query for '" + std::string(name) + "'";
    return answer;
  }

  const auto overall = Clock::now() + options_.timeout * options_.tries;
  bool failedOnce = false;
  std::string failures;
  for (unsigned attempt = 0; attempt < options_.tries; ++attempt) {
    const Nameserver& ns = options_.nameservers[attempt % options_.nameservers.size()];
    const auto deadline = std::min(Clock::now() + options_.timeout, overall);
    const Address to = toAddress(ns);
    Exchange exchange = udpExchange(to, query, deadline);
    PktPtr reply;
    bool viaTcp = false;
    for (int round = 0; round < 2 && exchange.kind == Exchange::Reply; ++round) {
      ldns_pkt* parsed = nullptr;
      if (ldns_wire2pkt(&parsed, exchange.wire.data(), exchange.wire.size()) != LDNS_STATUS_OK) {
        exchange = {Exchange::Failed, {}, "unparsable reply"};
        break;
      }
      reply.reset(parsed);
      const ldns_rr_list* question = ldns_pkt_question(parsed);
      if (ldns_rr_list_rr_count(question) != 1 ||
          ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(question, 0)), qname.get()) != 0 ||
          ldns_rr_get_type(ldns_rr_list_rr(question, 0)) != static_cast<ldns_rr_type>(type)) {
        exchange = {Exchange::Failed, {}, "reply to another question"};
        break;
      }
      if (!ldns_pkt_tc(parsed) || viaTcp) break;
      viaTcp = true;  // truncated: ask again over TCP, within the same try's deadline
      exchange = tcpExchange(to, query, deadline);
    }
    if (exchange.kind == Exchange::Reply) {
      const auto rcode = ldns_pkt_get_rcode(reply.get());
      if (rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN) {
        answer = interpret(reply.get(), qname.get(), type);
        answer.detail = ns.text() + (viaTcp ? " over TCP" : "");
        return answer;
      }
      exchange = {Exchange::Failed, {}, rcodeName(rcode)};
    }
    if (!failures.empty()) failures += "; ";
    failures += ns.text() + (viaTcp ? " over TCP: " : ": ");
    if (exchange.kind == Exchange::Failed) {
      failedOnce = true;
      failures += exchange.error;
    } else {
      failures += "no reply within " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout).count()) + " ms";
    }
  }
  answer.status = failedOnce ? DnsStatus::ServFail : DnsStatus::Timeout;
  answer.detail = failures;
  return answer;
}

}  // namespace authmilter::dns
