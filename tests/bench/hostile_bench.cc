// hostile_bench: what each hostile message of the hardening battery costs the daemon.
// Starts authmilter (DaemonHarness, every check on, the test DNS server), sends each case of
// tests/integration/hostile_cases.h --repeat times in one session each, and prints per case
// the daemon's CPU per message (utime + stime from /proc/PID/stat) and its memory (VmRSS
// before and after the case, VmHWM after: the peak so far). Asserts nothing about speed.
//
//   build/tests/hostile_bench [--repeat K] [--scale S] [--case NAME]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "bench_stats.h"
#include "daemon_harness.h"
#include "fixture_files.h"
#include "milter_client.h"
#include "temp_dir.h"
#include "../integration/hostile_cases.h"

namespace {

using namespace authmilter::testsupport;
using namespace authmilter::testsupport::battery;

// A /proc/PID/status size ("VmRSS", "VmHWM"), in MB.
double statusMb(pid_t pid, const std::string& key) { return static_cast<double>(procStatus(pid, key)) / 1024.0; }

}  // namespace

int main(int argc, char** argv) {
  int repeat = 20;
  double scale = 1.0;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--repeat") repeat = std::atoi(argv[i + 1]);
    else if (flag == "--scale") scale = std::atof(argv[i + 1]);
    else if (flag == "--case") only = argv[i + 1];
    else {
      std::cerr << "usage: hostile_bench [--repeat K] [--scale S] [--case NAME]\n";
      return 2;
    }
  }
  TempDir dir;
  dir.write("domains", "example.org\n");
  DaemonHarness daemon(dir, "AuthservID mx.test.example\nLocalDomains domains\nShutdownTimeout 5\nDNSTimeout 300ms\n"
                            "DNSRetries 1\nSocket unix:" + dir.file("s.sock") + "\n");
  std::printf("%-40s %6s %12s %10s %10s %10s %s\n", "case", "msgs", "CPU ms/msg", "RSS MB", "RSS MB", "HWM MB",
              "verdict");
  std::printf("%-40s %6s %12s %10s %10s %10s\n", "", "", "", "before", "after", "after");
  int failures = 0;
  for (const auto& c : hostileCases(scale)) {
    if (!only.empty() && c.name != only) continue;
    daemon.dns()->setZone(dkimFixture("keys.zone") + kZone + c.zone);
    const double rssBefore = statusMb(daemon.pid(), "VmRSS");
    const double cpuBefore = cpuMillis(daemon.pid());
    std::string verdict;
    for (int i = 0; i < repeat; ++i) {
      const std::string qid = "B" + std::to_string(i);
      try {
        MilterClient m = MilterClient::connectUnix(daemon.unixPath(), std::chrono::seconds(120));
        m.negotiate();
        m.connect("mail.client.example", '4', 40000, kClientIp);
        m.helo("mail.client.example");
        m.macros('M', {{"i", qid}});
        Response r = m.mailFrom({c.mailFrom});
        if (r.action == 'c') r = m.rcpt({"<bob@example.org>"});
        if (r.action == 'c') {
          for (const auto& packet : c.rawHeaderPackets) m.sendPacket('L', packet);
          const MessageParts parts = splitMessage(c.message);
          r = m.sendMessage(parts.headers, parts.body);
        }
        m.quit();
        verdict = r.action == 'y' ? r.reply.substr(0, 3) : std::string(1, r.action);
      } catch (const std::exception& e) {
        verdict = std::string("error: ") + e.what();
        ++failures;
      }
    }
    const double cpu = (cpuMillis(daemon.pid()) - cpuBefore) / repeat;
    std::printf("%-40s %6d %12.2f %10.1f %10.1f %10.1f %s\n", c.name.c_str(), repeat, cpu, rssBefore,
                statusMb(daemon.pid(), "VmRSS"), statusMb(daemon.pid(), "VmHWM"), verdict.c_str());
    std::fflush(stdout);
  }
  const int status = daemon.stop();
  if (status != 0) std::cerr << "authmilter exited with " << status << "\n";
  return failures == 0 && status == 0 ? 0 : 1;
}
