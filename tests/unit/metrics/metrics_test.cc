// Metrics: what one message's outcomes count, the latency histogram's buckets, the text
// Prometheus reads, the HTTP exporter, and MetricsSocket's checks. The counters are
// process-wide, so every test compares before and after.
#include "authmilter/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "authmilter/config/config.h"
#include "authmilter/metrics/exporter.h"
#include "authmilter/version.h"
#include "metrics_scrape.h"
#include "temp_dir.h"

namespace authmilter::metrics {
namespace {

using pipeline::AuthStatus;
using testsupport::sampleValue;
using ::testing::HasSubstr;

std::string scrapeText() { return prometheus::TextSerializer().Serialize(collect()); }

// The value of each series, read now.
double value(const std::string& series) {
  const auto v = sampleValue(scrapeText(), series);
  if (!v) throw std::runtime_error("no series " + series);
  return *v;
}

// How much each series grew while `fn` ran.
template <typename Fn>
std::map<std::string, double> growth(const std::vector<std::string>& series, Fn fn) {
  std::map<std::string, double> before;
  for (const auto& s : series) before[s] = value(s);
  fn();
  std::map<std::string, double> out;
  for (const auto& s : series) out[s] = value(s) - before[s];
  return out;
}

pipeline::Message dmarcRejectedMessage() {
  pipeline::Message m;
  m.spf = pipeline::SpfOutcome{};
  m.spf->mailFrom.result = AuthStatus::Fail;
  m.spf->mailFrom.property = "smtp.mailfrom";
  m.spf->helo = pipeline::SpfCheck{};
  m.spf->helo->result = AuthStatus::Pass;
  m.dkim = pipeline::DkimOutcome{};
  m.dkim->signatures.resize(2);
  m.dkim->signatures[0].result = AuthStatus::Pass;
  m.dkim->signatures[1].result = AuthStatus::Fail;
  m.arc = pipeline::ArcOutcome{};
  m.arc->carried = true;
  m.arc->result = AuthStatus::Fail;
  m.dmarc = pipeline::DmarcOutcome{};
  m.dmarc->evaluation = dmarc::Outcome{};
  m.dmarc->evaluation->result = dmarc::Result::Fail;
  m.dmarc->applied = dmarc::Policy::Reject;
  return m;
}

TEST(MetricsTest, AMessageCountsItsActionAndEveryResult) {
  const auto grew = growth(
      {R"(authmilter_messages_total{action="reject"})", R"(authmilter_messages_total{action="accept"})",
       R"(authmilter_spf_results_total{identity="mailfrom",result="fail"})",
       R"(authmilter_spf_results_total{identity="helo",result="pass"})",
       R"(authmilter_dkim_results_total{result="pass"})", R"(authmilter_dkim_results_total{result="fail"})",
       R"(authmilter_dkim_results_total{result="none"})", R"(authmilter_arc_results_total{result="fail"})",
       R"(authmilter_dmarc_results_total{result="fail"})",
       R"(authmilter_dmarc_dispositions_total{disposition="reject"})",
       R"(authmilter_dmarc_overrides_total{type="trusted_forwarder"})"},
      [] { countMessage(dmarcRejectedMessage(), Action::Reject); });
  EXPECT_EQ(grew.at(R"(authmilter_messages_total{action="reject"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_messages_total{action="accept"})"), 0);
  EXPECT_EQ(grew.at(R"(authmilter_spf_results_total{identity="mailfrom",result="fail"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_spf_results_total{identity="helo",result="pass"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dkim_results_total{result="pass"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dkim_results_total{result="fail"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dkim_results_total{result="none"})"), 0);
  EXPECT_EQ(grew.at(R"(authmilter_arc_results_total{result="fail"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dmarc_results_total{result="fail"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dmarc_dispositions_total{disposition="reject"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dmarc_overrides_total{type="trusted_forwarder"})"), 0);
}

TEST(MetricsTest, AnOverrideAndAnUnsignedMessageAreCounted) {
  auto m = dmarcRejectedMessage();
  m.dkim->signatures.clear();
  m.dmarc->applied = dmarc::Policy::None;
  m.dmarc->override = pipeline::PolicyOverride{"trusted_forwarder", "arc=pass as[1].d=lists.example"};
  const auto grew = growth({R"(authmilter_dkim_results_total{result="none"})",
                            R"(authmilter_dmarc_dispositions_total{disposition="none"})",
                            R"(authmilter_dmarc_overrides_total{type="trusted_forwarder"})"},
                           [&] { countMessage(m, Action::Accept); });
  EXPECT_EQ(grew.at(R"(authmilter_dkim_results_total{result="none"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dmarc_dispositions_total{disposition="none"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dmarc_overrides_total{type="trusted_forwarder"})"), 1);
}

// An authenticated client's message: counted as skipped, and no check result is counted
// (the checks did not run, whatever the outcomes say).
TEST(MetricsTest, SkippedChecksCountTheSkipNotAResult) {
  auto m = dmarcRejectedMessage();
  m.trust.checks = pipeline::Skip::Authenticated;
  m.spf->skipped = m.dkim->skipped = m.dmarc->skipped = m.arc->skipped = pipeline::Skip::Authenticated;
  const auto grew = growth({R"(authmilter_checks_skipped_total{reason="authenticated"})",
                            R"(authmilter_spf_results_total{identity="mailfrom",result="fail"})",
                            R"(authmilter_dkim_results_total{result="pass"})",
                            R"(authmilter_dmarc_results_total{result="fail"})",
                            R"(authmilter_messages_total{action="accept"})"},
                           [&] { countMessage(m, Action::Accept); });
  EXPECT_EQ(grew.at(R"(authmilter_checks_skipped_total{reason="authenticated"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_spf_results_total{identity="mailfrom",result="fail"})"), 0);
  EXPECT_EQ(grew.at(R"(authmilter_dkim_results_total{result="pass"})"), 0);
  EXPECT_EQ(grew.at(R"(authmilter_dmarc_results_total{result="fail"})"), 0);
  EXPECT_EQ(grew.at(R"(authmilter_messages_total{action="accept"})"), 1);
}

TEST(MetricsTest, StepTimesFallIntoCumulativeBuckets) {
  const std::string b = R"(authmilter_step_duration_seconds_bucket{step="abort",le=)";
  const auto grew = growth({b + R"("0.00025"})", b + R"("0.0005"})", b + R"("1"})", b + R"("+Inf"})",
                            R"(authmilter_step_duration_seconds_count{step="abort"})",
                            R"(authmilter_step_duration_seconds_sum{step="abort"})"},
                           [] {
                             observeStep(Step::Abort, std::chrono::microseconds(300));
                             observeStep(Step::Abort, std::chrono::seconds(7));
                           });
  EXPECT_EQ(grew.at(b + R"("0.00025"})"), 0);
  EXPECT_EQ(grew.at(b + R"("0.0005"})"), 1);
  EXPECT_EQ(grew.at(b + R"("1"})"), 1);
  EXPECT_EQ(grew.at(b + R"("+Inf"})"), 2);
  EXPECT_EQ(grew.at(R"(authmilter_step_duration_seconds_count{step="abort"})"), 2);
  EXPECT_NEAR(grew.at(R"(authmilter_step_duration_seconds_sum{step="abort"})"), 7.0003, 1e-6);
}

TEST(MetricsTest, SessionsRelayDnsReportsAndReloadsAreCounted) {
  const auto grew = growth({"authmilter_sessions_open", "authmilter_sessions_total",
                            R"(authmilter_relay_refusals_total{reason="relay_denied"})",
                            R"(authmilter_dns_lookups_total{source="cache"})",
                            R"(authmilter_dns_lookups_total{source="upstream"})",
                            R"(authmilter_dns_upstream_answers_total{status="timeout"})",
                            "authmilter_report_records_dropped_total",
                            R"(authmilter_failure_reports_total{outcome="limited"})",
                            R"(authmilter_config_reloads_total{result="failed"})"},
                           [] {
                             sessionOpened();
                             sessionOpened();
                             sessionClosed();
                             countRelayRefusal(RelayRefusal::RelayDenied);
                             countDnsCacheHit();
                             countDnsUpstream(dns::DnsStatus::Timeout);
                             countReportRecordDropped();
                             countFailureReport(FailureReportEnd::Limited);
                             countReload(false);
                           });
  EXPECT_EQ(grew.at("authmilter_sessions_open"), 1);
  EXPECT_EQ(grew.at("authmilter_sessions_total"), 2);
  EXPECT_EQ(grew.at(R"(authmilter_relay_refusals_total{reason="relay_denied"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dns_lookups_total{source="cache"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dns_lookups_total{source="upstream"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_dns_upstream_answers_total{status="timeout"})"), 1);
  EXPECT_EQ(grew.at("authmilter_report_records_dropped_total"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_failure_reports_total{outcome="limited"})"), 1);
  EXPECT_EQ(grew.at(R"(authmilter_config_reloads_total{result="failed"})"), 1);
  sessionClosed();
}

TEST(MetricsTest, TextFormatHasTypesHelpBuildInfoAndQueueDepths) {
  const std::string text =
      prometheus::TextSerializer().Serialize(collect([] { return QueueDepths{7, 3}; }));
  EXPECT_THAT(text, HasSubstr("# TYPE authmilter_messages_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE authmilter_step_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("# HELP authmilter_relay_refusals_total "));
  EXPECT_EQ(sampleValue(text, std::string("authmilter_build_info{version=\"") + kVersion + "\"}"), 1);
  EXPECT_EQ(sampleValue(text, R"(authmilter_report_queue_depth{report="aggregate"})"), 7);
  EXPECT_EQ(sampleValue(text, R"(authmilter_report_queue_depth{report="failure"})"), 3);
}

// The Grafana dashboard in contrib/ asks only for series the daemon has.
TEST(MetricsTest, TheGrafanaDashboardAsksOnlyForSeriesWeExport) {
  std::ifstream in(AUTHMILTER_SOURCE_DIR "/contrib/grafana-authmilter.json");
  ASSERT_TRUE(in) << "contrib/grafana-authmilter.json is missing";
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string json = buffer.str();
  std::set<std::string> families;
  for (const auto& f : collect()) families.insert(f.name);
  std::set<std::string> asked;
  for (size_t at = json.find("authmilter_"); at != std::string::npos; at = json.find("authmilter_", at + 1)) {
    size_t end = at;
    while (end < json.size() && (std::islower(static_cast<unsigned char>(json[end])) || json[end] == '_')) ++end;
    std::string name = json.substr(at, end - at);
    for (const std::string suffix : {"_bucket", "_count", "_sum"}) {
      if (name.ends_with(suffix) && families.contains(name.substr(0, name.size() - suffix.size()))) {
        name.resize(name.size() - suffix.size());
      }
    }
    asked.insert(name);
  }
  EXPECT_GE(asked.size(), 15u);  // every family but one or two has a panel
  for (const auto& name : asked) EXPECT_TRUE(families.contains(name)) << name << " is not exported";
}

config::SocketSpec loopback(unsigned port) {
  std::string why;
  return *config::parseSocketSpec("inet:" + std::to_string(port) + "@127.0.0.1", &why);
}

TEST(MetricsExporterTest, ServesMetricsOverHttpAndNothingElse) {
  Exporter exporter(loopback(0), [] { return QueueDepths{5, 0}; });
  ASSERT_NE(exporter.port(), 0u);
  const auto reply = testsupport::httpGet(static_cast<uint16_t>(exporter.port()));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(sampleValue(reply.body, R"(authmilter_report_queue_depth{report="aggregate"})"), 5);
  EXPECT_THAT(reply.body, HasSubstr("authmilter_step_duration_seconds_bucket{step=\"eom\",le=\"+Inf\"}"));
  EXPECT_EQ(testsupport::httpGet(static_cast<uint16_t>(exporter.port()), "/").status, 404);
}

TEST(MetricsExporterTest, APortInUseIsAClearError) {
  Exporter first(loopback(0), {});
  try {
    Exporter second(loopback(first.port()), {});
    FAIL() << "a second exporter listened on the same port";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("inet:" + std::to_string(first.port()) + "@127.0.0.1: Address already in use"));
  }
}

std::string metricsSocketErrors(const std::string& value) {
  testsupport::TempDir dir;
  try {
    const auto c = config::loadConfig(dir.write("authmilter.conf", "MetricsSocket " + value + "\n"));
    return c->metricsSocket ? "set:" + c->metricsSocket->text : "unset";
  } catch (const config::ConfigErrors& e) {
    return e.errors().front().message;
  }
}

TEST(MetricsConfigTest, MetricsSocketNeedsANumericAddress) {
  EXPECT_EQ(metricsSocketErrors("inet:9487@127.0.0.1"), "set:inet:9487@127.0.0.1");
  EXPECT_THAT(metricsSocketErrors("inet:9487"), HasSubstr("give the numeric IPv4 address to listen on"));
  EXPECT_THAT(metricsSocketErrors("inet:9487@localhost"), HasSubstr("give the numeric IPv4 address"));
  EXPECT_THAT(metricsSocketErrors("inet6:9487@::1"), HasSubstr("the HTTP server has no IPv6"));
  EXPECT_THAT(metricsSocketErrors("unix:/run/m.sock"), HasSubstr("Prometheus scrapes over TCP"));
  EXPECT_THAT(metricsSocketErrors("inet:99999@127.0.0.1"), HasSubstr("bad port"));
}

}  // namespace
}  // namespace authmilter::metrics
