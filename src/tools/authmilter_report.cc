// authmilter-report: makes and sends the DMARC aggregate reports (RFC 9990) of what the
// daemon recorded in ReportStore. Run once a day after 00:00 UTC (contrib/ has a systemd
// timer and a cron line). See authmilter-report(8).
#include <ctime>
#include <iostream>
#include <string>

#include "authmilter/config/config.h"
#include "authmilter/dns/caching_resolver.h"
#include "authmilter/report/report_store.h"
#include "authmilter/report/reporter.h"
#include "authmilter/version.h"

namespace {

using namespace authmilter;

constexpr int kExitOk = 0;
constexpr int kExitSomeFailed = 1;  // some deliveries failed; they are tried again next run
constexpr int kExitUsage = 64;      // EX_USAGE
constexpr int kExitSoftware = 70;   // EX_SOFTWARE: the run could not be done
constexpr int kExitConfig = 78;     // EX_CONFIG

void usage(std::ostream& out) {
  out << "usage: authmilter-report [-c FILE] [--date YYYY-MM-DD] [--dry-run --out DIR] [--now SECONDS]\n"
         "  Makes one DMARC aggregate report per policy domain and finished UTC day recorded in\n"
         "  ReportStore and not yet reported, keeps it, and sends it to each rua= address through\n"
         "  ReportCommand; deliveries that failed before are tried again with the same report.\n"
         "  -c FILE        the daemon's conf (default /etc/authmilter/authmilter.conf)\n"
         "  --date DAY     only the reports of this UTC day\n"
         "  --dry-run      send nothing and change nothing in the store: write each report's\n"
         "                 .xml.gz and each message (.eml) into --out DIR\n"
         "  --now SECONDS  take this time (seconds since 1970, UTC) as now (for tests)\n"
         "  Exit: 0 done, 1 some deliveries failed (tried again next run), 64 usage,\n"
         "  70 the run failed (store, signing), 78 configuration error.\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string confFile = "/etc/authmilter/authmilter.conf";
  report::ReporterOptions options;
  options.now = static_cast<int64_t>(std::time(nullptr));
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool hasValue = i + 1 < argc;
    if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return kExitOk;
    } else if (arg == "--version") {
      std::cout << "authmilter-report " << kVersion << "\n";
      return kExitOk;
    } else if (arg == "-c" && hasValue) {
      confFile = argv[++i];
    } else if (arg == "--date" && hasValue) {
      options.day = argv[++i];
    } else if (arg == "--out" && hasValue) {
      options.outDir = argv[++i];
    } else if (arg == "--dry-run") {
      options.dryRun = true;
    } else if (arg == "--now" && hasValue) {
      try {
        options.now = std::stoll(argv[++i]);
      } catch (const std::exception&) {
        std::cerr << "authmilter-report: --now: expected seconds since 1970\n";
        return kExitUsage;
      }
    } else {
      usage(std::cerr);
      return kExitUsage;
    }
  }
  if (options.dryRun != !options.outDir.empty()) {
    std::cerr << "authmilter-report: --dry-run and --out DIR go together\n";
    return kExitUsage;
  }
  std::shared_ptr<const config::Config> config;
  try {
    config = config::loadConfig(confFile);
  } catch (const config::ConfigErrors& e) {
    for (const auto& err : e.errors()) std::cerr << err.toString() << "\n";
    return kExitConfig;
  }
  if (config->reports.store.empty()) {
    std::cerr << "authmilter-report: ReportStore is not set in " << confFile << ": nothing is recorded to report\n";
    return kExitConfig;
  }
  try {
    auto store = report::ReportStore::open(config->reports.store);
    auto resolver = dns::makeCachingResolver(config->dns, config->dnsCache);
    report::Reporter reporter(*config, *store, *resolver);
    const auto summary = reporter.run(options);
    for (const auto& line : summary.lines) std::cout << line << "\n";
    std::cout << "authmilter-report: " << summary.reports << " report(s) made, " << summary.sent
              << (options.dryRun ? " written, " : " sent, ") << summary.failed << " failed, " << summary.refused
              << " not sent (refused)\n";
    return summary.failed > 0 ? kExitSomeFailed : kExitOk;
  } catch (const std::exception& e) {
    std::cerr << "authmilter-report: " << e.what() << "\n";
    return kExitSoftware;
  }
}
