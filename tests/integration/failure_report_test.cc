// DMARC failure reports (RFC 9991): which messages get one (ruf=, fo=, psd=y), the ARF
// message as Python's email package reads it with the fields RFC 5965, 6591 and 9991 ask
// for (tests/support/check_arf.py) and dkimpy verifies it, destinations checked as for
// aggregate reports, the rate limits, the Bcc copy, and the daemon sending one for a
// rejected forgery without holding the message up.
#include "authmilter/report/failure_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>

#include "daemon_harness.h"
#include "dkimpy.h"
#include "fake_resolver.h"
#include "fixture_files.h"
#include "milter_client.h"
#include "milter_test_fixture.h"
#include "temp_dir.h"

namespace authmilter::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testsupport::FakeResolver;
using testsupport::TempDir;

const std::string kSource = AUTHMILTER_SOURCE_DIR;

// A message DMARC failed under `record` (p=reject, as authmilter evaluates it).
pipeline::Message failed(const std::string& recordText, bool dmarcFailed = true) {
  pipeline::Message m;
  m.queueId = "4XyZ1";
  m.sender = mail::parseMailAddress("<bounce@elsewhere.example>");
  m.spf.emplace();
  m.spf->mailFrom = {pipeline::AuthStatus::Fail, "smtp.mailfrom", "bounce@elsewhere.example", "elsewhere.example",
                     "-all", "", ""};
  m.dkim.emplace();
  m.dkim->signatures.push_back({pipeline::AuthStatus::Fail, "body hash did not verify", "reject.test",
                                "@reject.test", "sel", "rsa-sha256", "AbCdEfGh", false, false});
  dmarc::Outcome o;
  o.result = dmarcFailed ? dmarc::Result::Fail : dmarc::Result::Pass;
  o.sourceIp = "203.0.113.9";
  o.authorDomain = "reject.test";
  o.policyDomain = "reject.test";
  o.record = dmarc::parseRecord(recordText);
  o.policy = o.disposition = dmarc::Policy::Reject;
  if (!dmarcFailed) o.dkimAligned = {"reject.test"};
  m.dmarc.emplace();
  m.dmarc->evaluation = o;
  m.dmarc->applied = dmarcFailed ? dmarc::Policy::Reject : dmarc::Policy::None;
  return m;
}

TEST(FailureIncidentTest, RufFoAndPsdDecide) {
  const auto in = failureIncidentOf(failed("v=DMARC1; p=reject; ruf=mailto:ruf@reject.test"), 1);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->authFailure, "dmarc");
  EXPECT_EQ(in->identityAlignment, "none");
  EXPECT_EQ(in->deliveryResult, "reject");
  EXPECT_EQ(in->dkimDomain, "reject.test");
  EXPECT_EQ(in->spfDomain, "elsewhere.example");
  EXPECT_EQ(in->ruf, std::vector<std::string>{"mailto:ruf@reject.test"});
  EXPECT_FALSE(failureIncidentOf(failed("v=DMARC1; p=reject"), 1));  // no ruf=
  EXPECT_FALSE(failureIncidentOf(failed("v=DMARC1; p=reject; psd=y; ruf=mailto:r@reject.test"), 1));
  // A pass: only fo=1 (a mechanism without an aligned pass: SPF here) or d (a bad signature).
  EXPECT_FALSE(failureIncidentOf(failed("v=DMARC1; p=reject; ruf=mailto:r@reject.test", false), 1));
  auto one = failureIncidentOf(failed("v=DMARC1; p=reject; fo=1; ruf=mailto:r@reject.test", false), 1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->identityAlignment, "dkim");
  EXPECT_EQ(one->deliveryResult, "delivered");
  auto d = failureIncidentOf(failed("v=DMARC1; p=reject; fo=d; ruf=mailto:r@reject.test", false), 1);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->authFailure, "bodyhash");
  auto s = failureIncidentOf(failed("v=DMARC1; p=reject; fo=s; ruf=mailto:r@reject.test", false), 1);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->authFailure, "spf");
  auto signedWell = failed("v=DMARC1; p=reject; fo=d; ruf=mailto:r@reject.test");
  signedWell.dkim->signatures.clear();  // DMARC failed, but fo=d asks about bad signatures only
  EXPECT_FALSE(failureIncidentOf(signedWell, 1));
}

TEST(RateLimiterTest, PerAddressAndInAllPerHour) {
  RateLimiter limiter(2, 3);
  EXPECT_TRUE(limiter.allow("a@x", 1000));
  EXPECT_TRUE(limiter.allow("a@x", 1001));
  EXPECT_FALSE(limiter.allow("a@x", 1002));  // 2 an hour to one address
  EXPECT_TRUE(limiter.allow("b@x", 1003));
  EXPECT_FALSE(limiter.allow("c@x", 1004));  // 3 an hour in all
  EXPECT_TRUE(limiter.allow("c@x", 4600));   // an hour after the first
  EXPECT_TRUE(limiter.allow("a@x", 4601));
}

class FailureReporterTest : public ::testing::Test {
 protected:
  void SetUp() override { testsupport::privateKeyCopy(dir_, testsupport::dkimFixturePath("rsa2048.pem"), "rsa.key"); }

  std::shared_ptr<const config::Config> load(const std::string& extra) {
    return config::loadConfig(dir_.write(
        "authmilter.conf", "AuthservID mx.example.org\nNameservers 127.0.0.1:9\nReportEmail reports@example.com\n"
                           "Domain example.com\nSelector rsa2048\nKeyFile rsa.key\nFailureReports yes\n" +
                               extra));
  }

  // A reporter on `config` whose sends land in sent_ (to -> message), at hour `clock_`.
  std::unique_ptr<FailureReporter> reporter(std::shared_ptr<const config::Config> config) {
    return std::make_unique<FailureReporter>(
        std::move(config), resolver_,
        [this](const std::string& message, const std::string& to) {
          std::lock_guard lock(mutex_);
          sent_.emplace_back(to, message);
          return std::string();
        },
        [this] { return clock_; });
  }

  FailureIncident incident(const std::string& ruf) {
    auto in = *failureIncidentOf(failed("v=DMARC1; p=reject; ruf=" + ruf), 1796558400);
    in.authResults = "mx.example.org;\n\tdmarc=fail";
    in.headers = "From: The CEO <ceo@reject.test>\r\nTo: bob@example.org\r\nSubject: urgent wire transfer\r\n"
                 "Message-ID: <forged@reject.test>\r\n";
    in.body = "Pay now.\r\n";
    return in;
  }

  // check_arf.py's reading of a sent message: its JSON line, or "FAIL ..." output.
  std::string arf(const std::string& message, bool body = false) {
    const auto file = dir_.write("arf-" + std::to_string(++files_) + ".eml", message);
    std::vector<std::string> args = {kSource + "/tests/support/check_arf.py", "--dns-txt-file",
                                     testsupport::dkimFixturePath("keys.zone"), file};
    if (body) args.insert(args.begin() + 1, "--body");
    const auto [status, out] = testsupport::runProgram("/usr/bin/python3", args);
    return status == 0 ? out : "FAIL status " + std::to_string(status) + ": " + out;
  }

  TempDir dir_;
  std::shared_ptr<FakeResolver> resolver_ = std::make_shared<FakeResolver>();
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> sent_;
  int64_t clock_ = 1796558400;
  int files_ = 0;
};

TEST_F(FailureReporterTest, TheReportIsArfWithTheRfc9991FieldsAndSigned) {
  resolver_->setRecords("elsewhere.example", dns::RrType::TXT, {"v=spf1 ip4:192.0.2.0/24 -all"}, 300);
  auto r = reporter(load(""));
  ASSERT_TRUE(r->submit(incident("mailto:ruf@reject.test")));
  ASSERT_TRUE(r->flush(std::chrono::seconds(30)));
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].first, "ruf@reject.test");
  const std::string out = arf(sent_[0].second);
  EXPECT_THAT(out, HasSubstr("\"Feedback-Type\": \"auth-failure\""));
  EXPECT_THAT(out, HasSubstr("\"Auth-Failure\": \"dmarc\""));
  EXPECT_THAT(out, HasSubstr("\"Identity-Alignment\": \"none\""));
  EXPECT_THAT(out, HasSubstr("\"Source-IP\": \"203.0.113.9\""));
  EXPECT_THAT(out, HasSubstr("\"Reported-Domain\": \"reject.test\""));
  EXPECT_THAT(out, HasSubstr("\"Original-Mail-From\": \"<bounce@elsewhere.example>\""));
  EXPECT_THAT(out, HasSubstr("\"Delivery-Result\": \"reject\""));
  EXPECT_THAT(out, HasSubstr("\"DKIM-Domain\": \"reject.test\", \"DKIM-Identity\": \"@reject.test\", "
                             "\"DKIM-Selector\": \"sel\""));
  EXPECT_THAT(out, HasSubstr("\"SPF-DNS\": \"txt : elsewhere.example : v=spf1 ip4:192.0.2.0/24 -all\""));
  EXPECT_THAT(out, HasSubstr("\"dkim\": \"d=example.com s=rsa2048\""));
  EXPECT_THAT(out, HasSubstr("Subject: urgent wire transfer"));
  EXPECT_THAT(out, Not(HasSubstr("Pay now")));  // no body unless FailureReportBody yes

  // With FailureReportBody yes, the original goes whole, as message/rfc822.
  auto withBody = reporter(load("FailureReportBody yes\n"));
  auto in = incident("mailto:ruf@reject.test");
  in.bodyIncluded = true;
  ASSERT_TRUE(withBody->submit(in));
  ASSERT_TRUE(withBody->flush(std::chrono::seconds(30)));
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_THAT(arf(sent_[1].second, true), HasSubstr("\"Auth-Failure\": \"dmarc\""));
  EXPECT_THAT(sent_[1].second, HasSubstr("Pay now."));
}

TEST_F(FailureReporterTest, DestinationsAreCheckedAsForAggregateReports) {
  resolver_->setRecords("reject.test._report._dmarc.verified.example", dns::RrType::TXT, {"v=DMARC1"}, 300);
  resolver_->setStatus("reject.test._report._dmarc.unverified.example", dns::RrType::TXT, dns::DnsStatus::NxDomain, 300);
  resolver_->setStatus("reject.test._report._dmarc.broken.example", dns::RrType::TXT, dns::DnsStatus::ServFail, 0);
  auto r = reporter(load("ReportSuppress suppressed.example\n"));
  ASSERT_TRUE(r->submit(incident("mailto:ruf@verified.example,mailto:ruf@unverified.example,"
                                 "mailto:ruf@broken.example,mailto:ruf@suppressed.example,https://x.example/ruf,"
                                 "mailto:ruf@reject.test")));
  ASSERT_TRUE(r->flush(std::chrono::seconds(30)));
  std::vector<std::string> to;
  for (const auto& [address, message] : sent_) to.push_back(address);
  EXPECT_EQ(to, (std::vector<std::string>{"ruf@verified.example", "ruf@reject.test"}));
  EXPECT_EQ(r->counts().refused, 4u);
}

TEST_F(FailureReporterTest, RateLimitsAndTheBccCopy) {
  auto r = reporter(load("FailureReportRate 2,3\nFailureReportsBcc postmaster@example.org\n"));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(r->submit(incident("mailto:ruf@reject.test")));
  ASSERT_TRUE(r->flush(std::chrono::seconds(30)));
  // Two to ruf@ (its limit), one copy (the total of 3 is then reached), the rest held back.
  std::vector<std::string> to;
  for (const auto& [address, message] : sent_) to.push_back(address);
  EXPECT_EQ(to, (std::vector<std::string>{"ruf@reject.test", "postmaster@example.org", "ruf@reject.test"}));
  EXPECT_EQ(r->counts().sent, 3u);
  EXPECT_EQ(r->counts().limited, 5u);
  clock_ += 3601;  // an hour later the counts start again
  ASSERT_TRUE(r->submit(incident("mailto:ruf@reject.test")));
  ASSERT_TRUE(r->flush(std::chrono::seconds(30)));
  EXPECT_EQ(sent_.size(), 5u);
}

TEST_F(FailureReporterTest, SettingsAreCheckedAtLoad) {
  dir_.write("bad.conf", "FailureReports yes\n");
  auto [rc, out] = testsupport::runAuthmilter({"-n", "-c", dir_.file("bad.conf")});
  EXPECT_NE(rc, 0);
  EXPECT_THAT(out, HasSubstr("FailureReports yes needs ReportEmail"));
  dir_.write("bad.conf", "FailureReports yes\nReportEmail r@nokey.example\nFailureReportRate 5\n");
  std::tie(rc, out) = testsupport::runAuthmilter({"-n", "-c", dir_.file("bad.conf")});
  EXPECT_THAT(out, HasSubstr("no DKIM key signs ReportEmail r@nokey.example"));
  EXPECT_THAT(out, HasSubstr("FailureReportRate: expected PER-ADDRESS,TOTAL"));
}

// The daemon: a rejected forgery gets its 550 at once; the report goes out from the
// reporter's thread through ReportCommand (here a script writing files), and a stop sends
// what is still queued.
class FailureReportDaemonTest : public testsupport::MilterTestFixture {};

TEST_F(FailureReportDaemonTest, ARejectedForgeryIsReportedThroughReportCommand) {
  testsupport::privateKeyCopy(dir_, testsupport::dkimFixturePath("rsa2048.pem"), "rsa.key");
  const std::string out = dir_.file("out");
  std::filesystem::create_directory(out);
  const std::string script = dir_.write("send.sh", "#!/bin/sh\ncat > \"" + out + "/report.$$.eml\"\n");
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  dir_.write("domains", "example.org\n");
  startDaemon("AuthservID mx.test.example\nLocalDomains domains\nSocket unix:" + dir_.file("s.sock") +
              "\nShutdownTimeout 5\nSPFCheck no\nReportEmail reports@example.com\nDomain example.com\n"
              "Selector rsa2048\nKeyFile rsa.key\nFailureReports yes\nReportCommand " + script + "\n");
  daemon_->dns()->setZone(testsupport::dkimFixture("keys.zone") +
                          "_dmarc.reject.test. TXT \"v=DMARC1; p=reject; ruf=mailto:ruf@reject.test\"\n"
                          "_dmarc.psd.test. TXT \"v=DMARC1; p=reject; psd=y; ruf=mailto:ruf@psd.test\"\n");
  testsupport::Envelope envelope;
  envelope.mailFrom = "<bounce@elsewhere.example>";
  const auto forged = [](const std::string& domain) {
    return "From: The CEO <ceo@" + domain + ">\r\nTo: bob@example.org\r\nSubject: urgent wire transfer\r\n"
           "Message-ID: <forged@" + domain + ">\r\n\r\nPay now.\r\n";
  };
  EXPECT_EQ(deliver(forged("reject.test"), "F1", envelope).reply, "550 5.7.1 Rejected by DMARC policy for reject.test");
  EXPECT_EQ(deliver(forged("psd.test"), "F2", envelope).reply, "550 5.7.1 Rejected by DMARC policy for psd.test");
  daemon_->stop();  // sends what is queued
  std::vector<std::string> files;
  for (const auto& f : std::filesystem::directory_iterator(out)) files.push_back(f.path());
  ASSERT_EQ(files.size(), 1u);  // none for the psd=y record
  const auto [status, checked] = testsupport::runProgram(
      "/usr/bin/python3", {kSource + "/tests/support/check_arf.py", "--dns-txt-file",
                           testsupport::dkimFixturePath("keys.zone"), files[0]});
  EXPECT_EQ(status, 0) << checked;
  EXPECT_THAT(checked, HasSubstr("\"Original-Envelope-Id\": \"F1\""));
  EXPECT_THAT(checked, HasSubstr("Message-ID: <forged@reject.test>"));
  std::string log;
  for (const auto& line : daemon_->logLines()) log += line + "\n";
  EXPECT_THAT(log, HasSubstr("DMARC failure report for reject.test (F1, 203.0.113.9) to ruf@reject.test: sent"));
  EXPECT_THAT(log, HasSubstr("DMARC failure reports: 1 sent, 0 refused"));
}

}  // namespace
}  // namespace authmilter::report
