// A configuration problem, reported as "file:line: message" (line 0: "file: message").
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace authmilter::config {

struct ConfigError {
  std::string file;
  int line = 0;
  std::string message;
  std::string toString() const {
    return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
  }
};

// Thrown by loadConfig with every problem found (not just the first).
class ConfigErrors : public std::runtime_error {
 public:
  explicit ConfigErrors(std::vector<ConfigError> errors)
      : std::runtime_error(errors.empty() ? "configuration error" : errors.front().toString()),
        errors_(std::move(errors)) {}
  const std::vector<ConfigError>& errors() const { return errors_; }

 private:
  std::vector<ConfigError> errors_;
};

}  // namespace authmilter::config
