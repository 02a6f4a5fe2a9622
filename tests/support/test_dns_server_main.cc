// authmilter-testdns: the test DNS server as a program, for shell scripts and manual runs.
//   authmilter-testdns [--port N] ZONEFILE
// Prints "listening on port N" once serving, serves until SIGTERM or SIGINT, then exits 0.
// Bad arguments or a bad zone: a message on stderr and exit status 2.
#include <signal.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "test_dns_server.h"

namespace {

constexpr const char* kUsage = "usage: authmilter-testdns [--port N] ZONEFILE\n";

std::optional<uint16_t> parsePort(const std::string& text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

int usageError(const std::string& message) {
  std::cerr << "authmilter-testdns: " << message << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint16_t port = 0;
  std::string zoneFile;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--port" || arg.rfind("--port=", 0) == 0) {
      std::string value;
      if (arg == "--port") {
        if (i + 1 >= argc) return usageError("--port needs a value");
        value = argv[++i];
      } else {
        value = arg.substr(7);
      }
      const auto parsed = parsePort(value);
      if (!parsed) return usageError("bad port '" + value + "'");
      port = *parsed;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usageError("unknown option " + arg);
    } else if (zoneFile.empty()) {
      zoneFile = arg;
    } else {
      return usageError("only one zone file");
    }
  }
  if (zoneFile.empty()) return usageError("no zone file");

  std::error_code ec;
  std::ifstream in(zoneFile);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad() || std::filesystem::is_directory(zoneFile, ec)) {
    std::cerr << "authmilter-testdns: cannot read " << zoneFile << "\n";
    return 2;
  }

  // Blocked before the server's threads start, so they inherit the mask and only the wait
  // below takes these signals. Default dispositions first: a signal ignored (as SIGINT is for
  // a background job of a non-interactive shell) would be discarded, never waited for.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  try {
    authmilter::testsupport::TestDnsServer server(text.str(), port);
    std::cout << "listening on port " << server.port() << std::endl;
    // sigwaitinfo(), not sigwait(): authmilter_core defines its own sigwait() (for
    // libmilter's signal thread, src/milter/daemon.cc) that never returns, and the linker
    // takes it from there for any program linked with the library.
    while (sigwaitinfo(&stopSignals, nullptr) < 0) {
    }
  } catch (const std::exception& e) {
    std::cerr << "authmilter-testdns: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
