// Pipeline order: relay policy -> SPF -> DKIM verify -> DMARC -> DKIM sign.
#include "authmilter/stages/registry.h"

#include "authmilter/stages/dkim_sign_stage.h"
#include "authmilter/stages/dkim_verify_stage.h"
#include "authmilter/stages/dmarc_stage.h"
#include "authmilter/stages/relay_stage.h"
#include "authmilter/stages/spf_stage.h"

namespace authmilter::stages {

std::vector<std::shared_ptr<const pipeline::StageFactory>> buildStageFactories(const config::Config& config) {
  std::vector<std::shared_ptr<const pipeline::StageFactory>> stages{std::make_shared<RelayStageFactory>(config)};
  if (config.spfCheck) stages.push_back(std::make_shared<SpfStageFactory>(config));
  if (config.dkimVerify) stages.push_back(std::make_shared<DkimVerifyStageFactory>(config));
  if (config.dmarcCheck) stages.push_back(std::make_shared<DmarcStageFactory>(config));
  if (config.signer) stages.push_back(std::make_shared<DkimSignStageFactory>(config));
  return stages;
}

}  // namespace authmilter::stages
