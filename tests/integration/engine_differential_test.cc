// The native engine against libmilter's: two daemons on one conf that differ only in
// MilterEngine, the same scripted sessions against each (as Postfix and as sendmail
// negotiate, every verdict and header edit, odd but legal packets, protocol abuse), and
// every byte each daemon sent compared. The one difference allowed: the t= timestamps of
// the DKIM-Signature fields we sign, which differ when the two runs straddle a second.
#include <gtest/gtest.h>
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include <cctype>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "battery_support.h"
#include "daemon_harness.h"
#include "dkimpy.h"
#include "fixture_files.h"
#include "milter_client.h"
#include "temp_dir.h"

using namespace authmilter::testsupport;
using namespace std::chrono_literals;

namespace {

// Postfix offers every action and protocol step; then the same without SMFIP_HDR_LEADSPC;
// then only what an MTA of milter protocol version 2 knew (no step without a reply).
constexpr uint32_t kPostfixActions = 0x1FF, kPostfixProtocol = 0x1FFFFF;
constexpr uint32_t kSendmailActions = 0x1FF, kSendmailProtocol = 0x0FFFFF;
constexpr uint32_t kOldActions = 0x3F, kOldProtocol = 0x7F;

const std::string kZone = battery::kZone + R"(
_dmarc.quarantine.test. TXT "v=DMARC1; p=quarantine"
)";

std::string signedMessage() { return dkimFixture("rsa-relaxed-relaxed.eml"); }

std::string ownMessage() {
  return "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: ours\r\n"
         "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <own@example.com>\r\n\r\nHello,  \r\n\r\nbye.\r\n";
}

void greet(MilterClient& c, const std::string& ip = battery::kClientIp, char family = '4') {
  c.macros(SMFIC_CONNECT, {{"{daemon_name}", "MTA"}, {"j", "mx.test.example"}});
  c.connect("mail.client.example", family, 40000, ip);
  c.macros(SMFIC_HELO, {{"{tls_version}", "TLSv1.3"}});
  c.helo("mail.client.example");
}

void message(MilterClient& c, const std::string& raw, const std::string& qid, const std::string& mailFrom,
             const std::string& login = "", const std::string& rcpt = "<bob@example.org>") {
  std::vector<std::pair<std::string, std::string>> mailMacros = {{"i", qid}};
  if (!login.empty()) mailMacros.emplace_back("{auth_authen}", login);
  c.macros(SMFIC_MAIL, mailMacros);
  if (c.mailFrom({mailFrom}).action != 'c') return;
  if (c.rcpt({rcpt}).action != 'c') return;
  const MessageParts parts = splitMessage(raw);
  c.sendMessage(parts.headers, parts.body, {{"i", qid}});
}

std::string packet(uint32_t length, char command, const std::string& data) {
  std::string p;
  for (int shift = 24; shift >= 0; shift -= 8) p.push_back(static_cast<char>((length >> shift) & 0xff));
  p.push_back(command);
  return p + data;
}

struct Script {
  std::string name;
  std::function<void(MilterClient&)> run;
  uint32_t actions = kPostfixActions, protocol = kPostfixProtocol;
  bool negotiate = true;
  // Protocol abuse: the bytes sent must be the same, but how each engine ends the connection
  // may differ (libmilter leaves some open; ours closes, see NativeEngineClosesAndLogsWhy).
  bool abuse = false;
};

// gtest prints a test's parameter in its name for ctest: the script's name, not its bytes.
void PrintTo(const Script& script, std::ostream* os) { *os << script.name; }

std::vector<Script> scripts() {
  std::vector<Script> s;
  const std::string from = battery::kMailFrom;
  for (const auto& [mta, actions, protocol] : {std::tuple{"postfix", kPostfixActions, kPostfixProtocol},
                                               std::tuple{"no_leadspc", kSendmailActions, kSendmailProtocol},
                                               std::tuple{"v2_mta", kOldActions, kOldProtocol}}) {
    const std::string name(mta);
    s.push_back({name + "_signed_passes",
                 [from](MilterClient& c) {
                   greet(c);
                   message(c, signedMessage(), "D1", from);
                   c.quit();
                 },
                 actions, protocol});
    s.push_back({name + "_forged_rejected",
                 [from](MilterClient& c) {
                   greet(c);
                   message(c, battery::forged("reject.test"), "D2", from);
                   c.quit();
                 },
                 actions, protocol});
    s.push_back({name + "_quarantined",
                 [from](MilterClient& c) {
                   greet(c);
                   message(c, battery::forged("quarantine.test"), "D3", from);
                   c.quit();
                 },
                 actions, protocol});
    s.push_back({name + "_relay_refused",
                 [from](MilterClient& c) {
                   greet(c);
                   message(c, signedMessage(), "D4", from, "", "<carol@elsewhere.example>");
                   c.quit();
                 },
                 actions, protocol});
    s.push_back({name + "_own_mail_signed",
                 [](MilterClient& c) {
                   greet(c);
                   message(c, ownMessage(), "D5", "<alice@example.com>", "alice");
                   c.quit();
                 },
                 actions, protocol});
  }
  s.push_back({"forged_authentication_results_removed", [from](MilterClient& c) {
                 greet(c);
                 message(c,
                         "Authentication-Results: mx.test.example; dkim=pass header.d=reject.test\r\n" +
                             battery::forged("reject.test"),
                         "D6", "<bounce@reject.test>", "", "<bob@example.org>");
                 c.quit();
               }});
  s.push_back({"two_messages_abort_between", [from](MilterClient& c) {
                 greet(c);
                 c.macros(SMFIC_MAIL, {{"i", "D7"}});
                 c.mailFrom({from});
                 c.rcpt({"<bob@example.org>"});
                 c.header("From", " x@example.org");
                 c.abort();
                 message(c, signedMessage(), "D8", from);
                 message(c, battery::forged("reject.test"), "D9", from);
                 c.quit();
               }});
  s.push_back({"address_families", [from](MilterClient& c) {
                 greet(c, "2001:db8::9", '6');
                 message(c, signedMessage(), "D10", from);
                 c.sendPacket(SMFIC_QUIT_NC, "");
                 greet(c, "", 'U');
                 message(c, ownMessage(), "D11", "<alice@example.com>");
                 c.sendPacket(SMFIC_QUIT_NC, "");
                 greet(c, "/run/socket", 'L');
                 message(c, signedMessage(), "D12", from);
                 c.quit();
               }});
  s.push_back({"odd_but_legal_packets", [from](MilterClient& c) {
                 greet(c);
                 c.sendPacket(SMFIC_UNKNOWN, std::string("XYZZY\0", 6));
                 c.sendPacket(SMFIC_DATA, "");
                 c.macros(SMFIC_MAIL, {{"{i}", "D13"}, {"{auth_type}", "PLAIN"}});
                 c.mailFrom({from, "SIZE=100", "BODY=8BITMIME"});
                 c.rcpt({"<bob@example.org>", "NOTIFY=NEVER"});
                 c.sendPacket(SMFIC_HEADER, std::string("X-Three\0a\0b\0", 12));
                 c.sendPacket(SMFIC_HEADER, std::string("X-Empty\0\0", 9));
                 c.macros('L', {{"j", "mx"}});
                 const MessageParts parts = splitMessage(signedMessage());
                 c.sendMessage(parts.headers, parts.body, {{"i", "D13"}});
                 c.quit();
               },
               kOldActions, kOldProtocol});
  s.push_back({"garbage_before_negotiation", [](MilterClient& c) { c.sendRaw("GET / HTTP/1.0\r\n\r\n"); },
               kPostfixActions, kPostfixProtocol, false, true});
  s.push_back({"command_before_negotiation", [](MilterClient& c) { c.sendRaw(packet(1, 'H', "")); },
               kPostfixActions, kPostfixProtocol, false, true});
  s.push_back({"length_0xffffffff", [](MilterClient& c) {
                 greet(c);
                 c.sendRaw(packet(0xFFFFFFFFu, 'L', "X-Big"));
               }, kPostfixActions, kPostfixProtocol, true, true});
  s.push_back({"length_zero", [](MilterClient& c) {
                 greet(c);
                 c.sendRaw(packet(0, 'L', ""));
               }, kPostfixActions, kPostfixProtocol, true, true});
  s.push_back({"unknown_command", [](MilterClient& c) {
                 greet(c);
                 c.sendRaw(packet(3, 'Z', "zz"));
               }, kPostfixActions, kPostfixProtocol, true, true});
  s.push_back({"truncated_packet", [](MilterClient& c) {
                 greet(c);
                 c.sendRaw(packet(100, 'L', "Subject\0"));
                 c.shutdownWrite();
               }, kPostfixActions, kPostfixProtocol, true, true});
  s.push_back({"header_without_nul", [](MilterClient& c) {
                 greet(c);
                 c.sendRaw(packet(8, 'L', "Subject"));
               }, kPostfixActions, kPostfixProtocol, true, true});
  return s;
}

// `t=` values (our signatures' timestamps) as "t=T": the only bytes allowed to differ. The
// values replaced go to `seen`, in order.
std::string withoutTimestamps(const std::string& bytes, std::vector<std::string>* seen = nullptr) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    out.push_back(bytes[i]);
    if (bytes[i] == '=' && i > 0 && bytes[i - 1] == 't' && i + 1 < bytes.size() &&
        std::isdigit(static_cast<unsigned char>(bytes[i + 1]))) {
      out.push_back('T');
      const size_t start = i + 1;
      while (i + 1 < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[i + 1]))) ++i;
      if (seen != nullptr) seen->push_back(bytes.substr(start, i + 1 - start));
    }
  }
  return out;
}

// Signature values (a `b=` tag after a blank or ';': base64 and folding) as "b=B". Only for
// signatures made in different seconds: a signature covers its own t=.
std::string withoutSignatures(const std::string& bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    out.push_back(bytes[i]);
    const bool tagStart = i > 1 && std::string_view(" \t\n;").find(bytes[i - 2]) != std::string_view::npos;
    if (tagStart && bytes[i] == '=' && bytes[i - 1] == 'b') {
      out.push_back('B');
      while (i + 1 < bytes.size() && (std::isalnum(static_cast<unsigned char>(bytes[i + 1])) ||
                                      std::string_view("+/= \t\n").find(bytes[i + 1]) != std::string_view::npos)) {
        ++i;
      }
    }
  }
  return out;
}

// Printable: packets on lines of their own, bytes outside printable ASCII as \xNN.
std::string printable(const std::string& bytes) {
  std::string out;
  for (unsigned char ch : bytes) {
    if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
      out.push_back(static_cast<char>(ch));
    } else {
      static const char* hex = "0123456789abcdef";
      out += std::string("\\x") + hex[ch >> 4] + hex[ch & 0xf];
    }
  }
  return out;
}

class EngineDifferentialTest : public ::testing::TestWithParam<Script> {
 protected:
  static void SetUpTestSuite() {
    for (const char* engine : {"libmilter", "native"}) {
      auto dir = std::make_unique<TempDir>();
      dir->write("domains", "example.org\nexample.com\n");
      dir->write("trusted", "192.0.2.0/24\n");
      privateKeyCopy(*dir, dkimFixturePath("rsa2048.pem"), "rsa.key");
      dir->write("key.table", "example  example.com:rsa2048:rsa.key\n");
      dir->write("signing.table", "example.com  example\n");
      auto daemon = std::make_unique<DaemonHarness>(
          *dir, std::string("MilterEngine ") + engine +
                    "\nAuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\n"
                    "ShutdownTimeout 5\nDNSTimeout 300ms\nDNSRetries 1\nKeyTable key.table\n"
                    "SigningTable signing.table\nSocket unix:" +
                    dir->file("s.sock") + "\n");
      daemon->dns()->setZone(dkimFixture("keys.zone") + kZone);
      dirs_.push_back(std::move(dir));
      daemons_.push_back(std::move(daemon));
    }
  }
  static void TearDownTestSuite() {
    daemons_.clear();
    dirs_.clear();
  }

  // What the daemon sent during the script, and whether it then closed the connection.
  static std::string transcript(const DaemonHarness& daemon, const Script& script, bool withEnding) {
    MilterClient c = MilterClient::connectUnix(daemon.unixPath(), 10s);
    if (script.negotiate) c.negotiate(script.actions, script.protocol);
    std::string error;
    try {
      script.run(c);
    } catch (const std::exception& e) {
      error = e.what();
    }
    const bool closed = c.peerClosed(2s);
    if (!withEnding) return c.received();
    return c.received() + (closed ? "\n<closed>" : "\n<open>") +
           (error.empty() ? "" : "\n<client: " + error + ">");
  }

  static std::vector<std::unique_ptr<TempDir>> dirs_;
  static std::vector<std::unique_ptr<DaemonHarness>> daemons_;
};

std::vector<std::unique_ptr<TempDir>> EngineDifferentialTest::dirs_;
std::vector<std::unique_ptr<DaemonHarness>> EngineDifferentialTest::daemons_;

TEST_P(EngineDifferentialTest, BothEnginesSendTheSameBytes) {
  const Script& script = GetParam();
  std::vector<std::string> libmilterTimes, nativeTimes;
  std::string libmilter = withoutTimestamps(transcript(*daemons_[0], script, !script.abuse), &libmilterTimes);
  std::string native = withoutTimestamps(transcript(*daemons_[1], script, !script.abuse), &nativeTimes);
  if (nativeTimes != libmilterTimes) {  // signed in different seconds
    native = withoutSignatures(native);
    libmilter = withoutSignatures(libmilter);
  }
  EXPECT_EQ(printable(native), printable(libmilter));
  // Not vacuous: every negotiated script got an answer.
  if (script.negotiate) {
    EXPECT_GT(libmilter.size(), 20u);
  }
}

// Every abuse case: the native engine closes the connection and says why in the log.
class NativeAbuseTest : public EngineDifferentialTest {};

TEST_P(NativeAbuseTest, NativeEngineClosesAndLogsWhy) {
  const Script& script = GetParam();
  const size_t seen = daemons_[1]->logLines().size();
  const std::string native = transcript(*daemons_[1], script, true);
  EXPECT_TRUE(native.ends_with("<closed>")) << printable(native);
  EXPECT_TRUE(daemons_[1]->waitForLog("milter protocol error from unix socket: ", seen, 5s).has_value());
}

INSTANTIATE_TEST_SUITE_P(Scripts, EngineDifferentialTest, ::testing::ValuesIn(scripts()),
                         [](const ::testing::TestParamInfo<Script>& info) { return info.param.name; });

std::vector<Script> abuseScripts() {
  std::vector<Script> out;
  for (auto& script : scripts()) {
    if (script.abuse) out.push_back(script);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Abuse, NativeAbuseTest, ::testing::ValuesIn(abuseScripts()),
                         [](const ::testing::TestParamInfo<Script>& info) { return info.param.name; });

}  // namespace
