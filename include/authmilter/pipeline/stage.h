// The stage contract. A StageFactory is built once per configuration snapshot (immutable,
// shared by every session; thread-safe); create() makes the Stage for one connection.
// libmilter runs one connection's callbacks one at a time, so a Stage needs no lock.
//
// Every hook returns a Verdict. Continue: go on. Quarantine: recorded, later stages still
// run. Reject / Tempfail / Discard: the remaining stages are not called for this event and
// the Session answers the MTA. At RCPT a Reject refuses that recipient only.
// Connect and HELO are negotiated as no-reply steps: a verdict from them is held by the
// Session and given at MAIL FROM. Stages never see libmilter types.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "authmilter/pipeline/message.h"
#include "authmilter/pipeline/verdict.h"

namespace authmilter::pipeline {

// Events a stage wants to see; the milter glue asks the MTA not to send the rest.
enum Hook : uint32_t {
  kHookConnect = 1u << 0,
  kHookHelo = 1u << 1,
  kHookMail = 1u << 2,
  kHookRcpt = 1u << 3,
  kHookHeader = 1u << 4,
  kHookEndOfHeaders = 1u << 5,
  kHookBody = 1u << 6,
  kHookEndOfMessage = 1u << 7,
  kHookFinish = 1u << 8,
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual Verdict onConnect(Connection&) { return {}; }
  virtual Verdict onHelo(const Connection&) { return {}; }
  // Message state begins: `message.sender` and the {auth_*} values are filled in.
  virtual Verdict onMailFrom(const Connection&, Message&) { return {}; }
  virtual Verdict onRcpt(const Connection&, Message&, const mail::MailAddress&) { return {}; }
  virtual Verdict onHeader(const Connection&, Message&, std::string_view, std::string_view) { return {}; }
  virtual Verdict onEndOfHeaders(const Connection&, Message&) { return {}; }
  virtual Verdict onBody(const Connection&, Message&, std::string_view) { return {}; }
  virtual Verdict onEndOfMessage(const Connection&, Message&) { return {}; }
  // After every stage's end of message, when none stopped it: every outcome is recorded, so
  // what Authentication-Results will say is known (ARC sealing copies it).
  virtual Verdict onFinish(const Connection&, Message&) { return {}; }
  // The message ended (after end of message, or without it: refused at MAIL FROM, SMTP
  // RSET, abort, dropped connection): drop per-message state. Another message may follow
  // on the same connection.
  virtual void onMessageEnd(Message&) {}
};

class StageFactory {
 public:
  virtual ~StageFactory() = default;
  virtual std::string_view name() const = 0;
  virtual uint32_t hooks() const = 0;  // Hook bits this stage overrides
  virtual std::unique_ptr<Stage> create() const = 0;
};

}  // namespace authmilter::pipeline
