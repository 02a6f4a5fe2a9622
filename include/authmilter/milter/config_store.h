// The runtime in force (settings, resolver, stages). Sessions take a snapshot at connect and
// keep it to the end; a reload swaps in a new one. Thread-safe.
#pragma once

#include <memory>

#include "authmilter/runtime/runtime.h"

namespace authmilter::milter {

std::shared_ptr<const runtime::Runtime> currentRuntime();
void setCurrentRuntime(std::shared_ptr<const runtime::Runtime> runtime);

}  // namespace authmilter::milter
