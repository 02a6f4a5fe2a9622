// ARC stage (RFC 8617), between DKIM verification and DMARC: it validates the ARC chain a
// message from another host arrives with (ARCVerify) into Message::arc, which DMARC reads for
// ARCTrustedSealers and Authentication-Results and the log line show as arc= (when the
// message carries ARC header fields), and adds our own ARC set (ARCSealing) once
// every stage has recorded its outcome, so that its ARC-Authentication-Results is the
// Authentication-Results we add. Mail that our own senders send (a list manager re-sending
// through this MTA) is sealed with the Authentication-Results our inbound pass left in it,
// when it comes from TrustedNetworks or has no client address; a SASL user's claims are
// never copied. A chain that failed is sealed cv=fail (covering only our set) and never
// extended after a cv=fail; a chain we could not check (DNS) is not sealed.
#pragma once

#include "authmilter/pipeline/stage.h"
#include "authmilter/stages/stage_options.h"

namespace authmilter::stages {

class ArcStageFactory : public pipeline::StageFactory {
 public:
  ArcStageFactory(ArcOptions options, std::shared_ptr<dns::Resolver> resolver)
      : options_(std::move(options)), resolver_(std::move(resolver)) {}
  std::string_view name() const override { return "arc"; }
  uint32_t hooks() const override {
    return pipeline::kHookHeader | pipeline::kHookEndOfHeaders | pipeline::kHookBody | pipeline::kHookEndOfMessage |
           pipeline::kHookFinish;
  }
  std::unique_ptr<pipeline::Stage> create() const override;

 private:
  ArcOptions options_;
  std::shared_ptr<dns::Resolver> resolver_;
  mutable arc::KeyCache keys_;  // shared by this snapshot's sessions (thread-safe)
};

}  // namespace authmilter::stages
