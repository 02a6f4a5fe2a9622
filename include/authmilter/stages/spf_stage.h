// SPF stage: at MAIL FROM, checks the MAIL FROM identity (with <>: the HELO identity) and
// the HELO identity (RFC 7208 §2.3, §2.4) and records both for Authentication-Results, the
// log line and a Received-SPF header. Policy: SPFRejectFail rejects a fail of the MAIL FROM
// identity (550 5.7.23), DNSErrorAction tempfail answers a temperror with 451 4.4.3;
// otherwise the results are only recorded and DMARC decides. Authenticated, trusted
// (TrustedNetworks) and IgnoreHosts clients are skipped, and the log line says so.
#pragma once

#include "authmilter/pipeline/stage.h"
#include "authmilter/spf/spf.h"
#include "authmilter/stages/stage_options.h"

namespace authmilter::stages {

class SpfStageFactory : public pipeline::StageFactory {
 public:
  SpfStageFactory(SpfOptions options, std::shared_ptr<dns::Resolver> resolver);
  std::string_view name() const override { return "spf"; }
  uint32_t hooks() const override { return pipeline::kHookMail; }
  std::unique_ptr<pipeline::Stage> create() const override;

 private:
  SpfOptions options_;
  spf::Checker checker_;
};

}  // namespace authmilter::stages
