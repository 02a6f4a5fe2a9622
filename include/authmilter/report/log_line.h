// The one log line of a message: "QID: key=value ..." with the keys in a fixed order
// (README "Logging" lists them), values quoted when they hold blanks or quotes and
// sanitized (no control characters from the network reach the log).
#pragma once

#include <string>
#include <string_view>

#include "authmilter/pipeline/message.h"

namespace authmilter::report {

// The line for `message` on `connection` that ended with `action` (accept, reject, tempfail,
// quarantine, discard, aborted), `reason` and the `reply` the client got (empty: none).
std::string formatLogLine(const pipeline::Connection& connection, const pipeline::Message& message,
                          std::string_view action, std::string_view reason, std::string_view reply);

// key=value as the line writes it (for tools that print the same fields).
void appendLogField(std::string& line, std::string_view key, std::string_view value);

}  // namespace authmilter::report
