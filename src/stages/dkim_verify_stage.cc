// DKIM verify stage (see the header).
#include "authmilter/stages/dkim_verify_stage.h"

#include <optional>

namespace authmilter::stages {

using pipeline::Connection;
using pipeline::Message;
using pipeline::Verdict;

std::string summarizeDkim(const std::vector<dkim::SignatureResult>& results) {
  if (results.empty()) return "none";
  std::string out;
  for (const auto& r : results) {
    if (!out.empty()) out += ' ';
    out += std::string(dkim::toString(r.result)) + ":" + (r.domain.empty() ? "-" : r.domain);
  }
  return out;
}

namespace {

class DkimVerifyStage : public pipeline::Stage {
 public:
  DkimVerifyStage(const DkimVerifyOptions& options, const dkim::Verifier& verifier)
      : options_(options), verifier_(verifier) {}

  Verdict onHeader(const Connection& connection, Message& message, std::string_view name,
                   std::string_view value) override {
    if (!started_) start(connection, message);
    if (!verification_) return {};
    if (connection.headerLeadingSpace) {
      verification_->header(name, value);
    } else {
      spaced_.assign(" ").append(value);  // the MTA dropped the space after the colon
      verification_->header(name, spaced_);
    }
    return {};
  }

  Verdict onEndOfHeaders(const Connection& connection, Message& message) override {
    if (!started_) start(connection, message);  // a message without headers
    if (verification_) verification_->endOfHeaders();
    return {};
  }

  Verdict onBody(const Connection&, Message&, std::string_view chunk) override {
    if (verification_) verification_->body(chunk);
    return {};
  }

  Verdict onEndOfMessage(const Connection& connection, Message& message) override {
    if (!started_) start(connection, message);
    if (!verification_) return {};
    const auto results = verification_->finish();
    bool anyPass = false;
    std::string tempfailed;
    std::string why;
    for (const auto& r : results) {
      pipeline::AuthResult ar{"dkim", std::string(dkim::toString(r.result)), r.reason, {}};
      if (!r.domain.empty()) ar.properties.emplace_back("header.d", r.domain);
      if (!r.identity.empty()) ar.properties.emplace_back("header.i", r.identity);
      if (!r.selector.empty()) ar.properties.emplace_back("header.s", r.selector);
      if (!r.algorithm.empty()) ar.properties.emplace_back("header.a", r.algorithm);
      if (!r.bPrefix.empty()) ar.properties.emplace_back("header.b", r.bPrefix);
      message.results.push_back(std::move(ar));
      const bool counts = r.result == dkim::Result::Pass && (!r.partialBody || options_.lBodyAccept);
      message.dkim.push_back({std::string(dkim::toString(r.result)), r.domain, r.selector, counts, r.testing});
      anyPass = anyPass || r.result == dkim::Result::Pass;
      if (r.result == dkim::Result::TempError && tempfailed.empty()) tempfailed = r.domain;
      if (!r.reason.empty()) why += (why.empty() ? "" : "; ") + (r.domain.empty() ? "" : r.domain + ": ") + r.reason;
    }
    if (results.empty()) message.results.push_back({"dkim", "none", {}, {}});
    message.logFields.emplace_back("dkim", summarizeDkim(results));
    if (!why.empty()) message.logFields.emplace_back("dkim_why", why);
    if (verification_->uncheckedSignatures() > 0) {
      message.logFields.emplace_back("dkim_unchecked", std::to_string(verification_->uncheckedSignatures()));
    }
    verification_.reset();
    if (!tempfailed.empty() && !anyPass && options_.check.tempfailOnDnsError) {
      return Verdict::tempfail("451", "4.4.3", "DKIM: temporary DNS error for the key of " + tempfailed +
                                                   ", try again later",
                               "DKIM temperror for " + tempfailed);
    }
    return {};
  }

  void onMessageEnd(Message&) override {
    verification_.reset();
    started_ = false;
  }

 private:
  void start(const Connection& connection, Message& message) {
    started_ = true;
    if (const auto skip = pipeline::uncheckedBecause(connection, message, options_.check.ignoreAuthenticatedClients);
        !skip.empty()) {
      message.logFields.emplace_back("dkim", "skipped");
      message.logFields.emplace_back("dkim_skip", std::string(skip));
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
