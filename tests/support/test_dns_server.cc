// The test DNS server: zone text parsed into a Zone (test_dns_zone.h), one thread polling
// the UDP and listening TCP sockets, one thread per TCP connection, and one timer thread
// that sends the delayed answers. An eventfd, written once and never read, tells every
// thread to stop.
#include "test_dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "authmilter/dns/resolver.h"
#include "test_dns_zone.h"

namespace authmilter::testsupport {

namespace {

using testdns::Action;
using testdns::canonicalName;
using testdns::Directive;
using testdns::parseZone;
using testdns::PktPtr;
using testdns::resolve;
using testdns::toUpper;
using testdns::Zone;

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

constexpr uint16_t kReplyUdpSize = 1232;  // what our OPT advertises
constexpr size_t kPlainUdpLimit = 512;
constexpr int kPortAttempts = 20;
constexpr auto kTcpWriteTimeout = std::chrono::seconds(2);

// A file descriptor closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string typeName(ldns_rr_type type) {
  char* text = ldns_rr_type2str(type);
  if (text == nullptr) return "TYPE" + std::to_string(static_cast<unsigned>(type));
  std::string result = text;
  free(text);
  return result;
}

// Thrown by respond() for a TCP query under !tcpfail: the connection is to close unanswered.
struct TcpFailure {};

// ----------------------------------------------------------------------------------------
// Answers

Bytes toWire(const ldns_pkt* pkt) {
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt, &size) != LDNS_STATUS_OK || wire == nullptr) {
    free(wire);
    return {};
  }
  Bytes result(wire, wire + size);
  free(wire);
  return result;
}

// A bare header answering a query we cannot (or will not) read further.
Bytes headerOnly(const uint8_t* data, size_t len, uint8_t rcode) {
  Bytes reply(12, 0);
  reply[0] = data[0];
  reply[1] = data[1];
  const uint8_t flags = len >= 3 ? data[2] : 0;
  reply[2] = static_cast<uint8_t>(0x80 | (flags & 0x79));  // QR, opcode and RD copied
  reply[3] = static_cast<uint8_t>(0x80 | (rcode & 0x0f));  // RA
  return reply;
}

PktPtr newReply(const ldns_pkt* query, const ldns_rr* question) {
  PktPtr reply(ldns_pkt_new());
  if (!reply) return reply;
  ldns_pkt_set_id(reply.get(), ldns_pkt_id(query));
  ldns_pkt_set_qr(reply.get(), true);
  ldns_pkt_set_opcode(reply.get(), LDNS_PACKET_QUERY);
  ldns_pkt_set_aa(reply.get(), true);
  ldns_pkt_set_rd(reply.get(), ldns_pkt_rd(query));
  ldns_pkt_set_cd(reply.get(), ldns_pkt_cd(query));
  ldns_pkt_set_ra(reply.get(), true);
  ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_NOERROR);
  ldns_pkt_push_rr(reply.get(), LDNS_SECTION_QUESTION, ldns_rr_clone(question));
  if (ldns_pkt_edns(query)) ldns_pkt_set_edns_udp_size(reply.get(), kReplyUdpSize);
  return reply;
}


// ----------------------------------------------------------------------------------------
// Sockets

// Returns a bound (and for TCP listening) socket, or -errno.
int openSocket(int family, int type, uint16_t port) {
  const int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  Fd guard(fd);
  const int one = 1;
  if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (family == AF_INET) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } else {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(port);
    addr.sin6_addr = in6addr_loopback;
    rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  }
  if (rc != 0) return -errno;
  if (type == SOCK_STREAM && ::listen(fd, 64) != 0) return -errno;
  return guard.release();
}

uint16_t boundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
}

bool ipv6Unavailable(int err) { return err == EADDRNOTAVAIL || err == EAFNOSUPPORT || err == EPROTONOSUPPORT; }

std::string describe(const char* what, uint16_t port, int err) {
  return std::string("TestDnsServer: cannot bind ") + what + ":" + std::to_string(port) + ": " + std::strerror(err);
}

// One TCP connection; shared with the timer thread while a delayed answer waits for it.
struct TcpConn {
  explicit TcpConn(int fd) : fd(fd) {}
  Fd fd;
  std::mutex writeMutex;
};

}  // namespace

// ------------------------------------------------------------------------------------------

struct TestDnsServer::Impl {
  struct ConnThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  mutable std::mutex zoneMutex;
  std::shared_ptr<const Zone> zone;

  mutable std::mutex countMutex;
  std::map<std::pair<std::string, std::string>, size_t> counts;
  std::map<std::pair<std::string, std::string>, size_t> tcpCounts;
  size_t total = 0;

  uint16_t port = 0;
  bool ipv6 = false;
  Fd udp4, tcp4, udp6, tcp6;
  Fd stopFd;

  std::thread loopThread;

  std::mutex timerMutex;
  std::condition_variable timerCv;
  std::multimap<Clock::time_point, std::function<void()>> timers;
  bool timerStop = false;
  std::thread timerThread;

  std::mutex connMutex;
  std::vector<ConnThread> conns;

  Impl(const std::string& zoneText, uint16_t wantedPort) {
    zone = parseZone(zoneText);
    bindAll(wantedPort);
    stopFd = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stopFd.valid()) throw std::runtime_error(std::string("TestDnsServer: eventfd: ") + std::strerror(errno));
    try {
      timerThread = std::thread([this] { timerLoop(); });
      loopThread = std::thread([this] { serveLoop(); });
    } catch (...) {
      stop();
      throw;
    }
  }

  ~Impl() { stop(); }

  void stop() {
    if (stopFd.valid()) {
      const uint64_t one = 1;
      [[maybe_unused]] const ssize_t ignored = ::write(stopFd.get(), &one, sizeof one);
    }
    {
      std::lock_guard lock(timerMutex);
      timerStop = true;
    }
    timerCv.notify_all();
    if (loopThread.joinable()) loopThread.join();
    if (timerThread.joinable()) timerThread.join();
    std::vector<ConnThread> all;
    {
      std::lock_guard lock(connMutex);
      all.swap(conns);
    }
    for (auto& c : all) {
      if (c.thread.joinable()) c.thread.join();
    }
    std::lock_guard lock(timerMutex);
    timers.clear();
  }

  void bindAll(uint16_t wanted) {
    const int attempts = wanted == 0 ? kPortAttempts : 1;
    for (int attempt = 0; attempt < attempts; ++attempt) {
      int fd = openSocket(AF_INET, SOCK_DGRAM, wanted);
      if (fd < 0) throw std::runtime_error(describe("UDP 127.0.0.1", wanted, -fd));
      Fd u4(fd);
      const uint16_t chosen = boundPort(u4.get());
      fd = openSocket(AF_INET, SOCK_STREAM, chosen);
      if (fd < 0) {
        if (-fd == EADDRINUSE && wanted == 0) continue;
        throw std::runtime_error(describe("TCP 127.0.0.1", chosen, -fd));
      }
      Fd t4(fd);
      Fd u6, t6;
      fd = openSocket(AF_INET6, SOCK_DGRAM, chosen);
      if (fd < 0 && !ipv6Unavailable(-fd)) {
        if (-fd == EADDRINUSE && wanted == 0) continue;
        throw std::runtime_error(describe("UDP [::1]", chosen, -fd));
      }
      if (fd >= 0) {
        u6 = Fd(fd);
        fd = openSocket(AF_INET6, SOCK_STREAM, chosen);
        if (fd < 0 && !ipv6Unavailable(-fd)) {
          if (-fd == EADDRINUSE && wanted == 0) continue;
          throw std::runtime_error(describe("TCP [::1]", chosen, -fd));
        }
        if (fd >= 0) {
          t6 = Fd(fd);
        } else {
          u6.reset();
        }
      }
      port = chosen;
      ipv6 = u6.valid();
      udp4 = std::move(u4);
      tcp4 = std::move(t4);
      udp6 = std::move(u6);
      tcp6 = std::move(t6);
      return;
    }
    throw std::runtime_error("TestDnsServer: no port free for UDP and TCP on loopback after " +
                             std::to_string(attempts) + " attempts");
  }

  std::shared_ptr<const Zone> currentZone() const {
    std::lock_guard lock(zoneMutex);
    return zone;
  }

  void count(const std::string& name, const std::string& type, bool tcp) {
    std::lock_guard lock(countMutex);
    const auto key = std::make_pair(dns::canonicalName(name), type);
    ++counts[key];
    if (tcp) ++tcpCounts[key];
    ++total;
  }

  // The reply to one message, or none. `delayMs` is set when the answer must wait.
  std::optional<Bytes> respond(const uint8_t* data, size_t len, bool tcp, int& delayMs) {
    delayMs = 0;
    if (len < 2) return std::nullopt;
    if (len >= 3 && (data[2] & 0x80) != 0) return std::nullopt;  // a response: never answer those
    ldns_pkt* parsed = nullptr;
    if (ldns_wire2pkt(&parsed, data, len) != LDNS_STATUS_OK || parsed == nullptr) {
      return headerOnly(data, len, LDNS_RCODE_FORMERR);
    }
    PktPtr query(parsed);
    if (ldns_pkt_get_opcode(query.get()) != LDNS_PACKET_QUERY) return headerOnly(data, len, LDNS_RCODE_NOTIMPL);
    const ldns_rr* question = ldns_pkt_qdcount(query.get()) == 1
                                  ? ldns_rr_list_rr(ldns_pkt_question(query.get()), 0)
                                  : nullptr;
    const ldns_rdf* qname = question ? ldns_rr_owner(question) : nullptr;
    if (qname == nullptr || ldns_rdf_get_type(qname) != LDNS_RDF_TYPE_DNAME) {
      return headerOnly(data, len, LDNS_RCODE_FORMERR);
    }
    const ldns_rr_type qtype = ldns_rr_get_type(question);
    const std::string name = canonicalName(qname);
    count(name, typeName(qtype), tcp);

    const auto zoneNow = currentZone();
    if (zoneNow->directive(Action::Drop, name, qtype)) return std::nullopt;
    if (tcp && zoneNow->directive(Action::TcpFail, name, qtype)) throw TcpFailure();
    if (const Directive* d = zoneNow->directive(Action::Delay, name, qtype)) delayMs = d->delayMs;

    PktPtr reply = newReply(query.get(), question);
    if (!reply) return std::nullopt;
    if (ldns_rr_get_class(question) != LDNS_RR_CLASS_IN) {
      ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_REFUSED);
    } else if (zoneNow->directive(Action::Servfail, name, qtype)) {
      ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_SERVFAIL);
    } else if (zoneNow->directive(Action::Refused, name, qtype)) {
      ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_REFUSED);
    } else if (!tcp && zoneNow->directive(Action::Truncate, name, qtype)) {
      ldns_pkt_set_tc(reply.get(), true);
    } else {
      resolve(*zoneNow, qname, qtype, reply.get());
    }
    Bytes wire = toWire(reply.get());
    size_t limit = 65535;
    if (!tcp) {
      limit = kPlainUdpLimit;
      if (ldns_pkt_edns(query.get())) limit = std::max<size_t>(limit, ldns_pkt_edns_udp_size(query.get()));
    }
    if (wire.empty() || wire.size() > limit) {
      const ldns_pkt_rcode rcode = ldns_pkt_get_rcode(reply.get());
      reply = newReply(query.get(), question);
      if (!reply) return std::nullopt;
      if (wire.empty()) {
        ldns_pkt_set_rcode(reply.get(), LDNS_RCODE_SERVFAIL);
      } else {
        ldns_pkt_set_rcode(reply.get(), rcode);
        ldns_pkt_set_tc(reply.get(), true);
      }
      wire = toWire(reply.get());
      if (wire.empty()) return std::nullopt;
    }
    return wire;
  }

  // Runs `fn` on the timer thread after `ms` milliseconds (dropped if the server stops first).
  void schedule(int ms, std::function<void()> fn) {
    {
      std::lock_guard lock(timerMutex);
      if (timerStop) return;
      timers.emplace(Clock::now() + std::chrono::milliseconds(ms), std::move(fn));
    }
    timerCv.notify_all();
  }

  void timerLoop() {
    std::unique_lock lock(timerMutex);
    while (!timerStop) {
      if (timers.empty()) {
        timerCv.wait(lock);
        continue;
      }
      const auto first = timers.begin();
      if (Clock::now() < first->first) {
        timerCv.wait_until(lock, first->first);
        continue;
      }
      auto fn = std::move(first->second);
      timers.erase(first);
      lock.unlock();
      try {
        fn();
      } catch (...) {
        // A failed send is a lost answer, as on a real network.
      }
      lock.lock();
    }
  }

  // Waits until `fd` is ready for `events` or the server stops; false on stop or timeout.
  bool waitFor(int fd, short events, int timeoutMs) const {
    pollfd fds[2] = {{fd, events, 0}, {stopFd.get(), POLLIN, 0}};
    while (true) {
      const int rc = ::poll(fds, 2, timeoutMs);
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) return false;
      if (fds[1].revents != 0) return false;
      return true;
    }
  }

  void sendTcp(TcpConn& conn, const Bytes& message) {
    Bytes framed;
    framed.reserve(message.size() + 2);
    framed.push_back(static_cast<uint8_t>(message.size() >> 8));
    framed.push_back(static_cast<uint8_t>(message.size() & 0xff));
    framed.insert(framed.end(), message.begin(), message.end());
    std::lock_guard lock(conn.writeMutex);
    const auto deadline = Clock::now() + kTcpWriteTimeout;
    size_t sent = 0;
    while (sent < framed.size()) {
      const ssize_t n = ::send(conn.fd.get(), framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0 || !waitFor(conn.fd.get(), POLLOUT, static_cast<int>(left))) return;
        continue;
      }
      return;  // the client went away
    }
  }

  void handleUdp(int fd, std::vector<uint8_t>& buffer) {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage from{};
      socklen_t fromLen = sizeof from;
      const ssize_t n = ::recvfrom(fd, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &fromLen);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN or an error: back to poll
      }
      int delayMs = 0;
      auto reply = respond(buffer.data(), static_cast<size_t>(n), false, delayMs);
      if (!reply) continue;
      if (delayMs > 0) {
        schedule(delayMs, [fd, from, fromLen, wire = std::move(*reply)] {
          ::sendto(fd, wire.data(), wire.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&from), fromLen);
        });
      } else {
        ::sendto(fd, reply->data(), reply->size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&from), fromLen);
      }
    }
  }

  void acceptTcp(int listenFd) {
    while (true) {
      const int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        return;
      }
      auto conn = std::make_shared<TcpConn>(fd);
      std::lock_guard lock(connMutex);
      // Reap the threads of connections that have ended.
      for (auto it = conns.begin(); it != conns.end();) {
        if (it->done->load()) {
          it->thread.join();
          it = conns.erase(it);
        } else {
          ++it;
        }
      }
      auto done = std::make_shared<std::atomic<bool>>(false);
      try {
        std::thread thread([this, conn, done] {
          try {
            serveConnection(conn);
          } catch (...) {
            // Drop the connection; never take the test process down.
          }
          done->store(true);
        });
        conns.push_back({std::move(thread), done});
      } catch (const std::system_error&) {
        // No thread to be had: the connection closes.
      }
    }
  }

  void serveConnection(const std::shared_ptr<TcpConn>& conn) {
    Bytes pending;
    std::vector<uint8_t> buffer(16384);
    while (waitFor(conn->fd.get(), POLLIN, -1)) {
      const ssize_t n = ::recv(conn->fd.get(), buffer.data(), buffer.size(), 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) return;  // closed by the client, or broken
      pending.insert(pending.end(), buffer.begin(), buffer.begin() + n);
      while (pending.size() >= 2) {
        const size_t len = (static_cast<size_t>(pending[0]) << 8) | pending[1];
        if (pending.size() < len + 2) break;
        int delayMs = 0;
        std::optional<Bytes> reply;
        try {
          reply = respond(pending.data() + 2, len, true, delayMs);
        } catch (const TcpFailure&) {
          ::shutdown(conn->fd.get(), SHUT_RDWR);
          return;
        }
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(len + 2));
        if (!reply) continue;
        if (delayMs > 0) {
          schedule(delayMs, [this, conn, wire = std::move(*reply)] { sendTcp(*conn, wire); });
        } else {
          sendTcp(*conn, *reply);
        }
      }
    }
  }

  void serveLoop() {
    std::vector<uint8_t> buffer(65536);
    std::vector<pollfd> fds;
    fds.push_back({stopFd.get(), POLLIN, 0});
    for (const Fd* fd : {&udp4, &tcp4, &udp6, &tcp6}) {
      if (fd->valid()) fds.push_back({fd->get(), POLLIN, 0});
    }
    while (true) {
      const int rc = ::poll(fds.data(), fds.size(), -1);
      if (rc < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[0].revents != 0) return;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        try {
          if (fds[i].fd == udp4.get() || fds[i].fd == udp6.get()) {
            handleUdp(fds[i].fd, buffer);
          } else {
            acceptTcp(fds[i].fd);
          }
        } catch (...) {
          // Out of memory or similar: lose this query, keep serving.
        }
      }
    }
  }
};

TestDnsServer::TestDnsServer(const std::string& zone, uint16_t port) : impl_(std::make_unique<Impl>(zone, port)) {}

TestDnsServer::~TestDnsServer() = default;

uint16_t TestDnsServer::port() const { return impl_->port; }

bool TestDnsServer::hasIpv6() const { return impl_->ipv6; }

std::string TestDnsServer::nameserver4() const { return "127.0.0.1:" + std::to_string(impl_->port); }

std::string TestDnsServer::nameserver6() const { return "[::1]:" + std::to_string(impl_->port); }

void TestDnsServer::setZone(const std::string& zone) {
  auto parsed = parseZone(zone);
  std::lock_guard lock(impl_->zoneMutex);
  impl_->zone = std::move(parsed);
}

size_t TestDnsServer::queryCount(const std::string& name, const std::string& type) const {
  std::lock_guard lock(impl_->countMutex);
  const auto it = impl_->counts.find({dns::canonicalName(name), toUpper(type)});
  return it == impl_->counts.end() ? 0 : it->second;
}

size_t TestDnsServer::tcpQueryCount(const std::string& name, const std::string& type) const {
  std::lock_guard lock(impl_->countMutex);
  const auto it = impl_->tcpCounts.find({dns::canonicalName(name), toUpper(type)});
  return it == impl_->tcpCounts.end() ? 0 : it->second;
}

size_t TestDnsServer::totalQueries() const {
  std::lock_guard lock(impl_->countMutex);
  return impl_->total;
}

void TestDnsServer::resetCounts() {
  std::lock_guard lock(impl_->countMutex);
  impl_->counts.clear();
  impl_->tcpCounts.clear();
  impl_->total = 0;
}

}  // namespace authmilter::testsupport
