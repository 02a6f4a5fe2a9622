// The daemon's counters for Prometheus: what happened to the messages (actions, SPF, DKIM,
// DMARC and ARC results, DMARC dispositions and overrides), relay refusals, DNS lookups,
// report drops, sessions and per-step latency. One process-wide set, kept across reloads
// (counters never go back), written with relaxed atomic adds: counting takes no lock and
// never makes a session wait. collect() reads them (the exporter's thread, at each scrape)
// into prometheus-cpp's families; metrics/exporter serves them over HTTP (MetricsSocket).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

#include "authmilter/dns/resolver.h"
#include "authmilter/pipeline/message.h"
#include "authmilter/pipeline/verdict.h"

namespace authmilter::metrics {

// How a message ended: a disposition at end of message, or aborted (RSET, lost connection).
enum class Action : uint8_t { Accept, Quarantine, Discard, Reject, Tempfail, Aborted, kCount };
Action actionOf(pipeline::Disposition disposition);
std::string_view toString(Action action);  // "accept", ... "aborted"

// The milter steps whose handling time is measured.
enum class Step : uint8_t { Connect, Helo, Mail, Rcpt, Header, EndOfHeaders, Body, EndOfMessage, Abort, kCount };
std::string_view toString(Step step);  // "connect", "helo", "mail", "rcpt", "header", "eoh", "body", "eom", "abort"

enum class RelayRefusal : uint8_t { UnauthenticatedSubmission, SenderNotOwned, RelayDenied, kCount };
std::string_view toString(RelayRefusal reason);  // "unauthenticated_submission", ...

enum class Report : uint8_t { Aggregate, Failure, kCount };

// What became of a DMARC failure report (the FailureReporter's counts).
enum class FailureReportEnd : uint8_t { Sent, Refused, Limited, Failed, Dropped, kCount };

// One message's outcomes, read when its log line is written (pipeline::Transaction).
void countMessage(const pipeline::Message& message, Action action);
void countRelayRefusal(RelayRefusal reason);
// A lookup the shared cache answered, sent upstream (with the upstream answer's status), or
// waited for (an identical lookup was already upstream).
void countDnsCacheHit();
void countDnsCoalesced();
void countDnsUpstream(dns::DnsStatus status);
void countReportRecordDropped();  // aggregate-report record: the recorder's queue was full
void countFailureReport(FailureReportEnd end);
void countReload(bool ok);
void sessionOpened();
void sessionClosed();
void observeStep(Step step, std::chrono::steady_clock::duration took);

// Times one step: observes the elapsed time when it goes out of scope.
class StepTimer {
 public:
  explicit StepTimer(Step step) : step_(step), start_(std::chrono::steady_clock::now()) {}
  ~StepTimer() { observeStep(step_, std::chrono::steady_clock::now() - start_); }
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;

 private:
  Step step_;
  std::chrono::steady_clock::time_point start_;
};

// What only the daemon knows at scrape time: records held by its report queues.
struct QueueDepths {
  size_t aggregate = 0;  // DMARC aggregate-report records not yet stored
  size_t failure = 0;    // DMARC failure reports not yet sent
};
using QueueDepthSource = std::function<QueueDepths()>;

// Every family, read now. `depths`: may be empty (the gauges then read 0).
std::vector<prometheus::MetricFamily> collect(const QueueDepthSource& depths = {});

// The upper bounds (seconds) of the step latency histogram's buckets.
inline constexpr std::array<double, 14> kLatencyBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                           0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};

}  // namespace authmilter::metrics
