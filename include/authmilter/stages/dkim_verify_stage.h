// DKIM verify stage: every DKIM-Signature of a message (up to MaximumSignatures) is
// verified as the headers and body stream past, and each result goes to
// Authentication-Results (header.d/i/s/a/b), the log line and Message::dkim for DMARC.
// A key lookup that timed out is temperror; with DNSErrorAction tempfail a message none of
// whose signatures passed then gets 451 4.4.3. Authenticated, trusted and IgnoreHosts
// clients are skipped (their mail is signed, not verified).
#pragma once

#include "authmilter/dkim/verifier.h"
#include "authmilter/pipeline/stage.h"
#include "authmilter/stages/stage_options.h"

namespace authmilter::stages {

class DkimVerifyStageFactory : public pipeline::StageFactory {
 public:
  DkimVerifyStageFactory(DkimVerifyOptions options, std::shared_ptr<dns::Resolver> resolver);
  std::string_view name() const override { return "dkim-verify"; }
  uint32_t hooks() const override {
    return pipeline::kHookHeader | pipeline::kHookEndOfHeaders | pipeline::kHookBody | pipeline::kHookEndOfMessage;
  }
  std::unique_ptr<pipeline::Stage> create() const override;

 private:
  DkimVerifyOptions options_;
  dkim::Verifier verifier_;
};

// "pass:example.com fail:example.net" for the log line.

}  // namespace authmilter::stages
