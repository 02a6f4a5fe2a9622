// The stages in-process, through the transaction driver, with a fake resolver: what SPF,
// DKIM verification, DMARC and DKIM signing decide, the header-edit plan and the log line
// the daemon would apply and write, without a socket or a DNS server. (The daemon-spawning
// tests cover the milter path.)
#include "authmilter/pipeline/transaction.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "authmilter/mail/message_text.h"
#include "authmilter/report/aggregate_record.h"
#include "authmilter/runtime/runtime.h"
#include "capture_logger.h"
#include "fake_resolver.h"
#include "fixture_files.h"
#include "temp_dir.h"

namespace authmilter::pipeline {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using dns::RrType;

class TransactionTest : public ::testing::Test {
 protected:
  TransactionTest() {
    logger_ = std::make_shared<testsupport::CaptureLogger>();
    log::setLogger(logger_);
    resolver_->setRecords("rsa2048._domainkey.example.com", RrType::TXT,
                          {testsupport::dkimFixture("rsa2048.txt")}, 300);
    resolver_->setRecords("_dmarc.example.com", RrType::TXT, {"v=DMARC1; p=reject"}, 300);
    resolver_->setRecords("example.com", RrType::TXT, {"v=spf1 ip4:192.0.2.0/24 -all"}, 300);
    resolver_->setStatus("_dmarc.com", RrType::TXT, dns::DnsStatus::NxDomain, 300);
    for (const char* helo : {"mail.example.com", "client.example.net"}) {
      resolver_->setStatus(helo, RrType::TXT, dns::DnsStatus::NxDomain, 300);
    }
  }
  ~TransactionTest() override { log::setLogger(nullptr); }

  // A transaction on the settings `conf` (plus the test's list files) with the fake resolver.
  std::unique_ptr<Transaction> start(const std::string& conf) {
    dir_.write("domains", "example.org\n");
    dir_.write("trusted", "10.0.0.0/8\n");
    runtime_ = runtime::buildRuntime(
        config::loadConfig(dir_.write("a.conf", "AuthservID mx.test.example\nLocalDomains domains\n"
                                                "TrustedNetworks trusted\n" + conf)),
        resolver_);
    return std::make_unique<Transaction>(runtime_->settings, runtime_->stages);
  }

  // Connect from `ip`, MAIL FROM `from` (authenticated as `login` unless empty), RCPT TO
  // bob@example.org, then the message `raw`; the end of it.
  Transaction::End deliver(Transaction& t, const std::string& raw, const std::string& from = "<a@example.com>",
                           const std::string& ip = "192.0.2.7", const std::string& login = "") {
    t.connect({"mail.example.com", net::IpAddress::parse(ip), "MTA", true});
    t.helo("mail.example.com");
    const Verdict atMail = t.mailFrom({from, login, login.empty() ? "" : "PLAIN", "Q1"});
    if (atMail.stops()) {
      Transaction::End end;
      end.verdict = atMail;
      end.logLine = logger_->lines().back();
      return end;
    }
    EXPECT_TRUE(t.rcpt("<bob@example.org>").isContinue());
    const mail::MessageText text = mail::splitMessageText(raw);
    for (const auto& [name, value] : text.headers) t.header(name, value);
    t.endOfHeaders();
    t.body(text.body);
    return t.endOfMessage();
  }

  std::shared_ptr<testsupport::FakeResolver> resolver_ = std::make_shared<testsupport::FakeResolver>();
  std::shared_ptr<testsupport::CaptureLogger> logger_;
  testsupport::TempDir dir_;
  std::shared_ptr<const runtime::Runtime> runtime_;
};

const std::string kForged =
    "From: The CEO <ceo@example.com>\r\nTo: bob@example.org\r\nSubject: urgent\r\n"
    "Message-ID: <f@example.com>\r\n\r\nPay now.\r\n";

TEST_F(TransactionTest, SpfPassIsRecordedWithReceivedSpf) {
  auto t = start("DKIMVerify no\nDMARCCheck no\n");
  const auto end = deliver(*t, kForged);
  EXPECT_TRUE(end.verdict.isContinue());
  EXPECT_THAT(end.edits.authResults, HasSubstr("spf=pass smtp.mailfrom=a@example.com"));
  ASSERT_EQ(end.edits.edits.size(), 1u);
  EXPECT_EQ(end.edits.edits[0].name, "Received-SPF");
  EXPECT_THAT(end.logLine, HasSubstr("Q1: client=mail.example.com[192.0.2.7] helo=mail.example.com auth=- "
                                     "daemon=MTA from=<a@example.com> rcpts=1 action=accept spf=pass"));
}

TEST_F(TransactionTest, SpfRejectFailRefusesAtMailFrom) {
  auto t = start("SPFRejectFail yes\nDKIMVerify no\nDMARCCheck no\n");
  const auto end = deliver(*t, kForged, "<a@example.com>", "198.51.100.9");
  EXPECT_EQ(end.verdict.disposition, Disposition::Reject);
  EXPECT_EQ(end.verdict.reply.toString(), "550 5.7.23 SPF: example.com does not designate 198.51.100.9 as permitted sender");
  EXPECT_THAT(end.logLine, HasSubstr("action=reject"));
}

TEST_F(TransactionTest, DkimVerifiesAndDmarcPassesThroughIt) {
  auto t = start("SPFCheck no\n");
  const auto end = deliver(*t, testsupport::dkimFixture("rsa-relaxed-relaxed.eml"), "<bounce@elsewhere.example>",
                           "198.51.100.9");
  EXPECT_TRUE(end.verdict.isContinue());
  EXPECT_THAT(end.edits.authResults, HasSubstr("dkim=pass header.d=example.com"));
  EXPECT_THAT(end.edits.authResults, HasSubstr("dmarc=pass (p=reject dis=none) header.from=example.com"));
  EXPECT_THAT(end.logLine, HasSubstr("dkim=pass:example.com dmarc=pass dmarc_from=example.com"));
  EXPECT_EQ(resolver_->calls("rsa2048._domainkey.example.com", RrType::TXT), 1);
}

TEST_F(TransactionTest, DmarcRejectsAForgeryWithNothingToEdit) {
  auto t = start("SPFCheck no\n");
  const auto end = deliver(*t, kForged, "<bounce@elsewhere.example>", "198.51.100.9");
  EXPECT_EQ(end.verdict.disposition, Disposition::Reject);
  EXPECT_EQ(end.verdict.reply.toString(), "550 5.7.1 Rejected by DMARC policy for example.com");
  EXPECT_TRUE(end.edits.authResults.empty());
  EXPECT_TRUE(end.edits.edits.empty());
  EXPECT_THAT(end.logLine, HasSubstr("action=reject reason=\"DMARC reject for example.com\""));
}

// What an aggregate report will count for the message (RFC 9990 <record>), from its typed
// outcomes; only a policy record with rua= asks for one.
TEST_F(TransactionTest, DmarcOutcomeBecomesAnAggregateRecord) {
  resolver_->setRecords("_dmarc.example.com", RrType::TXT, {"v=DMARC1; p=reject; rua=mailto:d@example.com"}, 300);
  resolver_->setStatus("elsewhere.example", RrType::TXT, dns::DnsStatus::NxDomain, 300);
  auto t = start("");
  const auto end = deliver(*t, testsupport::dkimFixture("rsa-relaxed-relaxed.eml"), "<bounce@elsewhere.example>",
                           "198.51.100.9");
  const auto when = std::chrono::system_clock::from_time_t(1796428800);  // 2026-12-05 00:00:00 UTC
  const auto r = report::aggregateRecordOf(end.message, "treewalk", when);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->policyDomain, "example.com");
  EXPECT_EQ(r->rua, "mailto:d@example.com");
  EXPECT_EQ(r->day, "2026-12-05");
  EXPECT_EQ(r->p, "reject");
  EXPECT_EQ(r->sourceIp, "198.51.100.9");
  EXPECT_EQ(r->headerFrom, "example.com");
  EXPECT_EQ(r->envelopeFrom, "elsewhere.example");
  EXPECT_EQ(r->disposition, "none");
  EXPECT_EQ(r->dkimAligned, "pass");
  EXPECT_EQ(r->spfAligned, "fail");
  EXPECT_EQ(r->spfResult, "none");
  ASSERT_EQ(r->dkim.size(), 1u);
  EXPECT_EQ(r->dkim[0], (report::DkimAuthResult{"example.com", "rsa2048", "pass"}));
  // Without rua=, nothing to record.
  resolver_->setRecords("_dmarc.example.com", RrType::TXT, {"v=DMARC1; p=reject"}, 300);
  auto t2 = start("");
  EXPECT_FALSE(report::aggregateRecordOf(
      deliver(*t2, testsupport::dkimFixture("rsa-relaxed-relaxed.eml"), "<b@elsewhere.example>", "198.51.100.9")
          .message,
      "treewalk", when));
}

TEST_F(TransactionTest, DmarcTemperrorFollowsDnsErrorAction) {
  resolver_->setStatus("_dmarc.example.com", RrType::TXT, dns::DnsStatus::ServFail, 0);
  auto t = start("SPFCheck no\nDNSErrorAction tempfail\n");
  const auto end = deliver(*t, kForged, "<bounce@elsewhere.example>", "198.51.100.9");
  EXPECT_EQ(end.verdict.disposition, Disposition::Tempfail);
  EXPECT_THAT(end.verdict.reply.toString(), HasSubstr("451 4.4.3 "));
}

TEST_F(TransactionTest, AuthenticatedMailIsSignedAndNotChecked) {
  auto t = start("Domain example.com\nSelector rsa2048\nKeyFile " + testsupport::dkimFixturePath("rsa2048.pem") +
                 "\nRequireSafeKeys no\n");
  const auto end = deliver(*t, kForged, "<ceo@example.com>", "198.51.100.9", "ceo");
  EXPECT_TRUE(end.verdict.isContinue());
  EXPECT_EQ(end.edits.authResults, "mx.test.example;\n\tauth=pass smtp.auth=ceo");
  ASSERT_EQ(end.edits.edits.size(), 1u);
  EXPECT_EQ(end.edits.edits[0].name, "DKIM-Signature");
  EXPECT_THAT(end.edits.edits[0].value, HasSubstr("d=example.com"));
  EXPECT_THAT(end.logLine, HasSubstr("spf=skipped spf_skip=authenticated"));
  EXPECT_THAT(end.logLine, HasSubstr("dkim_sign=\"d=example.com s=rsa2048 a=rsa-sha256\""));
  EXPECT_EQ(resolver_->calls("_dmarc.example.com", RrType::TXT), 0);
}

TEST_F(TransactionTest, ForgedAuthenticationResultsArePlannedForDeletionLastFirst) {
  auto t = start("SPFCheck no\nDKIMVerify no\nDMARCCheck no\n");
  const auto end = deliver(*t, "Authentication-Results: mx.test.example; spf=pass\r\n"
                               "Authentication-Results: other.example; spf=pass\r\n"
                               "Authentication-Results : MX.TEST.EXAMPLE.; dkim=pass\r\n" + kForged);
  EXPECT_EQ(end.edits.deleteAuthResults, (std::vector<size_t>{3, 1}));
  EXPECT_EQ(end.edits.authResults, "mx.test.example; none");
  EXPECT_THAT(end.logLine, HasSubstr(" removed_ar=2"));
  EXPECT_THAT(end.logLine, Not(HasSubstr("removed_ar_lookalike")));
}

TEST_F(TransactionTest, AbortLogsTheMessageAndTheConnectionGoesOn) {
  auto t = start("SPFCheck no\nDKIMVerify no\nDMARCCheck no\n");
  t->connect({"mail.example.com", net::IpAddress::parse("198.51.100.9"), "MTA", true});
  t->mailFrom({"<a@example.com>", "", "", "Q7"});
  EXPECT_EQ(Transaction::messagesInFlight(), 1);
  t->abort();
  EXPECT_EQ(Transaction::messagesInFlight(), 0);
  EXPECT_THAT(logger_->lines().back(), HasSubstr("Q7: client=mail.example.com[198.51.100.9] "));
  EXPECT_THAT(logger_->lines().back(), HasSubstr(" action=aborted"));
  const auto end = deliver(*t, kForged);
  EXPECT_TRUE(end.verdict.isContinue());
}

// Found by tests/fuzz/fuzz_transaction (regressions/fuzz_transaction/arc-carried-bare-cr):
// an Authentication-Results claiming our id, with a bare CR, from a trusted host was copied
// as the payload of the ARC-Authentication-Results we seal with, a field of our own that
// the CR could break. Such a value is not carried; our own results are sealed instead.
TEST_F(TransactionTest, ArcSealingCarriesOnlyWellFoldedResults) {
  chmod(dir_.write("arc.pem", testsupport::dkimFixture("rsa2048.pem")).c_str(), 0600);
  auto t = start("ARCSealing all\nARCSealKey example.org:arc:arc.pem\nSPFCheck no\nDKIMVerify no\nDMARCCheck no\n");
  t->connect({"lists.example.org", net::IpAddress::parse("10.1.2.3"), "MTA", true});
  t->helo("lists.example.org");
  ASSERT_FALSE(t->mailFrom({"<list@example.org>", "", "", "Q1"}).stops());
  ASSERT_TRUE(t->rcpt("<bob@example.org>").isContinue());
  t->header("From", " a@example.com");
  t->header("Authentication-Results", " mx.test.example; spf=pass\r#X-Evil: 1");
  t->endOfHeaders();
  t->body("hi\r\n");
  const auto end = t->endOfMessage();
  const HeaderEdit* aar = nullptr;
  for (const auto& e : end.edits.edits) {
    if (e.name == "ARC-Authentication-Results") aar = &e;
  }
  ASSERT_NE(aar, nullptr);
  EXPECT_THAT(aar->value, Not(HasSubstr("\r")));
  EXPECT_THAT(aar->value, Not(HasSubstr("X-Evil")));
  EXPECT_THAT(aar->value, HasSubstr("i=1; mx.test.example;"));
}

}  // namespace
}  // namespace authmilter::pipeline
