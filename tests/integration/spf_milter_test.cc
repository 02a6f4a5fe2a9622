// The SPF stage in the running daemon, spoken to as Postfix does, resolving through the
// test DNS server: the Received-SPF and Authentication-Results lines, the log line, both
// policies (SPFRejectFail, DNSErrorAction) and the clients that are not checked.
#include <gtest/gtest.h>
#include <libmilter/mfdef.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "daemon_harness.h"
#include "milter_client.h"
#include "milter_test_fixture.h"
#include "temp_dir.h"
#include "test_dns_server.h"

using namespace authmilter::testsupport;

namespace {

constexpr const char* kZone = R"(
remote.example.        TXT "v=spf1 ip4:203.0.113.0/24 -all exp=exp.remote.example"
exp.remote.example.    TXT "%{i} may not send mail for %{d}, see https://remote.example/spf"
client.example.net.    TXT "v=spf1 a -all"
client.example.net.    A   203.0.113.9
soft.example.          TXT "v=spf1 ~all"
broken.example.        TXT "v=spf1 ip4:203.0.113.0/33 -all"
!drop slow.example
chain.example.         TXT "v=spf1 a:h1.chain.example a:h2.chain.example -all"
h1.chain.example.      A   192.0.2.201
h2.chain.example.      A   192.0.2.202
!delay 200 h1.chain.example A
)";

class SpfMilterTest : public MilterTestFixture {
 protected:
  void SetUp() override {
    dir_.write("domains", "local.example\n");
    dir_.write("trusted", "192.0.2.0/24\n");
  }

  void start(const std::string& extraConf = "") {
    startDaemon("AuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\nShutdownTimeout 5\n"
                "DKIMVerify no\nDMARCCheck no\nDNSTimeout 300ms\nDNSRetries 1\nSocket unix:" +
                dir_.file("s.sock") + "\n" + extraConf);
    daemon_->dns()->setZone(kZone);
  }

  // A session from `ip` (MilterTestFixture::session) with `qid` as the queue id for MAIL.
  MilterClient session(const std::string& ip, const std::string& qid) {
    MilterClient c = MilterTestFixture::session(ip);
    c.macros(SMFIC_MAIL, {{"i", qid}});
    return c;
  }

  // Sends a message to bob@local.example and returns the end-of-message response.
  static Response deliver(MilterClient& c, const std::string& qid) {
    EXPECT_EQ(c.rcpt({"<bob@local.example>"}).action, 'c');
    return c.sendMessage({{"From", " a@remote.example"}, {"Subject", " hi"}}, "hello\r\n", {{"i", qid}});
  }

  static std::optional<std::string> inserted(const Response& r, const std::string& name) {
    for (const auto& h : r.headers) {
      if (h.kind == 'i' && h.index == 0 && h.name == name) return h.value;
    }
    return std::nullopt;
  }
};

TEST_F(SpfMilterTest, PassGetsReceivedSpfAuthResultsAndLogFields) {
  start();
  MilterClient c = session("203.0.113.9", "Q1");
  ASSERT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
  const Response eom = deliver(c, "Q1");
  EXPECT_EQ(eom.action, 'c');
  EXPECT_EQ(inserted(eom, "Authentication-Results"),
            " mx.test.example;\n\tspf=pass smtp.mailfrom=a@remote.example;\n\tspf=pass smtp.helo=client.example.net");
  EXPECT_EQ(inserted(eom, "Received-SPF"),
            " pass (mx.test.example: domain of a@remote.example designates 203.0.113.9 as permitted sender)\n"
            "\treceiver=mx.test.example;\n\tclient-ip=203.0.113.9;\n\tenvelope-from=\"a@remote.example\";\n"
            "\thelo=client.example.net;\n\tmechanism=\"ip4:203.0.113.0/24\";\n\tidentity=mailfrom");
  // Received-SPF is inserted after Authentication-Results, so it ends up on top.
  const auto ar = std::find_if(eom.headers.begin(), eom.headers.end(),
                               [](const HeaderChange& h) { return h.name == "Authentication-Results"; });
  const auto rs = std::find_if(eom.headers.begin(), eom.headers.end(),
                               [](const HeaderChange& h) { return h.name == "Received-SPF"; });
  EXPECT_LT(ar, rs);
  c.abort();
  EXPECT_NE(logLine("Q1").find("action=accept spf=pass spf_helo=pass spf_why=ip4:203.0.113.0/24"),
            std::string::npos)
      << logLine("Q1");
}

TEST_F(SpfMilterTest, FailIsRecordedAndLeftToDmarcByDefault) {
  start();
  MilterClient c = session("198.51.100.7", "Q2");
  ASSERT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
  const Response eom = deliver(c, "Q2");
  EXPECT_EQ(eom.action, 'c');
  EXPECT_EQ(inserted(eom, "Authentication-Results"),
            " mx.test.example;\n\tspf=fail smtp.mailfrom=a@remote.example;\n\tspf=fail smtp.helo=client.example.net");
  const auto received = inserted(eom, "Received-SPF");
  ASSERT_TRUE(received);
  EXPECT_EQ(received->rfind(" fail (mx.test.example: domain of a@remote.example does not designate 198.51.100.7 "
                            "as permitted sender)",
                            0),
            0u)
      << *received;
  c.abort();
  EXPECT_NE(logLine("Q2").find("action=accept spf=fail spf_helo=fail spf_why=-all"), std::string::npos);
  // SPFExplanation is off: the explanation record was never asked for.
  EXPECT_EQ(daemon_->dns()->queryCount("exp.remote.example", "TXT"), 0u);
}

TEST_F(SpfMilterTest, SpfRejectFailRefusesMailFromWithTheExplanation) {
  start("SPFRejectFail yes\nSPFExplanation yes\n");
  MilterClient c = session("198.51.100.7", "Q3");
  const Response mail = c.mailFrom({"<a@remote.example>"});
  EXPECT_EQ(mail.action, 'y');
  EXPECT_EQ(mail.reply, "550 5.7.23 198.51.100.7 may not send mail for remote.example, see https://remote.example/spf");
  EXPECT_NE(logLine("Q3").find("action=reject reason=\"SPF fail for a@remote.example\""), std::string::npos)
      << logLine("Q3");
  // softfail and permerror are never rejected by SPF alone.
  c.macros(SMFIC_MAIL, {{"i", "Q3b"}});
  EXPECT_EQ(c.mailFrom({"<a@soft.example>"}).action, 'c');
  c.abort();
  c.macros(SMFIC_MAIL, {{"i", "Q3c"}});
  EXPECT_EQ(c.mailFrom({"<a@broken.example>"}).action, 'c');
  c.quit();
  EXPECT_NE(logLine("Q3b").find("spf=softfail"), std::string::npos);
  EXPECT_NE(logLine("Q3c").find("spf=permerror"), std::string::npos);
  EXPECT_NE(logLine("Q3c").find("bad CIDR length"), std::string::npos) << logLine("Q3c");
}

TEST_F(SpfMilterTest, SpfRejectFailWithoutExplanationUsesAStandardText) {
  start("SPFRejectFail yes\n");
  MilterClient c = session("198.51.100.7", "Q4");
  const Response mail = c.mailFrom({"<a@remote.example>"});
  EXPECT_EQ(mail.action, 'y');
  EXPECT_EQ(mail.reply, "550 5.7.23 SPF: remote.example does not designate 198.51.100.7 as permitted sender");
}

TEST_F(SpfMilterTest, DnsTimeoutIsTempfailWhenAskedFor) {
  start("DNSErrorAction tempfail\n");
  MilterClient c = session("203.0.113.9", "Q5");
  const Response mail = c.mailFrom({"<a@slow.example>"});
  EXPECT_EQ(mail.action, 'y');
  EXPECT_EQ(mail.reply, "451 4.4.3 SPF: temporary DNS error for slow.example, try again later");
  EXPECT_NE(logLine("Q5").find("action=tempfail"), std::string::npos) << logLine("Q5");
}

TEST_F(SpfMilterTest, DnsTimeoutIsAcceptedAndRecordedByDefault) {
  start();
  MilterClient c = session("203.0.113.9", "Q6");
  ASSERT_EQ(c.mailFrom({"<a@slow.example>"}).action, 'c');
  const Response eom = deliver(c, "Q6");
  EXPECT_EQ(eom.action, 'c');
  const auto ar = inserted(eom, "Authentication-Results");
  ASSERT_TRUE(ar);
  EXPECT_NE(ar->find("spf=temperror reason=\"DNS timeout for slow.example TXT\" smtp.mailfrom=a@slow.example"),
            std::string::npos)
      << *ar;
  c.abort();
  EXPECT_NE(logLine("Q6").find("spf=temperror"), std::string::npos);
}

TEST_F(SpfMilterTest, SpfTimeoutBoundsTheWholeCheck) {
  start("SPFTimeout 100ms\n");
  MilterClient c = session("203.0.113.9", "Q10");
  ASSERT_EQ(c.mailFrom({"<a@chain.example>"}).action, 'c');
  c.quit();
  // The first a: lookup is answered after 200ms (within DNSTimeout) but past SPFTimeout:
  // the second one is never asked.
  EXPECT_NE(logLine("Q10").find("spf=temperror"), std::string::npos) << logLine("Q10");
  EXPECT_NE(logLine("Q10").find("took longer than SPFTimeout (100ms)"), std::string::npos) << logLine("Q10");
  EXPECT_EQ(daemon_->dns()->queryCount("h1.chain.example", "A"), 1u);
  EXPECT_EQ(daemon_->dns()->queryCount("h2.chain.example", "A"), 0u);
}

TEST_F(SpfMilterTest, NullSenderChecksTheHeloIdentityOnce) {
  start();
  MilterClient c = session("203.0.113.9", "Q7");
  ASSERT_EQ(c.mailFrom({"<>"}).action, 'c');
  const Response eom = deliver(c, "Q7");
  EXPECT_EQ(inserted(eom, "Authentication-Results"), " mx.test.example;\n\tspf=pass smtp.helo=client.example.net");
  const auto received = inserted(eom, "Received-SPF");
  ASSERT_TRUE(received);
  EXPECT_NE(received->find("envelope-from=\"\";"), std::string::npos) << *received;
  EXPECT_NE(received->find("identity=helo"), std::string::npos) << *received;
  c.abort();
  EXPECT_NE(logLine("Q7").find("spf=pass spf_why=a"), std::string::npos) << logLine("Q7");
}

TEST_F(SpfMilterTest, HeloIsCheckedOncePerConnection) {
  start();
  MilterClient c = session("203.0.113.9", "Q8");
  for (int i = 0; i < 3; ++i) {
    c.macros(SMFIC_MAIL, {{"i", "Q8-" + std::to_string(i)}});
    ASSERT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
    deliver(c, "Q8-" + std::to_string(i));
    c.abort();
  }
  EXPECT_NE(logLine("Q8-2").find("spf_helo=pass"), std::string::npos);
  EXPECT_EQ(daemon_->dns()->queryCount("client.example.net", "TXT"), 1u);
  EXPECT_EQ(daemon_->dns()->queryCount("remote.example", "TXT"), 1u);  // then from the cache
}

TEST_F(SpfMilterTest, TrustedAuthenticatedAndIgnoredClientsAreNotChecked) {
  dir_.write("ignore", "198.51.100.0/24\n");
  start("SPFRejectFail yes\nIgnoreHosts ignore\n");
  {
    MilterClient c = session("192.0.2.5", "T1");  // TrustedNetworks
    ASSERT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
    EXPECT_EQ(inserted(deliver(c, "T1"), "Authentication-Results"), " mx.test.example; none");
    c.abort();
    EXPECT_NE(logLine("T1").find("spf=skipped spf_skip=trusted"), std::string::npos) << logLine("T1");
  }
  {
    MilterClient c = session("203.0.113.200", "T2");
    c.macros(SMFIC_MAIL, {{"i", "T2"}, {"{auth_authen}", "alice"}});
    ASSERT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
    EXPECT_EQ(inserted(deliver(c, "T2"), "Authentication-Results"), " mx.test.example;\n\tauth=pass smtp.auth=alice");
    c.abort();
    EXPECT_NE(logLine("T2").find("spf=skipped spf_skip=authenticated"), std::string::npos) << logLine("T2");
  }
  {
    MilterClient c = session("198.51.100.7", "T3");  // IgnoreHosts: a fail would be rejected otherwise
    ASSERT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
    c.quit();
    EXPECT_NE(logLine("T3").find("spf=skipped spf_skip=ignored"), std::string::npos) << logLine("T3");
  }
  EXPECT_EQ(daemon_->dns()->queryCount("remote.example", "TXT"), 0u);
}

TEST_F(SpfMilterTest, NoReceivedSpfWhenSwitchedOff) {
  start("SPFAddHeader no\n");
  MilterClient c = session("203.0.113.9", "Q9");
  ASSERT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
  const Response eom = deliver(c, "Q9");
  EXPECT_FALSE(inserted(eom, "Received-SPF"));
  EXPECT_TRUE(inserted(eom, "Authentication-Results"));
}

// What a postmaster runs when a sender complains: the same evaluation, every lookup shown.
TEST(AuthmilterCheckTest, PrintsResultsExplanationAndLookups) {
  TestDnsServer dns(kZone);
  const std::string ns = dns.nameserver4();
  auto [rc, out] = runAuthmilterCheck(
      {"spf", "--ip", "198.51.100.7", "--helo", "client.example.net", "--from", "a@remote.example", "--nameserver", ns});
  EXPECT_EQ(rc, 0) << out;
  for (const char* expected : {
           "mailfrom: fail  (domain remote.example, sender a@remote.example)\n  decided by: -all\n",
           "  explanation: \"198.51.100.7 may not send mail for remote.example, see https://remote.example/spf\"\n",
           "    remote.example TXT: ok, 1 record\n    exp.remote.example TXT: ok, 1 record\n",
           "helo: fail  (domain client.example.net, sender postmaster@client.example.net)\n",
           "    client.example.net A: ok, 1 record\n",
           "Received-SPF: fail (unknown: domain of a@remote.example does not designate 198.51.100.7",
       }) {
    EXPECT_NE(out.find(expected), std::string::npos) << expected << "\n--- got:\n" << out;
  }

  std::tie(rc, out) = runAuthmilterCheck({"spf", "--ip", "203.0.113.9", "--helo", "client.example.net", "--from",
                                          "", "--nameserver", ns});  // the null sender: HELO only
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("helo: pass  (domain client.example.net, sender postmaster@client.example.net)"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("mailfrom:"), std::string::npos) << out;

  // -c takes the DNS settings (and AuthservID) from a conf file.
  TempDir dir;
  const std::string conf = dir.write("a.conf", "Nameservers " + ns + "\nDNSTimeout 300ms\nDNSRetries 1\n"
                                                "AuthservID mx.test.example\n");
  std::tie(rc, out) = runAuthmilterCheck(
      {"spf", "-c", conf, "--ip", "203.0.113.9", "--helo", "client.example.net", "--from", "a@slow.example"});
  EXPECT_EQ(rc, 1) << out;  // temperror
  EXPECT_NE(out.find("problem: DNS timeout for slow.example TXT"), std::string::npos) << out;
  EXPECT_NE(out.find("Received-SPF: temperror (mx.test.example: "), std::string::npos) << out;
  EXPECT_NE(out.find("mailfrom: temperror"), std::string::npos) << out;

  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"spf", "--ip", "not-an-ip", "--helo", "h.example", "--from", "a@b.example"},
           {"spf", "--ip", "192.0.2.1", "--from", "a@b.example"},
           {"dkim"},
           {"spf", "--ip", "192.0.2.1", "--helo", "h.example", "--from", "a@b.example", "--nameserver", "x:y"}}) {
    std::tie(rc, out) = runAuthmilterCheck(bad);
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(out.find("usage") == std::string::npos ? out.find("authmilter-check:") : 0u, std::string::npos) << out;
  }
}

}  // namespace
