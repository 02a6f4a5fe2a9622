// Hostile input battery (issue 23) through the real daemon, and so under ASan + UBSan in the
// sanitizer build: each hostile message (hostile_cases.h) is sent on one session while a
// normal message is sent beside it, on another; the normal one must get its normal verdict
// meanwhile, the hostile one the verdict the design gives it (README: Large headers, DKIM
// results, ARC, SPF), with the log line saying why, and the daemon must stay up. CPU and
// RSS per hostile message: tests/bench/hostile_bench.cc (figures, nothing asserted).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "battery_support.h"
#include "daemon_harness.h"
#include "hostile_cases.h"
#include "milter_client.h"

namespace authmilter::testsupport::battery {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// What the design says each hostile message gets: the client's answer and the log line's
// words that say why.
struct Expected {
  Expected(std::string r, std::vector<std::string> words, std::function<void(const TestDnsServer&)> d = nullptr)
      : reply(std::move(r)), logWords(std::move(words)), dns(std::move(d)) {}
  std::string reply;                  // "" = accepted ('c', Authentication-Results inserted)
  std::vector<std::string> logWords;  // each must be in the log line
  std::function<void(const TestDnsServer&)> dns;  // what must (not) have been asked
};

const std::string kDmarcRejectExampleCom = "550 5.7.1 Rejected by DMARC policy for example.com";
const std::string kTooLarge = "dkim=permerror:- dkim_why=\"headers exceed DKIMMaxHeaderBytes (1048576): not verified\"";

const std::map<std::string, Expected>& expectations() {
  static const std::map<std::string, Expected> table = {
      // 20,000 short fields are about 400 KB: under DKIMMaxHeaderBytes, so verified as usual.
      {"20k_header_fields", {"", {"action=accept", "dkim=pass:example.com dmarc=pass"}}},
      // Over DKIMMaxHeaderBytes (1 MiB): every signature permerror, DMARC fails, p=reject.
      {"1mb_subject", {kDmarcRejectExampleCom, {"action=reject", kTooLarge}}},
      {"1mb_dkim_signature", {kDmarcRejectExampleCom, {"action=reject", kTooLarge}}},
      // Our own id's forged header is removed, however long.
      {"1mb_authentication_results", {"", {"action=accept", "dmarc=none", "removed_ar=1"}}},
      {"1mb_from", {kForgedReply, {"action=reject", "dmarc=fail dmarc_from=reject.test"}}},
      // RejectMalformedFrom: a From the parser will not take apart is refused, saying why.
      {"deep_comments_from",
       {"550 5.7.1 malformed From header: comments nested too deeply in '...((((((((((((((((((((((((((((((((((((((("
        "(((((((((((((((((((((...'",
        {"action=reject", "dmarc=permerror dmarc_why=\"malformed From header: comments nested too deeply"}}},
      {"deep_comments_authentication_results",
       {"", {"action=accept", "dkim=pass:example.com dmarc=pass", "removed_ar=1"}}},
      // The From smuggled in after a NUL is a From all the same: two From fields, refused
      // (RFC 5322 3.6: exactly one); the 8-bit envelope is logged as it came.
      {"nul_and_8bit",
       {"550 5.7.1 message has 2 From headers",
        {"from=<b\x80\xFFounce@spf.example>", "action=reject",
         "dmarc=permerror dmarc_why=\"message has 2 From headers\""}}},
      // MaximumSignatures (5) are checked, the rest (995 + the message's own) only counted.
      {"1000_dkim_signatures",
       {"",
        {"action=accept", "dkim=\"pass:example.com pass:example.com pass:example.com pass:example.com "
                          "pass:example.com\"",
         "dkim_unchecked=996"}}},
      // More than 50 ARC sets (i= past 50 is no valid instance): fail before any key is fetched.
      {"1000_arc_sets",
       {"",
        {"action=accept", "dkim=pass:example.com arc=fail arc_why=\"ARC-Seal without a valid i=\" dmarc=pass"},
        [](const TestDnsServer& dns) { EXPECT_EQ(dns.queryCount("sel._domainkey.arc.example", "TXT"), 0u); }}},
      // SPF limits (RFC 7208 4.6.4): permerror; DMARC still passes on the DKIM signature.
      {"spf_macro_bomb",
       {"",
        {"action=accept", "spf=permerror", "more than 10 DNS-querying terms", "dmarc=pass"},
        [](const TestDnsServer& dns) {
          const std::string l(60, 'l');
          EXPECT_EQ(dns.queryCount(l + "." + l + "." + l + ".x9.bomb.example", "TXT"), 1u);  // the 10th, cut to 253
          EXPECT_EQ(dns.queryCount(l + "." + l + "." + l + ".x10.bomb.example", "TXT"), 0u);  // past the limit
        }}},
      {"spf_include_loop", {"", {"action=accept", "spf=permerror", "dmarc=pass"}}},
      {"spf_void_flood", {"", {"action=accept", "spf=permerror", "more than 2 void DNS lookups", "dmarc=pass"}}},
      // 57 KB of record, truncated over UDP and read whole over TCP: its last term decides.
      {"huge_txt_over_tcp",
       {"",
        {"action=accept", "spf=pass", "spf_why=ip4:203.0.113.9"},
        [](const TestDnsServer& dns) { EXPECT_GE(dns.tcpQueryCount("big.example", "TXT"), 1u); }}},
  };
  return table;
}

class HostileInputBattery : public BatteryTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(HostileInputBattery, TheVerdictTheDesignGivesAndANormalSessionBeside) {
  HostileCase hostile;
  for (auto& c : hostileCases(1.0)) {
    if (c.name == GetParam()) hostile = std::move(c);
  }
  ASSERT_EQ(hostile.name, GetParam());
  const Expected& want = expectations().at(hostile.name);
  startBattery();
  daemon_->dns()->setZone(dkimFixture("keys.zone") + kZone + hostile.zone);

  // The hostile session on its own thread; the normal one starts once the hostile one is
  // under way (its MAIL FROM answered) and must be answered while it runs.
  std::atomic<bool> started{false};
  Sent bad;
  std::string badError;
  std::thread attacker([&] {
    try {
      MilterClient c = MilterClient::connectUnix(daemon_->unixPath(), 120s);
      c.negotiate();
      c.macros(SMFIC_CONNECT, {{"{daemon_name}", "MTA"}});
      c.connect("mail.client.example", '4', 40000, kClientIp);
      c.helo("mail.client.example");
      c.macros(SMFIC_MAIL, {{"i", "HOSTILE"}});
      bad.stage = 'M';
      bad.response = c.mailFrom({hostile.mailFrom});
      started = true;
      if (bad.response.action == 'c') {
        bad.stage = 'R';
        bad.response = c.rcpt({"<bob@example.org>"});
      }
      if (bad.response.action == 'c') {
        bad.stage = 'E';
        for (const auto& packet : hostile.rawHeaderPackets) c.sendPacket(SMFIC_HEADER, packet);
        const MessageParts parts = splitMessage(hostile.message);
        bad.response = c.sendMessage(parts.headers, parts.body, {{"i", "HOSTILE"}});
      }
      c.quit();
    } catch (const std::exception& e) {
      badError = e.what();
      started = true;
    }
  });
  const bool underWay = waitUntil(60s, [&] { return started.load(); });
  const Sent normal = transact(daemon_->unixPath(), signedMessage(), "NORMAL");
  attacker.join();
  ASSERT_TRUE(underWay);
  expectSignedPasses(normal, daemon_->messageLogLine("NORMAL"));

  ASSERT_EQ(badError, "");
  const std::string log = daemon_->messageLogLine("HOSTILE");
  if (want.reply.empty()) {
    EXPECT_EQ(bad.stage, 'E');
    EXPECT_EQ(bad.response.action, 'c') << bad.response.reply;
    EXPECT_TRUE(insertedAuthResults(bad.response).has_value());
  } else {
    EXPECT_EQ(bad.response.reply, want.reply);
  }
  for (const auto& word : want.logWords) EXPECT_THAT(log, HasSubstr(word));
  if (want.dns) want.dns(*daemon_->dns());
  EXPECT_EQ(logCount("internal error"), 0u);
  // Still up, and still right.
  const Sent after = send(forged("reject.test"), "AFTER");
  expectForgedRefused(after, daemon_->messageLogLine("AFTER"));
}

INSTANTIATE_TEST_SUITE_P(Battery, HostileInputBattery, ::testing::ValuesIn([] {
                           std::vector<std::string> names;
                           for (const auto& c : hostileCases(0.001)) names.push_back(c.name);
                           return names;
                         }()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace authmilter::testsupport::battery
