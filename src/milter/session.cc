// Session: callbacks -> pipeline -> one final action, header edits and one log line.
#include "authmilter/milter/session.h"

#include <condition_variable>
#include <mutex>

#include "authmilter/log/logger.h"
#include "authmilter/mail/message_text.h"
#include "authmilter/pipeline/auth_results.h"
#include "authmilter/util/strings.h"

namespace authmilter::milter {

using pipeline::Disposition;
using pipeline::Stage;
using pipeline::Verdict;

namespace {

struct InFlight {
  std::mutex mutex;
  std::condition_variable idle;
  int count = 0;
};
InFlight& inFlight() {
  static InFlight state;
  return state;
}
void changeInFlight(int delta) {
  auto& s = inFlight();
  std::lock_guard lock(s.mutex);
  s.count += delta;
  if (s.count == 0) s.idle.notify_all();
}

// key=value for the log line; values with blanks or quotes are quoted.
void appendField(std::string& line, std::string_view key, std::string_view value) {
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

}  // namespace

int Session::messagesInFlight() {
  auto& s = inFlight();
  std::lock_guard lock(s.mutex);
  return s.count;
}

bool Session::waitForNoMessagesInFlight(std::chrono::milliseconds timeout) {
  auto& s = inFlight();
  std::unique_lock lock(s.mutex);
  return s.idle.wait_for(lock, timeout, [&] { return s.count == 0; });
}

Session::Session(std::shared_ptr<const config::Config> config, MilterContext& context, bool headerLeadingSpace)
    : config_(std::move(config)),
      context_(context),
      headerLeadingSpace_(headerLeadingSpace),
      pipeline_(config_->stages) {}

Session::~Session() { close(); }

std::string Session::macroOr(std::string_view name, std::string fallback) {
  auto value = context_.macro(name);
  return value ? std::move(*value) : std::move(fallback);
}

Verdict Session::connect(const std::string& hostname, std::optional<net::IpAddress> address) {
  connection_ = {};
  connection_.headerLeadingSpace = headerLeadingSpace_;
  // Postfix says "unknown", sendmail "[192.0.2.1]" for a client without a verified name;
  // keep one spelling so the log reads "unknown[192.0.2.1]" for both.
  connection_.hostname = hostname.empty() || hostname.front() == '[' ? "unknown" : util::sanitize(hostname);
  connection_.address = address;
  if (!connection_.address) {
    // Some MTAs pass no socket address (e.g. local submission); {client_addr} may still say.
    if (auto text = context_.macro("{client_addr}")) connection_.address = net::IpAddress::parse(*text);
  }
  connection_.daemonName = util::sanitize(macroOr("{daemon_name}"));
  deferred_ = pipeline_.run([&](Stage& s) { return s.onConnect(connection_); });
  if (!deferred_.stops()) deferred_ = {};
  return deferred_;
}

void Session::helo(const std::string& name) {
  connection_.helo = util::sanitize(name);
  connection_.tlsVersion = util::sanitize(macroOr("{tls_version}"));
  connection_.cipher = util::sanitize(macroOr("{cipher}"));
  const Verdict v = pipeline_.run([&](Stage& s) { return s.onHelo(connection_); });
  if (v.stops() && !deferred_.stops()) deferred_ = v;
}

void Session::beginMessage() {
  if (message_) endMessage("aborted", "new MAIL FROM before the previous message ended", "");
  message_.emplace();
  pending_ = {};
  firstRcptRejection_.clear();
  forgedAuthResults_.clear();
  lookalikeAuthResults_ = 0;
  authResultsSeen_ = 0;
  changeInFlight(+1);
}

void Session::refreshQueueId() {
  if (auto id = context_.macro("i"); id && !id->empty()) message_->queueId = util::sanitize(*id);
}

Verdict Session::mailFrom(const std::vector<std::string>& args) {
  beginMessage();
  auto& m = *message_;
  m.sender = mail::parseMailAddress(args.empty() ? std::string() : args.front());
  m.authLogin = macroOr("{auth_authen}");
  m.authType = macroOr("{auth_type}");
  refreshQueueId();
  Verdict v = deferred_.stops() ? deferred_
                                : pipeline_.run([&](Stage& s) { return s.onMailFrom(connection_, m); });
  if (v.stops()) {
    endMessage(toString(v.disposition), v.reason, v.reply.toString());
    return v;
  }
  pending_ = pipeline::stronger(pending_, v);
  return {};
}

Verdict Session::rcpt(const std::vector<std::string>& args) {
  if (!message_) return {};  // RCPT without MAIL cannot happen with a sane MTA; nothing to check
  auto& m = *message_;
  const auto address = mail::parseMailAddress(args.empty() ? std::string() : args.front());
  Verdict v = pipeline_.run([&](Stage& s) { return s.onRcpt(connection_, m, address); });
  if (v.stops()) {
    ++m.rejectedRecipients;
    if (firstRcptRejection_.empty()) firstRcptRejection_ = v.reason;
    log::debug((m.queueId.empty() ? "NOQUEUE" : m.queueId) + ": rcpt <" + address.text + "> " +
               std::string(toString(v.disposition)) + ": " + v.reason);
    return v;
  }
  m.recipients.push_back(address.text);
  pending_ = pipeline::stronger(pending_, v);
  return {};
}

Verdict Session::header(const std::string& name, const std::string& value) {
  if (!message_) return {};
  // Counted as the MTAs count them for smfi_chgheader: "Authentication-Results :" (a blank
  // before the colon) is the same field; Postfix and sendmail pass its name trimmed.
  if (mail::isHeaderNamed(name, pipeline::kAuthResultsHeader)) {
    ++authResultsSeen_;
    const auto claim = pipeline::claimOf(value, config_->authservId);
    if (claim != pipeline::AuthservIdClaim::NotOurs) forgedAuthResults_.push_back(authResultsSeen_);
    if (claim == pipeline::AuthservIdClaim::Suspicious) ++lookalikeAuthResults_;
  }
  Verdict v = pipeline_.run([&](Stage& s) { return s.onHeader(connection_, *message_, name, value); });
  pending_ = pipeline::stronger(pending_, v);
  return v;
}

Verdict Session::endOfHeaders() {
  if (!message_) return {};
  Verdict v = pipeline_.run([&](Stage& s) { return s.onEndOfHeaders(connection_, *message_); });
  pending_ = pipeline::stronger(pending_, v);
  return v;
}

Verdict Session::body(std::string_view chunk) {
  if (!message_) return {};
  Verdict v = pipeline_.run([&](Stage& s) { return s.onBody(connection_, *message_, chunk); });
  pending_ = pipeline::stronger(pending_, v);
  return v;
}

void Session::applyEdits() {
  auto& m = *message_;
  const std::string lead = headerLeadingSpace_ ? " " : "";
  const std::string name(pipeline::kAuthResultsHeader);
  // RFC 8601 §5: remove every Authentication-Results claiming our authserv-id. Last to
  // first, so each deletion leaves the indexes still to come unchanged (CVE-2022-48521).
  for (auto it = forgedAuthResults_.rbegin(); it != forgedAuthResults_.rend(); ++it) {
    context_.deleteHeader(name, *it);
  }
  if (!forgedAuthResults_.empty()) m.logFields.emplace_back("removed_ar", std::to_string(forgedAuthResults_.size()));
  if (lookalikeAuthResults_ > 0) m.logFields.emplace_back("removed_ar_lookalike", std::to_string(lookalikeAuthResults_));
  context_.insertHeader(0, name, lead + pipeline::formatAuthResults(config_->authservId, m.results));
  for (const auto& edit : m.headerEdits) {
    if (edit.kind == pipeline::HeaderEdit::Kind::Insert) {
      context_.insertHeader(edit.index, edit.name, lead + edit.value);
    } else {
      context_.addHeader(edit.name, lead + edit.value);
    }
  }
}

Verdict Session::endOfMessage() {
  if (!message_) return {};
  refreshQueueId();
  Verdict v = pipeline_.run([&](Stage& s) { return s.onEndOfMessage(connection_, *message_); });
  v = pipeline::stronger(pending_, v);
  if (!v.stops()) {
    applyEdits();
    if (v.disposition == Disposition::Quarantine) {
      context_.quarantine(v.reason.empty() ? "quarantined by authmilter" : v.reason);  // MTAs need a reason
    }
  }
  endMessage(toString(v.disposition), v.reason, v.reply.toString());
  return v;
}

void Session::abort() {
  if (!message_) return;
  const auto& m = *message_;
  if (m.recipients.empty() && m.rejectedRecipients > 0) {
    endMessage("reject", firstRcptRejection_, "");
  } else {
    endMessage("aborted", "", "");
  }
}

void Session::close() { abort(); }

void Session::endMessage(std::string_view action, const std::string& reason, const std::string& reply) {
  auto& m = *message_;
  std::string line = m.queueId.empty() ? "NOQUEUE" : m.queueId;
  line += ":";
  appendField(line, "client",
              connection_.hostname + "[" + (connection_.address ? connection_.address->toString() : "unknown") + "]");
  if (!connection_.helo.empty()) appendField(line, "helo", connection_.helo);
  appendField(line, "auth", m.authenticated() ? m.authLogin : "-");
  appendField(line, "daemon", connection_.daemonName.empty() ? "-" : connection_.daemonName);
  appendField(line, "from", "<" + m.sender.text + ">");
  appendField(line, "rcpts", std::to_string(m.recipients.size()));
  if (m.rejectedRecipients > 0) appendField(line, "rejected_rcpts", std::to_string(m.rejectedRecipients));
  appendField(line, "action", action);
  if (!reason.empty()) appendField(line, "reason", reason);
  if (!reply.empty()) appendField(line, "reply", reply);
  for (const auto& [key, value] : m.logFields) appendField(line, key, value);
  log::info(line);
  pipeline_.endMessage(m);
  message_.reset();
  changeInFlight(-1);
}

}  // namespace authmilter::milter
