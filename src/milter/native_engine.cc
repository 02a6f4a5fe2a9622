// The native engine: the milter protocol on one epoll set shared by MilterWorkers threads.
//
// Every descriptor is armed EPOLLONESHOT: the thread that epoll_wait() hands a connection
// to owns it until it re-arms it, so a connection's bytes are read, its packets handled
// (Session calls, DNS waits included) and its replies written by one thread at a time,
// without locks; a session that waits on DNS holds one worker while the others go on. A
// read takes everything the MTA has sent (Postfix pipelines the commands it expects no
// reply to), every complete packet in it is handled, and all the replies go in one write:
// four system calls per round trip with the MTA (epoll_wait, read, write, epoll_ctl).
//
// Besides the connections the set holds the listener (accepts until EAGAIN, then re-armed),
// a timerfd (each second: connections silent for MilterTimeout are shut down; a listener
// paused for want of descriptors is re-armed) and an eventfd that stop() makes readable,
// level-triggered, so that every worker sees it and returns.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "authmilter/log/logger.h"
#include "authmilter/milter/engine.h"
#include "authmilter/milter/native_connection.h"

namespace authmilter::milter {

namespace {

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Connection {
  Connection(int f, std::string peer) : fd(f), conversation(std::move(peer)) {}
  int fd;
  NativeConnection conversation;
  protocol::Reader reader;
  protocol::Writer writer;
  std::atomic<int64_t> lastActive{nowMs()};  // steady clock, ms
  std::atomic<bool> busy{false};  // a worker has it (DNS waits do not count as silence)
};

std::string peerName(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(sin->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(sin6->sin6_port));
  }
  return "unix socket";
}

class NativeEngine final : public Engine {
 public:
  explicit NativeEngine(const EngineOptions& options) : options_(options) {}

  ~NativeEngine() override {
    for (int fd : {listenFd_, epollFd_, stopFd_, timerFd_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  std::string listen(const config::SocketSpec& socket) override {
    raiseDescriptorLimit();
    if (socket.kind == config::SocketSpec::Kind::Unix) {
      listenUnix(socket.path);
    } else {
      listenInet(socket);
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(listenFd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      throw EngineError(errnoText("getsockname"));
    }
    inet_ = ss.ss_family != AF_UNIX;
    epollFd_ = epoll_create1(EPOLL_CLOEXEC);
    stopFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    timerFd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epollFd_ < 0 || stopFd_ < 0 || timerFd_ < 0) throw EngineError(errnoText("epoll/eventfd/timerfd"));
    const itimerspec tick{{1, 0}, {1, 0}};
    timerfd_settime(timerFd_, 0, &tick, nullptr);
    add(listenFd_, &listenTag_, EPOLLIN | EPOLLONESHOT);
    add(timerFd_, &timerTag_, EPOLLIN | EPOLLONESHOT);
    add(stopFd_, &stopTag_, EPOLLIN);  // level-triggered, never read: every worker sees it
    return describeListener(ss);
  }

  bool run() override {
    std::vector<std::thread> workers;
    for (unsigned i = 1; i < options_.workers; ++i) workers.emplace_back([this] { work(); });
    work();
    for (auto& t : workers) t.join();
    // Every worker is gone: what is left of the connections is ours alone.
    std::lock_guard lock(mutex_);
    for (Connection* c : connections_) {
      c->conversation.end();
      ::close(c->fd);
      delete c;
    }
    connections_.clear();
    ::close(listenFd_);
    listenFd_ = -1;
    if (!unixPath_.empty()) unlink(unixPath_.c_str());
    return true;
  }

  void stop() override {
    const uint64_t one = 1;
    (void)!write(stopFd_, &one, sizeof one);
  }

 private:
  static void raiseDescriptorLimit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
      limit.rlim_cur = limit.rlim_max;
      setrlimit(RLIMIT_NOFILE, &limit);
    }
  }

  void listenUnix(const std::string& path) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) throw EngineError("socket path too long: " + path);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    unlink(path.c_str());  // stale: the daemon has made sure no milter answers on it
    listenFd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listenFd_ < 0 || bind(listenFd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(listenFd_, SOMAXCONN) != 0) {
      throw EngineError(errnoText("cannot listen on unix:" + path));
    }
    unixPath_ = path;
  }

  void listenInet(const config::SocketSpec& socket) {
    addrinfo hints{};
    hints.ai_family = socket.kind == config::SocketSpec::Kind::Inet6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(socket.port);
    const int rc = getaddrinfo(socket.host.empty() ? nullptr : socket.host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0) throw EngineError("cannot listen on " + socket.text + ": " + gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
    listenFd_ = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (listenFd_ < 0 || setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(listenFd_, found->ai_addr, found->ai_addrlen) != 0 || ::listen(listenFd_, SOMAXCONN) != 0) {
      throw EngineError(errnoText("cannot listen on " + socket.text));
    }
  }

  void add(int fd, void* tag, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = tag;
    if (epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &ev) != 0) throw EngineError(errnoText("epoll_ctl"));
  }

  void rearm(int fd, void* tag) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.ptr = tag;
    epoll_ctl(epollFd_, EPOLL_CTL_MOD, fd, &ev);
  }

  void work() {
    epoll_event ev{};
    while (true) {
      const int n = epoll_wait(epollFd_, &ev, 1, -1);  // one at a time: a slow one holds up no other
      if (n < 0) {
        if (errno == EINTR) continue;
        log::error(errnoText("epoll_wait"));
        return;
      }
      if (n == 0) continue;
      if (ev.data.ptr == &stopTag_) return;
      if (ev.data.ptr == &listenTag_) {
        acceptAll();
      } else if (ev.data.ptr == &timerTag_) {
        tick();
      } else {
        serve(*static_cast<Connection*>(ev.data.ptr));
      }
    }
  }

  void acceptAll() {
    while (true) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      const int fd = accept4(listenFd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors: pause the listener (the MTA's connections wait in the
          // backlog) until the next tick, rather than spin on it.
          const int64_t now = nowMs();
          if (now - lastAcceptWarning_.exchange(now) >= 10000) log::warning(errnoText("accept (listener paused 1 s)"));
          listenerPaused_ = true;
          return;
        }
        break;  // EAGAIN: all taken
      }
      if (inet_) {
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      auto* c = new Connection(fd, peerName(ss));
      {
        std::lock_guard lock(mutex_);
        connections_.insert(c);
      }
      add(fd, c, EPOLLIN | EPOLLONESHOT);
    }
    rearm(listenFd_, &listenTag_);
  }

  void tick() {
    uint64_t expirations = 0;
    (void)!read(timerFd_, &expirations, sizeof expirations);
    const int64_t now = nowMs();
    {
      std::lock_guard lock(mutex_);
      for (Connection* c : connections_) {
        if (!c->busy.load() && now - c->lastActive.load() >= static_cast<int64_t>(options_.timeoutSeconds) * 1000) {
          // The worker that gets its hang-up closes it.
          if (shutdown(c->fd, SHUT_RDWR) == 0) {
            log::warning("milter connection from " + c->conversation.peer() + " silent for " +
                         std::to_string(options_.timeoutSeconds) + " s (MilterTimeout): closed");
          }
          c->lastActive.store(now);
        }
      }
    }
    if (listenerPaused_.exchange(false)) rearm(listenFd_, &listenTag_);
    rearm(timerFd_, &timerTag_);
  }

  void serve(Connection& c) {
    c.busy.store(true);
    bool closing = false;
    char buffer[65536];
    while (true) {
      const ssize_t n = read(c.fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        if (c.reader.buffered() > 0) {
          log::warning("milter protocol error from " + c.conversation.peer() + ": connection ended inside a packet (" +
                       std::to_string(c.reader.buffered()) + " bytes of it came); connection closed");
        }
        closing = true;
        break;
      }
      c.reader.append(std::string_view(buffer, static_cast<size_t>(n)));
      std::string error;
      while (const auto packet = c.reader.next(&error)) {
        if (c.conversation.handle(*packet, c.writer) == NativeConnection::Next::Close) {
          closing = true;
          break;
        }
      }
      if (!error.empty()) {
        log::warning("milter protocol error from " + c.conversation.peer() + ": " + error + "; connection closed");
        closing = true;
      }
      if (closing || static_cast<size_t>(n) < sizeof buffer) break;
    }
    if (!flush(c)) closing = true;
    if (closing) return close(c);
    c.lastActive.store(nowMs());
    c.busy.store(false);
    rearm(c.fd, &c);
  }

  // Writes what the connection answered; waits (at most MilterTimeout) while the MTA does
  // not read. False if the connection is broken.
  bool flush(Connection& c) {
    const std::string& bytes = c.writer.bytes();
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = send(c.fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{c.fd, POLLOUT, 0};
        if (poll(&p, 1, static_cast<int>(options_.timeoutSeconds) * 1000) > 0) continue;
      }
      c.writer.clear();
      return false;
    }
    c.writer.clear();
    return true;
  }

  void close(Connection& c) {
    {
      std::lock_guard lock(mutex_);
      connections_.erase(&c);
    }
    c.conversation.end();
    ::close(c.fd);  // also takes it out of the epoll set
    delete &c;
  }

  EngineOptions options_;
  int listenFd_ = -1, epollFd_ = -1, stopFd_ = -1, timerFd_ = -1;
  bool inet_ = false;
  std::string unixPath_;
  char listenTag_ = 0, timerTag_ = 0, stopTag_ = 0;  // their addresses tell the special descriptors apart
  std::atomic<bool> listenerPaused_{false};
  std::atomic<int64_t> lastAcceptWarning_{0};
  std::mutex mutex_;
  std::unordered_set<Connection*> connections_;
};

}  // namespace

std::unique_ptr<Engine> makeNativeEngine(const EngineOptions& options) {
  return std::make_unique<NativeEngine>(options);
}

}  // namespace authmilter::milter
