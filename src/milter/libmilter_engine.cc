// The libmilter engine: smfi_main() with the callbacks of callbacks.cc.
#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "authmilter/log/logger.h"
#include "authmilter/milter/callbacks.h"
#include "authmilter/milter/engine.h"

namespace authmilter::milter {

namespace {

class LibmilterEngine final : public Engine {
 public:
  explicit LibmilterEngine(const EngineOptions& options) : options_(options) {}

  std::string listen(const config::SocketSpec& socket) override {
    if (!registerCallbacks()) throw EngineError("smfi_register failed");
    if (smfi_setconn(const_cast<char*>(socket.text.c_str())) != MI_SUCCESS) {
      throw EngineError("smfi_setconn " + socket.text + " failed");
    }
    smfi_settimeout(static_cast<int>(options_.timeoutSeconds));
    errno = 0;
    if (smfi_opensocket(true) != MI_SUCCESS) {
      const int saved = errno;
      throw EngineError("cannot listen on " + socket.text + (saved ? std::string(": ") + std::strerror(saved) : ""));
    }
    return tuneListener();
  }

  bool run() override { return smfi_main() == MI_SUCCESS; }

  // libmilter's listener polls its socket with a 5 s timeout while holding the lock that
  // smfi_stop() needs, so a stop would take up to 5 s. A connection to ourselves wakes it;
  // it then sees the stop flag (set before smfi_stop() waits for that lock) and ends.
  void stop() override {
    std::mutex mutex;
    std::condition_variable cv;
    bool stopped = false;
    std::thread waker([&] {
      std::unique_lock lock(mutex);
      for (int i = 0; i < 250 && !stopped; ++i) {
        wakeListener();
        cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return stopped; });
      }
    });
    smfi_stop();
    {
      std::lock_guard lock(mutex);
      stopped = true;
    }
    cv.notify_all();
    waker.join();
  }

 private:
  // libmilter does not expose its listening socket: find it among our descriptors. Sets
  // TCP_NODELAY on an inet listener (accepted sockets inherit it on Linux), so replies made
  // of several small packets are not held back by Nagle waiting on the MTA's delayed ACK.
  std::string tuneListener() {
    for (int fd = 3; fd < 1024; ++fd) {
      int listening = 0;
      socklen_t len = sizeof listening;
      if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
      sockaddr_storage ss{};
      socklen_t sslen = sizeof ss;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sslen) != 0) continue;
      std::memcpy(&address_, &ss, sslen);
      addressLength_ = sslen;
      if (ss.ss_family == AF_UNIX) return "unix:" + std::string(reinterpret_cast<sockaddr_un*>(&ss)->sun_path);
      const int one = 1;
      if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        log::warning(std::string("setsockopt TCP_NODELAY: ") + std::strerror(errno));
      }
      return describeListener(ss);
    }
    return "?";
  }

  void wakeListener() {
    sockaddr_storage target = address_;
    if (target.ss_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&target);
      if (sin->sin_addr.s_addr == htonl(INADDR_ANY)) sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (target.ss_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&target);
      if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) sin6->sin6_addr = in6addr_loopback;
    } else if (target.ss_family != AF_UNIX) {
      return;
    }
    const int fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return;
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&target), addressLength_);
    ::close(fd);
  }

  EngineOptions options_;
  sockaddr_storage address_{};
  socklen_t addressLength_ = 0;
};

}  // namespace

std::string describeListener(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_UNIX) return "unix:" + std::string(reinterpret_cast<const sockaddr_un*>(&ss)->sun_path);
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
    return "inet:" + std::to_string(ntohs(sin->sin_port)) + "@" + host;
  }
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
  return "inet6:" + std::to_string(ntohs(sin6->sin6_port)) + "@" + host;
}

std::unique_ptr<Engine> makeLibmilterEngine(const EngineOptions& options) {
  return std::make_unique<LibmilterEngine>(options);
}

}  // namespace authmilter::milter
