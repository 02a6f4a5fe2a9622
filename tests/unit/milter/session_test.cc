// Whole transactions through a Session with a fake MTA context: macros in, header edits,
// replies and the log line out.
#include "authmilter/milter/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "authmilter/runtime/runtime.h"
#include "capture_logger.h"
#include "fake_milter_context.h"
#include "temp_dir.h"

namespace authmilter::milter {
namespace {

using pipeline::Disposition;
using ::testing::HasSubstr;
using testsupport::FakeMilterContext;

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() {
    dir_.write("domains", "local.example\n");
    dir_.write("trusted", "192.0.2.0/24\n");
    dir_.write("logins", "alice alice@local.example\n");
    dir_.write("ignore", "198.51.100.0/24\nbackup-mx.example.net\n");
    config_ = runtime::buildRuntime(config::loadConfig(dir_.write("authmilter.conf",
                                            "AuthservID mx.test.example\nLocalDomains domains\n"
                                            "TrustedNetworks trusted\nSubmissionDaemons MSA\n"
                                            "SenderLoginMap logins\nIgnoreHosts ignore\n"
                                            "SPFCheck no\nDKIMVerify no\nDMARCCheck no\n")));  // the stages have their own tests
    logger_ = std::make_shared<testsupport::CaptureLogger>();
    log::setLogger(logger_);
  }
  ~SessionTest() override { log::setLogger(nullptr); }

  std::unique_ptr<Session> connect(const std::string& ip = "203.0.113.9", bool leadingSpace = false) {
    auto s = std::make_unique<Session>(config_, ctx_, leadingSpace);
    s->connect("client.example.net", net::IpAddress::parse(ip));
    s->helo("client.example.net");
    return s;
  }

  std::string lastLogLine() {
    const auto lines = logger_->lines();
    return lines.empty() ? "" : lines.back();
  }

  std::vector<FakeMilterContext::Edit> editsOf(const std::string& op) {
    std::vector<FakeMilterContext::Edit> out;
    for (const auto& e : ctx_.edits) {
      if (e.op == op) out.push_back(e);
    }
    return out;
  }

  testsupport::TempDir dir_;
  std::shared_ptr<const runtime::Runtime> config_;
  std::shared_ptr<testsupport::CaptureLogger> logger_;
  FakeMilterContext ctx_;
};

TEST_F(SessionTest, InboundMessageGetsAuthResultsAndOneLogLine) {
  ctx_.macros["{daemon_name}"] = "MTA";
  auto s = connect();
  ctx_.macros["i"] = "4XyZ1";
  EXPECT_TRUE(s->mailFrom({"<sender@remote.example>", "SIZE=100"}).isContinue());
  EXPECT_TRUE(s->rcpt({"<bob@local.example>"}).isContinue());
  const auto refused = s->rcpt({"<victim@other.example>"});
  EXPECT_EQ(refused.disposition, Disposition::Reject);
  EXPECT_EQ(refused.reply.toString(), "550 5.7.1 <victim@other.example>: Relay access denied");
  s->header("From", "sender@remote.example");
  s->endOfHeaders();
  s->body("hello\r\n");
  EXPECT_EQ(s->endOfMessage().disposition, Disposition::Continue);

  const auto inserts = editsOf("insert");
  ASSERT_EQ(inserts.size(), 1u);
  EXPECT_EQ(inserts[0].index, 0u);
  EXPECT_EQ(inserts[0].name, "Authentication-Results");
  EXPECT_EQ(inserts[0].value, "mx.test.example; none");
  EXPECT_TRUE(editsOf("delete").empty());
  EXPECT_EQ(lastLogLine(),
            "4XyZ1: client=client.example.net[203.0.113.9] helo=client.example.net auth=- daemon=MTA "
            "from=<sender@remote.example> rcpts=1 rejected_rcpts=1 action=accept");
  EXPECT_EQ(Session::messagesInFlight(), 0);
}

TEST_F(SessionTest, AuthenticatedClientRelaysAndIsNamedInAuthResults) {
  auto s = connect();
  ctx_.macros["{auth_authen}"] = "alice";
  ctx_.macros["{auth_type}"] = "PLAIN";
  EXPECT_TRUE(s->mailFrom({"<alice@local.example>"}).isContinue());
  EXPECT_TRUE(s->rcpt({"<friend@other.example>"}).isContinue());
  s->endOfMessage();
  ASSERT_EQ(editsOf("insert").size(), 1u);
  EXPECT_EQ(editsOf("insert")[0].value, "mx.test.example;\n\tauth=pass smtp.auth=alice");
  EXPECT_THAT(lastLogLine(), HasSubstr(" auth=alice "));
  EXPECT_THAT(lastLogLine(), HasSubstr(" rcpts=1 action=accept"));
}

TEST_F(SessionTest, LeadingSpaceNegotiatedMeansWeWriteOne) {
  auto s = connect("203.0.113.9", /*leadingSpace=*/true);
  s->mailFrom({"<a@remote.example>"});
  s->rcpt({"<bob@local.example>"});
  s->endOfMessage();
  EXPECT_EQ(editsOf("insert").at(0).value, " mx.test.example; none");
}

TEST_F(SessionTest, ForgedAuthResultsAreAllRemovedLastToFirst) {
  auto s = connect();
  s->mailFrom({"<a@remote.example>"});
  s->rcpt({"<bob@local.example>"});
  // Authentication-Results headers in order; ours are #1, #3, #4, #6 and #7.
  s->header("Authentication-Results", "mx.test.example; spf=pass smtp.mailfrom=remote.example");
  s->header("Authentication-Results", "other.example; dkim=pass");
  s->header("authentication-results", " MX.TEST.EXAMPLE; dkim=pass header.d=bank.example");
  s->header("Authentication-Results", "(comment) mx.test.example 1; garbage ;;; (((");
  s->header("Received", "from x");
  s->header("Authentication-Results", "mx.test.example.evil; none");
  s->header("Authentication-Results", "mx.test.example;" + std::string(60000, 'x'));
  s->header("Authentication-Results", "\"mx.test.example\"; none");
  s->endOfMessage();
  const auto deletes = editsOf("delete");
  ASSERT_EQ(deletes.size(), 5u);
  const size_t expected[] = {7, 6, 4, 3, 1};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(deletes[i].index, expected[i]);
    EXPECT_EQ(deletes[i].name, "Authentication-Results");
  }
  // Deletions come before our own header is inserted.
  ASSERT_EQ(ctx_.edits.size(), 6u);
  EXPECT_EQ(ctx_.edits.back().op, "insert");
  EXPECT_THAT(lastLogLine(), HasSubstr(" removed_ar=5"));
}

TEST_F(SessionTest, ManyForgedHeadersAllGo) {
  auto s = connect();
  s->mailFrom({"<a@remote.example>"});
  s->rcpt({"<bob@local.example>"});
  for (int i = 0; i < 500; ++i) s->header("Authentication-Results", "mx.test.example; none");
  s->endOfMessage();
  const auto deletes = editsOf("delete");
  ASSERT_EQ(deletes.size(), 500u);
  for (size_t i = 0; i < deletes.size(); ++i) EXPECT_EQ(deletes[i].index, 500 - i);
}

TEST_F(SessionTest, ForgeryStateDoesNotLeakIntoTheNextMessage) {
  auto s = connect();
  s->mailFrom({"<a@remote.example>"});
  s->rcpt({"<bob@local.example>"});
  s->header("Authentication-Results", "mx.test.example; none");
  s->abort();
  EXPECT_THAT(lastLogLine(), HasSubstr(" action=aborted"));
  s->mailFrom({"<a@remote.example>"});
  s->rcpt({"<bob@local.example>"});
  s->endOfMessage();
  EXPECT_TRUE(editsOf("delete").empty());
  EXPECT_EQ(editsOf("insert").size(), 1u);
  EXPECT_EQ(Session::messagesInFlight(), 0);
}

TEST_F(SessionTest, UnauthenticatedSubmissionRefusedAtMailFrom) {
  ctx_.macros["{daemon_name}"] = "MSA";
  auto s = connect();
  const auto v = s->mailFrom({"<bob@local.example>"});
  EXPECT_EQ(v.disposition, Disposition::Reject);
  EXPECT_EQ(v.reply.toString(), "530 5.7.0 Authentication required");
  EXPECT_THAT(lastLogLine(), HasSubstr(" daemon=MSA from=<bob@local.example> rcpts=0 action=reject"));
  EXPECT_THAT(lastLogLine(), HasSubstr("reply=\"530 5.7.0 Authentication required\""));
  EXPECT_EQ(Session::messagesInFlight(), 0);
  s->abort();  // Postfix's ABORT after the refused transaction: no second log line
  EXPECT_EQ(logger_->lines().size(), 1u);
}

TEST_F(SessionTest, SenderLoginMismatchRefused) {
  ctx_.macros["{daemon_name}"] = "MSA";
  ctx_.macros["{auth_authen}"] = "alice";
  auto s = connect();
  const auto v = s->mailFrom({"<ceo@local.example>"});
  EXPECT_EQ(v.reply.toString(), "553 5.7.1 <ceo@local.example>: Sender address rejected: not owned by user alice");
}

TEST_F(SessionTest, AllRecipientsRefusedIsLoggedAsReject) {
  auto s = connect();
  s->mailFrom({"<spammer@remote.example>"});
  s->rcpt({"<a@other.example>"});
  s->rcpt({"<b@other.example>"});
  s->abort();
  EXPECT_THAT(lastLogLine(), HasSubstr(" rcpts=0 rejected_rcpts=2 action=reject reason=\"relay denied for "
                                       "<a@other.example> (remote)\""));
}

TEST_F(SessionTest, MissingMacrosMeanNotAuthenticated) {
  auto s = connect();  // no {auth_authen}, no {daemon_name}
  s->mailFrom({"<alice@local.example>"});
  EXPECT_EQ(s->rcpt({"<x@other.example>"}).disposition, Disposition::Reject);
}

TEST_F(SessionTest, EmptyAuthMacroMeansNotAuthenticated) {
  ctx_.macros["{auth_authen}"] = "";
  auto s = connect();
  s->mailFrom({"<alice@local.example>"});
  EXPECT_EQ(s->rcpt({"<x@other.example>"}).disposition, Disposition::Reject);
}

TEST_F(SessionTest, ClientAddressFromMacroWhenSocketAddressMissing) {
  ctx_.macros["{client_addr}"] = "192.0.2.5";
  Session s(config_, ctx_, false);
  s.connect("localhost", std::nullopt);
  s.mailFrom({"<a@local.example>"});
  EXPECT_TRUE(s.rcpt({"<x@other.example>"}).isContinue());
}

TEST_F(SessionTest, UnresolvedClientIsLoggedAsUnknown) {
  for (const char* name : {"[203.0.113.9]", "unknown", ""}) {
    Session s(config_, ctx_, false);
    s.connect(name, net::IpAddress::parse("203.0.113.9"));
    s.mailFrom({"<a@remote.example>"});
    s.abort();
    EXPECT_THAT(lastLogLine(), HasSubstr(" client=unknown[203.0.113.9] ")) << name;
  }
}

TEST_F(SessionTest, ConnectionClosedMidMessageEndsIt) {
  {
    auto s = connect();
    s->mailFrom({"<a@remote.example>"});
    s->rcpt({"<bob@local.example>"});
    s->header("Subject", "half");
    EXPECT_EQ(Session::messagesInFlight(), 1);
    s->close();
  }
  EXPECT_EQ(Session::messagesInFlight(), 0);
  EXPECT_THAT(lastLogLine(), HasSubstr(" action=aborted"));
}

TEST_F(SessionTest, IgnoredAndTrustedClientsAreRecordedAndLogged) {
  {
    auto s = connect("198.51.100.20");
    EXPECT_TRUE(s->connection().ignored);
    EXPECT_FALSE(s->connection().trustedNetwork);
    s->mailFrom({"<a@remote.example>"});
    EXPECT_EQ(s->rcpt({"<x@other.example>"}).disposition, Disposition::Reject);  // still no relay
    s->abort();
    EXPECT_THAT(lastLogLine(), HasSubstr(" ignored=yes"));
  }
  {
    Session s(config_, ctx_, false);
    s.connect("backup-mx.example.net", net::IpAddress::parse("203.0.113.50"));
    EXPECT_TRUE(s.connection().ignored);
  }
  auto s = connect("192.0.2.9");
  EXPECT_TRUE(s->connection().trustedNetwork);
  EXPECT_FALSE(s->connection().ignored);
  s->mailFrom({"<a@local.example>"});
  s->rcpt({"<x@other.example>"});
  s->endOfMessage();
  EXPECT_THAT(lastLogLine(), HasSubstr(" rcpts=1 action=accept trusted=yes"));
}

TEST_F(SessionTest, ControlCharactersNeverReachLogOrHeader) {
  ctx_.macros["{auth_authen}"] = "eve\r\nX-Injected: yes";
  auto s = connect();
  s->mailFrom({"<>"});  // the null sender: allowed whatever SenderLoginMap says
  s->endOfMessage();
  EXPECT_EQ(editsOf("insert").at(0).value.find("\r"), std::string::npos);
  EXPECT_EQ(editsOf("insert").at(0).value.find("\nX-Injected"), std::string::npos);
}

}  // namespace
}  // namespace authmilter::milter
