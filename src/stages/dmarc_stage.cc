// DMARC stage (see the header).
#include "authmilter/stages/dmarc_stage.h"

#include "authmilter/mail/from.h"
#include "authmilter/util/strings.h"

namespace authmilter::stages {

using pipeline::Connection;
using pipeline::Message;
using pipeline::Verdict;

namespace {

// "spf", "dkim:example.com", "spf,dkim:example.com", or "none".
std::string alignedBy(const dmarc::Outcome& o) {
  std::string out = o.spfAligned ? "spf" : "";
  for (const auto& d : o.dkimAligned) out += (out.empty() ? "dkim:" : ",dkim:") + d;
  return out.empty() ? "none" : out;
}

class DmarcStage : public pipeline::Stage {
 public:
  DmarcStage(const DmarcOptions& options, const dmarc::Evaluator& evaluator)
      : options_(options), evaluator_(evaluator) {}

  Verdict onHeader(const Connection&, Message&, std::string_view name, std::string_view value) override {
    if (mail::isFromHeader(name)) fromValues_.emplace_back(value);
    return {};
  }

  Verdict onEndOfMessage(const Connection& connection, Message& message) override {
    const auto skip = pipeline::uncheckedBecause(connection, message, options_.check.ignoreAuthenticatedClients);
    if (!skip.empty()) {
      // Nothing evaluated, so no dmarc= in Authentication-Results.
      fromValues_.clear();
      message.logFields.emplace_back("dmarc", "skipped");
      message.logFields.emplace_back("dmarc_skip", std::string(skip));
      return {};
    }
    const mail::AuthorDomain author = mail::authorDomain(fromValues_);
    fromValues_.clear();
    if (!author.ok()) return malformedFrom(message, author.error);

    dmarc::Input input{author.domain, message.spf, {}};
    for (const auto& d : message.dkim) input.dkim.push_back({d.result, d.domain, d.selector, d.countsForDmarc});
    dmarc::Outcome o = evaluator_.evaluate(input);
    o.sourceIp = connection.address->toString();  // uncheckedBecause() made sure there is one

    const dmarc::Policy applied = o.result == dmarc::Result::Fail && options_.rejectFailures ? o.disposition
                                                                                            : dmarc::Policy::None;
    pipeline::AuthResult ar{"dmarc", std::string(dmarc::toString(o.result)), {}, {{"header.from", author.domain}}};
    if (o.result == dmarc::Result::TempError || o.result == dmarc::Result::PermError) ar.reason = o.reason;
    if (o.record && o.result != dmarc::Result::PermError) ar.comment = policyComment(o, applied);
    message.results.push_back(std::move(ar));
    log(message, o, applied);
    const Verdict verdict = decide(message, o, applied);
    message.dmarc = std::move(o);
    return verdict;
  }

  void onMessageEnd(Message&) override { fromValues_.clear(); }

 private:
  Verdict malformedFrom(Message& message, const std::string& error) {
    message.results.push_back({"dmarc", "permerror", error, {}});
    message.logFields.emplace_back("dmarc", "permerror");
    message.logFields.emplace_back("dmarc_why", error);
    if (!options_.rejectMalformedFrom) return {};
    return Verdict::reject("550", "5.7.1", error, error);
  }

  // "p=reject sp=none dis=reject": the published policy and what this message got.
  static std::string policyComment(const dmarc::Outcome& o, dmarc::Policy applied) {
    const dmarc::Record& r = *o.record;
    std::string out = "p=" + std::string(dmarc::toString(r.p));
    if (r.sp != dmarc::Policy::Unset) out += " sp=" + std::string(dmarc::toString(r.sp));
    if (r.np != dmarc::Policy::Unset) out += " np=" + std::string(dmarc::toString(r.np));
    return out + " dis=" + std::string(dmarc::toString(applied));
  }

  void log(Message& message, const dmarc::Outcome& o, dmarc::Policy applied) const {
    auto& f = message.logFields;
    f.emplace_back("dmarc", std::string(dmarc::toString(o.result)));
    f.emplace_back("dmarc_from", o.authorDomain);
    if (o.record) {
      f.emplace_back("dmarc_record", "_dmarc." + o.policyDomain);
      if (o.result == dmarc::Result::Pass || o.result == dmarc::Result::Fail) {
        f.emplace_back("dmarc_align", alignedBy(o));
      }
    }
    if (o.result == dmarc::Result::Fail) {
      f.emplace_back("dmarc_policy", o.policyTag + "=" + std::string(dmarc::toString(o.policy)));
      std::string disposition(dmarc::toString(o.disposition));
      if (!o.lowered.empty()) disposition += " (" + o.lowered + ")";
      f.emplace_back("dmarc_dis", disposition);
      if (applied != o.disposition) f.emplace_back("dmarc_action", "none (RejectFailures no)");
    }
    if (!o.reason.empty()) f.emplace_back("dmarc_why", o.reason);
  }

  Verdict decide(Message& message, const dmarc::Outcome& o, dmarc::Policy applied) const {
    const std::string domain = util::sanitize(o.authorDomain);
    if (o.result == dmarc::Result::TempError && options_.check.tempfailOnDnsError) {
      return Verdict::tempfail("451", "4.4.3", "DMARC: temporary DNS error for " + domain + ", try again later",
                               "DMARC temperror: " + o.reason);
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
  std::vector<std::string> fromValues_;
};

}  // namespace

DmarcStageFactory::DmarcStageFactory(DmarcOptions options, std::shared_ptr<dns::Resolver> resolver)
    : options_(std::move(options)), evaluator_(std::move(resolver), options_.evaluator) {}

std::unique_ptr<pipeline::Stage> DmarcStageFactory::create() const {
  return std::make_unique<DmarcStage>(options_, evaluator_);
}

}  // namespace authmilter::stages
