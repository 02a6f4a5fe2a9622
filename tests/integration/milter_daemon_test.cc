// The real authmilter binary on a loopback socket, driven by our milter protocol client the
// way Postfix drives it: negotiation, macros (also before every header), connect ... end of
// message, ABORT after every message, several messages per connection.
#include <libmilter/mfapi.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <libmilter/mfdef.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <chrono>
#include <gtest/gtest.h>

#include "daemon_harness.h"
#include "milter_client.h"
#include "milter_test_fixture.h"

namespace authmilter::testsupport {
namespace {

using Macros = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kBaseConf =
    "AuthservID mx.test.example\n"
    "LocalDomains domains\n"
    "TrustedNetworks trusted\n"
    "SubmissionDaemons MSA\n"
    "SenderLoginMap logins\n"
    "ShutdownTimeout 5\n"
    "SPFCheck no\n"  // these tests are about the milter itself; the stages have their own
    "DKIMVerify no\n"
    "ARCVerify no\n"
    "DMARCCheck no\n";

class MilterDaemonTest : public MilterTestFixture {
 protected:
  void SetUp() override {
    dir_.write("domains", "local.example\n");
    dir_.write("trusted", "192.0.2.0/24\n");
    dir_.write("logins", "alice alice@local.example\n");
  }

  void start(const std::string& socket) { startDaemon(std::string(kBaseConf) + "Socket " + socket + "\n"); }
};

bool hasInsertedAuthResults(const Response& r, const std::string& value) {
  return std::any_of(r.headers.begin(), r.headers.end(), [&](const HeaderChange& h) {
    return h.kind == 'i' && h.index == 0 && h.name == "Authentication-Results" && h.value == value;
  });
}

TEST_F(MilterDaemonTest, NegotiatesNoReplyStepsAndMacros) {
  start("unix:" + dir_.file("s.sock"));
  MilterClient c = connectClient();
  const Negotiated n = c.negotiate();
  EXPECT_EQ(n.version, 6u);
  for (uint32_t bit : {SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_HDR, SMFIP_NR_EOH, SMFIP_NR_BODY, SMFIP_NOUNKNOWN,
                       SMFIP_NODATA, SMFIP_HDR_LEADSPC, SMFIP_NOBODY, SMFIP_NOEOH}) {
    EXPECT_TRUE(n.protocol & bit) << std::hex << bit;
  }
  // MAIL and RCPT keep their replies: the relay policy answers there.
  EXPECT_FALSE(n.protocol & SMFIP_NR_MAIL);
  EXPECT_FALSE(n.protocol & SMFIP_NR_RCPT);
  EXPECT_TRUE(n.actions & SMFIF_ADDHDRS);
  EXPECT_TRUE(n.actions & SMFIF_CHGHDRS);
  EXPECT_TRUE(n.actions & SMFIF_QUARANTINE);
  EXPECT_NE(n.macroLists.at(SMFIM_ENVFROM).find("{auth_authen}"), std::string::npos);
  EXPECT_NE(n.macroLists.at(SMFIM_CONNECT).find("{daemon_name}"), std::string::npos);
  EXPECT_NE(n.macroLists.at(SMFIM_EOM).find("i"), std::string::npos);
}

TEST_F(MilterDaemonTest, UnauthenticatedRelayRefusedPerRecipientAndForgedAuthResultsRemoved) {
  start("unix:" + dir_.file("s.sock"));
  MilterClient c = session("203.0.113.9");
  c.macros(SMFIC_MAIL, {{"i", "QID1"}, {"{mail_addr}", "sender@remote.example"}});
  EXPECT_EQ(c.mailFrom({"<sender@remote.example>"}).action, 'c');
  EXPECT_EQ(c.rcpt({"<bob@local.example>"}).action, 'c');
  const Response refused = c.rcpt({"<victim@other.example>"});
  EXPECT_EQ(refused.action, 'y');
  EXPECT_EQ(refused.reply, "550 5.7.1 <victim@other.example>: Relay access denied");
  EXPECT_EQ(c.rcpt({"<carol@local.example>"}).action, 'c');  // other recipients unaffected
  const Response eom = c.sendMessage({{"Authentication-Results", " mx.test.example; dkim=pass header.d=bank.example"},
                                      {"From", " sender@remote.example"},
                                      {"Authentication-Results", " upstream.example; spf=pass"},
                                      {"Authentication-Results", " MX.TEST.EXAMPLE; spf=pass"}},
                                     "hello\r\n", {{"i", "QID1"}});
  EXPECT_EQ(eom.action, 'c');
  // The forged ones (#1 and #3) are deleted, last first, then ours is inserted at the top.
  ASSERT_EQ(eom.headers.size(), 3u);
  EXPECT_EQ(eom.headers[0].kind, 'm');
  EXPECT_EQ(eom.headers[0].index, 3u);
  EXPECT_EQ(eom.headers[0].value, "");
  EXPECT_EQ(eom.headers[1].kind, 'm');
  EXPECT_EQ(eom.headers[1].index, 1u);
  EXPECT_TRUE(hasInsertedAuthResults(eom, " mx.test.example; none"));
  c.abort();  // Postfix sends ABORT after every message
  const auto line = daemon_->waitForLog("QID1: ");
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("client=client.example.net[203.0.113.9] helo=client.example.net auth=- daemon=MTA "
                       "from=<sender@remote.example> rcpts=2 rejected_rcpts=1 action=accept removed_ar=2"),
            std::string::npos)
      << *line;
}

// RFC 8601 §5: every Authentication-Results that claims our authserv-id goes, however an
// attacker spells it; only those that name another host stay. Each variant stands first,
// before a From and an upstream header that must be kept; a removal is the deletion of
// Authentication-Results #1 (the MTA counts "Authentication-Results :" under the same name).
TEST_F(MilterDaemonTest, ForgedAuthResultsVariantsAreRemovedAndOthersKept) {
  start("unix:" + dir_.file("s.sock"));
  struct Variant {
    const char* what;
    std::string name, value;
    bool removed, lookalike;
  };
  const std::string nbsp = "\xC2\xA0", zeroWidth = "\xE2\x80\x8B";
  const std::vector<Variant> variants = {
      {"our id", "Authentication-Results", " mx.test.example; spf=pass", true, false},
      {"other case", "Authentication-Results", " MX.Test.Example; spf=pass", true, false},
      {"trailing dot", "Authentication-Results", " mx.test.example.; spf=pass", true, false},
      {"quoted", "Authentication-Results", " \"mx.test.example\"; spf=pass", true, false},
      {"comment first", "Authentication-Results", " (hi) mx.test.example; spf=pass", true, false},
      {"version after id", "Authentication-Results", " mx.test.example 1; spf=pass", true, false},
      {"blank before the colon", "Authentication-Results ", " mx.test.example; spf=pass", true, false},
      {"tab before the colon", "authentication-results\t", " mx.test.example.; spf=pass", true, false},
      {"no-break space after the id", "Authentication-Results", " mx.test.example" + nbsp + "; spf=pass", true, true},
      {"zero-width space inside", "Authentication-Results", " mx.test" + zeroWidth + ".example; spf=pass", true, true},
      {"no-break space, trailing dot", "Authentication-Results", " mx.test.example." + nbsp + "; dkim=pass", true,
       true},
      {"longer name", "Authentication-Results", " mx.test.example.evil; spf=pass", false, false},
      {"prefixed name", "Authentication-Results", " xmx.test.example; spf=pass", false, false},
      {"parent name", "Authentication-Results", " test.example; spf=pass", false, false},
      {"longer name with no-break space", "Authentication-Results", " mx.test.example.evil" + nbsp + "; spf=pass",
       false, false},
      {"another id", "Authentication-Results", " upstream.example; spf=pass", false, false},
      {"another header", "X-Authentication-Results", " mx.test.example; spf=pass", false, false},
  };
  int n = 0;
  for (const auto& v : variants) {
    SCOPED_TRACE(v.what);
    const std::string qid = "AR" + std::to_string(++n);
    MilterClient c = session("203.0.113.9");
    c.macros(SMFIC_MAIL, {{"i", qid}});
    ASSERT_EQ(c.mailFrom({"<sender@remote.example>"}).action, 'c');
    ASSERT_EQ(c.rcpt({"<bob@local.example>"}).action, 'c');
    const Response eom = c.sendMessage({{v.name, v.value},
                                        {"From", " sender@remote.example"},
                                        {"Authentication-Results", " upstream.example; dkim=pass"}},
                                       "hello\r\n", {{"i", qid}});
    c.abort();
    EXPECT_EQ(eom.action, 'c');
    std::vector<HeaderChange> deletions;
    for (const auto& h : eom.headers) {
      if (h.kind == 'm') deletions.push_back(h);
    }
    if (v.removed) {
      ASSERT_EQ(deletions.size(), 1u);
      EXPECT_EQ(deletions[0].name, "Authentication-Results");
      EXPECT_EQ(deletions[0].index, 1u);
      EXPECT_EQ(deletions[0].value, "");
    } else {
      EXPECT_TRUE(deletions.empty());
    }
    const auto line = daemon_->waitForLog(qid + ": ");
    ASSERT_TRUE(line);
    EXPECT_EQ(line->find(" removed_ar=1") != std::string::npos, v.removed) << *line;
    EXPECT_EQ(line->find(" removed_ar_lookalike=1") != std::string::npos, v.lookalike) << *line;
  }
}

// An MTA that does not offer SMFIP_HDR_LEADSPC passes header values without the space
// after the colon, and our header must then come without one too.
TEST_F(MilterDaemonTest, WithoutLeadingSpaceOption) {
  start("unix:" + dir_.file("s.sock"));
  MilterClient c = connectClient();
  const Negotiated n = c.negotiate(0x1FF, 0x001FFFFF & ~SMFIP_HDR_LEADSPC);
  EXPECT_FALSE(n.protocol & SMFIP_HDR_LEADSPC);
  c.connect("client.example.net", '4', 40000, "203.0.113.9");
  c.helo("client.example.net");
  c.mailFrom({"<a@remote.example>"});
  c.rcpt({"<bob@local.example>"});
  const Response eom = c.sendMessage({{"Authentication-Results", "mx.test.example; none"}, {"Subject", "x"}}, "x\r\n");
  ASSERT_EQ(eom.headers.size(), 2u);
  EXPECT_EQ(eom.headers[0].kind, 'm');
  EXPECT_TRUE(hasInsertedAuthResults(eom, "mx.test.example; none"));
}

// An MTA that offers none of the no-reply options (protocol version 2 flags only, as
// sendmail 8.13) still gets correct answers at every step.
TEST_F(MilterDaemonTest, MtaWithoutNoReplyOptions) {
  start("unix:" + dir_.file("s.sock"));
  MilterClient c = connectClient();
  const Negotiated n = c.negotiate(SMFIF_ADDHDRS | SMFIF_CHGHDRS, 0x7F);
  EXPECT_EQ(n.protocol, static_cast<uint32_t>(SMFIP_NOBODY | SMFIP_NOEOH));  // no stage reads them yet
  EXPECT_EQ(c.connect("client.example.net", '4', 40000, "203.0.113.9").action, 'c');
  EXPECT_EQ(c.helo("client.example.net").action, 'c');
  EXPECT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
  EXPECT_EQ(c.rcpt({"<x@other.example>"}).action, 'y');
  EXPECT_EQ(c.rcpt({"<bob@local.example>"}).action, 'c');
  EXPECT_EQ(c.header("Subject", "x").action, 'c');
  EXPECT_EQ(c.endOfHeaders().action, 0);  // not sent: the milter asked for SMFIP_NOEOH
  EXPECT_EQ(c.body("x\r\n").action, 0);
  const Response eom = c.endOfMessage();
  EXPECT_EQ(eom.action, 'c');
  EXPECT_TRUE(hasInsertedAuthResults(eom, "mx.test.example; none"));
}

TEST_F(MilterDaemonTest, AuthenticatedAndTrustedClientsRelay) {
  start("unix:" + dir_.file("s.sock"));
  {
    MilterClient c = session("203.0.113.9");
    c.macros(SMFIC_MAIL, {{"{auth_authen}", "alice"}, {"{auth_type}", "PLAIN"}});
    EXPECT_EQ(c.mailFrom({"<alice@local.example>"}).action, 'c');
    EXPECT_EQ(c.rcpt({"<friend@other.example>"}).action, 'c');
    const Response eom = c.sendMessage({{"From", " alice@local.example"}}, "hi\r\n");
    EXPECT_TRUE(hasInsertedAuthResults(eom, " mx.test.example;\n\tauth=pass smtp.auth=alice"));
  }
  for (const std::string ip : {"192.0.2.7", "::ffff:192.0.2.7"}) {
    MilterClient c = session(ip);
    EXPECT_EQ(c.mailFrom({"<app@local.example>"}).action, 'c');
    EXPECT_EQ(c.rcpt({"<friend@other.example>"}).action, 'c') << ip;
  }
}

TEST_F(MilterDaemonTest, SubmissionWithoutAuthAndSenderMismatchRefused) {
  start("unix:" + dir_.file("s.sock"));
  {
    MilterClient c = session("203.0.113.9", "MSA");
    const Response r = c.mailFrom({"<bob@local.example>"});
    EXPECT_EQ(r.action, 'y');
    EXPECT_EQ(r.reply, "530 5.7.0 Authentication required");
  }
  {
    MilterClient c = session("203.0.113.9", "MSA");
    c.macros(SMFIC_MAIL, {{"{auth_authen}", "alice"}});
    const Response r = c.mailFrom({"<ceo@local.example>"});
    EXPECT_EQ(r.action, 'y');
    EXPECT_EQ(r.reply, "553 5.7.1 <ceo@local.example>: Sender address rejected: not owned by user alice");
  }
}

TEST_F(MilterDaemonTest, PercentInReplyTextIsEscapedForLibmilter) {
  start("unix:" + dir_.file("s.sock"));
  MilterClient c = session("203.0.113.9");
  c.mailFrom({"<a@remote.example>"});
  const Response r = c.rcpt({"<user%other.example@local.example>"});
  EXPECT_EQ(r.action, 'y');
  // libmilter drops reply texts with a lone '%'; "%%" is how a literal '%' travels.
  EXPECT_EQ(r.reply, "550 5.7.1 <user%%other.example@local.example>: Relay access denied");
}

TEST_F(MilterDaemonTest, SeveralMessagesPerConnectionPostfixStyle) {
  start("unix:" + dir_.file("s.sock"));
  MilterClient c = session("203.0.113.9");
  for (int i = 0; i < 5; ++i) {
    const std::string qid = "MSG" + std::to_string(i);
    c.macros(SMFIC_MAIL, {{"i", qid}});
    ASSERT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
    ASSERT_EQ(c.rcpt({"<bob@local.example>"}).action, 'c');
    c.macros(SMFIC_RCPT, {{"{rcpt_addr}", "bob@local.example"}});
    const Response eom = c.sendMessage({{"Subject", " test " + qid}, {"From", " a@remote.example"}}, "body\r\n",
                                       {{"i", qid}});
    EXPECT_EQ(eom.action, 'c');
    EXPECT_TRUE(hasInsertedAuthResults(eom, " mx.test.example; none"));
    c.abort();
  }
  // An RSET mid-transaction, then a clean message.
  c.mailFrom({"<a@remote.example>"});
  c.abort();
  ASSERT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
  ASSERT_EQ(c.rcpt({"<bob@local.example>"}).action, 'c');
  EXPECT_EQ(c.sendMessage({{"Subject", " last"}}, "x\r\n").action, 'c');
  c.quit();
  EXPECT_TRUE(daemon_->waitForLog("MSG4: "));
  EXPECT_TRUE(daemon_->waitForLog("action=aborted"));
}

TEST_F(MilterDaemonTest, ConnectionDroppedMidMessageLeavesNoState) {
  start("unix:" + dir_.file("s.sock"));
  {
    MilterClient c = session("203.0.113.9");
    c.macros(SMFIC_MAIL, {{"i", "DROPPED"}});
    c.mailFrom({"<a@remote.example>"});
    c.rcpt({"<bob@local.example>"});
    c.header("Subject", " half a message");
    c.flush();
  }  // closed without QUIT
  const auto line = daemon_->waitForLog("DROPPED: ");
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("action=aborted"), std::string::npos);
  MilterClient c = session("203.0.113.9");
  EXPECT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
  EXPECT_EQ(c.rcpt({"<x@other.example>"}).action, 'y');
}

TEST_F(MilterDaemonTest, SighupWithBrokenConfKeepsOldOneAndGoodConfTakesEffect) {
  start("unix:" + dir_.file("s.sock"));
  const std::string goodConf = [&] {
    std::ifstream in(daemon_->confPath());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }();
  dir_.write("authmilter.conf", goodConf + "NoSuchOption yes\n");
  size_t seen = daemon_->logLines().size();
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("reload failed", seen));
  EXPECT_TRUE(daemon_->waitForLog("unknown option 'NoSuchOption'", seen));
  {
    MilterClient c = session("203.0.113.9");
    c.mailFrom({"<a@remote.example>"});
    EXPECT_EQ(c.rcpt({"<bob@local.example>"}).action, 'c');  // the old LocalDomains still apply
    EXPECT_EQ(c.rcpt({"<bob@new.example>"}).action, 'y');
  }
  // A broken list file is refused the same way.
  dir_.write("domains", "local.example\nbad..domain\n");
  dir_.write("authmilter.conf", goodConf);
  seen = daemon_->logLines().size();
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("reload failed", seen));
  // Now a good change: new.example becomes local.
  dir_.write("domains", "local.example\nnew.example\n");
  seen = daemon_->logLines().size();
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("configuration reloaded", seen));
  MilterClient c = session("203.0.113.9");
  c.mailFrom({"<a@remote.example>"});
  EXPECT_EQ(c.rcpt({"<bob@new.example>"}).action, 'c');
  c.abort();
  c.quit();
  EXPECT_EQ(daemon_->stop(), 0);
}

TEST_F(MilterDaemonTest, SessionInFlightKeepsItsConfigAcrossReload) {
  start("unix:" + dir_.file("s.sock"));
  MilterClient old = session("203.0.113.9");
  dir_.write("domains", "new.example\n");
  const size_t seen = daemon_->logLines().size();
  daemon_->signal(SIGHUP);
  ASSERT_TRUE(daemon_->waitForLog("configuration reloaded", seen));
  old.mailFrom({"<a@remote.example>"});
  EXPECT_EQ(old.rcpt({"<bob@local.example>"}).action, 'c');  // started under the old config
  MilterClient fresh = session("203.0.113.9");
  fresh.mailFrom({"<a@remote.example>"});
  EXPECT_EQ(fresh.rcpt({"<bob@local.example>"}).action, 'y');
}

TEST_F(MilterDaemonTest, SigtermFinishesTheMessageInProgressThenExitsZero) {
  start("unix:" + dir_.file("s.sock"));
  MilterClient c = session("203.0.113.9");
  MilterClient idle = session("203.0.113.10");
  c.macros(SMFIC_MAIL, {{"i", "INFLIGHT"}});
  c.mailFrom({"<a@remote.example>"});
  c.rcpt({"<bob@local.example>"});
  const size_t seen = daemon_->logLines().size();
  daemon_->signal(SIGTERM);
  ASSERT_TRUE(daemon_->waitForLog("received SIGTERM", seen));
  // No new message starts while the daemon drains.
  const Response refused = idle.mailFrom({"<a@remote.example>"});
  EXPECT_EQ(refused.action, 'y');
  EXPECT_EQ(refused.reply, "451 4.3.2 Mail filter restarting, try again later");
  // The message in progress still completes, with its header edits.
  const Response eom = c.sendMessage({{"Subject", " finishing"}}, "x\r\n");
  EXPECT_TRUE(hasInsertedAuthResults(eom, " mx.test.example; none"));
  // With that the last message in progress is done and the daemon stops by itself (it may
  // already have closed this connection: the MTA's next message would get its
  // milter_default_action).
  EXPECT_TRUE(daemon_->waitForLog("]: stopped"));
  EXPECT_EQ(daemon_->stop(), 0);
}

TEST_F(MilterDaemonTest, InetSocketIpv4AndIpv6) {
  start("inet:0@127.0.0.1");
  {
    MilterClient c = session("203.0.113.9");
    c.mailFrom({"<a@remote.example>"});
    EXPECT_EQ(c.rcpt({"<x@other.example>"}).action, 'y');
  }
  daemon_.reset();
  start("inet6:0@::1");
  MilterClient c = session("2001:db8::9");
  c.mailFrom({"<a@remote.example>"});
  EXPECT_EQ(c.rcpt({"<bob@local.example>"}).action, 'c');
}

// Over TCP, an end-of-message answer of several packets (header edits + continue) used to
// wait ~40 ms per message on Nagle + the MTA's delayed ACK. The client keeps Nagle on, as
// Postfix does. 40 messages with the stall would take well over 1.6 s; without it a few ms.
TEST_F(MilterDaemonTest, InetRepliesAreNotDelayedByNagle) {
  start("inet:0@127.0.0.1");
  MilterClient c = session("203.0.113.9");
  const int kMessages = 40;
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < kMessages; ++i) {
    c.mailFrom({"<a@remote.example>"});
    c.rcpt({"<bob@local.example>"});
    const Response eom = c.sendMessage({{"Authentication-Results", " mx.test.example; none"}, {"Subject", " n"}}, "x\r\n");
    ASSERT_EQ(eom.headers.size(), 2u);  // a delete and an insert: a multi-packet reply
    c.abort();
  }
  const auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(elapsed, std::chrono::milliseconds(kMessages * 40 / 2))
      << "replies are being held back (Nagle): "
      << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms for " << kMessages;
}

TEST_F(MilterDaemonTest, UMaskSetsTheSocketMode) {
  daemon_ = std::make_unique<DaemonHarness>(dir_, std::string(kBaseConf) + "UMask 077\nSocket unix:" +
                                                      dir_.file("sub/s.sock") + "\n");
  struct stat st {};
  ASSERT_EQ(stat(dir_.file("sub/s.sock").c_str(), &st), 0);  // its directory was created too
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(MilterDaemonTest, StaleSocketIsReplacedButALiveOneIsNot) {
  const std::string path = dir_.file("s.sock");
  start("unix:" + path);
  // A second daemon on the same, live socket refuses to start.
  auto [rc, out] = runAuthmilter({"-f", "-c", daemon_->confPath()});
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("another milter is already listening on " + path), std::string::npos) << out;
  daemon_.reset();
  // A stale socket file (nobody listening) is removed and replaced.
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  unlink(path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  close(fd);
  start("unix:" + path);
  MilterClient c = session("203.0.113.9");
  EXPECT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
}

TEST_F(MilterDaemonTest, SighupReopensTheLogFile) {
  start("unix:" + dir_.file("s.sock"));
  const std::string log = dir_.file("authmilter.log");
  ASSERT_EQ(rename(log.c_str(), (log + ".1").c_str()), 0);  // what logrotate does
  daemon_->signal(SIGHUP);
  EXPECT_TRUE(daemon_->waitForLog("configuration reloaded"));  // found in the new file
}

// As root (CI and the quick start run as root): bind first, then drop to UserID.
TEST_F(MilterDaemonTest, DropsToUserIdAfterBindingAndWritesPidFile) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  const struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  daemon_ = std::make_unique<DaemonHarness>(dir_, std::string(kBaseConf) + "UserID nobody\nPidFile " +
                                                      dir_.file("authmilter.pid") + "\nSocket unix:" +
                                                      dir_.file("s.sock") + "\n");
  std::ifstream pidFile(dir_.file("authmilter.pid"));
  pid_t pid = 0;
  pidFile >> pid;
  EXPECT_EQ(pid, daemon_->pid());
  std::ifstream status("/proc/" + std::to_string(daemon_->pid()) + "/status");
  std::string line;
  std::string uidLine;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) uidLine = line;
  }
  EXPECT_EQ(uidLine, "Uid:\t" + std::to_string(nobody->pw_uid) + "\t" + std::to_string(nobody->pw_uid) + "\t" +
                         std::to_string(nobody->pw_uid) + "\t" + std::to_string(nobody->pw_uid));
  struct stat st {};
  ASSERT_EQ(stat(dir_.file("s.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid);  // the socket belongs to the user the daemon runs as
  MilterClient c = session("203.0.113.9");
  EXPECT_EQ(c.mailFrom({"<a@remote.example>"}).action, 'c');
}

TEST(AuthmilterCommandLineTest, DaemonizesWithoutDashF) {
  TempDir dir;
  const std::string pidPath = dir.file("a.pid");
  dir.write("domains", "example.org\n");
  dir.write("a.conf", "Socket unix:" + dir.file("s.sock") + "\nPidFile " + pidPath +
                          "\nSyslog no\nLogFile a.log\nLocalDomains domains\n");
  // Started with a relative conf path: the daemon changes to / and must still find it (and
  // the files it names relative to it) when it reloads.
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  auto [rc, out] = runAuthmilter({"-c", "a.conf"});
  std::filesystem::current_path(cwd);
  EXPECT_EQ(rc, 0) << out;  // the parent returns once the daemon is set up, pid file written
  pid_t pid = 0;
  std::ifstream(pidPath) >> pid;
  ASSERT_GT(pid, 0);
  EXPECT_EQ(kill(pid, 0), 0) << "the daemon runs in the background";
  MilterClient c = MilterClient::connectUnix(dir.file("s.sock"));
  EXPECT_EQ(c.negotiate().version, 6u);
  c.quit();
  ASSERT_EQ(kill(pid, SIGHUP), 0);
  const auto reloaded = [&] {
    std::ifstream in(dir.file("a.log"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.find("configuration reloaded") != std::string::npos || text.find("reload failed") != std::string::npos;
  };
  waitUntil(std::chrono::seconds(20), reloaded);
  std::ifstream in(dir.file("a.log"));
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("configuration reloaded"), std::string::npos) << log;
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  // Not our child: wait until the pid file is gone (the daemon removes it on exit).
  EXPECT_TRUE(waitUntil(std::chrono::seconds(20), [&] { return access(pidPath.c_str(), F_OK) != 0; }))
      << "daemon did not stop";
}

TEST(AuthmilterCommandLineTest, CheckModeExitCodes) {
  TempDir dir;
  dir.write("domains", "example.org\n");
  const auto good = dir.write("good.conf", "LocalDomains domains\n");
  auto [rc, out] = runAuthmilter({"-n", "-c", good});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("configuration OK"), std::string::npos);

  const auto unknown = dir.write("unknown.conf", "# comment\nLocalDomains domains\nBogusKey 1\n");
  std::tie(rc, out) = runAuthmilter({"-n", "-c", unknown});
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find(unknown + ":3: unknown option 'BogusKey'"), std::string::npos) << out;

  const auto nets = dir.write("nets", "127.0.0.0/8\n10.0.0.0/33\n");
  const auto badList = dir.write("badlist.conf", "TrustedNetworks nets\n");
  std::tie(rc, out) = runAuthmilter({"-n", "-c", badList});
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find(nets + ":2: '10.0.0.0/33'"), std::string::npos) << out;

  std::tie(rc, out) = runAuthmilter({"-V"});
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out.rfind("authmilter ", 0), 0u);
  std::tie(rc, out) = runAuthmilter({"-x"});
  EXPECT_NE(rc, 0);
}

TEST(AuthmilterCommandLineTest, StartupFailureSaysWhy) {
  TempDir dir;
  const auto conf = dir.write("a.conf", "Socket inet:1@192.0.2.1\nUserID no-such-user-here\n");
  auto [rc, out] = runAuthmilter({"-f", "-c", conf});
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("cannot start"), std::string::npos) << out;
  EXPECT_NE(out.find("no-such-user-here"), std::string::npos) << out;
}

}  // namespace
}  // namespace authmilter::testsupport
