// DMARC failure reports (see the header).
#include "authmilter/report/failure_report.h"

#include <gmime/gmime.h>

#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

#include "authmilter/log/logger.h"
#include "authmilter/metrics/metrics.h"
#include "authmilter/report/destination.h"
#include "authmilter/report/report_mail.h"
#include "authmilter/report/reporter.h"
#include "authmilter/util/strings.h"
#include "authmilter/version.h"

namespace authmilter::report {

namespace {

bool failed(pipeline::AuthStatus s) {
  return s != pipeline::AuthStatus::Pass && s != pipeline::AuthStatus::None;
}

// RFC 5322 date-time in UTC.
std::string rfc5322Date(int64_t when) {
  const std::time_t t = static_cast<std::time_t>(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return text;
}

std::string lf(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out.push_back(text[i]);
  }
  return out;
}

// A feedback-report field value: one line, printable ASCII.
std::string field(std::string_view value) {
  std::string out;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    }
  }
  return out;
}

void addPart(GMimeMultipart* multipart, const char* type, const char* subtype, const std::string& content,
             GMimeContentEncoding encoding) {
  GPtr<GMimePart> part(g_mime_part_new_with_type(type, subtype));
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(content.data(), content.size()));
  GPtr<GMimeDataWrapper> wrapper(g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(part.get(), wrapper.get());
  g_mime_part_set_content_encoding(part.get(), encoding);
  g_mime_multipart_add(multipart, GMIME_OBJECT(part.get()));
}

}  // namespace

std::optional<FailureIncident> failureIncidentOf(const pipeline::Message& m, int64_t now) {
  if (!m.dmarc || !m.dmarc->evaluation) return std::nullopt;
  const dmarc::Outcome& o = *m.dmarc->evaluation;
  if (!o.record || o.record->ruf.empty() || o.record->psd == 'y') return std::nullopt;  // RFC 9991 §4: never for a PSD
  const bool dmarcFailed = o.result == dmarc::Result::Fail;
  if (!dmarcFailed && o.result != dmarc::Result::Pass) return std::nullopt;
  const std::string& fo = o.record->fo;
  const bool spfFailed = m.spf && m.spf->skipped == pipeline::Skip::None && failed(m.spf->mailFrom.result);
  const pipeline::DkimSignatureOutcome* badSignature = nullptr;
  if (m.dkim) {
    for (const auto& d : m.dkim->signatures) {
      if (failed(d.result) && !badSignature) badSignature = &d;
    }
  }
  FailureIncident in;
  if (dmarcFailed && fo.find_first_of("01") != std::string::npos) {
    in.authFailure = "dmarc";
  } else if (fo.find('1') != std::string::npos && (!o.spfAligned || o.dkimAligned.empty())) {
    in.authFailure = "dmarc";  // passed, but not through every mechanism
  } else if (fo.find('d') != std::string::npos && badSignature) {
    in.authFailure = badSignature->reason.find("body hash") != std::string::npos ? "bodyhash" : "signature";
  } else if (fo.find('s') != std::string::npos && spfFailed) {
    in.authFailure = "spf";
  } else {
    return std::nullopt;
  }
  in.queueId = m.queueId;
  in.policyDomain = o.policyDomain;
  in.ruf = o.record->ruf;
  in.reportedDomain = o.authorDomain;
  if (o.spfAligned && !o.dkimAligned.empty()) {
    in.identityAlignment = "dkim, spf";
  } else if (o.spfAligned) {
    in.identityAlignment = "spf";
  } else if (!o.dkimAligned.empty()) {
    in.identityAlignment = "dkim";
  } else {
    in.identityAlignment = "none";
  }
  switch (m.dmarc->applied) {
    case dmarc::Policy::Reject: in.deliveryResult = "reject"; break;
    case dmarc::Policy::Quarantine: in.deliveryResult = "spam"; break;
    default: in.deliveryResult = "delivered";
  }
  in.sourceIp = o.sourceIp;
  in.mailFrom = m.sender.null ? "" : m.sender.text;
  in.arrival = now;
  const pipeline::DkimSignatureOutcome* shown = badSignature;
  if (!shown && m.dkim && !m.dkim->signatures.empty()) shown = &m.dkim->signatures.front();
  if (shown) {
    in.dkimDomain = shown->domain;
    in.dkimIdentity = shown->identity;
    in.dkimSelector = shown->selector;
  }
  if (m.spf && m.spf->skipped == pipeline::Skip::None) in.spfDomain = m.spf->mailFrom.domain;
  return in;
}

std::string failureReportMessage(const FailureReportInfo& info, const FailureIncident& in, std::string_view spfRecord,
                                 std::string_view to, int64_t now) {
  initGmime();
  GPtr<GMimeMessage> message(g_mime_message_new(TRUE));
  g_mime_message_add_mailbox(message.get(), GMIME_ADDRESS_TYPE_FROM, info.orgName.c_str(), info.from.c_str());
  g_mime_message_add_mailbox(message.get(), GMIME_ADDRESS_TYPE_TO, nullptr, std::string(to).c_str());
  const std::string subject = "DMARC failure report for " + in.reportedDomain + " from " + in.sourceIp;
  g_mime_message_set_subject(message.get(), subject.c_str(), nullptr);
  GDateTime* date = g_date_time_new_from_unix_utc(now);
  g_mime_message_set_date(message.get(), date);
  g_date_time_unref(date);
  const std::string id = newReportId() + "@" + info.from.substr(info.from.rfind('@') + 1);
  g_mime_message_set_message_id(message.get(), id.c_str());

  GPtr<GMimeMultipart> report(g_mime_multipart_new_with_subtype("report"));
  g_mime_object_set_content_type_parameter(GMIME_OBJECT(report.get()), "report-type", "feedback-report");
  const std::string text = "This is an authentication failure report (RFC 9991) from " + info.orgName +
                           " for a message from " + in.sourceIp + " received " + rfc5322Date(in.arrival) +
                           ",\nwith a From: address in " + in.reportedDomain + " that DMARC (" + in.authFailure +
                           ") did not authenticate.\n";
  addPart(report.get(), "text", "plain", text, GMIME_CONTENT_ENCODING_7BIT);

  // RFC 5965 §3.1, RFC 6591 §3.1, RFC 9991 §3.3.
  std::string fields = "Feedback-Type: auth-failure\n"
                       "User-Agent: authmilter/" + std::string(kVersion) + "\nVersion: 1\n";
  if (!in.queueId.empty()) fields += "Original-Envelope-Id: " + field(in.queueId) + "\n";
  fields += "Original-Mail-From: <" + field(in.mailFrom) + ">\n";
  fields += "Arrival-Date: " + rfc5322Date(in.arrival) + "\n";
  fields += "Source-IP: " + field(in.sourceIp) + "\n";
  fields += "Reported-Domain: " + field(in.reportedDomain) + "\n";
  fields += "Authentication-Results: " + field(in.authResults) + "\n";
  fields += "Auth-Failure: " + in.authFailure + "\n";
  fields += "Identity-Alignment: " + in.identityAlignment + "\n";
  fields += "Delivery-Result: " + in.deliveryResult + "\n";
  if (!in.dkimDomain.empty()) {
    fields += "DKIM-Domain: " + field(in.dkimDomain) + "\n";
    if (!in.dkimIdentity.empty()) fields += "DKIM-Identity: " + field(in.dkimIdentity) + "\n";
    fields += "DKIM-Selector: " + field(in.dkimSelector) + "\n";
  }
  if (!in.spfDomain.empty()) {
    fields += "SPF-DNS: txt : " + field(in.spfDomain) + " : " + (spfRecord.empty() ? "(none)" : field(spfRecord)) + "\n";
  }
  addPart(report.get(), "message", "feedback-report", fields, GMIME_CONTENT_ENCODING_7BIT);

  // The original: its header section only, unless FailureReportBody yes (RFC 9991 §5: privacy).
  if (in.bodyIncluded) {
    addPart(report.get(), "message", "rfc822", lf(in.headers + "\r\n" + in.body), GMIME_CONTENT_ENCODING_8BIT);
  } else {
    addPart(report.get(), "text", "rfc822-headers", lf(in.headers), GMIME_CONTENT_ENCODING_8BIT);
  }
  g_mime_message_set_mime_part(message.get(), GMIME_OBJECT(report.get()));
  char* raw = g_mime_object_to_string(GMIME_OBJECT(message.get()), nullptr);
  std::string out(raw ? raw : "");
  g_free(raw);
  return out;
}

bool RateLimiter::allow(const std::string& destination, int64_t now) {
  const auto expire = [&](std::deque<int64_t>& times) {
    while (!times.empty() && times.front() <= now - 3600) times.pop_front();
  };
  auto& mine = sent_[destination];
  expire(mine);
  expire(all_);
  if (mine.size() >= perDestination_ || all_.size() >= total_) return false;
  mine.push_back(now);
  all_.push_back(now);
  if (sent_.size() > 10000) {  // forget addresses with nothing in the last hour
    for (auto it = sent_.begin(); it != sent_.end();) {
      expire(it->second);
      it = it->second.empty() ? sent_.erase(it) : std::next(it);
    }
  }
  return true;
}

struct FailureReporter::State {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<dns::Resolver> resolver;
  Sender send;
  Clock clock;
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::deque<FailureIncident> queue;
  size_t busy = 0;  // incidents taken off the queue and not yet handled
  bool started = false, stopping = false;
  Counts counts;

  void run(const std::shared_ptr<State>& self);
  void handle(const FailureIncident& incident, RateLimiter& limiter);
  std::string spfRecord(const std::string& domain);
  void count(metrics::FailureReportEnd end) {
    using enum metrics::FailureReportEnd;
    metrics::countFailureReport(end);
    std::lock_guard lock(mutex);
    ++(end == Sent ? counts.sent : end == Refused ? counts.refused : end == Limited ? counts.limited : counts.failed);
  }
};

FailureReporter::FailureReporter(std::shared_ptr<const config::Config> config, std::shared_ptr<dns::Resolver> resolver,
                                 Sender send, Clock clock)
    : state_(std::make_shared<State>()) {
  state_->config = std::move(config);
  state_->resolver = std::move(resolver);
  state_->send = send ? std::move(send) : [command = state_->config->reports.command](const std::string& message,
                                                                                      const std::string&) {
    return pipeToCommand(command, message);
  };
  state_->clock = clock ? std::move(clock) : [] { return static_cast<int64_t>(std::time(nullptr)); };
}

FailureReporter::~FailureReporter() {
  bool idle = false;
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    idle = state_->queue.empty() && state_->busy == 0;
    state_->changed.notify_all();
  }
  if (!worker_.joinable()) return;
  if (idle) {
    worker_.join();  // its thread-local state (OpenSSL's) goes with it
  } else {
    worker_.detach();  // the state is shared: it finishes the queue, then ends
  }
}

bool FailureReporter::submit(FailureIncident incident) {
  std::lock_guard lock(state_->mutex);
  if (state_->queue.size() >= state_->config->failureReports.queueSize) {
    ++state_->counts.dropped;
    metrics::countFailureReport(metrics::FailureReportEnd::Dropped);
    return false;
  }
  state_->queue.push_back(std::move(incident));
  if (!state_->started) {
    // The thread starts with the first incident: after daemonize()'s fork, never before it.
    state_->started = true;
    worker_ = std::thread([self = state_] { self->run(self); });
  }
  state_->changed.notify_all();
  return true;
}

bool FailureReporter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  return state_->changed.wait_for(lock, timeout, [&] { return state_->queue.empty() && state_->busy == 0; });
}

FailureReporter::Counts FailureReporter::counts() const {
  std::lock_guard lock(state_->mutex);
  return state_->counts;
}

size_t FailureReporter::pending() const {
  std::lock_guard lock(state_->mutex);
  return state_->queue.size() + state_->busy;
}

void FailureReporter::State::run(const std::shared_ptr<State>& self) {
  (void)self;  // keeps the state alive while the thread runs
  const auto& f = config->failureReports;
  RateLimiter limiter(f.perDestination, f.total);
  std::unique_lock lock(mutex);
  while (true) {
    changed.wait(lock, [&] { return stopping || !queue.empty(); });
    if (queue.empty()) return;  // stopping, and nothing left
    FailureIncident incident = std::move(queue.front());
    queue.pop_front();
    ++busy;
    lock.unlock();
    try {
      handle(incident, limiter);
    } catch (const std::exception& e) {
      log::error("DMARC failure report for " + incident.reportedDomain + ": " + e.what());
      count(metrics::FailureReportEnd::Failed);
    }
    lock.lock();
    --busy;
    changed.notify_all();
  }
}

std::string FailureReporter::State::spfRecord(const std::string& domain) {
  const auto answer = resolver->lookup(domain, dns::RrType::TXT);
  for (const auto& r : answer.records) {
    if (util::istartsWith(r.text, "v=spf1 ") || r.text == "v=spf1") return r.text;
  }
  return {};
}

void FailureReporter::State::handle(const FailureIncident& in, RateLimiter& limiter) {
  const auto& c = *config;
  const int64_t now = clock();
  const std::string what = "DMARC failure report for " + in.reportedDomain + " (" +
                           (in.queueId.empty() ? "NOQUEUE" : in.queueId) + ", " + in.sourceIp + ")";
  const std::string spf = in.spfDomain.empty() ? "" : spfRecord(in.spfDomain);
  const FailureReportInfo info{c.reports.email, c.reports.orgName.empty() ? c.authservId : c.reports.orgName};
  const auto deliver = [&](const std::string& address) {
    std::string message = failureReportMessage(info, in, spf, address, now);
    std::string error;
    if (!signReportMessage(*c.signer, c.signingTable, c.reports.email, message, &error)) {
      throw std::runtime_error(error);
    }
    error = send(message, address);
    if (!error.empty()) {
      log::error(what + " to " + address + ": not sent: " + error);
      count(metrics::FailureReportEnd::Failed);
      return false;
    }
    count(metrics::FailureReportEnd::Sent);
    return true;
  };
  for (const auto& uri : in.ruf) {
    const auto v = checkDestination(c, *resolver, in.policyDomain, uri);
    if (v.kind != DestinationVerdict::Kind::Send) {
      log::info(what + " to " + util::sanitize(v.address.empty() ? uri : v.address) + ": not sent: " + v.why);
      count(metrics::FailureReportEnd::Refused);
      continue;
    }
    if (!limiter.allow(v.address, now)) {
      log::info(what + " to " + v.address + ": not sent: over FailureReportRate");
      count(metrics::FailureReportEnd::Limited);
      continue;
    }
    if (deliver(v.address)) log::info(what + " to " + v.address + ": sent");
  }
  const std::string& bcc = c.failureReports.bcc;
  if (!bcc.empty()) {  // the local copy, whatever became of the others
    if (!limiter.allow(bcc, now)) {
      log::info(what + " copy to " + bcc + ": not sent: over FailureReportRate");
      count(metrics::FailureReportEnd::Limited);
    } else if (deliver(bcc)) {
      log::info(what + " copy to " + bcc + ": sent");
    }
  }
}

}  // namespace authmilter::report
