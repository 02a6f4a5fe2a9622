// A Logger that keeps every line, for tests whose behaviour under test is the log line.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "authmilter/log/logger.h"

namespace authmilter::testsupport {

class CaptureLogger : public log::Logger {
 public:
  void write(log::LogLevel, std::string_view line) override {
    std::lock_guard lock(mutex_);
    lines_.emplace_back(line);
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace authmilter::testsupport
