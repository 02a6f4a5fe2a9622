// The Session's only path to the MTA: macros in, header edits and quarantine out.
// LibmilterContext implements it over SMFICTX; tests use a fake that records calls.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace authmilter::milter {

class MilterContext {
 public:
  virtual ~MilterContext() = default;
  // A macro's value ("{auth_authen}", "i", ...) as the MTA last sent it; nullopt if unset.
  virtual std::optional<std::string> macro(std::string_view name) = 0;
  // Header edits, valid only at end of message. Values are passed exactly as given.
  virtual bool insertHeader(size_t index, const std::string& name, const std::string& value) = 0;
  virtual bool addHeader(const std::string& name, const std::string& value) = 0;
  // Deletes the index-th (1-based) header called `name`.
  virtual bool deleteHeader(const std::string& name, size_t index) = 0;
  virtual bool quarantine(const std::string& reason) = 0;
};

}  // namespace authmilter::milter
