// What the daemon runs with: the immutable settings of one configuration snapshot, the one
// resolver and cache every check shares, and the stage factories in pipeline order (relay
// policy -> SPF -> DKIM verify -> DMARC -> DKIM sign), each given only its own options.
// Sessions hold a shared_ptr to the runtime they started with; a reload builds a new one
// (so SIGHUP also empties the DNS cache). Adding a stage means one line in runtime.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "authmilter/config/config.h"
#include "authmilter/dns/resolver.h"
#include "authmilter/pipeline/stage.h"

namespace authmilter::runtime {

struct Runtime {
  std::shared_ptr<const config::Config> settings;
  std::shared_ptr<dns::Resolver> resolver;
  std::vector<std::shared_ptr<const pipeline::StageFactory>> stages;
  uint32_t hooks = 0;  // union of the stages' hooks
};

// `resolver`: nullptr = the settings' Nameservers through ldns with the shared cache;
// authmilter-check and the tests pass their own. Throws std::runtime_error when a library
// cannot be set up (libopendkim).
std::shared_ptr<const Runtime> buildRuntime(std::shared_ptr<const config::Config> settings,
                                            std::shared_ptr<dns::Resolver> resolver = nullptr);

}  // namespace authmilter::runtime
