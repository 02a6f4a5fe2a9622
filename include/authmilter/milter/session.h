// One SMTP session as the milter sees it: the C callbacks call these methods, the Session
// keeps Connection and Message, runs the pipeline, and at end of message alone applies the
// edits (remove forged Authentication-Results, insert ours, stage edits, quarantine) and
// writes the one log line. Not thread-safe: libmilter serialises a connection's callbacks.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "authmilter/config/config.h"
#include "authmilter/milter/milter_context.h"
#include "authmilter/pipeline/pipeline.h"

namespace authmilter::milter {

class Session {
 public:
  // `headerLeadingSpace`: the MTA passes header values with their leading space
  // (SMFIP_HDR_LEADSPC negotiated); headers we add must then carry one too.
  Session(std::shared_ptr<const config::Config> config, MilterContext& context, bool headerLeadingSpace);
  ~Session();

  pipeline::Verdict connect(const std::string& hostname, std::optional<net::IpAddress> address);
  void helo(const std::string& name);
  pipeline::Verdict mailFrom(const std::vector<std::string>& args);
  pipeline::Verdict rcpt(const std::vector<std::string>& args);
  pipeline::Verdict header(const std::string& name, const std::string& value);
  pipeline::Verdict endOfHeaders();
  pipeline::Verdict body(std::string_view chunk);
  pipeline::Verdict endOfMessage();
  void abort();  // SMTP RSET / transaction aborted: the message (if any) ends, the session stays
  void close();  // connection closing

  const pipeline::Connection& connection() const { return connection_; }
  const config::Config& config() const { return *config_; }

  // Messages between MAIL FROM and their end, over all sessions (graceful shutdown waits on it).
  static int messagesInFlight();
  static bool waitForNoMessagesInFlight(std::chrono::milliseconds timeout);

 private:
  void beginMessage();
  void endMessage(std::string_view action, const std::string& reason, const std::string& reply);
  void refreshQueueId();
  void applyEdits();
  std::string macroOr(std::string_view name, std::string fallback = {});

  std::shared_ptr<const config::Config> config_;
  MilterContext& context_;
  bool headerLeadingSpace_;
  pipeline::Pipeline pipeline_;
  pipeline::Connection connection_;
  pipeline::Verdict deferred_;  // a stopping verdict from a no-reply step, given at MAIL FROM

  std::optional<pipeline::Message> message_;
  pipeline::Verdict pending_;   // strongest non-stopping verdict so far (e.g. quarantine)
  std::string firstRcptRejection_;
  std::vector<size_t> forgedAuthResults_;  // 1-based indexes among Authentication-Results headers
  size_t authResultsSeen_ = 0;
  size_t lookalikeAuthResults_ = 0;  // of those, ones whose id is ours only once non-ASCII is dropped
};

}  // namespace authmilter::milter
