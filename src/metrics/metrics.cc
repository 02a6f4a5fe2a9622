// metrics: lock-free counters (relaxed atomics) and their Prometheus families.
#include "authmilter/metrics/metrics.h"

#include <ctime>
#include <limits>
#include <string>

#include "authmilter/version.h"

namespace authmilter::metrics {

namespace {

using Count = std::atomic<uint64_t>;
template <size_t N>
using Counts = std::array<Count, N>;

constexpr size_t kAuthStatuses = 8;  // pipeline::AuthStatus
constexpr size_t kDmarcResults = 5;  // dmarc::Result
constexpr size_t kDmarcPolicies = 4; // dmarc::Policy
constexpr size_t kSkips = 5;         // pipeline::Skip
constexpr size_t kDnsStatuses = 5;   // dns::DnsStatus

template <typename E>
constexpr size_t n() {
  return static_cast<size_t>(E::kCount);
}

struct Histogram {
  Counts<kLatencyBuckets.size() + 1> buckets{};  // per bucket (not cumulative); the last is +Inf
  Count sumNanos{0};
};

// Each array is indexed by its enum. Relaxed: the counters order nothing.
struct Counters {
  const int64_t startTime = static_cast<int64_t>(std::time(nullptr));
  Counts<n<Action>()> messages{};
  Counts<kSkips> skipped{};
  std::array<Counts<kAuthStatuses>, 2> spf{};  // [0] MAIL FROM identity, [1] HELO identity
  Counts<kAuthStatuses> dkim{};
  Counts<2> signing{};                         // signed, failed
  Counts<kAuthStatuses> arc{};
  Counts<2> arcSeals{};                        // sealed, failed
  Counts<kDmarcResults> dmarc{};
  Counts<kDmarcPolicies> dmarcApplied{};
  Count dmarcOverrides{0};
  Counts<n<RelayRefusal>()> relay{};
  Count dnsCacheHits{0}, dnsCoalesced{0};
  Counts<kDnsStatuses> dnsUpstream{};
  Count reportRecordsDropped{0};
  Counts<n<FailureReportEnd>()> failureReports{};
  Counts<2> reloads{};                         // ok, failed
  std::atomic<int64_t> sessionsOpen{0};
  Count sessions{0};
  std::array<Histogram, n<Step>()> steps{};
};

Counters& counters() {
  static Counters c;
  return c;
}

template <typename E>
size_t at(E e) {
  return static_cast<size_t>(e);
}

void bump(Count& c) { c.fetch_add(1, std::memory_order_relaxed); }

uint64_t read(const Count& c) { return c.load(std::memory_order_relaxed); }

}  // namespace

Action actionOf(pipeline::Disposition d) {
  switch (d) {
    case pipeline::Disposition::Continue: return Action::Accept;
    case pipeline::Disposition::Quarantine: return Action::Quarantine;
    case pipeline::Disposition::Discard: return Action::Discard;
    case pipeline::Disposition::Reject: return Action::Reject;
    case pipeline::Disposition::Tempfail: return Action::Tempfail;
  }
  return Action::Accept;
}

std::string_view toString(Action a) {
  constexpr std::string_view names[] = {"accept", "quarantine", "discard", "reject", "tempfail", "aborted"};
  return names[at(a)];
}

std::string_view toString(Step s) {
  constexpr std::string_view names[] = {"connect", "helo", "mail", "rcpt", "header", "eoh", "body", "eom", "abort"};
  return names[at(s)];
}

std::string_view toString(RelayRefusal r) {
  constexpr std::string_view names[] = {"unauthenticated_submission", "sender_not_owned", "relay_denied"};
  return names[at(r)];
}

void countMessage(const pipeline::Message& m, Action action) {
  auto& c = counters();
  bump(c.messages[at(action)]);
  if (m.trust.checks != pipeline::Skip::None) bump(c.skipped[at(m.trust.checks)]);
  if (m.spf && m.spf->skipped == pipeline::Skip::None) {
    const bool helo = m.spf->mailFrom.property == "smtp.helo";
    bump(c.spf[helo ? 1 : 0][at(m.spf->mailFrom.result)]);
    if (m.spf->helo) bump(c.spf[1][at(m.spf->helo->result)]);
  }
  if (m.dkim && m.dkim->skipped == pipeline::Skip::None) {
    if (m.dkim->signatures.empty()) bump(c.dkim[at(pipeline::AuthStatus::None)]);
    for (const auto& s : m.dkim->signatures) bump(c.dkim[at(s.result)]);
  }
  if (m.signing && m.signing->kind != pipeline::SignOutcome::Kind::NotSigned) {
    bump(c.signing[m.signing->kind == pipeline::SignOutcome::Kind::Signed ? 0 : 1]);
  }
  if (m.arc && m.arc->carried && m.arc->skipped == pipeline::Skip::None) bump(c.arc[at(m.arc->result)]);
  if (m.arcSeal && m.arcSeal->kind != pipeline::ArcSealOutcome::Kind::NotSealed) {
    bump(c.arcSeals[m.arcSeal->kind == pipeline::ArcSealOutcome::Kind::Sealed ? 0 : 1]);
  }
  if (m.dmarc && m.dmarc->skipped == pipeline::Skip::None) {
    if (m.dmarc->evaluation) {
      bump(c.dmarc[at(m.dmarc->evaluation->result)]);
      bump(c.dmarcApplied[at(m.dmarc->applied)]);
    } else if (!m.dmarc->malformedFrom.empty()) {
      bump(c.dmarc[at(dmarc::Result::PermError)]);
    }
    if (m.dmarc->override) bump(c.dmarcOverrides);
  }
}

void countRelayRefusal(RelayRefusal reason) { bump(counters().relay[at(reason)]); }
void countDnsCacheHit() { bump(counters().dnsCacheHits); }
void countDnsCoalesced() { bump(counters().dnsCoalesced); }
void countDnsUpstream(dns::DnsStatus status) { bump(counters().dnsUpstream[at(status)]); }
void countReportRecordDropped() { bump(counters().reportRecordsDropped); }
void countFailureReport(FailureReportEnd end) { bump(counters().failureReports[at(end)]); }
void countReload(bool ok) { bump(counters().reloads[ok ? 0 : 1]); }

void sessionOpened() {
  auto& c = counters();
  c.sessionsOpen.fetch_add(1, std::memory_order_relaxed);
  bump(c.sessions);
}

void sessionClosed() { counters().sessionsOpen.fetch_sub(1, std::memory_order_relaxed); }

void observeStep(Step step, std::chrono::steady_clock::duration took) {
  auto& h = counters().steps[at(step)];
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
  const double seconds = static_cast<double>(nanos) / 1e9;
  size_t bucket = 0;
  while (bucket < kLatencyBuckets.size() && seconds > kLatencyBuckets[bucket]) ++bucket;
  bump(h.buckets[bucket]);
  h.sumNanos.fetch_add(nanos > 0 ? static_cast<uint64_t>(nanos) : 0, std::memory_order_relaxed);
}

// ---- exposition -------------------------------------------------------------------------

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

struct FamilyBuilder {
  MetricFamily family;

  FamilyBuilder(std::string name, std::string help, MetricType type) {
    family.name = std::move(name);
    family.help = std::move(help);
    family.type = type;
  }
  FamilyBuilder& add(std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    if (family.type == MetricType::Gauge) {
      m.gauge.value = value;
    } else {
      m.counter.value = value;
    }
    family.metric.push_back(std::move(m));
    return *this;
  }
  // One sample per value of an enum-indexed array, labelled `label`=name(i); `skip`: indexes left out.
  template <size_t N, typename Name>
  FamilyBuilder& each(const std::string& label, const Counts<N>& counts, Name name,
                      std::vector<ClientMetric::Label> more = {}, int skip = -1) {
    for (size_t i = 0; i < N; ++i) {
      if (static_cast<int>(i) == skip) continue;
      auto labels = more;
      labels.push_back({label, std::string(name(i))});
      add(std::move(labels), static_cast<double>(read(counts[i])));
    }
    return *this;
  }
};

std::string_view authStatusName(size_t i) { return pipeline::toString(static_cast<pipeline::AuthStatus>(i)); }

std::string_view skipName(size_t i) {
  constexpr std::string_view names[] = {"", "authenticated", "trusted", "ignored", "no_client_address"};
  return names[i];
}

}  // namespace

std::vector<MetricFamily> collect(const QueueDepthSource& depthSource) {
  const auto& c = counters();
  std::vector<MetricFamily> out;
  auto push = [&](FamilyBuilder& b) { out.push_back(std::move(b.family)); };
  const auto named = [](auto names) { return [names](size_t i) { return names[i]; }; };

  FamilyBuilder build("authmilter_build_info", "authmilter's version (the value is always 1)", MetricType::Gauge);
  push(build.add({{"version", kVersion}}, 1));
  FamilyBuilder start("authmilter_start_time_seconds", "when the daemon started, in seconds since the epoch",
                      MetricType::Gauge);
  push(start.add({}, static_cast<double>(c.startTime)));

  FamilyBuilder messages("authmilter_messages_total", "messages by how they ended (the log line's action=)",
                         MetricType::Counter);
  push(messages.each("action", c.messages, [](size_t i) { return toString(static_cast<Action>(i)); }));
  FamilyBuilder skipped("authmilter_checks_skipped_total",
                        "messages that SPF, DKIM verification and DMARC left alone, by why", MetricType::Counter);
  push(skipped.each("reason", c.skipped, skipName, {}, 0));

  FamilyBuilder spf("authmilter_spf_results_total", "SPF results by identity (RFC 7208)", MetricType::Counter);
  spf.each("result", c.spf[0], authStatusName, {{"identity", "mailfrom"}});
  push(spf.each("result", c.spf[1], authStatusName, {{"identity", "helo"}}));
  FamilyBuilder dkim("authmilter_dkim_results_total",
                     "DKIM results, one per signature checked (none: a message without one)", MetricType::Counter);
  push(dkim.each("result", c.dkim, authStatusName));
  FamilyBuilder signing("authmilter_dkim_signing_total", "messages we signed, or failed to sign",
                        MetricType::Counter);
  push(signing.each("outcome", c.signing, named(std::array<std::string_view, 2>{"signed", "failed"})));
  FamilyBuilder arc("authmilter_arc_results_total", "ARC chain results of messages that carry one (RFC 8617)",
                    MetricType::Counter);
  push(arc.each("result", c.arc, authStatusName));
  FamilyBuilder seals("authmilter_arc_seals_total", "ARC sets we added, or failed to add", MetricType::Counter);
  push(seals.each("outcome", c.arcSeals, named(std::array<std::string_view, 2>{"sealed", "failed"})));
  FamilyBuilder dmarc("authmilter_dmarc_results_total", "DMARC results (RFC 9989)", MetricType::Counter);
  push(dmarc.each("result", c.dmarc, [](size_t i) { return dmarc::toString(static_cast<dmarc::Result>(i)); }));
  FamilyBuilder applied("authmilter_dmarc_dispositions_total",
                        "what we did about each DMARC evaluation (RejectFailures, t=, overrides applied)",
                        MetricType::Counter);
  push(applied.each("disposition", c.dmarcApplied,
                    [](size_t i) { return dmarc::toString(static_cast<dmarc::Policy>(i)); }, {}, 0));
  FamilyBuilder overrides("authmilter_dmarc_overrides_total",
                          "DMARC failures not acted on by local policy (RFC 9990 reason)", MetricType::Counter);
  push(overrides.add({{"type", "trusted_forwarder"}}, static_cast<double>(read(c.dmarcOverrides))));

  FamilyBuilder relay("authmilter_relay_refusals_total", "refusals of the relay policy, by reason",
                      MetricType::Counter);
  push(relay.each("reason", c.relay, [](size_t i) { return toString(static_cast<RelayRefusal>(i)); }));

  FamilyBuilder lookups("authmilter_dns_lookups_total",
                        "DNS lookups by where the answer came from (the shared cache, a lookup already upstream, "
                        "the nameservers)",
                        MetricType::Counter);
  lookups.add({{"source", "cache"}}, static_cast<double>(read(c.dnsCacheHits)));
  lookups.add({{"source", "coalesced"}}, static_cast<double>(read(c.dnsCoalesced)));
  uint64_t upstream = 0;
  for (const auto& n : c.dnsUpstream) upstream += read(n);
  push(lookups.add({{"source", "upstream"}}, static_cast<double>(upstream)));
  FamilyBuilder answers("authmilter_dns_upstream_answers_total",
                        "answers from the nameservers by status (servfail includes REFUSED and broken replies)",
                        MetricType::Counter);
  push(answers.each("status", c.dnsUpstream,
                    [](size_t i) { return dns::statusName(static_cast<dns::DnsStatus>(i)); }));

  const QueueDepths depths = depthSource ? depthSource() : QueueDepths{};
  FamilyBuilder queue("authmilter_report_queue_depth", "DMARC report work held in memory, not yet stored or sent",
                      MetricType::Gauge);
  queue.add({{"report", "aggregate"}}, static_cast<double>(depths.aggregate));
  push(queue.add({{"report", "failure"}}, static_cast<double>(depths.failure)));
  FamilyBuilder dropped("authmilter_report_records_dropped_total",
                        "DMARC aggregate-report records dropped: the report store could not keep up",
                        MetricType::Counter);
  push(dropped.add({}, static_cast<double>(read(c.reportRecordsDropped))));
  FamilyBuilder failures("authmilter_failure_reports_total",
                         "DMARC failure reports by outcome (dropped: the queue was full)", MetricType::Counter);
  push(failures.each("outcome", c.failureReports,
                     named(std::array<std::string_view, 5>{"sent", "refused", "limited", "failed", "dropped"})));

  FamilyBuilder open("authmilter_sessions_open", "milter sessions (MTA connections) open now", MetricType::Gauge);
  push(open.add({}, static_cast<double>(c.sessionsOpen.load(std::memory_order_relaxed))));
  FamilyBuilder sessions("authmilter_sessions_total", "milter sessions since start", MetricType::Counter);
  push(sessions.add({}, static_cast<double>(read(c.sessions))));
  FamilyBuilder reloads("authmilter_config_reloads_total", "SIGHUP reloads by result", MetricType::Counter);
  push(reloads.each("result", c.reloads, named(std::array<std::string_view, 2>{"ok", "failed"})));

  MetricFamily steps;
  steps.name = "authmilter_step_duration_seconds";
  steps.help = "time authmilter took to handle each milter step (DNS waits included)";
  steps.type = MetricType::Histogram;
  for (size_t s = 0; s < c.steps.size(); ++s) {
    const auto& h = c.steps[s];
    ClientMetric m;
    m.label = {{"step", std::string(toString(static_cast<Step>(s)))}};
    uint64_t cumulative = 0;
    for (size_t b = 0; b < h.buckets.size(); ++b) {
      cumulative += read(h.buckets[b]);
      const double bound = b < kLatencyBuckets.size() ? kLatencyBuckets[b] : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back({cumulative, bound});
    }
    // The buckets are read one by one while sessions go on: the count is their sum, so that
    // the +Inf bucket and _count always agree.
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(read(h.sumNanos)) / 1e9;
    steps.metric.push_back(std::move(m));
  }
  out.push_back(std::move(steps));
  return out;
}

}  // namespace authmilter::metrics
