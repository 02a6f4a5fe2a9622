// A milter engine: what speaks the milter protocol with the MTA on the listening socket and
// turns it into calls on a Session per connection. Two: libmilter's (src/milter/
// libmilter_engine.cc) and our own on an event loop (src/milter/native_engine.cc), chosen by
// MilterEngine. The daemon (daemon.cc) drives either the same way: listen() as root, run()
// on a thread of its own, stop() from the signal loop once the messages in flight are done.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "authmilter/config/config.h"

namespace authmilter::milter {

class EngineError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Opens the listening socket (a stale unix socket file is replaced); returns where it
  // listens, as the log line says it ("unix:/path", "inet:PORT@ADDRESS", "inet6:..."), with
  // the port the kernel chose for port 0. Throws EngineError.
  virtual std::string listen(const config::SocketSpec& socket) = 0;
  // Serves connections until stop(); false if it ended for another reason.
  virtual bool run() = 0;
  // From another thread: stop accepting and make run() return.
  virtual void stop() = 0;
};

struct EngineOptions {
  unsigned timeoutSeconds = 7210;  // MilterTimeout: the MTA's silence that ends a connection
  unsigned workers = 32;           // MilterWorkers (native engine only)
};

// "unix:/path", "inet:PORT@ADDRESS" or "inet6:PORT@ADDRESS" for a socket's own address.
std::string describeListener(const sockaddr_storage& address);

std::unique_ptr<Engine> makeLibmilterEngine(const EngineOptions& options);
std::unique_ptr<Engine> makeNativeEngine(const EngineOptions& options);

}  // namespace authmilter::milter
