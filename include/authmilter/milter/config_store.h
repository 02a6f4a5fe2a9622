// The configuration in force. Sessions take a snapshot at connect and keep it to the end;
// a reload swaps in a new snapshot. Thread-safe.
#pragma once

#include <memory>

#include "authmilter/config/config.h"

namespace authmilter::milter {

std::shared_ptr<const config::Config> currentConfig();
void setCurrentConfig(std::shared_ptr<const config::Config> config);

}  // namespace authmilter::milter
