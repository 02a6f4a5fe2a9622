// Runs the real authmilter binary in the foreground with a test conf in a temp directory,
// logging to a file there, and tells the test where it listens (read from its log line,
// so "inet:0@127.0.0.1" works). Stops it (SIGTERM, then SIGKILL) when destroyed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"
#include "test_dns_server.h"

namespace authmilter::testsupport {

// Polls `done` every 5 ms until it holds or `timeout` passes; returns whether it held. A
// bounded wait for a condition, never a fixed sleep standing in for one.
template <typename Fn>
bool waitUntil(std::chrono::milliseconds timeout, Fn done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// In a forked child: execs `authmilter -f -c conf` (never returns; _exit(127) if exec fails).
// Under LeakSanitizer it names tests/lsan-daemon.supp: with the libmilter engine, sessions
// the MTA (a test's client) still holds at a stop keep their threads alive through exit
// (libmilter's smfi_stop does not end them), and LSan cannot see the per-thread OpenSSL
// state (ERR_STATE, 904 bytes) such a thread holds, so it would report it as leaked.
[[noreturn]] void execDaemon(const std::string& conf);

class DaemonHarness {
 public:
  // Writes `conf` + "LogFile <dir>/authmilter.log" + "Syslog no" to <dir>/authmilter.conf and
  // starts `authmilter -f -c` on it; throws if it does not report listening within 20 s.
  // A conf without Nameservers gets "Nameservers" of a TestDnsServer of its own (dns()).
  DaemonHarness(const TempDir& dir, const std::string& conf);
  ~DaemonHarness();
  DaemonHarness(const DaemonHarness&) = delete;
  DaemonHarness& operator=(const DaemonHarness&) = delete;

  const std::string& listenAddress() const { return listen_; }  // "unix:/..." or "inet:PORT@HOST"
  std::string unixPath() const;
  uint16_t tcpPort() const;
  pid_t pid() const { return pid_; }
  const std::string& confPath() const { return conf_; }
  TestDnsServer* dns() const { return dns_.get(); }

  std::vector<std::string> logLines() const;
  // Waits until a log line (after the first `skip` lines) contains `needle`; returns it.
  std::optional<std::string> waitForLog(const std::string& needle, size_t skip = 0,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  // The log line of message `qid` ("QID: client=..."), or the whole log saying it is missing.
  std::string messageLogLine(const std::string& qid) const;
  void signal(int sig) const;
  // Sends SIGTERM and waits for the exit; returns the exit status (or -signal).
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  std::string conf_;
  std::string logFile_;
  std::string listen_;
  pid_t pid_ = -1;
  std::unique_ptr<TestDnsServer> dns_;
};

// Runs authmilter (authmilter-dns, any program) with `args` and returns {exit status,
// stdout+stderr}. Arguments must not contain a single quote.
std::pair<int, std::string> runAuthmilter(const std::vector<std::string>& args);
std::pair<int, std::string> runAuthmilterDns(const std::vector<std::string>& args);
std::pair<int, std::string> runAuthmilterCheck(const std::vector<std::string>& args);
std::pair<int, std::string> runAuthmilterKeygen(const std::vector<std::string>& args);
std::pair<int, std::string> runProgram(const std::string& program, const std::vector<std::string>& args);

}  // namespace authmilter::testsupport
