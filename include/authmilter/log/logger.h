// Logging: one front (log()) over swappable sinks. The daemon logs to syslog, a file or
// stderr (these machines and most containers run no syslog daemon), chosen by the conf and
// swapped atomically on reload. Tests install their own Logger to capture lines.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace authmilter::log {

enum class LogLevel : int { Error = 0, Warning, Notice, Info, Debug };

std::optional<LogLevel> parseLogLevel(std::string_view name);
// "mail", "daemon", "user", "local0".."local7" -> LOG_* facility value.
std::optional<int> parseSyslogFacility(std::string_view name);

class Logger {
 public:
  virtual ~Logger() = default;
  // Called from any thread; one call is one line (no trailing newline).
  virtual void write(LogLevel level, std::string_view line) = 0;
};

struct LogOptions {
  bool syslog = true;
  int facility = 0;  // LOG_MAIL when 0
  LogLevel level = LogLevel::Info;
  std::string file;  // "" = none, "stderr" = standard error, else a path (appended to)
};

// Opens the sinks; on failure (unwritable file) returns nullptr and sets *error.
std::shared_ptr<Logger> makeStandardLogger(const LogOptions& options, std::string* error);

void setLogger(std::shared_ptr<Logger> logger);  // nullptr: back to stderr
void log(LogLevel level, std::string_view line);
inline void error(std::string_view line) { log(LogLevel::Error, line); }
inline void warning(std::string_view line) { log(LogLevel::Warning, line); }
inline void notice(std::string_view line) { log(LogLevel::Notice, line); }
inline void info(std::string_view line) { log(LogLevel::Info, line); }
inline void debug(std::string_view line) { log(LogLevel::Debug, line); }

}  // namespace authmilter::log
