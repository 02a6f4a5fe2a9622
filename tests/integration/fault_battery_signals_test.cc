// Fault battery, part 2 (issue 23): the daemon's own troubles while mail flows. SIGHUP
// while sessions deliver (a broken conf swapped in and out), SIGTERM while messages are in
// progress, a report store that is down, a key file gone before SIGHUP, a full disk under
// the log file. Each case says what the MTA gets, and shows that no message is lost (each
// has its verdict and exactly one log line) and none wrongly accepted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libmilter/mfdef.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "battery_support.h"
#include "daemon_harness.h"
#include "dkimpy.h"
#include "fixture_files.h"
#include "milter_client.h"

namespace authmilter::testsupport::battery {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// What one delivery got, kept for the main thread (assertions are made there).
struct Delivery {
  std::string qid;
  bool forgedOne = false;
  Sent sent;
  std::string error;  // the client's exception, if any
};

// Delivers messages on `threads` threads until `more()` says stop and each has sent at least
// `atLeast`, alternating the signed message (accepted) and a forgery (refused).
std::vector<Delivery> deliverWhile(const std::string& unixPath, int threads, int atLeast,
                                   const std::function<bool()>& more, const std::string& prefix) {
  std::mutex mutex;
  std::vector<Delivery> all;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < atLeast || more(); ++i) {
        Delivery d;
        d.qid = prefix + std::to_string(t) + "N" + std::to_string(i);
        d.forgedOne = (i + t) % 2 == 1;
        try {
          d.sent = transact(unixPath, d.forgedOne ? forged("reject.test", d.qid) : signedMessage(), d.qid);
        } catch (const std::exception& e) {
          d.error = e.what();
        }
        std::lock_guard lock(mutex);
        all.push_back(std::move(d));
      }
    });
  }
  for (auto& w : workers) w.join();
  return all;
}

// Every delivery got its verdict and exactly one log line saying it.
void expectEachDelivered(const DaemonHarness& daemon, const std::vector<Delivery>& all) {
  std::map<std::string, int> lines;
  for (const auto& line : daemon.logLines()) {
    const auto colon = line.find(": ", line.find("]: ") + 3);
    if (line.find("]: ") != std::string::npos && colon != std::string::npos) {
      ++lines[line.substr(line.find("]: ") + 3, colon - line.find("]: ") - 3)];
    }
  }
  for (const auto& d : all) {
    SCOPED_TRACE(d.qid);
    EXPECT_EQ(d.error, "");
    EXPECT_EQ(lines[d.qid], 1);
    const std::string log = daemon.messageLogLine(d.qid);
    if (d.forgedOne) {
      expectForgedRefused(d.sent, log);
    } else {
      expectSignedPasses(d.sent, log);
    }
  }
}

// ---------------------------------------------------------------------------------------
// (d) SIGHUP while three sessions deliver: reloads alternate between a broken conf (refused,
// the old one stays) and the good one (taken). Every message is answered correctly and
// logged once; the log counts as many reloads and refusals as were asked for.

class SignalBattery : public BatteryTest {};

TEST_F(SignalBattery, SighupUnderLoadLosesNothing) {
  startBattery();
  const std::string good = runningConf();
  std::atomic<bool> reloading{true};
  std::vector<Delivery> all;
  std::thread load([&] { all = deliverWhile(daemon_->unixPath(), 3, 6, [&] { return reloading.load(); }, "HUP"); });
  int accepted = 0, refused = 0;
  for (int i = 0; i < 8; ++i) {
    const bool broken = i % 2 == 0;
    dir_.write("authmilter.conf", broken ? good + "NoSuchOption yes\n" : good);
    const size_t seen = daemon_->logLines().size();
    daemon_->signal(SIGHUP);
    // One reload at a time: requests that come while one runs are merged into one.
    EXPECT_TRUE(daemon_->waitForLog(broken ? "reload failed" : "configuration reloaded", seen)) << i;
    (broken ? refused : accepted) += 1;
  }
  reloading = false;
  load.join();
  EXPECT_GE(all.size(), 18u);
  expectEachDelivered(*daemon_, all);
  EXPECT_EQ(logCount("configuration reloaded"), static_cast<size_t>(accepted));
  EXPECT_EQ(logCount("reload failed"), static_cast<size_t>(refused));
  EXPECT_EQ(logCount("unknown option 'NoSuchOption'"), static_cast<size_t>(refused));
  EXPECT_EQ(daemon_->stop(), 0);
}

// ---------------------------------------------------------------------------------------
// (e) SIGTERM with messages in progress at every stage: they complete with their edits
// (Authentication-Results inserted, the forgery refused), a new MAIL FROM gets 451 4.3.2,
// the daemon then exits 0 by itself, and every message that started is logged once.

TEST_F(SignalBattery, SigtermUnderLoadFinishesWhatStarted) {
  startBattery();
  struct InFlight {
    std::string qid;
    bool forgedOne;
    int sentSteps;  // 0: after RCPT, 1: after the headers, 2: after part of the body
    MilterClient client;
    MessageParts parts;
  };
  std::vector<InFlight> flights;
  for (int i = 0; i < 6; ++i) {
    const std::string qid = "TERM" + std::to_string(i);
    const bool forgedOne = i % 2 == 1;
    MilterClient c = session(kClientIp);
    c.macros(SMFIC_MAIL, {{"i", qid}});
    ASSERT_EQ(c.mailFrom({kMailFrom}).action, 'c');
    ASSERT_EQ(c.rcpt({"<bob@example.org>"}).action, 'c');
    MessageParts parts = splitMessage(forgedOne ? forged("reject.test", qid) : signedMessage());
    const int steps = i % 3;
    if (steps >= 1) {
      for (const auto& [name, value] : parts.headers) c.header(name, value);
      c.endOfHeaders();
    }
    if (steps == 2) c.body(std::string_view(parts.body).substr(0, 5));
    c.flush();
    flights.push_back({qid, forgedOne, steps, std::move(c), std::move(parts)});
  }
  MilterClient idle = session(kClientIp);
  const size_t seen = daemon_->logLines().size();
  daemon_->signal(SIGTERM);
  ASSERT_TRUE(daemon_->waitForLog("received SIGTERM", seen));
  const Response refusedNew = idle.mailFrom({kMailFrom});
  EXPECT_EQ(refusedNew.action, 'y');
  EXPECT_EQ(refusedNew.reply, "451 4.3.2 Mail filter restarting, try again later");
  // All six finish at once, each on its own thread.
  std::vector<Response> answers(flights.size());
  std::vector<std::string> errors(flights.size());
  std::vector<std::thread> finishing;
  for (size_t i = 0; i < flights.size(); ++i) {
    finishing.emplace_back([&, i] {
      auto& f = flights[i];
      try {
        if (f.sentSteps == 0) {
          answers[i] = f.client.sendMessage(f.parts.headers, f.parts.body, {{"i", f.qid}});
        } else {
          f.client.body(std::string_view(f.parts.body).substr(f.sentSteps == 2 ? 5 : 0));
          answers[i] = f.client.endOfMessage();
        }
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : finishing) t.join();
  for (size_t i = 0; i < flights.size(); ++i) {
    SCOPED_TRACE(flights[i].qid);
    EXPECT_EQ(errors[i], "");
    const std::string log = daemon_->messageLogLine(flights[i].qid);
    if (flights[i].forgedOne) {
      expectForgedRefused({'E', answers[i]}, log);
    } else {
      expectSignedPasses({'E', answers[i]}, log);
    }
    EXPECT_EQ(logCount(flights[i].qid + ": "), 1u);
  }
  EXPECT_TRUE(daemon_->waitForLog("]: stopped", seen));
  EXPECT_EQ(daemon_->stop(), 0);
  EXPECT_EQ(logCount("still in progress after ShutdownTimeout"), 0u);
}

// ---------------------------------------------------------------------------------------
// (f) The report store is down (PostgreSQL on a port where nothing listens) and the queue
// small: 110 forgeries from two sessions are all refused at once; records past
// ReportQueueSize (100) are dropped, counted and logged; the rest are kept and retried, and
// the stop says how many were lost.

TEST_F(SignalBattery, ReportStoreDownMailFlowsRecordsDroppedAndCounted) {
  startBattery("ReportStore postgresql://authmilter@127.0.0.1:9/authmilter?connect_timeout=2\n"
               "ReportQueueSize 100\n");
  std::vector<std::vector<Sent>> answers(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> senders;
  for (int t = 0; t < 2; ++t) {
    senders.emplace_back([&, t] {
      try {
        for (int i = 0; i < 55; ++i) {
          const std::string qid = "REP" + std::to_string(t) + "N" + std::to_string(i);
          // A short bound for each step: a store that held up mail would fail here.
          answers[static_cast<size_t>(t)].push_back(transact(daemon_->unixPath(), forged("reject.test", qid), qid,
                                                             kMailFrom, "", kClientIp, 5s));
        }
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(t)] = e.what();
      }
    });
  }
  for (auto& s : senders) s.join();
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(errors[static_cast<size_t>(t)], "");
    ASSERT_EQ(answers[static_cast<size_t>(t)].size(), 55u);
    for (const auto& a : answers[static_cast<size_t>(t)]) EXPECT_EQ(a.response.reply, kForgedReply);
  }
  EXPECT_TRUE(daemon_->waitForLog("DMARC report records dropped: the report store cannot keep up (1 so far; "
                                  "ReportQueueSize 100)"));
  EXPECT_TRUE(daemon_->waitForLog("DMARC report records not stored (kept, tried again)"));
  EXPECT_EQ(daemon_->stop(), 0);
  EXPECT_EQ(logCount("stopping: 100 DMARC report records not yet stored are lost"), 1u);
  EXPECT_EQ(logCount("action=reject"), 110u);
}

// ---------------------------------------------------------------------------------------
// (g) The signing key file gone, broken or unsafe before a SIGHUP: the reload is refused
// with the file named, and the old key still signs (dkimpy verifies what is delivered).

struct KeyFault {
  const char* what;
  std::function<void(const std::string& path)> apply;
  const char* says;
};

TEST_F(SignalBattery, KeyFileTroubleBeforeSighupKeepsTheOldKey) {
  const std::vector<KeyFault> kFaults = {
      {"removed", [](const std::string& p) { std::filesystem::remove(p); }, "cannot read"},
      {"not a key", [](const std::string& p) { std::ofstream(p, std::ios::trunc) << "-----BEGIN PRIVATE KEY-----\nnope\n"; },
       "rsa.key"},
      {"readable by others", [](const std::string& p) { chmod(p.c_str(), 0644); }, "is not safe"},
  };
  const std::string key = privateKeyCopy(dir_, dkimFixturePath("rsa2048.pem"), "rsa.key");
  startBattery("Domain example.com\nSelector rsa2048\nKeyFile rsa.key\n");
  const std::string raw = "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: signed\r\n"
                          "Date: Mon, 01 Jan 2024 12:00:00 +0000\r\nMessage-ID: <k@example.com>\r\n\r\nHello.\r\n";
  int n = 0;
  for (const auto& fault : kFaults) {
    SCOPED_TRACE(fault.what);
    fault.apply(key);
    const size_t seen = daemon_->logLines().size();
    daemon_->signal(SIGHUP);
    const auto failed = daemon_->waitForLog("reload failed", seen);
    ASSERT_TRUE(failed.has_value());
    const auto said = daemon_->waitForLog(fault.says, seen);
    ASSERT_TRUE(said.has_value());
    EXPECT_THAT(*said, HasSubstr("rsa.key"));
    EXPECT_THAT(*said, ::testing::Not(HasSubstr("BEGIN")));
    const std::string qid = "KEY" + std::to_string(++n);
    const Sent s = send(raw, qid, "<alice@example.com>", "alice");
    ASSERT_EQ(s.response.action, 'c') << s.response.reply;
    EXPECT_EQ(dkimpyVerify(dir_, deliveredMessage(raw, s.response), dkimFixturePath("keys.zone")),
              (std::vector<std::string>{"pass d=example.com s=rsa2048 a=rsa-sha256"}));
    EXPECT_THAT(daemon_->messageLogLine(qid), HasSubstr("dkim_sign=\"d=example.com s=rsa2048 a=rsa-sha256\""));
    privateKeyCopy(dir_, dkimFixturePath("rsa2048.pem"), "rsa.key");  // the next row starts from a good key
  }
  EXPECT_EQ(logCount("configuration reloaded"), 0u);
}

// ---------------------------------------------------------------------------------------
// (h) LogFile /dev/full: every log write fails with ENOSPC. The daemon says so once on
// standard error (the journal, under systemd), keeps running, and mail flows with correct
// verdicts; SIGHUP and SIGTERM still work (exit 0). Run by hand: the harness reads its log.

TEST(LogDiskFullBattery, MailFlowsAndTheDaemonSaysItOnStderr) {
  TempDir dir;
  TestDnsServer dns(dkimFixture("keys.zone") + kZone);
  dir.write("domains", "example.org\n");
  const std::string socket = dir.file("s.sock");
  const std::string conf = dir.write(
      "authmilter.conf", "AuthservID mx.test.example\nLocalDomains domains\nShutdownTimeout 5\nDNSTimeout 300ms\n"
                         "DNSRetries 1\nSyslog no\nLogFile /dev/full\nNameservers " +
                             dns.nameserver4() + "\nSocket unix:" + socket + "\n");
  const std::string stderrPath = dir.file("stderr.txt");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = open(stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execDaemon(conf);
  }
  int status = 0;
  const auto exited = [&] { return waitpid(pid, &status, WNOHANG) == pid; };
  const bool listening = waitUntil(20s, [&] {
    try {
      MilterClient::connectUnix(socket, 100ms).quit();
      return true;
    } catch (const std::exception&) {
      return false;
    }
  });
  ASSERT_TRUE(listening) << readFile(stderrPath);
  for (int i = 0; i < 3; ++i) {
    const Sent good = transact(socket, signedMessage(), "FULL" + std::to_string(i));
    EXPECT_EQ(good.response.action, 'c') << good.response.reply;
    const auto ar = insertedAuthResults(good.response);
    ASSERT_TRUE(ar.has_value());
    EXPECT_THAT(*ar, HasSubstr("dkim=pass header.d=example.com"));
    EXPECT_EQ(transact(socket, forged("reject.test"), "BAD" + std::to_string(i)).response.reply, kForgedReply);
    if (i == 1) kill(pid, SIGHUP);  // reopens /dev/full: still full
  }
  EXPECT_FALSE(exited());
  kill(pid, SIGTERM);
  ASSERT_TRUE(waitUntil(20s, exited)) << readFile(stderrPath);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::string err = readFile(stderrPath);
  EXPECT_THAT(err, HasSubstr("cannot write log file /dev/full: No space left on device"));
  EXPECT_LE(std::count(err.begin(), err.end(), '\n'), 4) << "said once per logger, not per line:\n" << err;
}

}  // namespace
}  // namespace authmilter::testsupport::battery
