// report_bench: the DMARC report path at scale. It measures; it asserts nothing about speed.
//
//   report_bench record --db FILE [--evaluations N] [--domains D] [--ips K]
//       N evaluations (default 1,000,000) of D policy domains (default 10,000), from K
//       source IPs each (default 10), half passing, through the daemon's Recorder into a
//       SQLite store: records/s, the store's rows and size on disk, peak memory.
//   report_bench report --db FILE --conf FILE [--out DIR]
//       authmilter-report's run over that store (every report made, kept and signed; sent
//       to a sender that discards it, or written with --out): reports/s, peak memory.
//
// Each phase is its own process, so "peak memory" (getrusage's maxrss) is that phase's.
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <string>

#include "authmilter/config/config.h"
#include "authmilter/dns/caching_resolver.h"
#include "authmilter/report/aggregate_report.h"
#include "authmilter/report/recorder.h"
#include "authmilter/report/reporter.h"

using namespace authmilter;

namespace {

long peakKiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

long long fileBytes(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : 0;
}

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

report::AggregateRecord evaluation(long i, long domains, long ips, const std::string& day) {
  const long d = i % domains, ip = (i / domains) % ips;
  const bool pass = (i / (domains * ips)) % 2 == 0;
  const std::string domain = "d" + std::to_string(d) + ".example";
  report::AggregateRecord r;
  r.policyDomain = domain;
  r.rua = "mailto:dmarc@" + domain;
  r.day = day;
  r.p = "reject";
  r.adkim = r.aspf = "r";
  r.testing = "n";
  r.psd = "u";
  r.discovery = "treewalk";
  r.sourceIp = "198.51.100." + std::to_string(ip + 1);
  r.disposition = pass ? "none" : "reject";
  r.dkimAligned = pass ? "pass" : "fail";
  r.spfAligned = pass ? "pass" : "fail";
  r.headerFrom = domain;
  r.envelopeFrom = domain;
  r.spfDomain = domain;
  r.spfScope = "mfrom";
  r.spfResult = pass ? "pass" : "fail";
  r.dkim = {{domain, "sel", pass ? "pass" : "fail"}};
  return r;
}

int record(const std::map<std::string, std::string>& a) {
  const std::string db = a.at("--db");
  const long n = a.count("--evaluations") ? std::stol(a.at("--evaluations")) : 1'000'000;
  const long domains = a.count("--domains") ? std::stol(a.at("--domains")) : 10'000;
  const long ips = a.count("--ips") ? std::stol(a.at("--ips")) : 10;
  const std::string day = report::dayOf(static_cast<int64_t>(std::time(nullptr)) - 86400);  // a finished day
  auto store = report::reopeningStore("sqlite:" + db);
  report::Recorder recorder(store, 100'000, std::chrono::milliseconds(1000));
  const auto begin = std::chrono::steady_clock::now();
  long dropped = 0;
  for (long i = 0; i < n; ++i) {
    if (!recorder.record(evaluation(i, domains, ips, day))) ++dropped;
    if (i % 50'000 == 49'999) recorder.flush(std::chrono::minutes(5));  // as a day's trickle would
  }
  recorder.flush(std::chrono::minutes(5));
  const double s = secondsSince(begin);
  const long recordingPeak = peakKiB();  // before the check below reads every row back
  auto check = report::ReportStore::open("sqlite:" + db);
  uint64_t counted = 0;
  size_t rows = 0;
  for (const auto& row : check->rows(day)) counted += row.count, ++rows;
  std::printf("record: %ld evaluations, %ld domains x %ld IPs x pass/fail: %.1f s, %.0f evaluations/s\n", n, domains,
              ips, s, static_cast<double>(n) / s);
  std::printf("record: store holds %zu rows counting %llu evaluations (%ld dropped); %.1f MB on disk "
              "(%lld bytes db + %lld bytes WAL); peak memory while recording %.1f MB\n",
              rows, static_cast<unsigned long long>(counted), dropped,
              static_cast<double>(fileBytes(db) + fileBytes(db + "-wal")) / 1e6, fileBytes(db), fileBytes(db + "-wal"),
              static_cast<double>(recordingPeak) / 1024);
  return counted == static_cast<uint64_t>(n) ? 0 : 1;
}

int reportRun(const std::map<std::string, std::string>& a) {
  const auto config = config::loadConfig(a.at("--conf"));
  auto store = report::ReportStore::open("sqlite:" + a.at("--db"));
  auto resolver = dns::makeCachingResolver(config->dns, config->dnsCache);
  size_t bytes = 0;
  report::Reporter reporter(*config, *store, *resolver, [&](const std::string& message, const std::string&) {
    bytes += message.size();
    return std::string();
  });
  report::ReporterOptions options;
  options.now = static_cast<int64_t>(std::time(nullptr));
  if (a.count("--out")) {
    options.dryRun = true;
    options.outDir = a.at("--out");
  }
  const auto begin = std::chrono::steady_clock::now();
  const auto summary = reporter.run(options);
  const double s = secondsSince(begin);
  std::printf("report: %d reports made, %d sent (%.1f MB of mail), %d failed, %d refused: %.1f s, %.0f reports/s; "
              "peak memory %.1f MB\n",
              summary.reports, summary.sent, static_cast<double>(bytes) / 1e6, summary.failed, summary.refused, s,
              summary.reports / s, static_cast<double>(peakKiB()) / 1024);
  return summary.failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: report_bench record --db FILE [--evaluations N] [--domains D] [--ips K]\n"
                 "       report_bench report --db FILE --conf FILE [--out DIR]\n";
    return 64;
  }
  std::map<std::string, std::string> args;
  for (int i = 2; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  try {
    const std::string mode = argv[1];
    if (mode == "record") return record(args);
    if (mode == "report") return reportRun(args);
  } catch (const std::exception& e) {
    std::cerr << "report_bench: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "report_bench: unknown mode " << argv[1] << "\n";
  return 64;
}
