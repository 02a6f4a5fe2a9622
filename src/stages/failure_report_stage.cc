// Failure report stage (see the header).
#include "authmilter/stages/failure_report_stage.h"

#include <ctime>

#include "authmilter/mail/message_text.h"
#include "authmilter/report/auth_results.h"

namespace authmilter::stages {

using pipeline::Connection;
using pipeline::Message;
using pipeline::Verdict;

namespace {

class FailureReportStage : public pipeline::Stage {
 public:
  explicit FailureReportStage(const FailureReportOptions& options) : options_(options) {}

  Verdict onHeader(const Connection& connection, Message& message, std::string_view name,
                   std::string_view value) override {
    if (!started_) {
      started_ = true;
      collecting_ = message.trust.checks == pipeline::Skip::None;
    }
    if (!collecting_ || full_) return {};
    mail::wireHeaderField(name, pipeline::valueAfterColon(connection, value, spaced_), field_);
    if (headers_.size() + field_.size() + 2 > options_.maxHeaderBytes) {
      full_ = true;  // the report carries the fields that fit
      return {};
    }
    headers_ += field_;
    headers_ += "\r\n";
    return {};
  }

  Verdict onBody(const Connection&, Message&, std::string_view chunk) override {
    if (collecting_ && body_.size() < options_.bodyLimit) {
      body_.append(chunk.substr(0, options_.bodyLimit - body_.size()));
    }
    return {};
  }

  void onMessageEnd(Message& message) override {
    if (collecting_) {
      auto incident = report::failureIncidentOf(message, static_cast<int64_t>(std::time(nullptr)));
      if (incident) {
        incident->authResults = report::authResultsHeader(options_.authservId, message);
        incident->headers = std::move(headers_);
        if (options_.includeBody) {
          incident->body = std::move(body_);
          incident->bodyIncluded = true;
        }
        options_.reporter->submit(std::move(*incident));
      }
    }
    started_ = collecting_ = full_ = false;
    headers_.clear();
    body_.clear();
  }

 private:
  const FailureReportOptions& options_;
  bool started_ = false, collecting_ = false, full_ = false;
  std::string headers_, body_, field_, spaced_;
};

}  // namespace

std::unique_ptr<pipeline::Stage> FailureReportStageFactory::create() const {
  return std::make_unique<FailureReportStage>(options_);
}

}  // namespace authmilter::stages
