// DKIM verify stage (see the header).
#include "authmilter/stages/dkim_verify_stage.h"

#include <optional>

namespace authmilter::stages {

using pipeline::Connection;
using pipeline::Message;
using pipeline::Verdict;

namespace {

pipeline::AuthStatus statusOf(dkim::Result r) {
  switch (r) {
    case dkim::Result::None: return pipeline::AuthStatus::None;
    case dkim::Result::Pass: return pipeline::AuthStatus::Pass;
    case dkim::Result::Fail: return pipeline::AuthStatus::Fail;
    case dkim::Result::Policy: return pipeline::AuthStatus::Policy;
    case dkim::Result::Neutral: return pipeline::AuthStatus::Neutral;
    case dkim::Result::TempError: return pipeline::AuthStatus::TempError;
    case dkim::Result::PermError: return pipeline::AuthStatus::PermError;
  }
  return pipeline::AuthStatus::None;
}

class DkimVerifyStage : public pipeline::Stage {
 public:
  DkimVerifyStage(const DkimVerifyOptions& options, const dkim::Verifier& verifier)
      : options_(options), verifier_(verifier) {}

  Verdict onHeader(const Connection& connection, Message& message, std::string_view name,
                   std::string_view value) override {
    if (!started_) start(message);
    if (!verification_) return {};
    verification_->header(name, pipeline::valueAfterColon(connection, value, spaced_));
    return {};
  }

  Verdict onEndOfHeaders(const Connection&, Message& message) override {
    if (!started_) start(message);  // a message without headers
    if (verification_) verification_->endOfHeaders();
    return {};
  }

  Verdict onBody(const Connection&, Message&, std::string_view chunk) override {
    if (verification_) verification_->body(chunk);
    return {};
  }

  Verdict onEndOfMessage(const Connection&, Message& message) override {
    if (!started_) start(message);
    if (!verification_) return {};
    const auto results = verification_->finish();
    auto& out = *message.dkim;
    bool anyPass = false;
    std::string tempfailed;
    for (const auto& r : results) {
      const bool counts = r.result == dkim::Result::Pass && (!r.partialBody || options_.lBodyAccept);
      out.signatures.push_back({statusOf(r.result), r.reason, r.domain, r.identity, r.selector, r.algorithm,
                                r.bPrefix, counts, r.testing});
      anyPass = anyPass || r.result == dkim::Result::Pass;
      if (r.result == dkim::Result::TempError && tempfailed.empty()) tempfailed = r.domain;
    }
    out.unchecked = verification_->uncheckedSignatures();
    verification_.reset();
    if (!tempfailed.empty() && !anyPass && options_.check.tempfailOnDnsError) {
      return Verdict::dnsTempfail("DKIM", "the key of " + tempfailed, "key lookup failed for " + tempfailed);
    }
    return {};
  }

  void onMessageEnd(Message&) override {
    verification_.reset();
    started_ = false;
  }

 private:
  void start(Message& message) {
    started_ = true;
    auto& out = message.dkim.emplace();
    if (message.trust.checks != pipeline::Skip::None) {
      out.skipped = message.trust.checks;
      return;
    }
    verification_.emplace(verifier_);
  }

  const DkimVerifyOptions& options_;
  const dkim::Verifier& verifier_;
  bool started_ = false;
  std::optional<dkim::Verification> verification_;
  std::string spaced_;
};

}  // namespace

DkimVerifyStageFactory::DkimVerifyStageFactory(DkimVerifyOptions options, std::shared_ptr<dns::Resolver> resolver)
    : options_(std::move(options)), verifier_(std::move(resolver), options_.verify) {}

std::unique_ptr<pipeline::Stage> DkimVerifyStageFactory::create() const {
  return std::make_unique<DkimVerifyStage>(options_, verifier_);
}

}  // namespace authmilter::stages
