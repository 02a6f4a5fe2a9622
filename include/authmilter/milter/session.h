// One SMTP session as the milter sees it: the C callbacks call these methods; the Session
// reads the macros each step needs from the MilterContext, drives the protocol-neutral
// pipeline::Transaction, and at end of message applies its header-edit plan (with the
// leading space the MTA expects) and quarantine through the context. Not thread-safe:
// libmilter serialises a connection's callbacks.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "authmilter/milter/milter_context.h"
#include "authmilter/pipeline/transaction.h"
#include "authmilter/runtime/runtime.h"

namespace authmilter::milter {

class Session {
 public:
  // `headerLeadingSpace`: the MTA passes header values with their leading space
  // (SMFIP_HDR_LEADSPC negotiated); headers we add must then carry one too.
  Session(std::shared_ptr<const runtime::Runtime> runtime, MilterContext& context, bool headerLeadingSpace);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

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

  const pipeline::Connection& connection() const { return transaction_.connection(); }
  const config::Config& config() const { return transaction_.config(); }

  // Messages between MAIL FROM and their end, over all sessions (graceful shutdown waits on it).
  static int messagesInFlight() { return pipeline::Transaction::messagesInFlight(); }
  static bool waitForNoMessagesInFlight(std::chrono::milliseconds timeout) {
    return pipeline::Transaction::waitForNoMessagesInFlight(timeout);
  }

 private:
  std::string macroOr(std::string_view name, std::string fallback = {});
  void apply(const pipeline::HeaderEditPlan& plan);

  std::shared_ptr<const runtime::Runtime> runtime_;  // alive as long as the stages it made
  MilterContext& context_;
  bool headerLeadingSpace_;
  pipeline::Transaction transaction_;
};

}  // namespace authmilter::milter
