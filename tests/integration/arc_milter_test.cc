// ARC in the running daemon, spoken to as Postfix does, keys and policies on the test DNS
// server: a p=reject author's message that a list changed and sealed is refused, unless the
// list is in ARCTrustedSealers (then delivered with the override in Authentication-Results,
// the log line and the aggregate report); DNS trouble on such a chain is 451, never 550; and
// ARCSealing seals inbound and outbound mail so that dkimpy and we validate the result.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "authmilter/arc/arc.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/report/aggregate_report.h"
#include "authmilter/report/report_store.h"
#include "daemon_harness.h"
#include "dkimpy.h"
#include "fake_resolver.h"
#include "fixture_files.h"
#include "milter_client.h"
#include "milter_test_fixture.h"
#include "test_dns_server.h"

namespace authmilter {
namespace {

using namespace testsupport;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kPolicies = R"(
_dmarc.reject.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@reject.test"
)";
constexpr long long kTime = 1704110400;

// The author's message as a list passes it on: Subject tagged, a footer, the list's
// Authentication-Results (which saw it pass), sealed by the list (example.com, rsa2048).
std::string listMessage(const TempDir& dir, const std::string& cvArc = "") {
  const std::string raw =
      "Authentication-Results: lists.example; dkim=pass header.d=reject.test; dmarc=pass header.from=reject.test" +
      cvArc +
      "\r\n"
      "From: Alice <alice@reject.test>\r\n"
      "To: list@lists.example\r\n"
      "Subject: [list] hello\r\n"
      "Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
      "Message-ID: <1@reject.test>\r\n"
      "\r\n"
      "Hello world\r\n-- \r\nThe list footer\r\n";
  const auto file = dir.write("list-in.eml", raw);
  const auto [rc, out] = runProgram("/usr/bin/python3", {AUTHMILTER_DKIMPY_ARC, "sign", file,
                                                         dkimFixturePath("rsa2048.pem"), "example.com", "rsa2048",
                                                         "lists.example", std::to_string(kTime)});
  EXPECT_EQ(rc, 0) << out;
  return out;
}

class ArcMilterTest : public MilterTestFixture {
 protected:
  void start(const std::string& extraConf = "") {
    dir_.write("domains", "example.org\n");
    dir_.write("trusted", "192.0.2.0/24\n");
    startDaemon("AuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\nShutdownTimeout 5\n"
                "DNSTimeout 300ms\nDNSRetries 1\nSPFCheck no\nSocket unix:" +
                dir_.file("s.sock") + "\n" + extraConf);
    daemon_->dns()->setZone(dkimFixture("keys.zone") + kPolicies);
  }

  Response deliver(const std::string& raw, const std::string& qid, const std::string& ip = "203.0.113.9",
                   const std::string& login = "") {
    Envelope envelope;
    envelope.ip = ip;
    envelope.host = "mail.lists.example";
    envelope.mailFrom = "<list-bounces@lists.example>";
    envelope.login = login;
    return MilterTestFixture::deliver(raw, qid, envelope);
  }

  // dkimpy's verdict on the message as the MTA passes it on, and ours.
  std::pair<std::string, arc::ChainResult> validateDelivered(const std::string& delivered) {
    const auto file = dir_.write("delivered.eml", delivered);
    const auto [rc, out] =
        runProgram("/usr/bin/python3", {AUTHMILTER_DKIMPY_ARC, "verify", file, dkimFixturePath("keys.zone")});
    EXPECT_EQ(rc, 0) << out;
    dns::ResolverOptions options;
    options.nameservers = {{"127.0.0.1", daemon_->dns()->port()}};
    dns::LdnsResolver resolver(options);
    return {out.substr(0, out.find('\n')), arc::validateMessage(delivered, resolver, {})};
  }
};

TEST_F(ArcMilterTest, ChangedListMailOfARejectDomainIsRefusedWithoutTrustedSealers) {
  start();
  const Response r = deliver(listMessage(dir_), "A1");
  EXPECT_EQ(r.reply, "550 5.7.1 Rejected by DMARC policy for reject.test");
  const std::string log = logLine("A1");
  EXPECT_THAT(log, HasSubstr("arc=pass arc_sets=1 arc_oldest_pass=0 arc_chain=1:example.com:cv=none:ams=pass:as=pass"));
  EXPECT_THAT(log, HasSubstr("dmarc=fail"));
}

TEST_F(ArcMilterTest, TrustedSealerLiftsTheFailureEverywhereItIsReported) {
  dir_.write("sealers", "example.com\n");
  start("ARCTrustedSealers sealers\nReportStore sqlite:" + dir_.file("reports.db") + "\n");
  const Response r = deliver(listMessage(dir_), "A2");
  EXPECT_EQ(r.action, 'c');
  const auto ar = authResults(r);
  ASSERT_TRUE(ar);
  EXPECT_THAT(*ar, HasSubstr("arc=pass header.oldest-pass=0 smtp.remote-ip=203.0.113.9"));
  EXPECT_THAT(*ar, HasSubstr("dmarc=fail (p=reject dis=none override=trusted_forwarder arc=pass "
                             "as[1].d=example.com) header.from=reject.test"));
  EXPECT_THAT(logLine("A2"),
              HasSubstr("dmarc_action=\"none (trusted_forwarder: arc=pass as[1].d=example.com)\""));

  // The aggregate report: the row says trusted_forwarder, with the chain in its comment.
  daemon_.reset();  // the recorder stores what it holds at stop
  auto store = report::ReportStore::open("sqlite:" + dir_.file("reports.db"));
  const auto days = store->unreportedDays("9999-12-31");
  ASSERT_EQ(days.size(), 1u);
  const auto rows = store->rows(days[0], "reject.test");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].record.override, "trusted_forwarder");
  EXPECT_EQ(rows[0].record.overrideComment, "arc=pass as[1].d=example.com");
  EXPECT_EQ(rows[0].record.disposition, "none");
  const std::string xml = report::aggregateReportXml({"mx.test.example", "r@example.org", "id1", "authmilter", 0, 1}, rows);
  EXPECT_THAT(xml, HasSubstr("<type>trusted_forwarder</type>"));
  EXPECT_THAT(xml, HasSubstr("<comment>arc=pass as[1].d=example.com</comment>"));
}

TEST_F(ArcMilterTest, UntrustedOrBrokenChainsDoNotOverride) {
  dir_.write("sealers", "lists.example\n");  // not the sealer's d=
  start("ARCTrustedSealers sealers\n");
  EXPECT_EQ(deliver(listMessage(dir_), "A3").reply, "550 5.7.1 Rejected by DMARC policy for reject.test");
  dir_.write("sealers", "example.com\n");
  start("ARCTrustedSealers sealers\n");
  // Changed after the seal: the newest ARC-Message-Signature fails, so does the chain.
  std::string changed = listMessage(dir_);
  changed.replace(changed.find("Hello world"), 5, "Pay n");
  EXPECT_EQ(deliver(changed, "A4").reply, "550 5.7.1 Rejected by DMARC policy for reject.test");
  EXPECT_THAT(logLine("A4"), HasSubstr("arc=fail"));
  EXPECT_THAT(logLine("A4"), HasSubstr("arc_why=\"ARC-Message-Signature i=1: body hash did not verify\""));
}

// The sealer's key cannot be fetched: the chain might save the message, so no 550.
TEST_F(ArcMilterTest, DnsTroubleOnATrustedChainIsATemporaryFailure) {
  dir_.write("sealers", "example.com\n");
  start("ARCTrustedSealers sealers\n");
  daemon_->dns()->setZone(dkimFixture("keys.zone") + kPolicies + "!servfail rsa2048._domainkey.example.com TXT\n");
  const Response r = deliver(listMessage(dir_), "A5");
  EXPECT_EQ(r.action, 'y');
  EXPECT_THAT(r.reply, HasSubstr("451 4.4.3"));
  EXPECT_THAT(logLine("A5"), HasSubstr("arc=temperror"));
}

TEST_F(ArcMilterTest, InboundSealingAddsASetBothSidesValidate) {
  const std::string key = privateKeyCopy(dir_, dkimFixturePath("rsa2048.pem"), "arc.pem");
  start("ARCSealing inbound\nARCSealKey example.com:rsa2048:" + key + "\nRejectFailures no\n");
  // A message with no chain: i=1, cv=none, the AAR is our Authentication-Results plus arc=none.
  const std::string plain = "From: Bob <bob@example.net>\r\nTo: carol@example.org\r\nSubject: hi\r\n"
                            "Date: Mon, 1 Jan 2024 12:00:00 +0000\r\nMessage-ID: <2@example.net>\r\n\r\nhi\r\n";
  Response r = deliver(plain, "S1");
  std::string delivered = deliveredMessage(plain, r);
  auto [dkimpy, ours] = validateDelivered(delivered);
  EXPECT_EQ(dkimpy, "cv=pass (success)");
  EXPECT_EQ(ours.result, arc::Result::Pass) << ours.reason;
  EXPECT_THAT(delivered, HasSubstr("ARC-Authentication-Results: i=1; mx.test.example;\r\n\tdkim=none;\r\n\t"
                                   "dmarc=none header.from=example.net;\r\n\tarc=none smtp.remote-ip=203.0.113.9\r\n"));
  EXPECT_TRUE(delivered.starts_with("ARC-Seal: i=1; cv=none;")) << delivered;
  EXPECT_THAT(logLine("S1"), HasSubstr("arc_seal=\"i=1 cv=none d=example.com s=rsa2048\""));

  // The list's sealed message: i=2, cv=pass over both sets; the AAR has our arc=pass.
  const std::string list = listMessage(dir_);
  r = deliver(list, "S2");
  delivered = deliveredMessage(list, r);
  std::tie(dkimpy, ours) = validateDelivered(delivered);
  EXPECT_EQ(dkimpy, "cv=pass (success)");
  EXPECT_EQ(ours.result, arc::Result::Pass) << ours.reason;
  EXPECT_EQ(ours.sets, 2u);
  EXPECT_THAT(delivered, HasSubstr("ARC-Seal: i=2; cv=pass;"));
  EXPECT_THAT(delivered, HasSubstr("arc=pass header.oldest-pass=0 smtp.remote-ip=203.0.113.9"));

  // A chain that fails here is sealed cv=fail, and a chain ended by cv=fail is left alone.
  std::string broken = list;
  broken.replace(broken.find("Hello world"), 5, "Pay n");
  r = deliver(broken, "S3");
  delivered = deliveredMessage(broken, r);
  EXPECT_THAT(delivered, HasSubstr("ARC-Seal: i=2; cv=fail;"));
  EXPECT_THAT(logLine("S3"), HasSubstr("arc_seal=\"i=2 cv=fail"));
  r = deliver(delivered, "S4");
  EXPECT_THAT(logLine("S4"), HasSubstr("arc_seal=none arc_seal_why=\"the chain ended with cv=fail\""));
  EXPECT_THAT(deliveredMessage(delivered, r), Not(HasSubstr("ARC-Seal: i=3")));
}

// A list on a trusted host re-sends what it received through us: the set copies the
// Authentication-Results our inbound pass left in it (the list changed the message since);
// a SASL user's claim in such a header is never copied.
TEST_F(ArcMilterTest, OutboundSealingCopiesOurInboundResultsForTrustedSendersOnly) {
  const std::string key = privateKeyCopy(dir_, dkimFixturePath("rsa2048.pem"), "arc.pem");
  start("ARCSealing outbound\nARCSealKey example.com:rsa2048:" + key + "\n");
  const std::string resent =
      "Authentication-Results: mx.test.example;\r\n\tdkim=pass header.d=reject.test;\r\n\tdmarc=pass "
      "header.from=reject.test\r\n"
      "From: Alice <alice@reject.test>\r\nTo: list@example.org\r\nSubject: [list] hello\r\n"
      "Date: Mon, 1 Jan 2024 12:00:00 +0000\r\nMessage-ID: <3@reject.test>\r\n\r\nhello\r\n-- \r\nfooter\r\n";
  Response r = deliver(resent, "O1", "192.0.2.25");
  std::string delivered = deliveredMessage(resent, r);
  EXPECT_THAT(delivered, HasSubstr("ARC-Authentication-Results: i=1; mx.test.example;\r\n\tdkim=pass "
                                   "header.d=reject.test;\r\n\tdmarc=pass header.from=reject.test\r\n"));
  EXPECT_EQ(validateDelivered(delivered).first, "cv=pass (success)");

  r = deliver(resent, "O2", "203.0.113.9", "mallory");
  delivered = deliveredMessage(resent, r);
  EXPECT_THAT(delivered, HasSubstr("ARC-Authentication-Results: i=1; mx.test.example;\r\n\tauth=pass "
                                   "smtp.auth=mallory;\r\n\tarc=none smtp.remote-ip=203.0.113.9\r\n"));
  EXPECT_EQ(validateDelivered(delivered).first, "cv=pass (success)");

  // Inbound mail is not sealed with ARCSealing outbound.
  std::string inbound = resent;
  inbound.replace(inbound.find("alice@reject.test"), 17, "bob@example.net");
  r = deliver(inbound, "O3");
  EXPECT_EQ(r.action, 'c');
  EXPECT_THAT(deliveredMessage(inbound, r), Not(HasSubstr("ARC-Seal")));
  EXPECT_THAT(logLine("O3"), Not(HasSubstr("arc_seal")));
}

TEST_F(ArcMilterTest, BadSealingSettingsAreRefusedAtStart) {
  dir_.write("bad.conf", "ARCSealing all\n");
  auto [rc, out] = runAuthmilter({"-n", "-c", dir_.file("bad.conf")});
  EXPECT_NE(rc, 0);
  EXPECT_THAT(out, HasSubstr("ARCSealing all needs ARCSealKey"));
  const std::string ed = privateKeyCopy(dir_, dkimFixturePath("ed25519.pem"), "ed.pem");
  dir_.write("bad.conf", "ARCSealing inbound\nARCSealKey example.com:ed:" + ed + "\n");
  std::tie(rc, out) = runAuthmilter({"-n", "-c", dir_.file("bad.conf")});
  EXPECT_NE(rc, 0);
  EXPECT_THAT(out, HasSubstr("is not an RSA key"));
  dir_.write("bad.conf", "ARCSealKey %:sel:" + ed + "\n");
  std::tie(rc, out) = runAuthmilter({"-n", "-c", dir_.file("bad.conf")});
  EXPECT_THAT(out, HasSubstr("ARCSealKey: '%' is not a domain to seal as"));
}

}  // namespace
}  // namespace authmilter
