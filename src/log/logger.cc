// Standard logger: syslog(3) and/or one file or stderr, behind a level filter.
#include "authmilter/log/logger.h"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

#include "authmilter/util/strings.h"

namespace authmilter::log {

namespace {

int syslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::Error: return LOG_ERR;
    case LogLevel::Warning: return LOG_WARNING;
    case LogLevel::Notice: return LOG_NOTICE;
    case LogLevel::Info: return LOG_INFO;
    case LogLevel::Debug: return LOG_DEBUG;
  }
  return LOG_INFO;
}

const char* levelWord(LogLevel level) {
  switch (level) {
    case LogLevel::Error: return "error: ";
    case LogLevel::Warning: return "warning: ";
    default: return "";
  }
}

// Writes "2026-11-25T09:00:00Z authmilter[123]: warning: text\n" with one write(2), so
// lines from concurrent sessions never interleave. False (errno set) when it could not.
bool writeLine(int fd, LogLevel level, std::string_view line) {
  char stamp[32];
  const time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string out;
  out.reserve(line.size() + 64);
  out.append(stamp).append(" authmilter[").append(std::to_string(getpid())).append("]: ");
  out.append(levelWord(level)).append(line).push_back('\n');
  const char* p = out.data();
  size_t left = out.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = EIO;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

class StandardLogger : public Logger {
 public:
  StandardLogger(const LogOptions& options, int fd, bool ownsFd) : options_(options), fd_(fd), ownsFd_(ownsFd) {
    if (options_.syslog) openlog("authmilter", LOG_PID | LOG_NDELAY, options_.facility ? options_.facility : LOG_MAIL);
  }
  ~StandardLogger() override {
    if (ownsFd_) ::close(fd_);
  }
  void write(LogLevel level, std::string_view line) override {
    if (static_cast<int>(level) > static_cast<int>(options_.level)) return;
    const std::string clean = util::sanitize(line);
    if (options_.syslog) syslog(syslogPriority(level), "%s%s", levelWord(level), clean.c_str());
    if (fd_ >= 0 && !writeLine(fd_, level, clean)) {
      reportFailure(errno);
    } else {
      failing_.store(false, std::memory_order_relaxed);
    }
  }

 private:
  // A log file that cannot be written (disk full, I/O error) must not stop the mail: its
  // lines are lost, and that is said once (until a write succeeds again) on stderr, which
  // the journal keeps under systemd, and to syslog when it is on.
  void reportFailure(int error) {
    if (failing_.exchange(true)) return;
    const std::string text = "cannot write log file " + options_.file + ": " + std::strerror(error) +
                             "; its lines are lost until it can be written";
    if (fd_ != STDERR_FILENO) {
      const std::string line = "authmilter: " + text + "\n";
      (void)!::write(STDERR_FILENO, line.data(), line.size());
    }
    if (options_.syslog) syslog(LOG_ERR, "error: %s", text.c_str());
  }

  LogOptions options_;
  int fd_;
  bool ownsFd_;
  std::atomic<bool> failing_{false};
};

class StderrLogger : public Logger {
 public:
  void write(LogLevel level, std::string_view line) override { writeLine(STDERR_FILENO, level, util::sanitize(line)); }
};

std::mutex& loggerMutex() {
  static std::mutex m;
  return m;
}
std::shared_ptr<Logger>& currentLogger() {
  static std::shared_ptr<Logger> logger = std::make_shared<StderrLogger>();
  return logger;
}

}  // namespace

std::optional<LogLevel> parseLogLevel(std::string_view name) {
  static constexpr std::pair<const char*, LogLevel> kLevels[] = {
      {"error", LogLevel::Error}, {"warning", LogLevel::Warning}, {"notice", LogLevel::Notice},
      {"info", LogLevel::Info},   {"debug", LogLevel::Debug}};
  for (const auto& [word, level] : kLevels) {
    if (util::iequals(name, word)) return level;
  }
  return std::nullopt;
}

std::optional<int> parseSyslogFacility(std::string_view name) {
  static constexpr std::pair<const char*, int> kFacilities[] = {
      {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0},
      {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
      {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  for (const auto& [word, facility] : kFacilities) {
    if (util::iequals(name, word)) return facility;
  }
  return std::nullopt;
}

std::shared_ptr<Logger> makeStandardLogger(const LogOptions& options, std::string* error) {
  int fd = -1;
  bool owns = false;
  if (options.file == "stderr") {
    fd = STDERR_FILENO;
  } else if (!options.file.empty()) {
    fd = ::open(options.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      *error = "cannot open log file " + options.file + ": " + std::strerror(errno);
      return nullptr;
    }
    owns = true;
  }
  return std::make_shared<StandardLogger>(options, fd, owns);
}

void setLogger(std::shared_ptr<Logger> logger) {
  std::lock_guard lock(loggerMutex());
  currentLogger() = logger ? std::move(logger) : std::make_shared<StderrLogger>();
}

void log(LogLevel level, std::string_view line) {
  std::shared_ptr<Logger> logger;
  {
    std::lock_guard lock(loggerMutex());
    logger = currentLogger();
  }
  logger->write(level, line);
}

}  // namespace authmilter::log
