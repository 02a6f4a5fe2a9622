// What authmilter-report does in one run: makes the report of every finished UTC day not
// yet reported (or of one day), keeps it in the store, then hands every pending delivery
// to ReportCommand (or, with dry run, writes the files), and forgets days older than
// ReportKeepDays. A delivery that fails stays pending and goes out, as the same report,
// on the next run.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "authmilter/config/config.h"
#include "authmilter/dns/resolver.h"
#include "authmilter/report/report_store.h"

namespace authmilter::report {

struct ReporterOptions {
  std::optional<std::string> day;  // --date: only this day; else every finished day not yet reported
  bool dryRun = false;             // write into outDir instead of sending; the store is not changed
  std::string outDir;
  int64_t now = 0;                 // seconds since the epoch
};

struct RunSummary {
  int reports = 0;   // reports made (or, dry run, that would be)
  int sent = 0;      // deliveries handed to ReportCommand (dry run: written)
  int failed = 0;    // deliveries that failed and stay pending
  int refused = 0;   // deliveries that will never be sent (suppressed, not verified, not mailto:)
  std::vector<std::string> lines;  // what happened, one line each, for the log
};

class Reporter {
 public:
  // `send(message, to)`: empty when the message went; else why not. Defaults to ReportCommand.
  using Sender = std::function<std::string(const std::string& message, const std::string& to)>;
  Reporter(const config::Config& config, ReportStore& store, dns::Resolver& resolver, Sender send = nullptr);
  // Throws std::runtime_error for what stops the whole run (no ReportEmail, no signing key
  // for it, the store failing); a delivery's failure is in the summary.
  RunSummary run(const ReporterOptions& options);

 private:
  StoredReport makeReport(const std::string& day, const std::string& policyDomain,
                          std::vector<std::string>* destinations);
  std::string deliver(const StoredReport& report, const std::string& address, const ReporterOptions& options);

  const config::Config& config_;
  ReportStore& store_;
  dns::Resolver& resolver_;
  Sender send_;
  std::string submitter_;
};

// 32 random hex digits (a report_id: letters and digits only, as the file name needs).
std::string newReportId();

}  // namespace authmilter::report
