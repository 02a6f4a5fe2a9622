// Pipeline fan-out: first stopping verdict wins (Postfix milter.c, OpenSMTPD lka_filter.c).
#include "authmilter/pipeline/pipeline.h"

namespace authmilter::pipeline {

Pipeline::Pipeline(const std::vector<std::shared_ptr<const StageFactory>>& factories) {
  stages_.reserve(factories.size());
  for (const auto& factory : factories) stages_.push_back(factory->create());
}

Verdict Pipeline::run(const std::function<Verdict(Stage&)>& hook) {
  Verdict result;
  for (auto& stage : stages_) {
    Verdict v = hook(*stage);
    if (v.stops()) return v;
    result = stronger(result, v);
  }
  return result;
}

void Pipeline::endMessage(Message& message) {
  for (auto& stage : stages_) stage->onMessageEnd(message);
}

}  // namespace authmilter::pipeline
