// DMARC in the running daemon, spoken to as Postfix does, with SPF and DKIM verify on and
// the records served by the test DNS server: a forged From of a p=reject domain is refused,
// p=quarantine quarantines (or marks, with QuarantineAction header), the same forged
// message from an authenticated client goes through with only Authentication-Results
// added, a DKIM-aligned message passes, malformed From headers, report-only mode, DNS
// trouble, skipped clients; and authmilter-check dmarc on the same messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon_harness.h"
#include "fixture_files.h"
#include "milter_client.h"
#include "milter_test_fixture.h"
#include "temp_dir.h"
#include "test_dns_server.h"

using namespace authmilter::testsupport;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

std::string readFixture(const std::string& name) { return dkimFixture(name); }

const std::string kZone = R"(
_dmarc.example.com. TXT "v=DMARC1; p=reject"
_dmarc.reject.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@reject.test"
_dmarc.quarantine.test. TXT "v=DMARC1; p=quarantine"
reject.test. TXT "v=spf1 ip4:198.51.100.0/24 -all"
!drop _dmarc.slow.test TXT
)";

// A message as a spoofer sends it: From the victim domain, nothing signed.
std::string forged(const std::string& from) {
  return "From: The CEO <ceo@" + from + ">\r\nTo: bob@example.org\r\nSubject: urgent wire transfer\r\n"
         "Date: Mon, 01 Jan 2024 12:00:00 +0000\r\nMessage-ID: <forged@" + from + ">\r\n\r\nPay now.\r\n";
}

class DmarcMilterTest : public MilterTestFixture {
 protected:
  void start(const std::string& extraConf = "") {
    dir_.write("domains", "example.org\n");
    dir_.write("trusted", "192.0.2.0/24\n");
    startDaemon("AuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\nShutdownTimeout 5\n"
                "DNSTimeout 300ms\nDNSRetries 1\nSocket unix:" +
                dir_.file("s.sock") + "\n" + extraConf);
    daemon_->dns()->setZone(readFixture("keys.zone") + kZone);
  }

  // From client `ip`, authenticated as `login` unless it is empty.
  Response deliver(const std::string& raw, const std::string& qid, const std::string& ip = "203.0.113.9",
                   const std::string& login = "", const std::string& mailFrom = "<bounce@elsewhere.example>") {
    Envelope envelope;
    envelope.ip = ip;
    envelope.host = "mail.client.example";
    envelope.mailFrom = mailFrom;
    envelope.login = login;
    return MilterTestFixture::deliver(raw, qid, envelope);
  }
};

TEST_F(DmarcMilterTest, ForgedFromOfARejectDomainIsRefused) {
  start();
  const Response r = deliver(forged("reject.test"), "R1");
  EXPECT_EQ(r.action, 'y');
  EXPECT_EQ(r.reply, "550 5.7.1 Rejected by DMARC policy for reject.test");
  const std::string log = logLine("R1");
  EXPECT_THAT(log, HasSubstr("dmarc=fail dmarc_from=reject.test dmarc_record=_dmarc.reject.test dmarc_align=none"));
  EXPECT_THAT(log, HasSubstr("dmarc_policy=p=reject"));
  EXPECT_THAT(log, HasSubstr("dmarc_dis=reject"));
}

TEST_F(DmarcMilterTest, QuarantinePolicyUsesTheQuarantineAction) {
  start();
  const Response r = deliver(forged("quarantine.test"), "Q1");
  EXPECT_EQ(r.action, 'c');
  ASSERT_TRUE(r.quarantine.has_value());
  EXPECT_EQ(*r.quarantine, "DMARC quarantine policy of quarantine.test");
  const auto ar = authResults(r);
  ASSERT_TRUE(ar.has_value());
  EXPECT_THAT(*ar, HasSubstr("dmarc=fail (p=quarantine dis=quarantine) header.from=quarantine.test"));
}

TEST_F(DmarcMilterTest, QuarantineActionHeaderMarksAndDelivers) {
  start("QuarantineAction header\n");
  const Response r = deliver(forged("quarantine.test"), "Q2");
  EXPECT_FALSE(r.quarantine.has_value());
  bool marked = false;
  for (const auto& h : r.headers) {
    marked = marked || (h.name == "X-Authmilter-Quarantine" && h.value == " DMARC quarantine policy of quarantine.test");
  }
  EXPECT_TRUE(marked);
}

// The seeds' postmaster's phone: authenticated on 587, sending as a p=reject domain from
// anywhere, unsigned. Skipped, and the only edit is Authentication-Results (auth=pass).
TEST_F(DmarcMilterTest, AuthenticatedClientSendingAsARejectDomainIsDelivered) {
  start();
  const Response r = deliver(forged("reject.test"), "A1", "203.0.113.77", "alice");
  EXPECT_EQ(r.action, 'c');
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].name, "Authentication-Results");
  EXPECT_THAT(r.headers[0].value, HasSubstr("auth=pass smtp.auth=alice"));
  EXPECT_THAT(r.headers[0].value, Not(HasSubstr("dmarc")));
  EXPECT_FALSE(r.quarantine.has_value());
  EXPECT_THAT(logLine("A1"), HasSubstr("dmarc=skipped dmarc_skip=authenticated"));
}

TEST_F(DmarcMilterTest, IgnoreAuthenticatedClientsNoChecksThemToo) {
  start("IgnoreAuthenticatedClients no\n");
  const Response r = deliver(forged("reject.test"), "A2", "203.0.113.77", "alice");
  EXPECT_EQ(r.reply, "550 5.7.1 Rejected by DMARC policy for reject.test");
  EXPECT_THAT(logLine("A2"), HasSubstr("spf=none"));
}

TEST_F(DmarcMilterTest, TrustedClientIsNotChecked) {
  start();
  const Response r = deliver(forged("reject.test"), "T1", "192.0.2.5");
  EXPECT_EQ(r.action, 'c');
  const auto ar = authResults(r);
  ASSERT_TRUE(ar.has_value());
  EXPECT_THAT(*ar, Not(HasSubstr("dmarc")));
  EXPECT_THAT(logLine("T1"), HasSubstr("dmarc=skipped dmarc_skip=trusted"));
  EXPECT_EQ(daemon_->dns()->queryCount("_dmarc.reject.test", "TXT"), 0u);
}

// non_smtpd_milters: mail the MTA took in locally has no client address; SPF, DKIM verify
// and DMARC leave it alone rather than bounce a cron job's mail.
TEST_F(DmarcMilterTest, MailWithoutAClientAddressIsNotChecked) {
  start();
  Envelope local;
  local.family = 'U';
  local.ip = "";
  local.host = "localhost";
  const Response r = deliverMessage(daemon_->unixPath(), "From: root\r\nSubject: cron\r\n\r\nx\r\n", "L1", local);
  EXPECT_EQ(r.action, 'c');
  const std::string log = logLine("L1");
  EXPECT_THAT(log, HasSubstr("spf=skipped spf_skip=\"no client address\""));
  EXPECT_THAT(log, HasSubstr("dkim=skipped dkim_skip=\"no client address\""));
  EXPECT_THAT(log, HasSubstr("dmarc=skipped dmarc_skip=\"no client address\""));
}

TEST_F(DmarcMilterTest, AlignedThroughSpfOrDkimPasses) {
  start();
  // SPF pass for reject.test from its own network: aligned with From reject.test.
  const Response spf = deliver(forged("reject.test"), "P1", "198.51.100.7", "", "<b@reject.test>");
  EXPECT_EQ(spf.action, 'c');
  ASSERT_TRUE(authResults(spf).has_value());
  EXPECT_THAT(*authResults(spf), HasSubstr("dmarc=pass (p=reject dis=none) header.from=reject.test"));
  EXPECT_THAT(logLine("P1"), HasSubstr("dmarc=pass dmarc_from=reject.test dmarc_record=_dmarc.reject.test "
                                      "dmarc_align=spf"));
  // A verified signature of example.com on mail From example.com.
  const Response dkim = deliver(readFixture("rsa-relaxed-relaxed.eml"), "P2");
  EXPECT_EQ(dkim.action, 'c');
  ASSERT_TRUE(authResults(dkim).has_value());
  EXPECT_THAT(*authResults(dkim), HasSubstr("dmarc=pass (p=reject dis=none) header.from=example.com"));
  EXPECT_THAT(logLine("P2"), HasSubstr("dmarc_align=dkim:example.com"));
  // The same message tampered with: the signature fails, so does DMARC.
  const Response tampered = deliver(readFixture("tampered-body.eml"), "P3");
  EXPECT_EQ(tampered.reply, "550 5.7.1 Rejected by DMARC policy for example.com");
}

// RFC 8301: an rsa-sha1 signature or one made with an RSA key under MinimumKeyBits is
// `policy`, never a pass, so it never aligns, whether or not its crypto holds.
TEST_F(DmarcMilterTest, Sha1AndShortKeySignaturesNeverGiveDmarcADkimPass) {
  start();
  const auto altered = [](std::string m) { return m.replace(m.find("Tuesday"), 7, "Thursday"); };
  const std::vector<std::pair<std::string, std::string>> messages = {
      {"rsa-sha1 verifying", readFixture("rsa-sha1.eml")},
      {"rsa-sha1 failing", altered(readFixture("rsa-sha1.eml"))},
      {"512-bit key verifying", readFixture("rsa512.eml")},
      {"512-bit key failing", altered(readFixture("rsa512.eml"))},
      {"both on one message", readFixture("rsa512.eml").substr(0, readFixture("rsa512.eml").find("\r\nFrom:") + 2) +
                                  readFixture("rsa-sha1.eml")},
  };
  int n = 0;
  for (const auto& [what, raw] : messages) {
    SCOPED_TRACE(what);
    const std::string qid = "W" + std::to_string(++n);
    const Response r = deliver(raw, qid);
    EXPECT_EQ(r.reply, "550 5.7.1 Rejected by DMARC policy for example.com");
    EXPECT_THAT(logLine(qid), HasSubstr("policy:example.com"));
    EXPECT_THAT(logLine(qid), Not(HasSubstr("pass:example.com")));
    EXPECT_THAT(logLine(qid), HasSubstr("dmarc=fail dmarc_from=example.com"));
  }
}

TEST_F(DmarcMilterTest, MalformedFromIsRefusedSayingWhy) {
  start();
  const std::string twoFroms = "From: a@reject.test\r\nFrom: b@example.net\r\nSubject: x\r\n\r\nbody\r\n";
  EXPECT_EQ(deliver(twoFroms, "M1").reply, "550 5.7.1 message has 2 From headers");
  EXPECT_EQ(deliver("Subject: no from\r\n\r\nbody\r\n", "M2").reply, "550 5.7.1 message has no From header");
  EXPECT_EQ(deliver("From: user\r\nSubject: x\r\n\r\nbody\r\n", "M3").action, 'y');
  const Response spoof = deliver("From: \"Someone <x@junk.example>\"@reject.test\r\nSubject: x\r\n\r\nbody\r\n", "M4");
  EXPECT_EQ(spoof.reply, "550 5.7.1 Rejected by DMARC policy for reject.test") << "the domain after the quotes";
  EXPECT_THAT(logLine("M1"), HasSubstr("dmarc=permerror dmarc_why=\"message has 2 From headers\""));
  // "From :" (obsolete blank before the colon) is a From header all the same.
  EXPECT_EQ(deliver("From : ceo@reject.test\r\nSubject: x\r\n\r\nbody\r\n", "M6").reply,
            "550 5.7.1 Rejected by DMARC policy for reject.test");
  EXPECT_EQ(deliver("From: a@example.org\r\nFrom : ceo@reject.test\r\nSubject: x\r\n\r\nbody\r\n", "M7").reply,
            "550 5.7.1 message has 2 From headers");
  EXPECT_EQ(deliver("From: ceo@reject.test>\r\nSubject: x\r\n\r\nbody\r\n", "M8").reply,
            "550 5.7.1 malformed From header: stray '>' after an address in 'ceo@reject.test>'");
}

TEST_F(DmarcMilterTest, MalformedFromIsPermerrorWhenNotRejected) {
  start("RejectMalformedFrom no\n");
  const Response r = deliver("From: a@reject.test, b@example.net\r\nSubject: x\r\n\r\nbody\r\n", "M5");
  EXPECT_EQ(r.action, 'c');
  ASSERT_TRUE(authResults(r).has_value());
  EXPECT_THAT(*authResults(r), HasSubstr("dmarc=permerror reason=\"From header names more than one domain"));
}

TEST_F(DmarcMilterTest, RejectFailuresNoOnlyReports) {
  start("RejectFailures no\n");
  const Response r = deliver(forged("reject.test"), "N1");
  EXPECT_EQ(r.action, 'c');
  ASSERT_TRUE(authResults(r).has_value());
  EXPECT_THAT(*authResults(r), HasSubstr("dmarc=fail (p=reject dis=none) header.from=reject.test"));
  EXPECT_THAT(logLine("N1"), HasSubstr("dmarc_dis=reject dmarc_action=\"none (RejectFailures no)\""));
}

TEST_F(DmarcMilterTest, DnsTroubleFollowsDnsErrorAction) {
  start();
  const Response accepted = deliver(forged("slow.test"), "D1");
  EXPECT_EQ(accepted.action, 'c');
  ASSERT_TRUE(authResults(accepted).has_value());
  EXPECT_THAT(*authResults(accepted), HasSubstr("dmarc=temperror reason=\"DNS error looking up _dmarc.slow.test\""));
  daemon_.reset();
  start("DNSErrorAction tempfail\n");
  EXPECT_EQ(deliver(forged("slow.test"), "D2").reply, "451 4.4.3 DMARC: temporary DNS error for slow.test, try again later");
}

TEST_F(DmarcMilterTest, AuthmilterCheckDmarcShowsEveryStepAndTheAction) {
  start();
  dir_.write("forged.eml", forged("reject.test"));
  const auto [rc, out] = runAuthmilterCheck({"dmarc", dir_.file("forged.eml"), "--ip", "203.0.113.9", "--helo",
                                             "mail.client.example", "--from", "bounce@elsewhere.example",
                                             "--nameserver", daemon_->dns()->nameserver4()});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("  dmarc=fail\n"));
  EXPECT_THAT(out, HasSubstr("_dmarc.reject.test TXT: \"v=DMARC1; p=reject; rua=mailto:dmarc@reject.test\""));
  EXPECT_THAT(out, HasSubstr("dmarc=fail (p=reject dis=reject) header.from=reject.test"));
  EXPECT_THAT(out, HasSubstr("action: reject: 550 5.7.1 Rejected by DMARC policy for reject.test"));

  dir_.write("signed.eml", readFixture("rsa-relaxed-relaxed.eml"));
  const auto [rc2, out2] = runAuthmilterCheck({"dmarc", dir_.file("signed.eml"), "--ip", "203.0.113.9", "--helo",
                                               "mail.client.example", "--from", "", "--nameserver",
                                               daemon_->dns()->nameserver4()});
  EXPECT_EQ(rc2, 0) << out2;
  EXPECT_THAT(out2, HasSubstr("dmarc=pass (p=reject dis=none) header.from=example.com"));
  EXPECT_THAT(out2, HasSubstr("action: accept"));

  const auto [rc3, out3] = runAuthmilterCheck({"dmarc", dir_.file("signed.eml")});
  EXPECT_EQ(rc3, 2) << out3;
}

}  // namespace
