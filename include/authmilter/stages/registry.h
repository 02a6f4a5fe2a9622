// The list of stages, in pipeline order. Adding a stage means adding one line here
// (and its settings); no other stage changes.
#pragma once

#include <memory>
#include <vector>

#include "authmilter/pipeline/stage.h"

namespace authmilter::config {
struct Config;
}

namespace authmilter::stages {

// The factories keep a reference to `config`: they live inside it and die with it.
std::vector<std::shared_ptr<const pipeline::StageFactory>> buildStageFactories(const config::Config& config);

}  // namespace authmilter::stages
