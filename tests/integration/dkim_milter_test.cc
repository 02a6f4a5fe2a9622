// DKIM verification in the running daemon, spoken to as Postfix does (header values with
// their leading space and bare-LF folding, body in CRLF): the Authentication-Results lines
// for a signed and a tampered message, the log fields, DNSErrorAction, skipped clients, and
// authmilter-check dkim on the same files.
#include <gtest/gtest.h>
#include <libmilter/mfdef.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "authmilter/config/config.h"
#include "authmilter/runtime/runtime.h"
#include "daemon_harness.h"
#include "fixture_files.h"
#include "milter_client.h"
#include "milter_test_fixture.h"
#include "temp_dir.h"
#include "test_dns_server.h"

using namespace authmilter::testsupport;

namespace {

std::string fixturePath(const std::string& name) { return dkimFixturePath(name); }
std::string readFixture(const std::string& name) { return dkimFixture(name); }

class DkimMilterTest : public MilterTestFixture {
 protected:
  void start(const std::string& extraConf = "") {
    dir_.write("domains", "example.org\n");
    dir_.write("trusted", "192.0.2.0/24\n");
    startDaemon("AuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\nShutdownTimeout 5\n"
                "SPFCheck no\nDMARCCheck no\nDNSTimeout 300ms\nDNSRetries 1\nSocket unix:" +
                dir_.file("s.sock") + "\n" + extraConf);
    daemon_->dns()->setZone(readFixture("keys.zone") + "\n!drop slow._domainkey.example.com\n");
  }

  // Delivers a fixture from `ip` and returns the end-of-message response.
  Response deliver(const std::string& fixture, const std::string& qid, const std::string& ip = "203.0.113.9") {
    Envelope envelope;
    envelope.ip = ip;
    return MilterTestFixture::deliver(readFixture(fixture), qid, envelope);
  }
};

TEST_F(DkimMilterTest, SignedMessagePassesAndTamperedOneFails) {
  start();
  const Response signedMessage = deliver("rsa-relaxed-relaxed.eml", "D1");
  EXPECT_EQ(signedMessage.action, 'c');
  EXPECT_EQ(authResults(signedMessage),
            " mx.test.example;\n\tdkim=pass header.d=example.com header.i=@example.com header.s=rsa2048 "
            "header.a=rsa-sha256 header.b=PPYg0z7h");
  EXPECT_NE(logLine("D1").find("action=accept dkim=pass:example.com"), std::string::npos) << logLine("D1");

  const Response tampered = deliver("tampered-body.eml", "D2");
  EXPECT_EQ(tampered.action, 'c');  // DKIM alone never rejects: DMARC decides
  EXPECT_EQ(authResults(tampered),
            " mx.test.example;\n\tdkim=fail reason=\"body hash did not verify\" header.d=example.com "
            "header.i=@example.com header.s=rsa2048 header.a=rsa-sha256 header.b=PPYg0z7h");
  EXPECT_NE(logLine("D2").find("dkim=fail:example.com dkim_why=\"example.com: body hash did not verify\""),
            std::string::npos)
      << logLine("D2");
}

TEST_F(DkimMilterTest, SimpleCanonicalizationSurvivesPostfixStyleFolding) {
  start();
  for (const char* fixture : {"rsa-simple-simple.eml", "ed25519-simple-simple.eml", "multi.eml"}) {
    const Response r = deliver(fixture, "S");
    const auto ar = authResults(r);
    ASSERT_TRUE(ar) << fixture;
    EXPECT_NE(ar->find("dkim=pass"), std::string::npos) << fixture << ": " << *ar;
  }
}

// A header field over libmilter's default 64 KB packet used to cost the connection (and the
// MTA tempfailed the message on every retry). 200 KB: read, the signature verifies. 2 MB:
// read, and DKIM says it did not verify past DKIMMaxHeaderBytes (1 MiB): a permerror the
// A-R header and the log line explain, the message delivered.
TEST_F(DkimMilterTest, LargeHeaderFieldsAreReadAndJudged) {
  start();
  std::string folded;
  for (size_t n = 0; n < 2 * 1024 * 1024; n += 78) folded += std::string(76, 'a') + "\r\n ";
  const auto withBigHeader = [&](size_t bytes) {
    return "X-Big: " + folded.substr(0, bytes) + "end\r\n" + readFixture("rsa-relaxed-relaxed.eml");
  };
  Envelope envelope;
  envelope.ip = "203.0.113.9";
  const Response medium = deliverMessage(daemon_->unixPath(), withBigHeader(200 * 1024), "H1", envelope);
  EXPECT_EQ(medium.action, 'c');
  const auto mediumAr = authResults(medium);
  ASSERT_TRUE(mediumAr);
  EXPECT_NE(mediumAr->find("dkim=pass header.d=example.com"), std::string::npos) << *mediumAr;
  EXPECT_NE(logLine("H1").find(" action=accept dkim=pass:example.com"), std::string::npos) << logLine("H1");

  const Response huge = deliverMessage(daemon_->unixPath(), withBigHeader(2 * 1024 * 1024), "H2", envelope);
  EXPECT_EQ(huge.action, 'c');
  const auto hugeAr = authResults(huge);
  ASSERT_TRUE(hugeAr);
  EXPECT_NE(hugeAr->find("dkim=permerror reason=\"headers exceed DKIMMaxHeaderBytes (1048576): not verified\""),
            std::string::npos)
      << *hugeAr;
  EXPECT_NE(logLine("H2").find(" action=accept dkim=permerror:-"), std::string::npos) << logLine("H2");
}

TEST_F(DkimMilterTest, UnsignedMessageSaysNone) {
  start();
  EXPECT_EQ(authResults(deliver("unsigned.eml", "D3")), " mx.test.example;\n\tdkim=none");
  EXPECT_NE(logLine("D3").find("dkim=none"), std::string::npos);
}

TEST_F(DkimMilterTest, KeyTimeoutFollowsDnsErrorAction) {
  start("DNSErrorAction tempfail\n");
  const Response r = deliver("slow.eml", "D4");
  EXPECT_EQ(r.action, 'y');
  EXPECT_EQ(r.reply, "451 4.4.3 DKIM: temporary DNS error for the key of example.com, try again later");
  EXPECT_NE(logLine("D4").find("action=tempfail"), std::string::npos) << logLine("D4");
}

TEST_F(DkimMilterTest, KeyTimeoutIsRecordedByDefault) {
  start();
  const Response r = deliver("slow.eml", "D5");
  EXPECT_EQ(r.action, 'c');
  const auto ar = authResults(r);
  ASSERT_TRUE(ar);
  EXPECT_NE(ar->find("dkim=temperror reason=\"key lookup failed: slow._domainkey.example.com\""), std::string::npos)
      << *ar;
}

TEST_F(DkimMilterTest, TrustedClientsAreNotVerified) {
  start();
  const Response r = deliver("rsa-relaxed-relaxed.eml", "D6", "192.0.2.9");
  EXPECT_EQ(authResults(r), " mx.test.example; none");
  EXPECT_NE(logLine("D6").find("dkim=skipped dkim_skip=trusted"), std::string::npos) << logLine("D6");
  EXPECT_EQ(daemon_->dns()->queryCount("rsa2048._domainkey.example.com", "TXT"), 0u);
}

TEST_F(DkimMilterTest, NoBodyOrHeaderCallbacksWhenSwitchedOff) {
  start("DKIMVerify no\nARCVerify no\n");
  MilterClient c = MilterClient::connectUnix(daemon_->unixPath());
  const Negotiated n = c.negotiate();
  EXPECT_TRUE(n.protocol & SMFIP_NOBODY);
  EXPECT_TRUE(n.protocol & SMFIP_NOEOH);
}

// What DMARC will read: Message::dkim, where LBodyPolicy decides whether a signature whose
// l= leaves appended content unsigned counts.
TEST(DkimStageTest, LBodyPolicyDecidesWhetherAnLSignatureCountsForDmarc) {
  TestDnsServer dns(readFixture("keys.zone"));
  for (const std::string policy : {"ignore", "accept"}) {
    TempDir dir;
    const auto config = authmilter::config::loadConfig(dir.write(
        "a.conf", "Nameservers " + dns.nameserver4() + "\nSPFCheck no\nLBodyPolicy " + policy + "\n"));
    std::unique_ptr<authmilter::pipeline::Stage> stage;
    const auto runtime = authmilter::runtime::buildRuntime(config);  // outlives the stage it makes
    for (const auto& factory : runtime->stages) {
      if (factory->name() == "dkim-verify") stage = factory->create();
    }
    ASSERT_TRUE(stage);
    authmilter::pipeline::Connection connection;
    connection.address = authmilter::net::IpAddress::parse("203.0.113.9");
    connection.headerLeadingSpace = true;
    for (const char* fixture : {"length.eml", "length-intact.eml"}) {
      authmilter::pipeline::Message message;
      const MessageParts p = splitMessage(readFixture(fixture));
      for (const auto& [name, value] : p.headers) stage->onHeader(connection, message, name, value);
      stage->onEndOfHeaders(connection, message);
      stage->onBody(connection, message, p.body);
      stage->onEndOfMessage(connection, message);
      stage->onMessageEnd(message);
      ASSERT_TRUE(message.dkim) << fixture;
      const auto& signatures = message.dkim->signatures;
      ASSERT_EQ(signatures.size(), 1u) << fixture;
      EXPECT_EQ(toString(signatures[0].result), "pass") << fixture;
      EXPECT_EQ(signatures[0].domain, "example.com");
      const bool appended = std::string(fixture) == "length.eml";
      EXPECT_EQ(signatures[0].countsForDmarc, !appended || policy == "accept") << fixture << " " << policy;
    }
  }
}

TEST(AuthmilterCheckDkimTest, PrintsEverySignatureAndWhy) {
  TestDnsServer dns(readFixture("keys.zone") + "\n!drop slow._domainkey.example.com\n");
  TempDir dir;
  const std::string conf =
      dir.write("a.conf", "Nameservers " + dns.nameserver4() + "\nDNSTimeout 300ms\nDNSRetries 1\n");
  auto [rc, out] = runAuthmilterCheck({"dkim", "-c", conf, fixturePath("multi.eml")});
  EXPECT_EQ(rc, 0) << out;
  for (const char* expected : {
           "signature 1: dkim=pass  d=example.com s=rsa2048 a=rsa-sha256 i=@example.com b=",
           "signature 2: dkim=pass  d=example.com s=ed25519 a=ed25519-sha256",
           "signature 3: dkim=fail  d=example.com s=rsa2048",
           "  why: signature did not verify\n",
       }) {
    EXPECT_NE(out.find(expected), std::string::npos) << expected << "\n--- got:\n" << out;
  }
  std::tie(rc, out) = runAuthmilterCheck({"dkim", "-c", conf, fixturePath("slow.eml")});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("dkim=temperror"), std::string::npos) << out;
  std::tie(rc, out) = runAuthmilterCheck({"dkim", "-c", conf, fixturePath("unsigned.eml")});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("dkim=none"), std::string::npos) << out;
  std::tie(rc, out) = runAuthmilterCheck({"dkim", "-c", conf, dir.file("no-such.eml")});
  EXPECT_EQ(rc, 2) << out;
  std::tie(rc, out) = runAuthmilterCheck({"dkim"});
  EXPECT_EQ(rc, 2) << out;
}

}  // namespace
