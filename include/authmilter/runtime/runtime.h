// What the daemon runs with: the immutable settings of one configuration snapshot, the one
// resolver and cache every check shares, and the stage factories in pipeline order (relay
// policy -> SPF -> DKIM verify -> ARC -> DMARC -> DKIM sign; ARC seals after them all),
// each given only its own options.
// Sessions hold a shared_ptr to the runtime they started with; a reload builds a new one
// (so SIGHUP also empties the DNS cache). Adding a stage means one line in runtime.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "authmilter/config/config.h"
#include "authmilter/dns/resolver.h"
#include "authmilter/pipeline/message.h"
#include "authmilter/pipeline/stage.h"
#include "authmilter/report/failure_report.h"
#include "authmilter/report/recorder.h"

namespace authmilter::runtime {

struct Runtime {
  std::shared_ptr<const config::Config> settings;
  std::shared_ptr<dns::Resolver> resolver;
  std::vector<std::shared_ptr<const pipeline::StageFactory>> stages;
  uint32_t hooks = 0;  // union of the stages' hooks
  // DMARC aggregate-report records go here (null: ReportStore unset). Kept across reloads:
  // only a restart opens another store.
  std::shared_ptr<report::Recorder> recorder;
  // DMARC failure reports (null: FailureReports no). One per snapshot: its thread starts with
  // the first report and ends on its own once the snapshot is let go.
  std::shared_ptr<report::FailureReporter> failureReporter;
};

// Hands a finished message's DMARC evaluation to the recorder, if it asks for reports.
// Never waits. False when the record was dropped (queue full).
bool recordForReports(const Runtime& runtime, const pipeline::Message& message);

// `resolver`: nullptr = the settings' Nameservers through ldns with the shared cache;
// authmilter-check and the tests pass their own. `recorder`: where report records go (the
// daemon's, from makeRecorder; a reload passes on the one in force). Throws
// std::runtime_error when a library cannot be set up (libopendkim).
std::shared_ptr<const Runtime> buildRuntime(std::shared_ptr<const config::Config> settings,
                                            std::shared_ptr<dns::Resolver> resolver = nullptr,
                                            std::shared_ptr<report::Recorder> recorder = nullptr);

// The daemon's recorder for the settings' ReportStore (null when unset). It opens the store
// when it has records to store (a PostgreSQL server may be down at start) and again after a
// failure; the daemon checks a SQLite file at start.
std::shared_ptr<report::Recorder> makeRecorder(const config::Config& settings);

}  // namespace authmilter::runtime
