// DMARC stage (see the header).
#include "authmilter/stages/dmarc_stage.h"

#include <algorithm>

#include "authmilter/mail/from.h"
#include "authmilter/util/strings.h"

namespace authmilter::stages {

using pipeline::Connection;
using pipeline::Message;
using pipeline::Verdict;

namespace {

class DmarcStage : public pipeline::Stage {
 public:
  DmarcStage(const DmarcOptions& options, const dmarc::Evaluator& evaluator)
      : options_(options), evaluator_(evaluator) {}

  Verdict onEndOfMessage(const Connection& connection, Message& message) override {
    auto& out = message.dmarc.emplace();
    if (message.trust.checks != pipeline::Skip::None) {
      // Nothing evaluated, so no dmarc= in Authentication-Results.
      out.skipped = message.trust.checks;
      return {};
    }
    const mail::AuthorDomain& author = *message.from;  // read by the Transaction
    if (!author.ok()) {
      out.malformedFrom = author.error;
      if (!options_.rejectMalformedFrom) return {};
      return Verdict::reject("550", "5.7.1", author.error, author.error);
    }

    dmarc::Input input{author.domain, {}, {}};
    if (message.spf && message.spf->skipped == pipeline::Skip::None) {
      input.spf = {std::string(pipeline::toString(message.spf->mailFrom.result)), message.spf->mailFrom.domain};
    }
    if (message.dkim) {
      for (const auto& d : message.dkim->signatures) {
        input.dkim.push_back({std::string(pipeline::toString(d.result)), d.domain, d.selector, d.countsForDmarc});
      }
    }
    dmarc::Outcome o = evaluator_.evaluate(input);
    o.sourceIp = connection.address->toString();  // the trust fact made sure there is one

    out.applied = o.result == dmarc::Result::Fail && options_.rejectFailures ? o.disposition : dmarc::Policy::None;
    if (o.result == dmarc::Result::Fail && o.disposition != dmarc::Policy::None && message.arc) {
      const auto sealers = trustedSealers(*message.arc);
      if (sealers && message.arc->result == pipeline::AuthStatus::Pass) {
        out.override = pipeline::PolicyOverride{"trusted_forwarder", "arc=pass " + *sealers};
        out.applied = dmarc::Policy::None;
      } else if (sealers && message.arc->result == pipeline::AuthStatus::TempError &&
                 out.applied != dmarc::Policy::None) {
        // The chain might have saved it: DNS trouble is never a verdict.
        out.evaluation = std::move(o);
        return Verdict::dnsTempfail("ARC", message.arc->chain.back().domain, message.arc->reason);
      }
    }
    const Verdict verdict = decide(message, o, out.applied);
    out.evaluation = std::move(o);
    return verdict;
  }

 private:
  // "as[2].d=fwd.example as[1].d=lists.example" when every sealer from the newest set down to
  // the oldest-pass one is in ARCTrustedSealers (oldest-pass 0: all of them); nullopt if not.
  std::optional<std::string> trustedSealers(const pipeline::ArcOutcome& arc) const {
    if (options_.arcTrustedSealers == nullptr || arc.chain.empty()) return std::nullopt;
    const unsigned oldest = std::max(arc.oldestPass, 1u);
    std::string names;
    for (auto it = arc.chain.rbegin(); it != arc.chain.rend() && it->instance >= oldest; ++it) {
      const auto domain = policy::normalizeDomain(it->domain);
      if (!domain || !options_.arcTrustedSealers->contains(*domain)) return std::nullopt;
      names += (names.empty() ? "" : " ") + ("as[" + std::to_string(it->instance) + "].d=" + *domain);
    }
    return names;
  }

  Verdict decide(Message& message, const dmarc::Outcome& o, dmarc::Policy applied) const {
    const std::string domain = util::sanitize(o.authorDomain);
    if (o.result == dmarc::Result::TempError && options_.check.tempfailOnDnsError) {
      return Verdict::dnsTempfail("DMARC", domain, o.reason);
    }
    if (applied == dmarc::Policy::Reject) {
      return Verdict::reject("550", "5.7.1", "Rejected by DMARC policy for " + domain, "DMARC reject for " + domain);
    }
    if (applied == dmarc::Policy::Quarantine) {
      if (options_.quarantineByHeader) {
        message.headerEdits.push_back({pipeline::HeaderEdit::Kind::Add, 0, std::string(kQuarantineHeader),
                                       "DMARC quarantine policy of " + domain});
        return {};
      }
      return Verdict::quarantine("DMARC quarantine policy of " + domain);
    }
    return {};
  }

  const DmarcOptions& options_;
  const dmarc::Evaluator& evaluator_;
};

}  // namespace

DmarcStageFactory::DmarcStageFactory(DmarcOptions options, std::shared_ptr<dns::Resolver> resolver)
    : options_(std::move(options)), evaluator_(std::move(resolver), options_.evaluator) {}

std::unique_ptr<pipeline::Stage> DmarcStageFactory::create() const {
  return std::make_unique<DmarcStage>(options_, evaluator_);
}

}  // namespace authmilter::stages
