// Prometheus metrics of the running daemon (MetricsSocket): known traffic spoken as Postfix
// does, then a scrape of /metrics over HTTP, as Prometheus would, shows exactly that
// traffic: actions, DMARC results and dispositions, relay refusals by reason, skipped
// checks, DNS lookups, sessions, step latency counts, reloads. And a port in use stops the
// start with a clear error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "daemon_harness.h"
#include "fixture_files.h"
#include "metrics_scrape.h"
#include "milter_client.h"
#include "milter_test_fixture.h"

using namespace authmilter::testsupport;
using ::testing::HasSubstr;

namespace {

std::string forged(const std::string& from) {
  return "From: The CEO <ceo@" + from + ">\r\nTo: bob@example.org\r\nSubject: urgent\r\n"
         "Date: Mon, 01 Jan 2024 12:00:00 +0000\r\nMessage-ID: <m@" + from + ">\r\n\r\nPay now.\r\n";
}

class MetricsMilterTest : public MilterTestFixture {
 protected:
  void start() {
    dir_.write("domains", "example.org\n");
    dir_.write("trusted", "192.0.2.0/24\n");
    startDaemon("AuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\nShutdownTimeout 5\n"
                "SubmissionDaemons MSA\nDNSTimeout 300ms\nDNSRetries 1\nMetricsSocket inet:0@127.0.0.1\nSocket unix:" +
                dir_.file("s.sock") + "\n");
    daemon_->dns()->setZone("_dmarc.reject.test. TXT \"v=DMARC1; p=reject\"\n"
                            "_dmarc.quarantine.test. TXT \"v=DMARC1; p=quarantine\"\n");
    const auto line = daemon_->waitForLog("metrics on http://127.0.0.1:");
    ASSERT_TRUE(line);
    const auto from = line->find("metrics on http://127.0.0.1:") + 28;
    port_ = static_cast<uint16_t>(std::stoi(line->substr(from, line->find('/', from) - from)));
  }

  std::string scrape() const {
    const auto reply = httpGet(port_);
    EXPECT_EQ(reply.status, 200);
    return reply.body;
  }

  double value(const std::string& series) const {
    const auto v = sampleValue(scrape(), series);
    EXPECT_TRUE(v.has_value()) << series;
    return v.value_or(-1);
  }

  Response deliverAs(const std::string& raw, const std::string& qid, const std::string& login = "") {
    Envelope e;
    e.mailFrom = "<bounce@elsewhere.example>";
    e.login = login;
    return deliver(raw, qid, e);
  }

  uint16_t port_ = 0;
};

TEST_F(MetricsMilterTest, AScrapeShowsTheTrafficSent) {
  start();
  EXPECT_EQ(deliverAs(forged("reject.test"), "M1").reply, "550 5.7.1 Rejected by DMARC policy for reject.test");
  EXPECT_EQ(deliverAs(forged("reject.test"), "M2").reply, "550 5.7.1 Rejected by DMARC policy for reject.test");
  EXPECT_TRUE(deliverAs(forged("quarantine.test"), "M3").quarantine.has_value());
  EXPECT_EQ(deliverAs(forged("reject.test"), "M4", "alice").action, 'c');  // authenticated: skipped
  {
    MilterClient c = session("203.0.113.9");
    c.macros(SMFIC_MAIL, {{"i", "M5"}});
    ASSERT_EQ(c.mailFrom({"<someone@elsewhere.example>"}).action, 'c');
    EXPECT_EQ(c.rcpt({"<victim@other.example>"}).reply, "550 5.7.1 <victim@other.example>: Relay access denied");
    c.abort();
    c.quit();
  }
  {
    MilterClient c = session("203.0.113.9", "MSA");
    c.macros(SMFIC_MAIL, {{"i", "M6"}});
    EXPECT_EQ(c.mailFrom({"<someone@elsewhere.example>"}).reply, "530 5.7.0 Authentication required");
    c.quit();
  }
  ASSERT_TRUE(daemon_->waitForLog("M6: "));

  // The sessions end on the daemon's side after the client's QUIT: wait for the gauge.
  EXPECT_TRUE(waitUntil(std::chrono::seconds(10), [&] {
    return sampleValue(scrape(), "authmilter_sessions_open") == 0.0;
  }));
  const std::string text = scrape();
  const auto at = [&](const std::string& series) { return sampleValue(text, series).value_or(-1); };
  EXPECT_EQ(at("authmilter_sessions_total"), 6);
  EXPECT_EQ(at(R"(authmilter_messages_total{action="reject"})"), 4);  // 2 DMARC, relay, submission
  EXPECT_EQ(at(R"(authmilter_messages_total{action="quarantine"})"), 1);
  EXPECT_EQ(at(R"(authmilter_messages_total{action="accept"})"), 1);
  EXPECT_EQ(at(R"(authmilter_dmarc_results_total{result="fail"})"), 3);
  EXPECT_EQ(at(R"(authmilter_dmarc_dispositions_total{disposition="reject"})"), 2);
  EXPECT_EQ(at(R"(authmilter_dmarc_dispositions_total{disposition="quarantine"})"), 1);
  EXPECT_EQ(at(R"(authmilter_checks_skipped_total{reason="authenticated"})"), 1);
  EXPECT_EQ(at(R"(authmilter_dkim_results_total{result="none"})"), 3);
  EXPECT_EQ(at(R"(authmilter_relay_refusals_total{reason="relay_denied"})"), 1);
  EXPECT_EQ(at(R"(authmilter_relay_refusals_total{reason="unauthenticated_submission"})"), 1);
  EXPECT_EQ(at(R"(authmilter_relay_refusals_total{reason="sender_not_owned"})"), 0);
  EXPECT_EQ(at(R"(authmilter_step_duration_seconds_count{step="eom"})"), 4);
  EXPECT_EQ(at(R"(authmilter_step_duration_seconds_count{step="mail"})"), 6);
  // Two DMARC records and SPF's lookups went upstream; the second reject.test message found
  // its DMARC record in the cache.
  EXPECT_GT(at(R"(authmilter_dns_lookups_total{source="upstream"})"), 2);
  EXPECT_GT(at(R"(authmilter_dns_lookups_total{source="cache"})"), 0);
  EXPECT_EQ(at(R"(authmilter_dns_upstream_answers_total{status="timeout"})"), 0);
  EXPECT_EQ(at(R"(authmilter_report_queue_depth{report="aggregate"})"), 0);
  EXPECT_THAT(text, HasSubstr("authmilter_build_info{version=\""));
}

TEST_F(MetricsMilterTest, ReloadsAreCountedAndTheCountsSurviveThem) {
  start();
  EXPECT_EQ(deliverAs(forged("reject.test"), "R1").action, 'y');
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("configuration reloaded"));
  EXPECT_EQ(value(R"(authmilter_config_reloads_total{result="ok"})"), 1);
  EXPECT_EQ(value(R"(authmilter_messages_total{action="reject"})"), 1);
  dir_.write("authmilter.conf", "NoSuchSetting yes\n");
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("reload failed"));
  EXPECT_EQ(value(R"(authmilter_config_reloads_total{result="failed"})"), 1);
}

TEST_F(MetricsMilterTest, APortInUseStopsTheStartWithAClearError) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  const std::string port = std::to_string(ntohs(sa.sin_port));
  const std::string conf = dir_.write("busy.conf", "Syslog no\nLogFile stderr\nSocket unix:" + dir_.file("b.sock") +
                                                       "\nMetricsSocket inet:" + port + "@127.0.0.1\n");
  const auto [status, output] = runAuthmilter({"-f", "-c", conf});
  close(fd);
  EXPECT_EQ(status, 71);
  EXPECT_THAT(output, HasSubstr("cannot start: MetricsSocket inet:" + port + "@127.0.0.1: Address already in use"));
}

}  // namespace
