// The runtime: the settings turned into a resolver and the stages' options (see the header).
#include "authmilter/runtime/runtime.h"

#include "authmilter/dns/caching_resolver.h"
#include "authmilter/stages/arc_stage.h"
#include "authmilter/stages/dkim_sign_stage.h"
#include "authmilter/stages/dkim_verify_stage.h"
#include "authmilter/stages/dmarc_stage.h"
#include "authmilter/stages/failure_report_stage.h"
#include "authmilter/stages/relay_stage.h"
#include "authmilter/stages/spf_stage.h"

namespace authmilter::runtime {

namespace {

stages::CheckPolicy checkPolicy(const config::Config& c) {
  return {c.dnsErrorAction == config::Config::DnsErrorAction::Tempfail};
}

const policy::SenderLoginMap* senderLoginMap(const config::Config& c) {
  return c.senderLoginMap ? &*c.senderLoginMap : nullptr;
}

// How often the recorder stores what is queued.
constexpr std::chrono::seconds kRecordInterval{1};

}  // namespace

std::shared_ptr<report::Recorder> makeRecorder(const config::Config& c) {
  if (c.reports.store.empty()) return nullptr;
  return std::make_shared<report::Recorder>(report::reopeningStore(c.reports.store), c.reports.queueSize,
                                            kRecordInterval);
}

bool recordForReports(const Runtime& runtime, const pipeline::Message& message) {
  if (!runtime.recorder) return true;
  const bool psl = runtime.settings->dmarcOptions.standard == dmarc::Standard::Rfc7489;
  auto record = report::aggregateRecordOf(message, psl ? "psl" : "treewalk", std::chrono::system_clock::now());
  return !record || runtime.recorder->record(std::move(*record));
}

std::shared_ptr<const Runtime> buildRuntime(std::shared_ptr<const config::Config> settings,
                                            std::shared_ptr<dns::Resolver> resolver,
                                            std::shared_ptr<report::Recorder> recorder) {
  auto r = std::make_shared<Runtime>();
  const config::Config& c = *settings;
  r->settings = std::move(settings);
  r->resolver = resolver ? std::move(resolver) : dns::makeCachingResolver(c.dns, c.dnsCache);
  r->stages.push_back(std::make_shared<stages::RelayStageFactory>(stages::RelayOptions{
      &c.localDomains, &c.trustedNetworks, &c.ignoreHosts, c.submissionDaemons, senderLoginMap(c)}));
  if (c.spfCheck) {
    r->stages.push_back(std::make_shared<stages::SpfStageFactory>(
        stages::SpfOptions{checkPolicy(c), c.authservId, c.spfAddHeader, c.spfRejectFail, c.spfExplanation,
                           c.spfTimeout},
        r->resolver));
  }
  if (c.dkimVerify) {
    r->stages.push_back(std::make_shared<stages::DkimVerifyStageFactory>(
        stages::DkimVerifyOptions{checkPolicy(c), c.dkimOptions, c.lBodyAccept}, r->resolver));
  }
  if (c.arcVerify || c.arcSealInbound || c.arcSealOutbound) {
    r->stages.push_back(std::make_shared<stages::ArcStageFactory>(
        stages::ArcOptions{checkPolicy(c), c.arcVerify, c.arcSealInbound, c.arcSealOutbound,
                           c.arcSealKey ? &*c.arcSealKey : nullptr, c.signHeaders, c.authservId,
                           arc::VerifyOptions{c.dkimOptions.minKeyBits}, c.dkimOptions.maxHeaderBytes},
        r->resolver));
  }
  if (c.dmarcCheck) {
    r->stages.push_back(std::make_shared<stages::DmarcStageFactory>(
        stages::DmarcOptions{checkPolicy(c), c.dmarcOptions, c.rejectFailures,
                             c.quarantineAction == config::Config::QuarantineAction::Header, c.rejectMalformedFrom,
                             c.hasArcTrustedSealers ? &c.arcTrustedSealers : nullptr},
        r->resolver));
  }
  if (c.signer) {
    r->stages.push_back(std::make_shared<stages::DkimSignStageFactory>(stages::DkimSignOptions{
        c.signer, &c.signingTable, c.signingDaemons, senderLoginMap(c), c.dkimOptions.maxHeaderBytes}));
  }
  if (c.failureReports.enabled && c.dmarcCheck) {
    r->failureReporter = std::make_shared<report::FailureReporter>(r->settings, r->resolver);
    r->stages.push_back(std::make_shared<stages::FailureReportStageFactory>(stages::FailureReportOptions{
        r->failureReporter, c.authservId, c.failureReports.body, c.failureReports.bodyLimit,
        c.dkimOptions.maxHeaderBytes}));
  }
  for (const auto& stage : r->stages) r->hooks |= stage->hooks();
  r->recorder = std::move(recorder);
  return r;
}

}  // namespace authmilter::runtime
