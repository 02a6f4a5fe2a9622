// DKIM signing in the running daemon, spoken to as Postfix does: which mail is signed
// (authenticated, trusted, local, SigningDaemons; never inbound), with which keys (the
// From address through KeyTable/SigningTable or Domain/Selector/KeyFile), what the log line
// and Authentication-Results say, and that the message as delivered verifies with dkimpy.
// Start-up refuses unsafe keys; a SIGHUP that cannot read a key keeps the old keys.
#include <gtest/gtest.h>
#include <libmilter/mfdef.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "daemon_harness.h"
#include "dkimpy.h"
#include "milter_client.h"
#include "milter_test_fixture.h"
#include "temp_dir.h"
#include "test_dns_server.h"

using namespace authmilter::testsupport;

namespace {

std::string fixture(const std::string& name) { return std::string(AUTHMILTER_DKIM_FIXTURES "/") + name; }

std::string message(const std::string& from, const std::string& extraHeaders = "") {
  return "From: " + from + "\r\n" + extraHeaders +
         "To: Bob <bob@example.org>,\r\n"
         "  Carol <carol@example.org>\r\n"
         "Subject: Signed  by authmilter\r\n"
         "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
         "Message-ID: <milter-sign@example.com>\r\n"
         "\r\n"
         "Hello,  \r\n"
         "\r\n"
         "this went through the milter.\r\n";
}

class DkimSignMilterTest : public MilterTestFixture {
 protected:
  // KeyTable: one name, an RSA and an Ed25519 key (the fixtures' keys, whose TXT records
  // are in keys.zone); SigningTable: example.com and its subdomains.
  void start(const std::string& extraConf = "", bool tables = true) {
    dir_.write("domains", "example.org\nexample.com\n");
    dir_.write("trusted", "192.0.2.0/24\n");
    privateKeyCopy(dir_, fixture("rsa2048.pem"), "rsa.key");
    privateKeyCopy(dir_, fixture("ed25519.pem"), "ed.key");
    dir_.write("key.table", "example  example.com:rsa2048:rsa.key\nexample  example.com:ed25519:ed.key\n");
    dir_.write("signing.table", "# From address -> KeyTable name\nexample.com  example\n");
    std::string conf = "AuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\n"
                       "ShutdownTimeout 5\nSPFCheck no\nDMARCCheck no\nDKIMVerify no\nSocket unix:" +
                       dir_.file("s.sock") + "\n";
    if (tables) conf += "KeyTable key.table\nSigningTable signing.table\n";
    startDaemon(conf + extraConf);
  }

  static Envelope authenticated(const std::string& login = "alice") {
    Envelope e;
    e.login = login;
    return e;
  }

  static std::vector<std::string> signatures(const Response& r) {
    std::vector<std::string> out;
    for (const auto& h : r.headers) {
      if (h.name == "DKIM-Signature") out.push_back(h.value);
    }
    return out;
  }

  std::vector<std::string> dkimpy(const std::string& raw, const Response& r) {
    return dkimpyVerify(dir_, deliveredMessage(raw, r), fixture("keys.zone"));
  }
};

TEST_F(DkimSignMilterTest, AuthenticatedSubmissionGetsRsaAndEd25519SignaturesThatVerify) {
  start();
  const std::string raw = message("Alice <alice@example.com>");
  const Response r = deliver(raw, "S1", authenticated());
  EXPECT_EQ(r.action, 'c');
  ASSERT_EQ(signatures(r).size(), 2u);
  for (const auto& h : r.headers) {
    if (h.name == "DKIM-Signature") {
      EXPECT_EQ(h.kind, 'i') << "inserted at the top";
    }
  }
  EXPECT_EQ(dkimpy(raw, r), (std::vector<std::string>{"pass d=example.com s=rsa2048 a=rsa-sha256",
                                                     "pass d=example.com s=ed25519 a=ed25519-sha256"}));
  // Our own signatures get no dkim= in Authentication-Results.
  EXPECT_EQ(insertedAuthResults(r), " mx.test.example;\n\tauth=pass smtp.auth=alice");
  EXPECT_NE(daemon_->messageLogLine("S1").find(
                "action=accept dkim_sign=\"d=example.com s=rsa2048 a=rsa-sha256, d=example.com s=ed25519 "
                "a=ed25519-sha256\""),
            std::string::npos)
      << daemon_->messageLogLine("S1");
}

TEST_F(DkimSignMilterTest, SimpleCanonicalizationSurvivesPostfixFoldingAndOurHeaderEdits) {
  start("Canonicalization simple/simple\n");
  // A forged Authentication-Results with our authserv-id is removed, ours is inserted: the
  // signature covers neither, and the delivered message still verifies.
  const std::string raw = message("alice@example.com",
                                  "Authentication-Results: mx.test.example;\r\n\tdkim=pass header.d=example.com\r\n");
  const Response r = deliver(raw, "S2", authenticated());
  ASSERT_EQ(signatures(r).size(), 2u);
  EXPECT_EQ(dkimpy(raw, r), (std::vector<std::string>{"pass d=example.com s=rsa2048 a=rsa-sha256",
                                                     "pass d=example.com s=ed25519 a=ed25519-sha256"}));
  const std::string delivered = deliveredMessage(raw, r);
  EXPECT_EQ(delivered.find("dkim=pass header.d=example.com"), std::string::npos) << delivered;
}

TEST_F(DkimSignMilterTest, InboundMailIsNeverSigned) {
  start();
  // An unauthenticated client from outside, sending as our own domain to a local user.
  Envelope inbound;
  inbound.rcpt = "<bob@example.org>";
  const Response r = deliver(message("alice@example.com"), "S3", inbound);
  EXPECT_EQ(r.action, 'c');
  EXPECT_TRUE(signatures(r).empty());
  EXPECT_EQ(daemon_->messageLogLine("S3").find("dkim_sign"), std::string::npos) << daemon_->messageLogLine("S3");
}

TEST_F(DkimSignMilterTest, TrustedLocalAndSigningDaemonMailIsSigned) {
  start("SigningDaemons ORIGINATING\n");
  Envelope trusted;
  trusted.ip = "192.0.2.25";
  EXPECT_EQ(signatures(deliver(message("alice@example.com"), "S4", trusted)).size(), 2u);
  Envelope local;  // no client address: Postfix's pickup through non_smtpd_milters
  local.family = 'U';
  local.ip = "";
  EXPECT_EQ(signatures(deliver(message("root@example.com"), "S5", local)).size(), 2u);
  Envelope daemon;
  daemon.daemonName = "ORIGINATING";
  daemon.rcpt = "<bob@example.org>";
  const std::string raw = message("alice@example.com");
  const Response r = deliver(raw, "S6", daemon);
  EXPECT_EQ(dkimpy(raw, r).size(), 2u);
  EXPECT_EQ(dkimpy(raw, r)[0], "pass d=example.com s=rsa2048 a=rsa-sha256");
}

TEST_F(DkimSignMilterTest, OnlyFromAddressesTheTableCoversAreSignedAndTheLogSaysWhy) {
  start();
  const Response other = deliver(message("alice@elsewhere.example"), "S7", authenticated());
  EXPECT_TRUE(signatures(other).empty());
  EXPECT_NE(daemon_->messageLogLine("S7").find(
                "dkim_sign=none dkim_sign_why=\"no signing key for <alice@elsewhere.example>\""),
            std::string::npos)
      << daemon_->messageLogLine("S7");
  // A subdomain is not covered by an exact "example.com" entry.
  EXPECT_TRUE(signatures(deliver(message("alice@lists.example.com"), "S8", authenticated())).empty());
  // Two From fields: whose key would it be? Not signed.
  const Response two = deliver(message("alice@example.com", "From: mallory@example.com\r\n"), "S9", authenticated());
  EXPECT_TRUE(signatures(two).empty());
  EXPECT_NE(daemon_->messageLogLine("S9").find("dkim_sign=none dkim_sign_why="), std::string::npos);
}

TEST_F(DkimSignMilterTest, RefileWildcardsCoverSubdomains) {
  start();
  daemon_.reset();
  dir_.write("signing.table", "*@*.example.com  example\n*@example.com  example\n");
  daemon_ = std::make_unique<DaemonHarness>(
      dir_, "LocalDomains domains\nSPFCheck no\nDMARCCheck no\nDKIMVerify no\nShutdownTimeout 5\n"
            "KeyTable key.table\nSigningTable refile:signing.table\nSocket unix:" + dir_.file("s.sock") + "\n");
  EXPECT_EQ(signatures(deliver(message("alice@lists.example.com"), "R1", authenticated())).size(), 2u);
  EXPECT_EQ(signatures(deliver(message("alice@example.com"), "R2", authenticated())).size(), 2u);
  EXPECT_TRUE(signatures(deliver(message("alice@example.net"), "R3", authenticated())).empty());
}

TEST_F(DkimSignMilterTest, SenderLoginMapDecidesWhoseFromIsSigned) {
  dir_.write("logins", "alice  alice@example.com\n");
  start("SenderLoginMap logins\n");
  // alice's own address: signed.
  EXPECT_EQ(signatures(deliver(message("alice@example.com"), "L1", authenticated())).size(), 2u);
  // MAIL FROM is hers, but the From header is bob's: not signed.
  const Response r = deliver(message("bob@example.com"), "L2", authenticated());
  EXPECT_EQ(r.action, 'c');
  EXPECT_TRUE(signatures(r).empty());
  EXPECT_NE(daemon_->messageLogLine("L2").find(
                "dkim_sign=none dkim_sign_why=\"From <bob@example.com> not owned by user alice\""),
            std::string::npos)
      << daemon_->messageLogLine("L2");
}

TEST_F(DkimSignMilterTest, OneDomainFormSignsWithItsKey) {
  privateKeyCopy(dir_, fixture("ed25519.pem"), "only.key");
  start("Domain example.com, example.net\nSelector ed25519\nKeyFile only.key\nCanonicalization relaxed\n", false);
  const std::string raw = message("alice@example.com");
  const Response r = deliver(raw, "O1", authenticated());
  ASSERT_EQ(signatures(r).size(), 1u);
  EXPECT_NE(signatures(r)[0].find("c=relaxed/simple;"), std::string::npos) << signatures(r)[0];
  EXPECT_EQ(dkimpy(raw, r), std::vector<std::string>{"pass d=example.com s=ed25519 a=ed25519-sha256"});
  const Response net = deliver(message("alice@example.net"), "O2", authenticated());
  ASSERT_EQ(signatures(net).size(), 1u);
  EXPECT_NE(signatures(net)[0].find("d=example.net;"), std::string::npos) << signatures(net)[0];
}

TEST_F(DkimSignMilterTest, MtaWithoutLeadingSpaceGetsVerifyingSignatures) {
  start("Canonicalization simple/simple\n");
  MilterClient c = MilterClient::connectUnix(daemon_->unixPath());
  c.negotiate(0x1FF, 0x001FFFFF & ~SMFIP_HDR_LEADSPC);  // sendmail before 8.14 style
  c.macros(SMFIC_CONNECT, {{"{daemon_name}", "MTA"}});
  c.connect("mail.example.com", '4', 40000, "203.0.113.9");
  c.helo("mail.example.com");
  c.macros(SMFIC_MAIL, {{"i", "N1"}, {"{auth_authen}", "alice"}});
  ASSERT_EQ(c.mailFrom({"<alice@example.com>"}).action, 'c');
  ASSERT_EQ(c.rcpt({"<bob@example.org>"}).action, 'c');
  const std::string raw = message("alice@example.com");
  MessageParts parts = splitMessage(raw);
  for (auto& [name, value] : parts.headers) value.erase(0, 1);  // no leading space
  const Response r = c.sendMessage(parts.headers, parts.body);
  c.quit();
  ASSERT_EQ(signatures(r).size(), 2u);
  EXPECT_EQ(dkimpyVerify(dir_, deliveredMessage(raw, r, false), fixture("keys.zone")),
            (std::vector<std::string>{"pass d=example.com s=rsa2048 a=rsa-sha256",
                                      "pass d=example.com s=ed25519 a=ed25519-sha256"}));
}

TEST_F(DkimSignMilterTest, MissingKeyOnSighupKeepsTheOldKeys) {
  start();
  const size_t seen = daemon_->logLines().size();
  std::filesystem::rename(dir_.file("ed.key"), dir_.file("ed.key.gone"));
  daemon_->signal(SIGHUP);
  const auto error = daemon_->waitForLog("ed.key", seen);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("cannot read"), std::string::npos) << *error;
  ASSERT_TRUE(daemon_->waitForLog("reload failed", seen));
  const std::string raw = message("alice@example.com");
  const Response r = deliver(raw, "H1", authenticated());
  EXPECT_EQ(dkimpy(raw, r), (std::vector<std::string>{"pass d=example.com s=rsa2048 a=rsa-sha256",
                                                     "pass d=example.com s=ed25519 a=ed25519-sha256"}));
  // Back in place, a reload takes it again.
  std::filesystem::rename(dir_.file("ed.key.gone"), dir_.file("ed.key"));
  const size_t before = daemon_->logLines().size();
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("configuration reloaded", before));
  EXPECT_EQ(signatures(deliver(raw, "H2", authenticated())).size(), 2u);
}

TEST(DkimSignStartupTest, UnsafeKeysRefuseToStartWithAClearMessage) {
  TempDir dir;
  const std::string key = privateKeyCopy(dir, fixture("rsa2048.pem"), "rsa.key");
  chmod(key.c_str(), 0644);
  const std::string conf =
      dir.write("a.conf", "Domain example.com\nSelector rsa2048\nKeyFile rsa.key\nSocket unix:" + dir.file("s") +
                              "\nNameservers 127.0.0.1:9\nSyslog no\n");
  auto [rc, out] = runAuthmilter({"-n", "-c", conf});
  EXPECT_EQ(rc, 78) << out;
  EXPECT_NE(out.find("a.conf:3: KeyFile: key file " + key +
                     " is not safe: readable or writable by group or others (mode 0644; chmod 600 it) "
                     "(RequireSafeKeys)"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("BEGIN"), std::string::npos) << "no key material in messages: " << out;
  std::tie(rc, out) = runAuthmilter({"-f", "-c", conf});
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("is not safe"), std::string::npos) << out;
  // A directory others may write is just as unsafe.
  std::filesystem::create_directory(dir.file("open"));
  chmod(dir.file("open").c_str(), 0777);
  privateKeyCopy(dir, fixture("rsa2048.pem"), "open/rsa.key");
  dir.write("b.conf", "Domain example.com\nSelector rsa2048\nKeyFile open/rsa.key\nNameservers 127.0.0.1:9\n");
  std::tie(rc, out) = runAuthmilter({"-n", "-c", dir.file("b.conf")});
  EXPECT_EQ(rc, 78) << out;
  EXPECT_NE(out.find("directory " + dir.file("open") + " is writable by group or others (mode 0777)"),
            std::string::npos)
      << out;
  // RequireSafeKeys no accepts both.
  dir.write("c.conf", "Domain example.com\nSelector rsa2048\nKeyFile rsa.key\nNameservers 127.0.0.1:9\n"
                      "RequireSafeKeys no\n");
  std::tie(rc, out) = runAuthmilter({"-n", "-c", dir.file("c.conf")});
  EXPECT_EQ(rc, 0) << out;
}

}  // namespace
