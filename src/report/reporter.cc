// One authmilter-report run (see the header).
#include "authmilter/report/reporter.h"

#include <openssl/rand.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "authmilter/report/aggregate_report.h"
#include "authmilter/report/destination.h"
#include "authmilter/report/report_mail.h"
#include "authmilter/util/strings.h"
#include "authmilter/version.h"

namespace authmilter::report {

std::string newReportId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no random bytes for a report_id");
  return util::hexLower(bytes, sizeof bytes);
}

namespace {

std::string domainOf(std::string_view address) { return util::toLower(address.substr(address.rfind('@') + 1)); }

void writeFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

}  // namespace

Reporter::Reporter(const config::Config& config, ReportStore& store, dns::Resolver& resolver, Sender send)
    : config_(config), store_(store), resolver_(resolver), send_(std::move(send)) {
  const auto& email = config_.reports.email;
  if (email.empty()) throw std::runtime_error("ReportEmail is not set in " + config_.file + ": reports need a From address");
  submitter_ = domainOf(email);
  if (!config_.signer || config_.signingTable.select(email.substr(0, email.rfind('@')), submitter_).empty()) {
    throw std::runtime_error("no DKIM key signs ReportEmail " + email + " (set Domain/Selector/KeyFile or " +
                             "KeyTable/SigningTable for " + submitter_ + "): unsigned reports fail DMARC");
  }
  if (!send_) {
    send_ = [command = config_.reports.command](const std::string& message, const std::string&) {
      return pipeToCommand(command, message);
    };
  }
}

StoredReport Reporter::makeReport(const std::string& day, const std::string& policyDomain,
                                  std::vector<std::string>* destinations) {
  const auto rows = store_.rows(day, policyDomain);
  const auto range = dayRange(day);
  StoredReport r{newReportId(), day, policyDomain, range->first, range->second, ""};
  ReportMetadata meta{config_.reports.orgName, config_.reports.email, r.reportId,
                      std::string("authmilter ") + kVersion, r.begin, r.end};
  r.xml = aggregateReportXml(meta, rows);
  *destinations = ruaDestinations(rows);
  return r;
}

// Empty when the message went (or, dry run, was written); else why not.
std::string Reporter::deliver(const StoredReport& report, const std::string& address, const ReporterOptions& options) {
  const std::string fileName = reportFileName(submitter_, report);
  const std::string gz = gzipped(report.xml);
  ReportMailInfo info{config_.reports.email, submitter_, config_.reports.orgName};
  std::string message = reportMessage(info, report, address, fileName, gz, options.now);
  std::string error;
  if (!signReportMessage(*config_.signer, config_.signingTable, config_.reports.email, message, &error)) {
    throw std::runtime_error(error);
  }
  if (options.dryRun) {
    writeFile(options.outDir + "/" + fileName, gz);
    writeFile(options.outDir + "/" + fileName.substr(0, fileName.size() - 7) + "." + address + ".eml", message);
    return "";
  }
  return send_(message, address);
}

RunSummary Reporter::run(const ReporterOptions& options) {
  RunSummary summary;
  const std::string today = dayOf(options.now);
  if (options.dryRun) std::filesystem::create_directories(options.outDir);
  std::vector<std::string> days;
  if (options.day) {
    if (!dayRange(*options.day)) throw std::runtime_error("--date " + *options.day + ": expected YYYY-MM-DD");
    if (*options.day >= today) throw std::runtime_error("--date " + *options.day + ": that UTC day is not over yet");
    days.push_back(*options.day);
  } else {
    days = store_.unreportedDays(today);
  }
  std::vector<StoredReport> unkept;  // dry run: made but not kept
  for (const auto& day : days) {
    for (const auto& domain : store_.policyDomains(day)) {
      const auto kept = store_.report(day, domain);
      if (kept && !options.dryRun) continue;  // made by an earlier run: its deliveries are below
      std::vector<std::string> destinations;
      StoredReport r;
      if (kept) {
        r = *kept;
        for (const auto& d : store_.deliveries(kept->reportId)) destinations.push_back(d.destination);
      } else {
        r = makeReport(day, domain, &destinations);
      }
      ++summary.reports;
      if (options.dryRun) {
        for (const auto& d : destinations) {
          const auto v = checkDestination(config_, resolver_, domain, d);
          if (v.kind != DestinationVerdict::Kind::Send) {
            ++summary.refused;
            summary.lines.push_back("report " + r.reportId + " for " + domain + " " + day + " to " + d + ": " + v.why);
            continue;
          }
          deliver(r, v.address, options);
          ++summary.sent;
          summary.lines.push_back("report " + r.reportId + " for " + domain + " " + day + " to " + v.address +
                                  ": written to " + options.outDir);
        }
      } else {
        store_.freeze(r, destinations);
      }
    }
  }
  if (!options.dryRun) {
    for (const auto& d : store_.pendingDeliveries()) {
      const auto r = store_.reportById(d.reportId);
      if (!r) continue;
      const std::string what = "report " + r->reportId + " for " + r->policyDomain + " " + r->day + " to " + d.destination;
      const auto v = checkDestination(config_, resolver_, r->policyDomain, d.destination);
      if (v.kind == DestinationVerdict::Kind::Refuse) {
        store_.setDeliveryState(d, "refused", v.why);
        ++summary.refused;
        summary.lines.push_back(what + ": not sent: " + v.why);
        continue;
      }
      const std::string error = v.kind == DestinationVerdict::Kind::Later ? v.why : deliver(*r, v.address, options);
      if (error.empty()) {
        store_.setDeliveryState(d, "sent", "");
        ++summary.sent;
        summary.lines.push_back(what + ": sent");
      } else {
        store_.setDeliveryState(d, "pending", error);
        ++summary.failed;
        summary.lines.push_back(what + ": failed (" + error + "), tried again on the next run");
      }
    }
    store_.purgeBefore(dayOf(options.now - static_cast<int64_t>(config_.reports.keepDays) * 86400));
  }
  return summary;
}

}  // namespace authmilter::report
