// SPF stage (see the header). The HELO identity is checked once per connection (a client
// sends many messages after one HELO); the MAIL FROM identity once per message.
#include "authmilter/stages/spf_stage.h"

#include <optional>

#include "authmilter/util/strings.h"

namespace authmilter::stages {

using pipeline::Connection;
using pipeline::Message;
using pipeline::Verdict;

namespace {

spf::CheckOptions checkOptions(const SpfOptions& spf) {
  spf::CheckOptions options;
  options.fetchExplanation = spf.explanation;
  options.timeout = spf.timeout;
  options.receiver = spf.authservId;
  return options;
}

pipeline::AuthStatus statusOf(spf::Result r) {
  switch (r) {
    case spf::Result::None: return pipeline::AuthStatus::None;
    case spf::Result::Neutral: return pipeline::AuthStatus::Neutral;
    case spf::Result::Pass: return pipeline::AuthStatus::Pass;
    case spf::Result::Fail: return pipeline::AuthStatus::Fail;
    case spf::Result::SoftFail: return pipeline::AuthStatus::SoftFail;
    case spf::Result::TempError: return pipeline::AuthStatus::TempError;
    case spf::Result::PermError: return pipeline::AuthStatus::PermError;
  }
  return pipeline::AuthStatus::None;
}

pipeline::SpfCheck checked(const spf::CheckResult& r, std::string property, std::string value) {
  return {statusOf(r.result), std::move(property), std::move(value), r.domain, r.mechanism, r.problem,
          r.explanation};
}

class SpfStage : public pipeline::Stage {
 public:
  SpfStage(const SpfOptions& options, const spf::Checker& checker) : options_(options), checker_(checker) {}

  Verdict onMailFrom(const Connection& connection, Message& message) override {
    auto& out = message.spf.emplace();
    if (message.trust.checks != pipeline::Skip::None) {
      out.skipped = message.trust.checks;
      return {};
    }
    const auto& ip = *connection.address;
    const std::string& helo = connection.helo;
    const mail::MailAddress& sender = message.sender;
    const std::string mailFrom = sender.null ? std::string() : sender.text;

    // One SPFTimeout for both checks of this message.
    const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    const spf::CheckResult result = checker_.checkMailFrom(ip, helo, mailFrom, deadline);
    if (sender.null) {
      out.mailFrom = checked(result, "smtp.helo", helo);
    } else {
      out.mailFrom = checked(result, "smtp.mailfrom", mailFrom);
      if (!heloResult_ || heloChecked_ != helo) {
        heloResult_ = checker_.checkHelo(ip, helo, deadline);
        heloChecked_ = helo;
      }
      out.helo = checked(*heloResult_, "smtp.helo", helo);
    }
    if (options_.addHeader) {
      message.headerEdits.push_back({pipeline::HeaderEdit::Kind::Insert, 0, "Received-SPF",
                                     spf::formatReceivedSpf(result, ip, helo, mailFrom, options_.authservId)});
    }
    return policy(result, ip);
  }

 private:
  Verdict policy(const spf::CheckResult& r, const net::IpAddress& ip) const {
    if (r.result == spf::Result::Fail && options_.rejectFail) {
      // RFC 7208 §8.4: the explanation, when there is one, tells the sender why.
      std::string text = util::sanitize(r.explanation);
      if (text.empty()) {
        text = "SPF: " + util::sanitize(r.domain) + " does not designate " + ip.toString() + " as permitted sender";
      }
      return Verdict::reject("550", "5.7.23", text, "SPF fail for " + util::sanitize(r.sender));
    }
    if (r.result == spf::Result::TempError && options_.check.tempfailOnDnsError) {
      return Verdict::dnsTempfail("SPF", util::sanitize(r.domain), r.problem);
    }
    return {};
  }

  const SpfOptions& options_;
  const spf::Checker& checker_;
  std::optional<spf::CheckResult> heloResult_;
  std::string heloChecked_;
};

}  // namespace

SpfStageFactory::SpfStageFactory(SpfOptions options, std::shared_ptr<dns::Resolver> resolver)
    : options_(std::move(options)), checker_(std::move(resolver), checkOptions(options_)) {}

std::unique_ptr<pipeline::Stage> SpfStageFactory::create() const {
  return std::make_unique<SpfStage>(options_, checker_);
}

}  // namespace authmilter::stages
