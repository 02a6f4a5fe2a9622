// authmilter-report's run, in-process on a SQLite store: a day's records become one RFC
// 9990 report per policy domain, kept once and sent to each rua= address as a signed
// message; every report and message passes the independent checks (xmllint against the
// schema written from RFC 9990, dmarc-cat, dkimpy); a failed delivery is retried with the
// same report; external destinations are verified in DNS; suppression; dry run.
#include "authmilter/report/reporter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "authmilter/report/aggregate_report.h"
#include "daemon_harness.h"
#include "dkimpy.h"
#include "fake_resolver.h"
#include "fixture_files.h"
#include "aggregate_record_sample.h"
#include "temp_dir.h"

namespace authmilter::report {
namespace {

using testsupport::FakeResolver;
using testsupport::TempDir;

const std::string kSource = AUTHMILTER_SOURCE_DIR;
constexpr int64_t kDec6Noon = 1796558400;  // 2026-12-06T12:00:00Z

AggregateRecord record(const std::string& domain, const std::string& ip, const std::string& rua,
                       const std::string& day = "2026-12-05") {
  AggregateRecord r = testsupport::sampleRecord(ip, day, domain);
  r.rua = rua;
  r.sp = "quarantine";
  r.np = "reject";
  r.spfResult = "softfail";
  r.dkim = {{"other.example", "s1", "fail"}, {domain, "sel", "pass"}};
  return r;
}

// Runs the independent checks on `files`; "" when they pass, else what they printed.
std::string independentChecks(const std::vector<std::string>& files) {
  std::vector<std::string> args = {kSource + "/tests/support/check_dmarc_report.py", "--xsd",
                                   kSource + "/tests/data/dmarc/aggregate-report-2.0.xsd", "--dns-txt-file",
                                   testsupport::dkimFixturePath("keys.zone")};
  args.insert(args.end(), files.begin(), files.end());
  const auto [status, out] = testsupport::runProgram("/usr/bin/python3", args);
  return status == 0 ? "" : "status " + std::to_string(status) + ": " + out;
}

class ReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testsupport::privateKeyCopy(dir_, testsupport::dkimFixturePath("rsa2048.pem"), "rsa.key");
    dir_.write("domains", "example.org\n");
  }
  std::shared_ptr<const config::Config> load(const std::string& extra = "",
                                             const std::string& email = "dmarc-reports@example.com") {
    return config::loadConfig(dir_.write(
        "authmilter.conf", "AuthservID mx.example.org\nLocalDomains domains\nNameservers 127.0.0.1:9\n"
                           "ReportStore sqlite:reports.db\nReportEmail " + email + "\n"
                           "ReportOrgName Example Receiver\nDomain example.com\nSelector rsa2048\nKeyFile rsa.key\n" +
                               extra));
  }
  // A sent message with its header fields unfolded.
  std::string unfolded(size_t i) const {
    std::string m = sent_.at(i).second;
    for (size_t p; (p = m.find("\n ")) != std::string::npos;) m.replace(p, 2, " ");
    return m;
  }
  ReportStore& store() {
    if (!store_) store_ = ReportStore::open("sqlite:" + dir_.file("reports.db"));
    return *store_;
  }
  // Runs the reporter, collecting each message it sends (to -> message); `fail` makes every
  // send fail.
  RunSummary run(const config::Config& c, bool fail = false, ReporterOptions options = {}) {
    if (options.now == 0) options.now = kDec6Noon;
    Reporter reporter(c, store(), resolver_, [&](const std::string& message, const std::string& to) {
      if (fail) return std::string("sendmail exited 75");
      sent_.emplace_back(to, message);
      return std::string();
    });
    return reporter.run(options);
  }
  // Writes the messages sent so far as .eml files and returns their paths.
  std::vector<std::string> sentFiles() {
    std::vector<std::string> files;
    for (size_t i = 0; i < sent_.size(); ++i) files.push_back(dir_.write("sent" + std::to_string(i) + ".eml", sent_[i].second));
    return files;
  }

  TempDir dir_;
  FakeResolver resolver_;
  std::unique_ptr<ReportStore> store_;
  std::vector<std::pair<std::string, std::string>> sent_;
};

TEST_F(ReporterTest, ADayBecomesOneCheckedReportPerPolicyDomainAndDestination) {
  const auto c = load();
  store().add({{record("example.com", "192.0.2.1", "mailto:dmarc@example.com,mailto:agg@reports.example.com!10m"), 3},
               {record("example.com", "2001:db8::7", "mailto:dmarc@example.com,mailto:agg@reports.example.com!10m"), 2},
               {record("example.net", "192.0.2.9", "mailto:dmarc@example.net"), 1},
               {record("example.net", "192.0.2.9", "mailto:dmarc@example.net", "2026-12-06"), 1}});  // today: later
  const auto summary = run(*c);
  EXPECT_EQ(summary.reports, 2);
  EXPECT_EQ(summary.sent, 3);
  EXPECT_EQ(summary.failed, 0);
  ASSERT_EQ(sent_.size(), 3u);
  std::map<std::string, int> to;
  for (const auto& [address, message] : sent_) ++to[address];
  EXPECT_EQ(to, (std::map<std::string, int>{{"agg@reports.example.com", 1}, {"dmarc@example.com", 1},
                                           {"dmarc@example.net", 1}}));
  EXPECT_EQ(independentChecks(sentFiles()), "");
  const auto kept = store().report("2026-12-05", "example.com");
  ASSERT_TRUE(kept);
  EXPECT_NE(unfolded(0).find("Report-ID: <" + kept->reportId + ">"), std::string::npos);
  EXPECT_NE(kept->xml.find("<count>3</count>"), std::string::npos);
  EXPECT_NE(kept->xml.find("<source_ip>2001:db8::7</source_ip>"), std::string::npos);
  EXPECT_EQ(kept->begin, 1796428800);  // 2026-12-05T00:00:00Z
  EXPECT_EQ(kept->end, 1796428800 + 86399);
  // The passing, aligned signature comes first (RFC 9990 §3.1.3).
  EXPECT_LT(kept->xml.find("<selector>sel</selector>"), kept->xml.find("<selector>s1</selector>"));
  EXPECT_FALSE(store().report("2026-12-06", "example.net"));  // the day is not over
  sent_.clear();
  EXPECT_EQ(run(*c).sent, 0);  // nothing twice
  EXPECT_TRUE(sent_.empty());
}

TEST_F(ReporterTest, AFailedDeliveryIsRetriedWithTheSameReport) {
  const auto c = load();
  store().add({{record("example.com", "192.0.2.1", "mailto:dmarc@example.com"), 1}});
  const auto first = run(*c, /*fail=*/true);
  EXPECT_EQ(first.failed, 1);
  EXPECT_NE(first.lines.back().find("tried again on the next run"), std::string::npos) << first.lines.back();
  const auto id = store().report("2026-12-05", "example.com")->reportId;
  store().add({{record("example.com", "192.0.2.2", "mailto:dmarc@example.com"), 1}});  // a late record changes nothing
  const auto second = run(*c, false, {.day = {}, .dryRun = false, .outDir = "", .now = kDec6Noon + 86400});
  EXPECT_EQ(second.sent, 1);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_NE(unfolded(0).find("Report-ID: <" + id + ">"), std::string::npos);
  EXPECT_EQ(store().deliveries(id)[0].state, "sent");
  EXPECT_EQ(store().deliveries(id)[0].attempts, 2);
  EXPECT_EQ(independentChecks(sentFiles()), "");
}

TEST_F(ReporterTest, ExternalDestinationsAreVerifiedInDns) {
  const auto c = load();
  resolver_.setRecords("example.com._report._dmarc.vendor.example", dns::RrType::TXT, {"v=DMARC1"}, 300);
  resolver_.setStatus("example.com._report._dmarc.stranger.example", dns::RrType::TXT, dns::DnsStatus::NxDomain, 300);
  resolver_.setStatus("example.com._report._dmarc.flaky.example", dns::RrType::TXT, dns::DnsStatus::ServFail, 0);
  store().add({{record("example.com", "192.0.2.1",
                       "mailto:a@vendor.example,mailto:b@stranger.example,mailto:c@flaky.example,https://x.example/r"),
                1}});
  const auto summary = run(*c);
  EXPECT_EQ(summary.sent, 1);
  EXPECT_EQ(summary.refused, 2);  // stranger.example, and the https: URI
  EXPECT_EQ(summary.failed, 1);   // flaky.example: asked again on the next run
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].first, "a@vendor.example");
  const auto id = store().report("2026-12-05", "example.com")->reportId;
  for (const auto& d : store().deliveries(id)) {
    if (d.destination == "mailto:b@stranger.example") {
      EXPECT_EQ(d.state, "refused");
      EXPECT_NE(d.lastError.find("example.com._report._dmarc.stranger.example"), std::string::npos) << d.lastError;
    } else if (d.destination == "mailto:c@flaky.example") {
      EXPECT_EQ(d.state, "pending");
    }
  }
}

TEST_F(ReporterTest, SuppressedAddressesDomainsAndLocalPolicyDomainsGetNothing) {
  const auto c = load("ReportSuppress dmarc@example.com, example.net\nReportSuppressLocalDomains yes\n");
  store().add({{record("example.com", "192.0.2.1", "mailto:dmarc@example.com,mailto:x@sub.example.com"), 1},
               {record("example.net", "192.0.2.1", "mailto:dmarc@example.net"), 1},
               {record("example.org", "192.0.2.1", "mailto:dmarc@example.org"), 1}});
  const auto summary = run(*c);
  EXPECT_EQ(summary.sent, 1);
  EXPECT_EQ(summary.refused, 3);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].first, "x@sub.example.com");
}

TEST_F(ReporterTest, DryRunWritesTheFilesAndChangesNothing) {
  const auto c = load();
  store().add({{record("example.com", "192.0.2.1", "mailto:dmarc@example.com"), 4}});
  const std::string out = dir_.file("out");
  const auto summary = run(*c, false, {.day = {}, .dryRun = true, .outDir = out, .now = kDec6Noon});
  EXPECT_EQ(summary.sent, 1);
  EXPECT_TRUE(sent_.empty());
  EXPECT_FALSE(store().report("2026-12-05", "example.com"));
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(out)) files.push_back(entry.path().string());
  ASSERT_EQ(files.size(), 2u);  // the .xml.gz and the message
  for (const auto& f : files) {
    const auto name = std::filesystem::path(f).filename().string();
    EXPECT_TRUE(name.starts_with("example.com!example.com!1796428800!1796515199!")) << name;
  }
  EXPECT_EQ(independentChecks(files), "");
}

TEST_F(ReporterTest, DateReportsThatDayOnlyAndNeverOneNotOver) {
  const auto c = load();
  store().add({{record("example.com", "192.0.2.1", "mailto:dmarc@example.com", "2026-12-04"), 1},
               {record("example.com", "192.0.2.1", "mailto:dmarc@example.com", "2026-12-05"), 1}});
  ReporterOptions options;
  options.now = kDec6Noon;
  options.day = "2026-12-04";
  EXPECT_EQ(run(*c, false, options).reports, 1);
  EXPECT_TRUE(store().report("2026-12-04", "example.com"));
  EXPECT_FALSE(store().report("2026-12-05", "example.com"));
  options.day = "2026-12-06";  // today
  EXPECT_THROW(run(*c, false, options), std::runtime_error);
  options.day = "2026-13-01";
  EXPECT_THROW(run(*c, false, options), std::runtime_error);
}

// The default sender: ReportCommand, run without a shell, the message on its standard input.
TEST_F(ReporterTest, ReportCommandTakesTheMessageAndItsExitStatusDecides) {
  const std::string copy = dir_.file("piped.eml");
  auto c = load("ReportCommand /usr/bin/dd status=none of=" + copy + "\n");
  store().add({{record("example.com", "192.0.2.1", "mailto:dmarc@example.com"), 1}});
  auto summary = Reporter(*c, store(), resolver_).run({.day = {}, .dryRun = false, .outDir = "", .now = kDec6Noon});
  EXPECT_EQ(summary.sent, 1);
  EXPECT_NE(testsupport::readFile(copy).find("Report Domain: example.com"), std::string::npos);
  EXPECT_EQ(independentChecks({copy}), "");

  for (const auto& [command, why] : {std::pair{"/bin/false", "/bin/false exited 1"},
                                     std::pair{"/nonexistent/sendmail -t", "could not be run"}}) {
    c = load(std::string("ReportCommand ") + command + "\n");
    store().add({{record("example.com", "192.0.2.9", "mailto:dmarc@example.com", "2026-12-03"), 1}});
    summary = Reporter(*c, store(), resolver_).run({.day = {}, .dryRun = false, .outDir = "", .now = kDec6Noon});
    EXPECT_EQ(summary.failed, 1) << command;
    EXPECT_NE(summary.lines.back().find(why), std::string::npos) << summary.lines.back();
  }
  const auto id = store().report("2026-12-03", "example.com")->reportId;
  EXPECT_EQ(store().deliveries(id)[0].state, "pending");
  EXPECT_EQ(store().deliveries(id)[0].attempts, 2);
}

TEST_F(ReporterTest, WithoutReportEmailOrAKeyForItThereIsNoRun) {
  auto c = config::loadConfig(dir_.write("bare.conf", "Nameservers 127.0.0.1:9\nReportStore sqlite:reports.db\n"));
  EXPECT_THROW(Reporter(*c, store(), resolver_), std::runtime_error);
  c = load("", "reports@example.org");  // example.org has no key
  try {
    Reporter reporter(*c, store(), resolver_);
    FAIL() << "made";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no DKIM key signs ReportEmail reports@example.org"), std::string::npos)
        << e.what();
  }
}

TEST(AggregateReportTest, RuaAddressesAndDays) {
  EXPECT_EQ(ruaAddress("mailto:dmarc@Example.COM!10m"), "dmarc@example.com");
  EXPECT_EQ(ruaAddress(" mailto:a%2Bb@example.com "), "a+b@example.com");
  EXPECT_FALSE(ruaAddress("https://example.com/report"));
  EXPECT_FALSE(ruaAddress("mailto:no-domain"));
  EXPECT_FALSE(ruaAddress("mailto:a@b@"));
  EXPECT_EQ(dayRange("2026-12-05")->first, 1796428800);
  EXPECT_FALSE(dayRange("2026-02-30"));
  EXPECT_FALSE(dayRange("2026-12-5"));
  EXPECT_EQ(dayOf(1796428800 + 86399), "2026-12-05");
  EXPECT_EQ(gunzipped(gzipped("same in, same out")), "same in, same out");
  EXPECT_EQ(gzipped("x"), gzipped("x"));  // no time in the header: a resent report is the same file
}

}  // namespace
}  // namespace authmilter::report
