// Transaction: events -> stages -> one final verdict, a header-edit plan and one log line.
#include "authmilter/pipeline/transaction.h"

#include <condition_variable>
#include <mutex>

#include "authmilter/log/logger.h"
#include "authmilter/metrics/metrics.h"
#include "authmilter/report/log_line.h"
#include "authmilter/util/strings.h"

namespace authmilter::pipeline {

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

}  // namespace

int Transaction::messagesInFlight() {
  auto& s = inFlight();
  std::lock_guard lock(s.mutex);
  return s.count;
}

bool Transaction::waitForNoMessagesInFlight(std::chrono::milliseconds timeout) {
  auto& s = inFlight();
  std::unique_lock lock(s.mutex);
  return s.idle.wait_for(lock, timeout, [&] { return s.count == 0; });
}

Transaction::Transaction(std::shared_ptr<const config::Config> config,
                         const std::vector<std::shared_ptr<const StageFactory>>& stages)
    : config_(std::move(config)), pipeline_(stages), forged_(config_->authservId) {}

Transaction::~Transaction() { close(); }

Verdict Transaction::connect(ConnectInfo info) {
  connection_ = {};
  connection_.headerLeadingSpace = info.headerLeadingSpace;
  // Postfix says "unknown", sendmail "[192.0.2.1]" for a client without a verified name;
  // keep one spelling so the log reads "unknown[192.0.2.1]" for both.
  connection_.hostname =
      info.hostname.empty() || info.hostname.front() == '[' ? "unknown" : util::sanitize(info.hostname);
  connection_.address = info.address;
  connection_.daemonName = util::sanitize(info.daemonName);
  deferred_ = pipeline_.run([&](Stage& s) { return s.onConnect(connection_); });
  if (!deferred_.stops()) deferred_ = {};
  return deferred_;
}

void Transaction::helo(std::string name, std::string tlsVersion, std::string cipher) {
  connection_.helo = util::sanitize(name);
  connection_.tlsVersion = util::sanitize(tlsVersion);
  connection_.cipher = util::sanitize(cipher);
  const Verdict v = pipeline_.run([&](Stage& s) { return s.onHelo(connection_); });
  if (v.stops() && !deferred_.stops()) deferred_ = v;
}

void Transaction::beginMessage() {
  if (message_) endMessage(metrics::Action::Aborted, "new MAIL FROM before the previous message ended", "");
  message_.emplace();
  pending_ = {};
  firstRcptRejection_.clear();
  forged_.clear();
  fromValues_.clear();
  changeInFlight(+1);
}

void Transaction::setQueueId(std::string_view queueId) {
  if (!queueId.empty()) message_->queueId = util::sanitize(queueId);
}

Verdict Transaction::mailFrom(const MailInfo& info) {
  beginMessage();
  auto& m = *message_;
  m.sender = mail::parseMailAddress(info.sender);
  m.authLogin = info.authLogin;
  m.authType = info.authType;
  setQueueId(info.queueId);
  Verdict v = deferred_;
  if (!v.stops()) {
    m.trust = trustOf(connection_, m, config_->ignoreAuthenticatedClients);
    v = pipeline_.run([&](Stage& s) { return s.onMailFrom(connection_, m); });
  }
  if (v.stops()) {
    endMessage(metrics::actionOf(v.disposition), v.reason, v.reply.toString());
    return v;
  }
  pending_ = stronger(pending_, v);
  return {};
}

Verdict Transaction::rcpt(std::string_view argument) {
  if (!message_) return {};  // RCPT without MAIL cannot happen with a sane MTA; nothing to check
  auto& m = *message_;
  const auto address = mail::parseMailAddress(argument);
  Verdict v = pipeline_.run([&](Stage& s) { return s.onRcpt(connection_, m, address); });
  if (v.stops()) {
    ++m.rejectedRecipients;
    if (firstRcptRejection_.empty()) firstRcptRejection_ = v.reason;
    log::debug((m.queueId.empty() ? "NOQUEUE" : m.queueId) + ": rcpt <" + address.text + "> " +
               std::string(toString(v.disposition)) + ": " + v.reason);
    return v;
  }
  m.recipients.push_back(address.text);
  pending_ = stronger(pending_, v);
  return {};
}

Verdict Transaction::header(std::string_view name, std::string_view value) {
  if (!message_) return {};
  forged_.header(name, value);
  if (mail::isFromHeader(name)) fromValues_.emplace_back(value);
  Verdict v = pipeline_.run([&](Stage& s) { return s.onHeader(connection_, *message_, name, value); });
  pending_ = stronger(pending_, v);
  return v;
}

void Transaction::readFrom() {
  message_->from = mail::authorDomain(fromValues_);
}

Verdict Transaction::endOfHeaders() {
  if (!message_) return {};
  readFrom();
  Verdict v = pipeline_.run([&](Stage& s) { return s.onEndOfHeaders(connection_, *message_); });
  pending_ = stronger(pending_, v);
  return v;
}

Verdict Transaction::body(std::string_view chunk) {
  if (!message_) return {};
  Verdict v = pipeline_.run([&](Stage& s) { return s.onBody(connection_, *message_, chunk); });
  pending_ = stronger(pending_, v);
  return v;
}

Transaction::End Transaction::endOfMessage(std::string_view queueId) {
  End end;
  if (!message_) return end;
  setQueueId(queueId);
  auto& m = *message_;
  if (!m.from) readFrom();  // the MTA sent no end-of-headers event
  Verdict v = pipeline_.run([&](Stage& s) { return s.onEndOfMessage(connection_, m); });
  v = stronger(pending_, v);
  if (!v.stops()) v = stronger(v, pipeline_.run([&](Stage& s) { return s.onFinish(connection_, m); }));
  if (!v.stops()) {
    // RFC 8601 §5: remove every Authentication-Results claiming our authserv-id, last to
    // first, so each deletion leaves the indexes still to come unchanged (CVE-2022-48521).
    const auto& forged = forged_.indexes();
    end.edits.deleteAuthResults.assign(forged.rbegin(), forged.rend());
    m.removedAuthResults = forged.size();
    m.removedLookalikes = forged_.lookalikes();
    end.edits.authResults = report::authResultsHeader(config_->authservId, m);
    end.edits.edits = m.headerEdits;
    if (v.disposition == Disposition::Quarantine) {
      end.edits.quarantine = v.reason.empty() ? "quarantined by authmilter" : v.reason;  // MTAs need a reason
    }
  }
  end.verdict = v;
  end.logLine = endMessage(metrics::actionOf(v.disposition), v.reason, v.reply.toString(), &end.message);
  return end;
}

void Transaction::abort() {
  if (!message_) return;
  const auto& m = *message_;
  if (m.recipients.empty() && m.rejectedRecipients > 0) {
    endMessage(metrics::Action::Reject, firstRcptRejection_, "");
  } else {
    endMessage(metrics::Action::Aborted, "", "");
  }
}

void Transaction::close() { abort(); }

std::string Transaction::endMessage(metrics::Action action, const std::string& reason, const std::string& reply,
                                    Message* keep) {
  auto& m = *message_;
  std::string line = report::formatLogLine(connection_, m, metrics::toString(action), reason, reply);
  log::info(line);
  metrics::countMessage(m, action);
  pipeline_.endMessage(m);
  if (keep != nullptr) *keep = std::move(m);
  message_.reset();
  changeInFlight(-1);
  return line;
}

}  // namespace authmilter::pipeline
