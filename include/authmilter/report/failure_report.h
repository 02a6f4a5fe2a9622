// DMARC failure reports (RFC 9991): an ARF message (RFC 5965 multipart/report, RFC 6591
// auth-failure) about one message that failed, sent to the record's ruf= addresses.
// Nothing of it happens in the mail path: at the end of a message the failure stage copies
// what a report needs into a FailureIncident and hands it to the FailureReporter's bounded
// queue (never waiting; a full queue drops and counts). The reporter's own thread checks
// each destination (mailto: only, ReportSuppress, external verification as for aggregate
// reports), applies the rate limits (FailureReportRate: per destination and in all, per
// hour), builds the message with GMime, signs it with ReportEmail's DKIM key and pipes it
// to ReportCommand, and sends a copy to FailureReportsBcc.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "authmilter/config/config.h"
#include "authmilter/dns/resolver.h"
#include "authmilter/pipeline/message.h"

namespace authmilter::report {

// What a failure report says about one message: copies, taken at its end.
struct FailureIncident {
  std::string queueId;
  std::string policyDomain;        // where the DMARC record was found
  std::vector<std::string> ruf;    // its ruf= URIs
  std::string reportedDomain;      // the author domain (Reported-Domain)
  std::string authFailure;         // RFC 6591 Auth-Failure: "dmarc", "signature", "bodyhash", "spf"
  std::string identityAlignment;   // RFC 9991: "none", "spf", "dkim" or "dkim, spf"
  std::string deliveryResult;      // RFC 6591 Delivery-Result: "reject", "spam" (quarantined), "delivered"
  std::string sourceIp;
  std::string mailFrom;            // Original-Mail-From; empty for the null sender
  int64_t arrival = 0;             // seconds since the epoch
  std::string authResults;         // our Authentication-Results value for it
  std::string dkimDomain, dkimIdentity, dkimSelector;  // the first DKIM signature, if any
  std::string spfDomain;           // the domain SPF checked, if it did (SPF-DNS is fetched later)
  std::string headers;             // the header section as received (CRLF)
  std::string body;                // FailureReportBody yes: the body (CRLF), up to the limit
  bool bodyIncluded = false;
};

// The incident when `message` asks for a failure report: DMARC evaluated it with a record
// that has ruf= and not psd=y, and that record's fo= selects what happened (0: DMARC failed;
// 1: some mechanism gave no aligned pass; d: a DKIM signature failed; s: SPF failed).
// Headers, body and authResults are left for the caller (made only when there is one).
std::optional<FailureIncident> failureIncidentOf(const pipeline::Message& message, int64_t now);

struct FailureReportInfo {
  std::string from;     // ReportEmail
  std::string orgName;  // who reports
};

// The ARF message to `to` (LF line ends, unsigned). `spfRecord`: the SPF record of the
// incident's spfDomain (empty when none was found).
std::string failureReportMessage(const FailureReportInfo& info, const FailureIncident& incident,
                                 std::string_view spfRecord, std::string_view to, int64_t now);

// At most `perDestination` reports to one address, and `total` in all, in any hour.
class RateLimiter {
 public:
  RateLimiter(unsigned perDestination, unsigned total) : perDestination_(perDestination), total_(total) {}
  // Counts the report when it may go.
  bool allow(const std::string& destination, int64_t now);

 private:
  unsigned perDestination_, total_;
  std::map<std::string, std::deque<int64_t>> sent_;
  std::deque<int64_t> all_;
};

class FailureReporter {
 public:
  // `send(message, to)`: empty when it went, else why not (default: ReportCommand).
  using Sender = std::function<std::string(const std::string& message, const std::string& to)>;
  using Clock = std::function<int64_t()>;  // seconds since the epoch
  FailureReporter(std::shared_ptr<const config::Config> config, std::shared_ptr<dns::Resolver> resolver,
                  Sender send = nullptr, Clock clock = nullptr);
  // Takes nothing more. An idle thread is joined (at once: it only has to wake up); one
  // still sending is left to send what is queued and end on its own, so a session that drops
  // the last reference never waits for ReportCommand.
  ~FailureReporter();
  FailureReporter(const FailureReporter&) = delete;
  FailureReporter& operator=(const FailureReporter&) = delete;

  // Never waits. False when the queue (FailureReportQueueSize) is full: dropped and counted.
  bool submit(FailureIncident incident);
  // Waits until everything submitted so far is handled (daemon stop, tests); false on timeout.
  bool flush(std::chrono::milliseconds timeout);

  struct Counts {
    uint64_t sent = 0;     // messages handed to ReportCommand (Bcc copies included)
    uint64_t refused = 0;  // destinations refused (not mailto:, suppressed, not verified, DNS trouble)
    uint64_t limited = 0;  // not sent: FailureReportRate
    uint64_t failed = 0;   // ReportCommand failed
    uint64_t dropped = 0;  // incidents the full queue could not take
  };
  Counts counts() const;
  size_t pending() const;  // incidents queued or being handled (the metrics' queue depth)

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::thread worker_;  // started by the first submit() (after daemonize()'s fork, never before)
};

}  // namespace authmilter::report
