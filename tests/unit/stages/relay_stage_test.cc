// Relay policy: every address form that has opened relays in the past, decided for an
// unauthenticated untrusted client, plus the positive controls.
#include "authmilter/stages/relay_stage.h"

#include <gtest/gtest.h>

#include "authmilter/pipeline/pipeline.h"
#include "authmilter/report/auth_results.h"
#include "authmilter/runtime/runtime.h"
#include "temp_dir.h"

namespace authmilter::stages {
namespace {

using pipeline::Connection;
using pipeline::Disposition;
using pipeline::Message;
using pipeline::Pipeline;
using pipeline::Stage;
using pipeline::Verdict;

class RelayPolicyTest : public ::testing::Test {
 protected:
  RelayPolicyTest() {
    dir_.write("domains", "local.example\nbücher.example\n.hosted.example\n");
    dir_.write("trusted", "192.0.2.0/24\n2001:db8::/32\n");
    dir_.write("logins", "alice alice@local.example, @alice.example\n");
    config_ = runtime::buildRuntime(config::loadConfig(dir_.write("authmilter.conf",
                                            "LocalDomains domains\nTrustedNetworks trusted\n"
                                            "SubmissionDaemons MSA ORIGINATING\nSenderLoginMap logins\n"
                                            "SPFCheck no\nDKIMVerify no\n")));  // the stages have their own tests
  }

  // Connect from `ip` (empty: no address), MAIL FROM `from` with `login`, RCPT `rcpt`.
  Verdict rcptVerdict(const std::string& rcpt, const std::string& ip = "203.0.113.9", const std::string& login = "") {
    Pipeline p(config_->stages);
    Connection c;
    if (!ip.empty()) c.address = net::IpAddress::parse(ip);
    p.run([&](Stage& s) { return s.onConnect(c); });
    Message m;
    m.authLogin = login;
    m.sender = mail::parseMailAddress("<sender@elsewhere.example>");
    p.run([&](Stage& s) { return s.onMailFrom(c, m); });
    const auto address = mail::parseMailAddress(rcpt);
    return p.run([&](Stage& s) { return s.onRcpt(c, m, address); });
  }

  Verdict mailVerdict(const std::string& from, const std::string& login, const std::string& daemon,
                      Message* out = nullptr) {
    Pipeline p(config_->stages);
    Connection c;
    c.address = net::IpAddress::parse("203.0.113.9");
    c.daemonName = daemon;
    p.run([&](Stage& s) { return s.onConnect(c); });
    Message m;
    m.authLogin = login;
    m.sender = mail::parseMailAddress(from);
    Verdict v = p.run([&](Stage& s) { return s.onMailFrom(c, m); });
    if (out) *out = m;
    return v;
  }

  testsupport::TempDir dir_;
  std::shared_ptr<const runtime::Runtime> config_;
};

struct Case {
  const char* rcpt;
  bool accepted;
};

TEST_F(RelayPolicyTest, AddressFormsFromUntrustedClient) {
  const Case cases[] = {
      {"<user@local.example>", true},
      {"<USER@LOCAL.Example>", true},                       // mixed case
      {"<user@local.example.>", true},                      // trailing dot, our domain
      {"<user@bücher.example>", true},                      // UTF-8 IDN
      {"<user@xn--bcher-kva.example>", true},               // its punycode
      {"<user@a.hosted.example>", true},                    // .domain entry
      {"<postmaster>", true},                               // RFC 5321 §4.5.1
      {"<Postmaster>", true},
      {"<user@other.example>", false},
      {"<user@other.example.>", false},                     // trailing dot, remote
      {"<user%other.example@local.example>", false},        // percent hack
      {"<@route.example:user@other.example>", false},       // source route
      {"<@route.example:user@local.example>", false},       // source route, even to us
      {"<other.example!user@local.example>", false},        // bang path
      {"<\"user@other.example\"@local.example>", false},    // quoted @
      {"<u@other.example@local.example>", false},           // u@EXT@LOCAL
      {"<other.example!u>", false},                         // EXT!u without domain
      {"<user>", false},                                    // bare user: domain unknown to us
      {"<>", false},
      {"<user@[192.0.2.1]>", false},                        // address literal
      {"<user@[127.0.0.1]>", false},                        // [IP] spelling of ourselves
      {"<user@[IPv6:::1]>", false},
      {"<user@localhost>", false},                          // localhost spelling
      {"<user@bücher.other>", false},
      {"<user@hosted.example>", false},                     // .domain does not cover itself
      {"<user@local.example.evil.example>", false},         // suffix trick
      {"<user@evillocal.example>", false},
      {"<user@local.example", false},                       // malformed
      {"<user@exa mple.org>", false},
  };
  for (const auto& c : cases) {
    const Verdict v = rcptVerdict(c.rcpt);
    if (c.accepted) {
      EXPECT_EQ(v.disposition, Disposition::Continue) << c.rcpt << ": " << v.reason;
    } else {
      EXPECT_EQ(v.disposition, Disposition::Reject) << c.rcpt;
      EXPECT_EQ(v.reply.code, "550") << c.rcpt;
      EXPECT_EQ(v.reply.enhanced, "5.7.1") << c.rcpt;
      EXPECT_NE(v.reply.text.find("Relay access denied"), std::string::npos) << c.rcpt;
    }
  }
}

TEST_F(RelayPolicyTest, ReplyNamesTheRecipient) {
  EXPECT_EQ(rcptVerdict("<user@other.example>").reply.text, "<user@other.example>: Relay access denied");
}

TEST_F(RelayPolicyTest, AuthenticatedClientsRelay) {
  EXPECT_TRUE(rcptVerdict("<user@other.example>", "203.0.113.9", "alice").isContinue());
  EXPECT_TRUE(rcptVerdict("<user%x@local.example>", "203.0.113.9", "alice").isContinue());
}

TEST_F(RelayPolicyTest, TrustedNetworksRelay) {
  EXPECT_TRUE(rcptVerdict("<user@other.example>", "192.0.2.44").isContinue());
  EXPECT_TRUE(rcptVerdict("<user@other.example>", "::ffff:192.0.2.44").isContinue());  // IPv4-mapped
  EXPECT_TRUE(rcptVerdict("<user@other.example>", "2001:db8::25").isContinue());
  EXPECT_FALSE(rcptVerdict("<user@other.example>", "192.0.3.44").isContinue());
  // The TrustedNetworks file replaced the default: loopback is not trusted here.
  EXPECT_FALSE(rcptVerdict("<user@other.example>", "127.0.0.1").isContinue());
}

TEST_F(RelayPolicyTest, MissingClientAddressIsNotTrusted) {
  EXPECT_FALSE(rcptVerdict("<user@other.example>", "").isContinue());
  EXPECT_TRUE(rcptVerdict("<user@local.example>", "").isContinue());
}

TEST_F(RelayPolicyTest, SubmissionRequiresAuthentication) {
  const Verdict v = mailVerdict("<bob@local.example>", "", "MSA");
  EXPECT_EQ(v.disposition, Disposition::Reject);
  EXPECT_EQ(v.reply.toString(), "530 5.7.0 Authentication required");
  EXPECT_EQ(mailVerdict("<bob@local.example>", "", "ORIGINATING").disposition, Disposition::Reject);
  EXPECT_TRUE(mailVerdict("<bob@local.example>", "", "MTA").isContinue());
  EXPECT_TRUE(mailVerdict("<bob@local.example>", "", "").isContinue());
  EXPECT_TRUE(mailVerdict("<alice@local.example>", "alice", "MSA").isContinue());
  // Daemon names compare case-insensitively.
  EXPECT_EQ(mailVerdict("<bob@local.example>", "", "msa").reply.code, "530");
}

TEST_F(RelayPolicyTest, SenderLoginMismatch) {
  EXPECT_TRUE(mailVerdict("<alice@local.example>", "alice", "MSA").isContinue());
  EXPECT_TRUE(mailVerdict("<ALICE@Local.Example>", "alice", "MSA").isContinue());
  EXPECT_TRUE(mailVerdict("<anything@alice.example>", "alice", "MSA").isContinue());
  EXPECT_TRUE(mailVerdict("<>", "alice", "MSA").isContinue());
  const Verdict v = mailVerdict("<boss@local.example>", "alice", "MSA");
  EXPECT_EQ(v.disposition, Disposition::Reject);
  EXPECT_EQ(v.reply.toString(), "553 5.7.1 <boss@local.example>: Sender address rejected: not owned by user alice");
  // A login that the map does not list owns nothing.
  EXPECT_EQ(mailVerdict("<mallory@local.example>", "mallory", "MSA").reply.code, "553");
}

TEST_F(RelayPolicyTest, AuthenticatedMailRecordsAuthResult) {
  Message m;
  mailVerdict("<alice@local.example>", "alice", "MSA", &m);
  const auto results = report::authResultsOf(m);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].method, "auth");
  EXPECT_EQ(results[0].result, "pass");
  EXPECT_EQ(results[0].properties[0], (std::pair<std::string, std::string>{"smtp.auth", "alice"}));
  Message anonymous;
  mailVerdict("<bob@local.example>", "", "MTA", &anonymous);
  EXPECT_TRUE(report::authResultsOf(anonymous).empty());
}

}  // namespace
}  // namespace authmilter::stages
