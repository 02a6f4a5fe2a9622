// Fault battery, part 1 (issue 23): what the MTA gets from the real daemon when DNS fails
// on each name a check asks, when the MTA drops the connection at each protocol step, and
// when it aborts a message mid-body. Each table row states the client-visible outcome and
// the log line; the daemon must survive every row and go on giving correct verdicts.
// (SIGHUP/SIGTERM under load, the report store, key files and the log file: part 2.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libmilter/mfdef.h>

#include <functional>
#include <string>
#include <vector>

#include "battery_support.h"
#include "daemon_harness.h"
#include "milter_client.h"

namespace authmilter::testsupport::battery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// ---------------------------------------------------------------------------------------
// (a) DNS faults per name, through the daemon, under DNSErrorAction accept and tempfail.
// DNSTimeout is 300 ms, one try: "slow" answers after 600 ms (a timeout), "slow_in_time"
// after 100 ms (a normal answer, a normal verdict).

struct DnsFault {
  const char* what;
  const char* directive;  // "%s" = "NAME TYPE"
  bool temporary;         // the lookup fails: temperror; false: the answer comes in time
};

const std::vector<DnsFault> kDnsFaults = {
    {"drop", "!drop %s\n", true},
    {"servfail", "!servfail %s\n", true},
    {"refused", "!refused %s\n", true},
    {"truncated_tcpfail", "!truncate %s\n!tcpfail %s\n", true},
    {"slow", "!delay 600 %s\n", true},
    {"slow_in_time", "!delay 100 %s\n", false},
};

std::string directive(const DnsFault& f, const std::string& target) {
  std::string out;
  for (const char* p = f.directive; *p != '\0'; ++p) {
    if (p[0] == '%' && p[1] == 's') {
      out += target;
      ++p;
    } else {
      out += *p;
    }
  }
  return out;
}

// The names each check asks for the signed message from example.com, MAIL FROM
// bounce@spf.example: without a fault spf=pass, dkim=pass, dmarc=pass (through DKIM).
struct DnsTarget {
  const char* check;  // the result that becomes temperror: "spf", "dkim" or "dmarc"
  const char* name;
  const char* type;
  char tempfailAt;    // where DNSErrorAction tempfail answers 451 4.4.3: 'M' MAIL FROM, 'E' end
  const char* reply;  // ... and what it says
  const char* arWithAccept;  // what Authentication-Results records under DNSErrorAction accept
  const char* dmarcWithAccept;  // ... and DMARC: the author's own key unknown is no fail
};

const std::vector<DnsTarget> kDnsTargets = {
    {"spf", "spf.example", "TXT", 'M', "451 4.4.3 SPF: temporary DNS error for spf.example, try again later",
     "spf=temperror", "dmarc=pass"},
    {"dkim", "rsa2048._domainkey.example.com", "TXT", 'E',
     "451 4.4.3 DKIM: temporary DNS error for the key of example.com, try again later", "dkim=temperror", "dmarc=temperror"},
    {"dmarc", "_dmarc.example.com", "TXT", 'E',
     "451 4.4.3 DMARC: temporary DNS error for example.com, try again later", "dmarc=temperror", "dmarc=temperror"},
};

class DnsFaultBattery : public BatteryTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(DnsFaultBattery, NeverARejectionAndTheDnsErrorActionIsFollowed) {
  const std::string action = GetParam();
  startBattery(std::string("DNSErrorAction ") + action + "\n");
  int n = 0;
  for (const auto& target : kDnsTargets) {
    for (const auto& fault : kDnsFaults) {
      SCOPED_TRACE(std::string(target.check) + " " + fault.what);
      const std::string qid = "DNS" + std::to_string(++n);
      daemon_->dns()->setZone(dkimFixture("keys.zone") + kZone +
                              directive(fault, std::string(target.name) + " " + target.type));
      daemon_->dns()->resetCounts();
      const Sent s = send(signedMessage(), qid);
      const std::string log = daemon_->messageLogLine(qid);
      EXPECT_GE(daemon_->dns()->queryCount(target.name, target.type), 1u) << "the faulted name was not asked";
      // A DNS fault is never a verdict: no 5xx, whatever the policy and the action.
      EXPECT_THAT(s.response.reply, Not(StartsWith("5")));
      EXPECT_NE(s.response.action, 'r');
      if (!fault.temporary) {  // slow but in time: the normal verdict
        expectSignedPasses(s, log);
        EXPECT_THAT(log, HasSubstr("spf=pass")) << log;
        continue;
      }
      EXPECT_THAT(log, HasSubstr(std::string(target.check) + "=temperror")) << log;
      if (action == "tempfail") {
        EXPECT_EQ(s.stage, target.tempfailAt);
        EXPECT_EQ(s.response.action, 'y');
        EXPECT_EQ(s.response.reply, target.reply);
        EXPECT_THAT(log, HasSubstr("action=tempfail")) << log;
      } else {
        EXPECT_EQ(s.stage, 'E');
        EXPECT_EQ(s.response.action, 'c') << s.response.reply;
        EXPECT_FALSE(s.response.quarantine.has_value());
        const auto ar = insertedAuthResults(s.response);
        ASSERT_TRUE(ar.has_value());
        EXPECT_THAT(*ar, HasSubstr(target.arWithAccept));
        EXPECT_THAT(*ar, HasSubstr(target.dmarcWithAccept));
        EXPECT_THAT(log, HasSubstr("action=accept")) << log;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Battery, DnsFaultBattery, ::testing::Values("accept", "tempfail"),
                         [](const auto& info) { return std::string(info.param); });

// ---------------------------------------------------------------------------------------
// (b) The MTA drops the connection after each protocol step. The client gets nothing more
// (the MTA applies its milter_default_action); the daemon logs a started message as
// aborted, leaks no message in flight, and the next session gets its correct verdict.

struct DropRow {
  const char* after;
  int steps;             // how many steps of kSteps are sent before the connection closes
  bool messageStarted;   // a log line is due (MAIL FROM was seen)
  const char* logAction;  // what it says
  const char* orElse = nullptr;  // another outcome the timing allows
};

// The steps, in order; each sends one more part of the signed message.
void runSteps(MilterClient& c, int steps, const std::string& qid) {
  const MessageParts parts = splitMessage(signedMessage());
  const std::vector<std::function<void()>> kSteps = {
      [&] { c.negotiate(); },
      [&] {
        c.macros(SMFIC_CONNECT, {{"{daemon_name}", "MTA"}});
        c.connect("mail.client.example", '4', 40000, kClientIp);
      },
      [&] { c.helo("mail.client.example"); },
      [&] {
        c.macros(SMFIC_MAIL, {{"i", qid}});
        ASSERT_EQ(c.mailFrom({kMailFrom}).action, 'c');
      },
      [&] { ASSERT_EQ(c.rcpt({"<bob@example.org>"}).action, 'c'); },
      [&] {
        for (const auto& [name, value] : parts.headers) c.header(name, value);
      },
      [&] { c.endOfHeaders(); },
      [&] { c.body(std::string_view(parts.body).substr(0, 40)); },
      [&] {
        c.body(std::string_view(parts.body).substr(40));
        c.sendPacket(SMFIC_BODYEOB, "");  // end of message, its answer never read
      },
  };
  for (int i = 0; i < steps; ++i) kSteps[static_cast<size_t>(i)]();
  c.flush();
}

const std::vector<DropRow> kDropRows = {
    {"connect only", 0, false, nullptr},
    {"negotiate", 1, false, nullptr},
    {"connect", 2, false, nullptr},
    {"helo", 3, false, nullptr},
    {"mail", 4, true, "action=aborted"},
    {"rcpt", 5, true, "action=aborted"},
    {"headers", 6, true, "action=aborted"},
    {"end of headers", 7, true, "action=aborted"},
    {"a body chunk", 8, true, "action=aborted"},
    // The message was whole: it got its verdict (logged), which nobody read.
    // The message was whole. Mostly libmilter sees the hang-up with the end of message still
    // unread and aborts it; if the end of message is read first, the verdict is made and
    // logged, and its reply goes nowhere. Either way the MTA heard no verdict.
    {"end of message, before its reply", 9, true, "action=aborted", "action=accept spf=pass"},
};

class DropBattery : public BatteryTest {};

TEST_F(DropBattery, TheDaemonSurvivesADropAfterEveryStep) {
  startBattery();
  int n = 0;
  for (const auto& row : kDropRows) {
    SCOPED_TRACE(std::string("dropped after ") + row.after);
    const std::string qid = "DROP" + std::to_string(++n);
    const size_t seen = daemon_->logLines().size();
    {
      MilterClient c = MilterClient::connectUnix(daemon_->unixPath());
      runSteps(c, row.steps, qid);
    }  // closed without QUIT
    if (row.messageStarted) {
      const auto line = daemon_->waitForLog(qid + ": ", seen);
      ASSERT_TRUE(line.has_value());
      const bool alternative = row.orElse != nullptr && line->find(row.orElse) != std::string::npos;
      if (!alternative) {
        EXPECT_THAT(*line, HasSubstr(row.logAction));
      }
    }
    // The next session, right after, gets its own correct verdict.
    const std::string next = "NEXT" + std::to_string(n);
    const Sent s = send(n % 2 == 0 ? signedMessage() : forged("reject.test"), next);
    const std::string log = daemon_->messageLogLine(next);
    if (n % 2 == 0) {
      expectSignedPasses(s, log);
    } else {
      expectForgedRefused(s, log);
    }
  }
  // Nothing was left in flight: a graceful stop does not wait for ShutdownTimeout.
  EXPECT_EQ(daemon_->stop(), 0);
  EXPECT_EQ(logCount("still in progress after ShutdownTimeout"), 0u);
  EXPECT_EQ(logCount("internal error"), 0u);
  EXPECT_EQ(logCount("]: stopped"), 1u);
}

// ---------------------------------------------------------------------------------------
// (c) ABORT mid-body, then another message on the same connection: each gets its own
// verdict; nothing of the aborted message (its signature, its From) reaches the next.

TEST_F(DropBattery, AbortMidBodyLeaksNothingIntoTheNextMessage) {
  startBattery();
  MilterClient c = MilterClient::connectUnix(daemon_->unixPath());
  c.negotiate();
  c.macros(SMFIC_CONNECT, {{"{daemon_name}", "MTA"}});
  c.connect("mail.client.example", '4', 40000, kClientIp);
  c.helo("mail.client.example");
  const auto start = [&](const std::string& qid) {
    c.macros(SMFIC_MAIL, {{"i", qid}});
    ASSERT_EQ(c.mailFrom({kMailFrom}).action, 'c');
    ASSERT_EQ(c.rcpt({"<bob@example.org>"}).action, 'c');
  };
  const MessageParts good = splitMessage(signedMessage());
  const MessageParts bad = splitMessage(forged("reject.test"));
  // 1: the signed message, aborted halfway through its body.
  start("AB1");
  for (const auto& [name, value] : good.headers) c.header(name, value);
  c.endOfHeaders();
  c.body(std::string_view(good.body).substr(0, 30));
  c.abort();
  // 2: a forgery on the same connection: refused, with no trace of message 1's signature.
  start("AB2");
  const Response r2 = c.sendMessage(bad.headers, bad.body, {{"i", "AB2"}});
  EXPECT_EQ(r2.action, 'y');
  EXPECT_EQ(r2.reply, kForgedReply);
  c.abort();
  // 3: a forgery aborted after its headers (its From must not become message 4's) ...
  start("AB3");
  for (const auto& [name, value] : bad.headers) c.header(name, value);
  c.endOfHeaders();
  c.abort();
  // 4: ... then the signed message whole: it passes on its own.
  start("AB4");
  const Response r4 = c.sendMessage(good.headers, good.body, {{"i", "AB4"}});
  c.abort();
  c.quit();
  EXPECT_EQ(r4.action, 'c') << r4.reply;
  const auto ar = insertedAuthResults(r4);
  ASSERT_TRUE(ar.has_value());
  EXPECT_THAT(*ar, HasSubstr("dkim=pass header.d=example.com"));
  EXPECT_THAT(*ar, HasSubstr("header.from=example.com"));
  EXPECT_THAT(*ar, Not(HasSubstr("reject.test")));
  EXPECT_THAT(daemon_->messageLogLine("AB1"), HasSubstr("action=aborted"));
  const std::string log2 = daemon_->messageLogLine("AB2");
  EXPECT_THAT(log2, HasSubstr("action=reject reason=\"DMARC reject for reject.test\""));
  EXPECT_THAT(log2, HasSubstr("dkim=none dmarc=fail dmarc_from=reject.test"));
  EXPECT_THAT(daemon_->messageLogLine("AB3"), HasSubstr("action=aborted"));
  const std::string log4 = daemon_->messageLogLine("AB4");
  EXPECT_THAT(log4, HasSubstr("action=accept spf=pass"));
  EXPECT_THAT(log4, HasSubstr(" dkim=pass:example.com dmarc=pass"));
  EXPECT_THAT(log4, HasSubstr("dmarc_from=example.com"));
  EXPECT_EQ(logCount("AB4: "), 1u);
}

}  // namespace
}  // namespace authmilter::testsupport::battery
