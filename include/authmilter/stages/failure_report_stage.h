// Failure report stage (FailureReports yes), last in the pipeline: for mail the checks ran
// on it copies the header section (and, with FailureReportBody yes, the first 64 KB of the
// body) as the message streams past; when the message ends, whichever way (a DMARC
// rejection stops the other stages, not this), a message whose DMARC record asks for a
// failure report becomes a FailureIncident handed to the FailureReporter's queue. It never
// changes a verdict and never waits.
#pragma once

#include <memory>

#include "authmilter/pipeline/stage.h"
#include "authmilter/report/failure_report.h"

namespace authmilter::stages {

struct FailureReportOptions {
  std::shared_ptr<report::FailureReporter> reporter;
  std::string authservId;
  bool includeBody = false;
  size_t bodyLimit = 65536;
  size_t maxHeaderBytes = 1 << 20;  // DKIMMaxHeaderBytes: a report carries at most this much header
};

class FailureReportStageFactory : public pipeline::StageFactory {
 public:
  explicit FailureReportStageFactory(FailureReportOptions options) : options_(std::move(options)) {}
  std::string_view name() const override { return "failure-reports"; }
  uint32_t hooks() const override {
    return pipeline::kHookHeader | (options_.includeBody ? pipeline::kHookBody : 0u);
  }
  std::unique_ptr<pipeline::Stage> create() const override;

 private:
  FailureReportOptions options_;
};

}  // namespace authmilter::stages
