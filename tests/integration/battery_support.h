// Shared by the hardening battery (fault_battery_test.cc, fault_battery_signals_test.cc,
// hostile_input_test.cc): the daemon with SPF, DKIM verify and DMARC on against the test DNS
// server, a zone whose names each check asks, the messages whose verdicts are known, and one
// SMTP transaction as Postfix drives it, stopping at the first answer that is not "continue".
#pragma once

#include <gtest/gtest.h>
#include <libmilter/mfdef.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fixture_files.h"
#include "milter_client.h"
#include "milter_test_fixture.h"

namespace authmilter::testsupport::battery {

// spf.example passes SPF for the client (but is not aligned with any From here);
// example.com signs (keys.zone, selector rsa2048) and says p=reject, as does reject.test.
inline const std::string kZone = R"(
spf.example. TXT "v=spf1 ip4:203.0.113.0/24 -all"
_dmarc.example.com. TXT "v=DMARC1; p=reject"
_dmarc.reject.test. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@reject.test"
)";

inline const char* const kClientIp = "203.0.113.9";
inline const char* const kMailFrom = "<bounce@spf.example>";

// Signed by dkimpy with rsa2048._domainkey.example.com: dkim=pass, DMARC pass through DKIM.
inline std::string signedMessage() { return dkimFixture("rsa-relaxed-relaxed.eml"); }

// An unsigned message From a p=reject domain: DMARC fail, 550.
inline std::string forged(const std::string& domain, const std::string& tag = "x") {
  return "From: The CEO <ceo@" + domain + ">\r\nTo: bob@example.org\r\nSubject: urgent " + tag +
         "\r\nDate: Mon, 01 Jan 2024 12:00:00 +0000\r\nMessage-ID: <" + tag + "@" + domain + ">\r\n\r\nPay now.\r\n";
}

inline const std::string kForgedReply = "550 5.7.1 Rejected by DMARC policy for reject.test";

// Where a transaction ended: 'M' MAIL FROM, 'R' RCPT TO, 'E' end of message.
struct Sent {
  char stage = 0;
  Response response;
};

// One connection, one message, as Postfix: negotiate, connect from `ip`, HELO, MAIL (with
// the queue id and {auth_authen} when `login` is set), RCPT bob@example.org, the message,
// QUIT. `timeout` bounds every step.
inline Sent transact(const std::string& unixPath, const std::string& raw, const std::string& qid,
                     const std::string& mailFrom = kMailFrom, const std::string& login = "",
                     const std::string& ip = kClientIp,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  MilterClient c = MilterClient::connectUnix(unixPath, timeout);
  c.negotiate();
  c.macros(SMFIC_CONNECT, {{"{daemon_name}", "MTA"}, {"j", "mx.test.example"}});
  c.connect("mail.client.example", '4', 40000, ip);
  c.helo("mail.client.example");
  std::vector<std::pair<std::string, std::string>> mailMacros = {{"i", qid}};
  if (!login.empty()) mailMacros.emplace_back("{auth_authen}", login);
  c.macros(SMFIC_MAIL, mailMacros);
  Sent sent;
  sent.stage = 'M';
  sent.response = c.mailFrom({mailFrom});
  if (sent.response.action == 'c') {
    sent.stage = 'R';
    sent.response = c.rcpt({"<bob@example.org>"});
  }
  if (sent.response.action == 'c') {
    sent.stage = 'E';
    const MessageParts parts = splitMessage(raw);
    sent.response = c.sendMessage(parts.headers, parts.body, {{"i", qid}});
  }
  c.quit();
  return sent;
}

// The battery's daemon: every check on, fast DNS failures (one try of 300 ms), no cache (a
// fault on one row must not be hidden by an answer cached on another).
class BatteryTest : public MilterTestFixture {
 protected:
  void startBattery(const std::string& extraConf = "", const std::string& dnsTimeout = "300ms") {
    dir_.write("domains", "example.org\n");
    dir_.write("trusted", "192.0.2.0/24\n");
    startDaemon("AuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\nShutdownTimeout 5\n"
                "DNSTimeout " + dnsTimeout + "\nDNSRetries 1\nDNSCacheSize 0\nSocket unix:" +
                dir_.file("s.sock") + "\n" + extraConf);
    daemon_->dns()->setZone(dkimFixture("keys.zone") + kZone);
  }

  Sent send(const std::string& raw, const std::string& qid, const std::string& mailFrom = kMailFrom,
            const std::string& login = "") {
    return transact(daemon_->unixPath(), raw, qid, mailFrom, login);
  }

  // The conf the daemon runs on (the harness's additions included), for SIGHUP cases.
  std::string runningConf() const {
    std::ifstream in(daemon_->confPath());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  size_t logCount(const std::string& needle) const {
    size_t n = 0;
    for (const auto& line : daemon_->logLines()) n += line.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
};

// The normal verdicts a session beside a fault or a hostile message must still get.
inline void expectSignedPasses(const Sent& s, const std::string& log) {
  EXPECT_EQ(s.stage, 'E');
  EXPECT_EQ(s.response.action, 'c') << s.response.reply;
  const auto ar = insertedAuthResults(s.response);
  ASSERT_TRUE(ar.has_value());
  EXPECT_NE(ar->find("dkim=pass header.d=example.com"), std::string::npos) << *ar;
  EXPECT_NE(ar->find("dmarc=pass"), std::string::npos) << *ar;
  EXPECT_NE(log.find("action=accept"), std::string::npos) << log;
}

inline void expectForgedRefused(const Sent& s, const std::string& log) {
  EXPECT_EQ(s.stage, 'E');
  EXPECT_EQ(s.response.action, 'y');
  EXPECT_EQ(s.response.reply, kForgedReply);
  EXPECT_NE(log.find("action=reject"), std::string::npos) << log;
  EXPECT_NE(log.find(" dkim=none dmarc=fail"), std::string::npos) << log;
}

}  // namespace authmilter::testsupport::battery
