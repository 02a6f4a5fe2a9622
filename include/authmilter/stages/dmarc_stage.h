// DMARC stage: at end of message, the author domain from the From header(s), the SPF and
// DKIM results the earlier stages recorded, and the Domain Owner's policy give
// dmarc=pass|fail|none|temperror|permerror in Authentication-Results and the log line;
// a failing message is refused (550 5.7.1), quarantined, or marked, as the policy asks and
// RejectFailures / QuarantineAction allow. A malformed From is refused (RejectMalformedFrom)
// or recorded as permerror. Authenticated, trusted and IgnoreHosts clients, and mail without
// a client address, are skipped.
#pragma once

#include "authmilter/dmarc/evaluator.h"
#include "authmilter/pipeline/stage.h"
#include "authmilter/stages/stage_options.h"

namespace authmilter::stages {

class DmarcStageFactory : public pipeline::StageFactory {
 public:
  DmarcStageFactory(DmarcOptions options, std::shared_ptr<dns::Resolver> resolver);
  std::string_view name() const override { return "dmarc"; }
  // Headers: the Transaction reads the From header from them for this stage.
  uint32_t hooks() const override { return pipeline::kHookHeader | pipeline::kHookEndOfMessage; }
  std::unique_ptr<pipeline::Stage> create() const override;

 private:
  DmarcOptions options_;
  dmarc::Evaluator evaluator_;
};

// The marker header QuarantineAction header adds to a message DMARC would quarantine.
inline constexpr std::string_view kQuarantineHeader = "X-Authmilter-Quarantine";

}  // namespace authmilter::stages
