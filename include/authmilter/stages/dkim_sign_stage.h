// DKIM sign stage, last in the pipeline: mail from our own senders -- authenticated clients
// ({auth_authen}), TrustedNetworks, a {daemon_name} in SigningDaemons, and
// mail without a client address (local submission) -- is signed with every key the signing
// table gives for the address in its From header, never mail merely relayed inbound. With
// SenderLoginMap, an authenticated user's mail is signed only for a From address the login
// owns. The headers are held until the end of the header section (the From decides the
// keys), then headers and body go once through the signer (one body hash for every key). At end of
// message each DKIM-Signature is inserted at the top; our own signatures get no
// Authentication-Results entry, and the log line names each (d=, s=, a=) or says why none
// was made. A signing failure answers 451 4.3.0 rather than send unsigned mail that a
// p=reject domain's receivers would bounce.
#pragma once

#include <memory>

#include "authmilter/dkim/signer.h"
#include "authmilter/pipeline/stage.h"
#include "authmilter/stages/stage_options.h"

namespace authmilter::stages {

class DkimSignStageFactory : public pipeline::StageFactory {
 public:
  explicit DkimSignStageFactory(DkimSignOptions options) : options_(std::move(options)) {}
  std::string_view name() const override { return "dkim-sign"; }
  uint32_t hooks() const override {
    return pipeline::kHookMail | pipeline::kHookHeader | pipeline::kHookEndOfHeaders | pipeline::kHookBody |
           pipeline::kHookEndOfMessage;
  }
  std::unique_ptr<pipeline::Stage> create() const override;

 private:
  DkimSignOptions options_;
};

}  // namespace authmilter::stages
