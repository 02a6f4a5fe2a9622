// One SMTP connection driven through the stages, protocol-neutral: connect, HELO, then per
// message MAIL, RCPT, headers, end of headers, body, end of message (or abort). It keeps the
// Connection and the Message, merges the stages' verdicts, removes nothing itself but says
// what to remove and insert (a HeaderEditPlan), and writes the one log line of each message.
// The milter Session translates libmilter callbacks and macros into these calls and applies
// the plan; authmilter-check and the tests drive it directly. Not thread-safe: one
// connection's events come one at a time.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/config/config.h"
#include "authmilter/metrics/metrics.h"
#include "authmilter/pipeline/pipeline.h"
#include "authmilter/report/auth_results.h"

namespace authmilter::pipeline {

struct ConnectInfo {
  std::string hostname;                    // as the MTA reports it ("[192.0.2.1]", "unknown": unresolved)
  std::optional<net::IpAddress> address;   // nullopt: no client address (local submission)
  std::string daemonName;                  // {daemon_name}
  bool headerLeadingSpace = false;         // header values come with the space after the colon
};

struct MailInfo {
  std::string sender;     // the MAIL FROM argument, "<a@example.org>" or "<>"
  std::string authLogin;  // {auth_authen}; empty: not authenticated
  std::string authType;   // {auth_type}
  std::string queueId;    // {i}, when the MTA has one already
};

// What end of message asks of the MTA, in order: delete our forged Authentication-Results
// (1-based among the headers of that name, last first, so no index shifts), insert ours at
// the top, then the stages' edits, then quarantine.
struct HeaderEditPlan {
  std::vector<size_t> deleteAuthResults;
  std::string authResults;            // the value of ours, without a leading space
  std::vector<HeaderEdit> edits;      // values without a leading space
  std::optional<std::string> quarantine;  // the reason, when the message is to be held
};

class Transaction {
 public:
  Transaction(std::shared_ptr<const config::Config> config,
              const std::vector<std::shared_ptr<const StageFactory>>& stages);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Connect and HELO are no-reply steps: a stopping verdict from them is given at MAIL FROM.
  Verdict connect(ConnectInfo info);
  void helo(std::string name, std::string tlsVersion = {}, std::string cipher = {});
  Verdict mailFrom(const MailInfo& info);
  Verdict rcpt(std::string_view argument);  // a Reject refuses this recipient only
  Verdict header(std::string_view name, std::string_view value);
  Verdict endOfHeaders();
  Verdict body(std::string_view chunk);

  struct End {
    Verdict verdict;
    HeaderEditPlan edits;  // empty when the verdict stops the message
    Message message;       // as it ended (for authmilter-check and the tests)
    std::string logLine;   // what was logged
  };
  // `queueId`: the MTA's {i} at end of message, if it has one now (Postfix assigns it late).
  End endOfMessage(std::string_view queueId = {});
  void abort();  // SMTP RSET or aborted transaction: the message (if any) ends, the connection stays
  void close();  // the connection ends

  const Connection& connection() const { return connection_; }
  const config::Config& config() const { return *config_; }

  // Messages between MAIL FROM and their end, over all transactions (graceful shutdown waits).
  static int messagesInFlight();
  static bool waitForNoMessagesInFlight(std::chrono::milliseconds timeout);

 private:
  void beginMessage();
  // Logs the message's line, counts it (metrics), ends it for every stage and returns the
  // line; `keep`: where the Message goes (else it is dropped).
  std::string endMessage(metrics::Action action, const std::string& reason, const std::string& reply,
                         Message* keep = nullptr);
  void setQueueId(std::string_view queueId);
  void readFrom();  // message_->from from the From header values seen

  std::shared_ptr<const config::Config> config_;
  Pipeline pipeline_;
  Connection connection_;
  Verdict deferred_;  // a stopping verdict from a no-reply step, given at MAIL FROM
  std::optional<Message> message_;
  Verdict pending_;   // strongest non-stopping verdict so far (e.g. quarantine)
  std::string firstRcptRejection_;
  report::ForgedAuthResults forged_;
  std::vector<std::string> fromValues_;  // the From header values of this message
};

}  // namespace authmilter::pipeline
