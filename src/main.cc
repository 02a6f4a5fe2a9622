// authmilter: command line, configuration check, then the daemon.
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "authmilter/config/config.h"
#include "authmilter/milter/daemon.h"
#include "authmilter/version.h"

// libmilter's smfi_main() always starts a signal thread that sigwait()s for SIGHUP,
// SIGTERM and SIGINT and stops the milter on any of them (libmilter/signal.c); there is no
// way to turn it off, and the kernel may hand it a signal even while our main thread is
// ready for it. This definition takes the place of libc's sigwait() for libmilter (the
// executable's symbols are searched first), so that thread waits for ever with the signals
// blocked and they stay ours: SIGHUP reloads, SIGTERM drains. Nothing else in authmilter
// calls sigwait(). It lives here, in the daemon's executable only, so that other programs
// linking the core library (tools, tests) keep libc's.
extern "C" int sigwait(const sigset_t*, int*) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  for (;;) pause();
}

namespace {

constexpr const char* kDefaultConf = "/etc/authmilter/authmilter.conf";

void usage(std::ostream& out) {
  out << "usage: authmilter [-c FILE] [-f] [-n] [-V]\n"
         "  -c FILE  configuration file (default " << kDefaultConf << ")\n"
         "  -f       stay in the foreground (at a terminal, also log to stderr unless LogFile is set)\n"
         "  -n       check the configuration and every file it names, then exit\n"
         "  -V       print the version and exit\n";
}

}  // namespace

int main(int argc, char** argv) {
  authmilter::milter::DaemonOptions options;
  options.confPath = kDefaultConf;
  bool checkOnly = false;
  int opt;
  while ((opt = getopt(argc, argv, "c:fnVh")) != -1) {
    switch (opt) {
      case 'c': options.confPath = optarg; break;
      case 'f': options.foreground = true; break;
      case 'n': checkOnly = true; break;
      case 'V': std::cout << "authmilter " << authmilter::kVersion << "\n"; return 0;
      case 'h': usage(std::cout); return 0;
      default: usage(std::cerr); return 64;  // EX_USAGE
    }
  }
  if (optind != argc) {
    usage(std::cerr);
    return 64;
  }
  // Absolute, so that a reload after daemonizing (which changes to /) reads the same file
  // and the lists it names relative to it.
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(options.confPath, ec);
  if (!ec) options.confPath = absolute.lexically_normal().string();
  std::shared_ptr<const authmilter::config::Config> config;
  try {
    config = authmilter::config::loadConfig(options.confPath);
  } catch (const authmilter::config::ConfigErrors& e) {
    for (const auto& err : e.errors()) std::cerr << err.toString() << "\n";
    std::cerr << "authmilter: " << e.errors().size() << " configuration error(s); not started\n";
    return 78;  // EX_CONFIG
  }
  std::shared_ptr<const authmilter::runtime::Runtime> runtime;
  try {
    runtime = authmilter::runtime::buildRuntime(std::move(config));
  } catch (const std::exception& e) {
    std::cerr << "authmilter: " << e.what() << "; not started\n";
    return 70;  // EX_SOFTWARE
  }
  if (checkOnly) {
    std::cout << options.confPath << ": configuration OK\n";
    return 0;
  }
  return authmilter::milter::runDaemon(std::move(runtime), options);
}
