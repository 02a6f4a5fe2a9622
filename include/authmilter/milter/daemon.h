// The daemon's life after the configuration loaded: socket, privileges, background,
// libmilter's main loop, and signals (SIGHUP reload, SIGTERM/SIGINT graceful stop).
#pragma once

#include <memory>
#include <string>

#include "authmilter/config/config.h"
#include "authmilter/runtime/runtime.h"

namespace authmilter::milter {

struct DaemonOptions {
  std::string confPath;
  bool foreground = false;
};

// Returns the process exit code: 0 after a clean stop, non-zero (with the reason on stderr
// and in the log) when it could not start.
int runDaemon(std::shared_ptr<const runtime::Runtime> runtime, const DaemonOptions& options);

// The logger a configuration asks for (in the foreground at a terminal, without LogFile:
// also stderr).
std::shared_ptr<log::Logger> loggerFor(const config::Config& config, bool foreground, std::string* error);

}  // namespace authmilter::milter
