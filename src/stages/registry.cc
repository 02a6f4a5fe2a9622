// Pipeline order: relay policy -> SPF -> DKIM verify -> DMARC -> DKIM sign (later issues).
#include "authmilter/stages/registry.h"

#include "authmilter/stages/relay_policy.h"

namespace authmilter::stages {

std::vector<std::shared_ptr<const pipeline::StageFactory>> buildStageFactories(const config::Config& config) {
  return {std::make_shared<RelayPolicyFactory>(config)};
}

}  // namespace authmilter::stages
