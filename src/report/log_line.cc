// The log line writer (see the header).
#include "authmilter/report/log_line.h"

#include "authmilter/util/strings.h"

namespace authmilter::report {

void appendLogField(std::string& line, std::string_view key, std::string_view value) {
  line.append(" ").append(key).append("=");
  if (!value.empty() && value.find_first_of(" \t\"") == std::string_view::npos) {
    line.append(util::sanitize(value));
    return;
  }
  line.push_back('"');
  for (char c : util::sanitize(value)) {
    if (c == '"' || c == '\\') line.push_back('\\');
    line.push_back(c);
  }
  line.push_back('"');
}

std::string formatLogLine(const pipeline::Connection& connection, const pipeline::Message& m,
                          std::string_view action, std::string_view reason, std::string_view reply) {
  std::string line = m.queueId.empty() ? "NOQUEUE" : m.queueId;
  line += ":";
  appendLogField(line, "client",
                 connection.hostname + "[" + (connection.address ? connection.address->toString() : "unknown") + "]");
  if (!connection.helo.empty()) appendLogField(line, "helo", connection.helo);
  appendLogField(line, "auth", m.authenticated() ? m.authLogin : "-");
  appendLogField(line, "daemon", connection.daemonName.empty() ? "-" : connection.daemonName);
  appendLogField(line, "from", "<" + m.sender.text + ">");
  appendLogField(line, "rcpts", std::to_string(m.recipients.size()));
  if (m.rejectedRecipients > 0) appendLogField(line, "rejected_rcpts", std::to_string(m.rejectedRecipients));
  appendLogField(line, "action", action);
  if (!reason.empty()) appendLogField(line, "reason", reason);
  if (!reply.empty()) appendLogField(line, "reply", reply);
  for (const auto& [key, value] : m.logFields) appendLogField(line, key, value);
  return line;
}

}  // namespace authmilter::report
