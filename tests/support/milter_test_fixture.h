// MilterTestFixture: the base of the integration test fixtures that run the real daemon
// (DaemonHarness over the test's TempDir) and talk to it as Postfix does: start it on a
// conf, deliver a message in one SMTP session or open a session to drive step by step, and
// read back the Authentication-Results it inserted and the message's log line. Each
// fixture keeps its own conf text, list files, DNS zone and convenience overloads.
#pragma once

#include <gtest/gtest.h>
#include <libmilter/mfdef.h>

#include <memory>
#include <optional>
#include <string>

#include "daemon_harness.h"
#include "milter_client.h"
#include "temp_dir.h"

namespace authmilter::testsupport {

class MilterTestFixture : public ::testing::Test {
 protected:
  // Starts the daemon on `conf` in dir_ (see DaemonHarness for what it adds), stopping the
  // one this test already runs first: the new one takes the same files and socket.
  void startDaemon(const std::string& conf) {
    daemon_.reset();
    daemon_ = std::make_unique<DaemonHarness>(dir_, conf);
  }

  // Delivers `raw` (a message file, CRLF) with queue id `qid` over the unix socket in one
  // SMTP session and returns the end-of-message response (see deliverMessage).
  Response deliver(const std::string& raw, const std::string& qid, const Envelope& envelope) {
    return deliverMessage(daemon_->unixPath(), raw, qid, envelope);
  }

  // A connection to wherever the daemon listens (unix, inet or inet6 socket).
  MilterClient connectClient() const {
    const auto& listen = daemon_->listenAddress();
    if (listen.rfind("unix:", 0) == 0) return MilterClient::connectUnix(daemon_->unixPath());
    const auto host = listen.substr(listen.find('@') + 1);
    return MilterClient::connectTcp(host, daemon_->tcpPort());
  }

  // Negotiates as Postfix does and opens an SMTP session from `ip` (client and HELO name
  // client.example.net) for the MTA instance `daemonName`.
  MilterClient session(const std::string& ip, const std::string& daemonName = "MTA") const {
    MilterClient c = connectClient();
    c.negotiate();
    c.macros(SMFIC_CONNECT, {{"{daemon_name}", daemonName}, {"j", "mx.test.example"}});
    c.connect("client.example.net", ip.find(':') == std::string::npos ? '4' : '6', 40000, ip);
    c.macros(SMFIC_HELO, {});
    c.helo("client.example.net");
    return c;
  }

  static std::optional<std::string> authResults(const Response& r) { return insertedAuthResults(r); }

  std::string logLine(const std::string& qid) const { return daemon_->messageLogLine(qid); }

  TempDir dir_;
  std::unique_ptr<DaemonHarness> daemon_;
};

}  // namespace authmilter::testsupport
