// What a stage (and in the end the whole pipeline) wants done with a message.
// The precedence is written once, here and in verdict.cc, and pinned by a ladder test:
// Tempfail > Reject > Discard > Quarantine > Continue. Tempfail beats Reject because a
// verdict made on partial knowledge (a DNS timeout) must never bounce mail; Reject beats
// Discard because a sender who is told loses nothing silently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace authmilter::pipeline {

enum class Disposition : uint8_t { Continue = 0, Quarantine, Discard, Reject, Tempfail };

std::string_view toString(Disposition d);

// An SMTP reply for Reject/Tempfail: "550", "5.7.1", "text". Empty code = the MTA's default.
struct SmtpReply {
  std::string code;
  std::string enhanced;
  std::string text;
  bool empty() const { return code.empty(); }
  std::string toString() const;  // "550 5.7.1 text"
};

struct Verdict {
  Disposition disposition = Disposition::Continue;
  SmtpReply reply;     // for Reject / Tempfail
  std::string reason;  // for the log line (and the quarantine reason)

  static Verdict proceed() { return {}; }
  static Verdict reject(std::string code, std::string enhanced, std::string text, std::string reason);
  static Verdict tempfail(std::string code, std::string enhanced, std::string text, std::string reason);
  static Verdict quarantine(std::string reason);
  static Verdict discard(std::string reason);
  // DNSErrorAction tempfail: "451 4.4.3 CHECK: temporary DNS error for WHAT, try again later",
  // logged as "CHECK temperror: WHY".
  static Verdict dnsTempfail(std::string_view check, std::string_view what, std::string_view why);

  bool isContinue() const { return disposition == Disposition::Continue; }
  // Reject, Tempfail and Discard end the current callback; Quarantine is only recorded.
  bool stops() const { return disposition >= Disposition::Discard; }
};

// The stronger of two verdicts by the precedence above; on a tie the first one stays
// (the earlier stage's reason is the one the log shows).
const Verdict& stronger(const Verdict& a, const Verdict& b);

}  // namespace authmilter::pipeline
