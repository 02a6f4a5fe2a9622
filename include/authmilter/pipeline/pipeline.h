// The per-connection pipeline: the stages in their fixed order (relay policy -> SPF ->
// DKIM verify -> ARC -> DMARC -> DKIM sign), each event fanned out until a stage stops it.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "authmilter/pipeline/stage.h"

namespace authmilter::pipeline {

class Pipeline {
 public:
  explicit Pipeline(const std::vector<std::shared_ptr<const StageFactory>>& factories);

  // Calls `hook` on each stage in order; stops at the first verdict that stops() the event;
  // otherwise returns the strongest verdict seen (Quarantine or Continue).
  Verdict run(const std::function<Verdict(Stage&)>& hook);
  // Every stage's onMessageEnd: the message is over, whichever way it ended.
  void endMessage(Message& message);

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace authmilter::pipeline
