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

pipeline::AuthResult authResult(const spf::CheckResult& r, std::string property, std::string value) {
  pipeline::AuthResult ar{"spf", std::string(spf::toString(r.result)), {}, {{std::move(property), std::move(value)}}};
  if (r.result == spf::Result::TempError || r.result == spf::Result::PermError) ar.reason = r.problem;
  return ar;
}

class SpfStage : public pipeline::Stage {
 public:
  SpfStage(const SpfOptions& options, const spf::Checker& checker) : options_(options), checker_(checker) {}

  Verdict onMailFrom(const Connection& connection, Message& message) override {
    const auto skip = pipeline::uncheckedBecause(connection, message, options_.check.ignoreAuthenticatedClients);
    if (!skip.empty()) {
      message.logFields.emplace_back("spf", "skipped");
      message.logFields.emplace_back("spf_skip", std::string(skip));
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
      message.results.push_back(authResult(result, "smtp.helo", helo));
    } else {
      message.results.push_back(authResult(result, "smtp.mailfrom", mailFrom));
      if (!heloResult_ || heloChecked_ != helo) {
        heloResult_ = checker_.checkHelo(ip, helo, deadline);
        heloChecked_ = helo;
      }
      message.results.push_back(authResult(*heloResult_, "smtp.helo", helo));
    }
    message.spf = {std::string(spf::toString(result.result)), result.domain};
    message.logFields.emplace_back("spf", std::string(spf::toString(result.result)));
    if (!sender.null) message.logFields.emplace_back("spf_helo", std::string(spf::toString(heloResult_->result)));
    const std::string& why = result.problem.empty() ? result.mechanism : result.problem;
    if (!why.empty()) message.logFields.emplace_back("spf_why", why);
    if (!result.explanation.empty()) message.logFields.emplace_back("spf_exp", result.explanation);
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
      return Verdict::tempfail("451", "4.4.3", "SPF: temporary DNS error for " + util::sanitize(r.domain) +
                                                   ", try again later",
                               "SPF temperror: " + r.problem);
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
