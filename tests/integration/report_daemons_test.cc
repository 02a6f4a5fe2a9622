// Two real authmilter daemons (two "milter hosts") recording into one PostgreSQL store of
// their own on loopback, then one authmilter-report run (the program) covering both: every
// message each daemon saw is counted once in the report, and the report passes the
// independent checks. And a daemon whose PostgreSQL server is not there yet still answers
// every message at once (the records wait in its queue).
#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>
#include <string>
#include <vector>

#include "authmilter/report/aggregate_report.h"
#include "daemon_harness.h"
#include "dkimpy.h"
#include "fixture_files.h"
#include "milter_client.h"
#include "postgres_server.h"
#include "temp_dir.h"

namespace authmilter::testsupport {
namespace {

const std::string kSource = AUTHMILTER_SOURCE_DIR;

const std::string kZone = R"(
_dmarc.reject.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@reject.test"
reject.test. TXT "v=spf1 ip4:198.51.100.0/24 -all"
_dmarc.quiet.test. TXT "v=DMARC1; p=none"
)";

std::string message(const std::string& from, int n) {
  return "From: <ceo@" + from + ">\r\nTo: bob@example.org\r\nSubject: n" + std::to_string(n) +
         "\r\nDate: Mon, 01 Jan 2024 12:00:00 +0000\r\nMessage-ID: <m" + std::to_string(n) + "@" + from +
         ">\r\n\r\nBody.\r\n";
}

std::string daemonConf(const TempDir& dir, const std::string& store) {
  dir.write("domains", "example.org\n");
  return "LocalDomains domains\nAuthservID mx.test.example\nShutdownTimeout 5\nDNSTimeout 300ms\nDNSRetries 1\nSocket unix:" +
         dir.file("s.sock") + "\nReportStore " + store + "\n";
}

// Sends `count` messages from `ip` (forged From reject.test: rejected, and recorded) and
// one from quiet.test (no rua=: not recorded).
void sendDay(const DaemonHarness& daemon, const std::string& ip, int count, int first) {
  Envelope e;
  e.ip = ip;
  e.mailFrom = "<bounce@elsewhere.example>";
  for (int i = 0; i < count; ++i) {
    const auto r = deliverMessage(daemon.unixPath(), message("reject.test", first + i), "Q" + std::to_string(first + i), e);
    EXPECT_EQ(r.reply, "550 5.7.1 Rejected by DMARC policy for reject.test") << "message " << first + i;
  }
  deliverMessage(daemon.unixPath(), message("quiet.test", first + count), "QQ" + std::to_string(first), e);
}

std::string reportConf(const TempDir& dir, const std::string& store) {
  privateKeyCopy(dir, dkimFixturePath("rsa2048.pem"), "rsa.key");
  return dir.write("report.conf", "Nameservers 127.0.0.1:9\nReportStore " + store +
                                      "\nReportEmail dmarc-reports@example.com\nDomain example.com\n"
                                      "Selector rsa2048\nKeyFile rsa.key\n");
}

TEST(ReportDaemonsTest, TwoDaemonsOneStoreOneReportCountingEachMessageOnce) {
  ASSERT_TRUE(PostgresServer::available()) << PostgresServer::unavailableReason();
  PostgresServer postgres;
  TempDir a, b, out;
  {
    DaemonHarness hostA(a, daemonConf(a, postgres.uri()));
    DaemonHarness hostB(b, daemonConf(b, postgres.uri()));
    hostA.dns()->setZone(kZone);
    hostB.dns()->setZone(kZone);
    sendDay(hostA, "203.0.113.1", 7, 0);
    sendDay(hostB, "203.0.113.1", 5, 100);  // the same source as A sees: one row for both
    sendDay(hostB, "203.0.113.2", 3, 200);
    EXPECT_EQ(hostA.stop(), 0);  // a stop stores what is queued
    EXPECT_EQ(hostB.stop(), 0);
  }
  const std::string conf = reportConf(out, postgres.uri());
  const auto tomorrow = std::to_string(std::time(nullptr) + 86400);
  const auto [status, output] = runProgram(AUTHMILTER_REPORT_BINARY,
                                           {"-c", conf, "--dry-run", "--out", out.file("out"), "--now", tomorrow});
  ASSERT_EQ(status, 0) << output;
  EXPECT_NE(output.find("1 report(s) made, 1 written"), std::string::npos) << output;
  std::vector<std::string> files;
  std::string xml;
  for (const auto& entry : std::filesystem::directory_iterator(out.file("out"))) {
    files.push_back(entry.path().string());
    if (entry.path().string().ends_with(".xml.gz")) xml = report::gunzipped(readFile(entry.path().string()));
  }
  ASSERT_EQ(files.size(), 2u) << output;
  int total = 0, rows = 0;
  for (size_t at = 0; (at = xml.find("<count>", at)) != std::string::npos; ++rows) {
    at += 7;
    total += std::stoi(xml.substr(at, xml.find('<', at) - at));
  }
  EXPECT_EQ(total, 15) << xml;  // 7 + 5 + 3, each once
  EXPECT_EQ(rows, 2) << xml;    // 203.0.113.1 (both hosts) and 203.0.113.2
  EXPECT_NE(xml.find("<count>12</count>"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("quiet.test"), std::string::npos) << xml;
  const auto [checkStatus, checkOut] =
      runProgram("/usr/bin/python3", {kSource + "/tests/support/check_dmarc_report.py", "--dns-txt-file",
                                      dkimFixturePath("keys.zone"), files[0], files[1]});
  EXPECT_EQ(checkStatus, 0) << checkOut;
}

TEST(ReportDaemonsTest, AStoreThatIsDownNeverHoldsUpMail) {
  TempDir dir;
  // Nothing listens on port 9: every attempt to store fails at once, and is retried.
  DaemonHarness daemon(dir, daemonConf(dir, "postgresql://authmilter@127.0.0.1:9/authmilter?connect_timeout=2"));
  daemon.dns()->setZone(kZone);
  sendDay(daemon, "203.0.113.1", 20, 0);  // answered (rejected) every time, none lost
  ASSERT_TRUE(daemon.waitForLog("DMARC report records not stored (kept, tried again)"));
  EXPECT_EQ(daemon.stop(), 0);
  bool lostLine = false;
  for (const auto& line : daemon.logLines()) lostLine |= line.find("20 DMARC report records not yet stored are lost") != std::string::npos;
  EXPECT_TRUE(lostLine);
}

TEST(ReportDaemonsTest, AReportStoreThatCannotBeUsedIsSaidAtStart) {
  TempDir dir;
  // A scheme authmilter does not know: a configuration error, found by -n too.
  dir.write("bad.conf", "Nameservers 127.0.0.1:9\nReportStore mysql://db/dmarc\n");
  auto [status, out] = runAuthmilter({"-n", "-c", dir.file("bad.conf")});
  EXPECT_EQ(status, 78) << out;
  EXPECT_NE(out.find("bad.conf:2: ReportStore: expected sqlite:FILE or postgresql://..., got 'mysql://db/dmarc'"),
            std::string::npos)
      << out;
  // A SQLite file the daemon cannot create: it does not start, and says why.
  dir.write("nodir.conf", "Nameservers 127.0.0.1:9\nSocket unix:" + dir.file("s.sock") +
                              "\nReportStore sqlite:/nonexistent-dir/reports.db\n");
  std::tie(status, out) = runAuthmilter({"-f", "-c", dir.file("nodir.conf")});
  EXPECT_EQ(status, 71) << out;
  EXPECT_NE(out.find("cannot start: ReportStore: report store /nonexistent-dir/reports.db: cannot open"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace authmilter::testsupport
