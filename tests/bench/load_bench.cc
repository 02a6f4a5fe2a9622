// load_bench: the daemon under load, as a postmaster's busiest day has it. It measures and
// prints; it asserts nothing about speed (a wrong verdict is counted as an error: exit 1).
//
//   load_bench --concurrent N [--slow-ms D] [--probe P]
//     N sessions held open at once by slow clients (a pause of D ms before each SMTP step
//     and each header field, as a client on a bad link sends them), while a probe sends P
//     messages on fresh sessions: the daemon's threads and RSS with all N open, the probe's
//     latency meanwhile, and whether every slow session still got its verdict.
//
//   load_bench --soak M [--sessions S] [--per-session K] [--sample SECONDS]
//     M messages from S clients at once, K per connection, mixing every verdict: accepted,
//     DMARC reject, quarantine, refused relay, refused unauthenticated submission, signed
//     submission, tempfail on a DNS failure, aborted mid-body; DMARC aggregate records and
//     failure reports on. Prints the daemon's RSS every SAMPLE seconds and its growth from
//     the first tenth of the run to the end.
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "bench_stats.h"
#include "daemon_harness.h"
#include "fixture_files.h"
#include "milter_client.h"

using namespace authmilter::testsupport;

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kZone =
    "remote.example. 3600 TXT \"v=spf1 ip4:203.0.113.0/24 -all\"\n"
    "_dmarc.remote.example. 3600 TXT \"v=DMARC1; p=reject; rua=mailto:agg@remote.example\"\n"
    "_dmarc.reject.example. 3600 TXT \"v=DMARC1; p=reject; rua=mailto:agg@reject.example; "
    "ruf=mailto:fail@reject.example\"\n"
    "_dmarc.quarantine.example. 3600 TXT \"v=DMARC1; p=quarantine; rua=mailto:agg@quarantine.example\"\n"
    "!servfail _dmarc.servfail.example TXT\n";

// What each session sends, and what it must get.
enum class Kind { Accept, DmarcReject, Quarantine, RelayRefused, SubmissionRefused, Signed, Tempfail, AbortedMidBody };
constexpr int kKinds = 8;
constexpr const char* kKindNames[kKinds] = {"accept",    "dmarc reject", "quarantine", "relay refused",
                                            "submission refused", "signed", "tempfail", "aborted mid-body"};

Fields messageFields(const std::string& fromDomain) {
  Fields f = {{"Received", " from client.example.net (client.example.net [203.0.113.9]) by mx.test.example"},
              {"From", " Someone <someone@" + fromDomain + ">"},
              {"To", " Bob <bob@local.example>"},
              {"Subject", " the numbers for " + fromDomain},
              {"Date", " Sun, 06 Dec 2026 09:00:00 +0000"},
              {"Message-ID", " <load@" + fromDomain + ">"},
              {"MIME-Version", " 1.0"},
              {"Content-Type", " text/plain"}};
  for (int i = 0; i < 12; ++i) f.push_back({"X-Load-" + std::to_string(i), " value " + std::to_string(i)});
  return f;
}

const std::string kBody(2000, 'x');

MilterClient open(const DaemonHarness& daemon, const std::string& daemonName) {
  MilterClient c = MilterClient::connectUnix(daemon.unixPath(), std::chrono::seconds(30));
  c.negotiate();
  c.macros('C', {{"{daemon_name}", daemonName}, {"j", "mx.test.example"}});
  c.connect("client.example.net", '4', 40000, "203.0.113.9");
  c.helo("client.example.net");
  return c;
}

// One message of `kind` on an open session; true when the daemon answered as it must.
bool sendOne(MilterClient& c, Kind kind, int n) {
  const std::string qid = "L" + std::to_string(n);
  const bool submission = kind == Kind::Signed;
  Fields mail = {{"i", qid}};
  if (submission) mail.push_back({"{auth_authen}", "alice"});
  c.macros('M', mail);
  const std::string sender = kind == Kind::Accept ? "<sender@remote.example>" : "<bounce@elsewhere.example>";
  const Response m = c.mailFrom({submission ? "<alice@local.example>" : sender});
  if (kind == Kind::SubmissionRefused) return m.action == 'y' && m.reply.rfind("530 5.7.0", 0) == 0;
  if (m.action != 'c') return false;
  const std::string rcpt = kind == Kind::RelayRefused || submission ? "<carol@other.example>" : "<bob@local.example>";
  const Response r = c.rcpt({rcpt});
  if (kind == Kind::RelayRefused) {
    c.abort();
    return r.action == 'y' && r.reply.rfind("550 5.7.1", 0) == 0;
  }
  if (r.action != 'c') return false;
  static const std::string domains[kKinds] = {"remote.example", "reject.example", "quarantine.example", "",
                                              "",               "local.example",  "servfail.example",   "remote.example"};
  const Fields fields = messageFields(domains[static_cast<int>(kind)]);
  if (kind == Kind::AbortedMidBody) {
    for (const auto& [name, value] : fields) c.header(name, value);
    c.endOfHeaders();
    c.body(std::string_view(kBody).substr(0, 700));
    c.abort();
    return true;
  }
  const Response eom = c.sendMessage(fields, kBody, {{"i", qid}});
  c.abort();
  switch (kind) {
    case Kind::Accept: return eom.action == 'c' && !eom.quarantine;
    case Kind::DmarcReject: return eom.action == 'y' && eom.reply.rfind("550 5.7.1", 0) == 0;
    case Kind::Quarantine: return eom.action == 'c' && eom.quarantine.has_value();
    case Kind::Tempfail: return eom.action == 'y' && eom.reply.rfind("451 4.4.3", 0) == 0;
    case Kind::Signed:
      return eom.action == 'c' && std::any_of(eom.headers.begin(), eom.headers.end(), [](const HeaderChange& h) {
               return strcasecmp(h.name.c_str(), "DKIM-Signature") == 0;
             });
    default: return false;
  }
}

struct Sample {
  double seconds;
  long messages, rssKb, hwmKb, threads;
  double cpuMs;
};

Sample sample(pid_t pid, double seconds, long messages) {
  return {seconds, messages, procStatus(pid, "VmRSS"), procStatus(pid, "VmHWM"), procStatus(pid, "Threads"),
          cpuMillis(pid)};
}

std::string daemonConf(const TempDir& dir) {
  dir.write("domains", "local.example\n");
  const std::string key = dir.write("ed25519.pem", dkimFixture("ed25519.pem"));
  chmod(key.c_str(), 0600);
  dir.write("keytable", "k %:ed25519:" + key + "\n");
  dir.write("signingtable", "local.example k\n");
  return "Socket unix:" + dir.file("s.sock") +
         "\nLocalDomains domains\nAuthservID mx.test.example\nSubmissionDaemons MSA\n"
         "KeyTable keytable\nSigningTable signingtable\nDNSErrorAction tempfail\nDNSTimeout 500ms\n"
         "ReportStore sqlite:" + dir.file("reports.db") +
         "\nReportEmail dmarc@local.example\nFailureReports yes\nFailureReportRate 100,2000\n"
         "ReportCommand /bin/dd of=/dev/null status=none\n";
}

int soak(const DaemonHarness& daemon, long total, int sessions, int perSession, double every) {
  std::atomic<long> next{0}, done{0};
  std::array<std::atomic<long>, kKinds> errors{};
  std::vector<std::thread> workers;
  for (int w = 0; w < sessions; ++w) {
    workers.emplace_back([&] {
      while (true) {
        const long first = next.fetch_add(perSession);
        if (first >= total) return;
        const auto kind = static_cast<Kind>((first / perSession) % kKinds);
        try {
          MilterClient c = open(daemon, kind == Kind::SubmissionRefused ? "MSA" : "MTA");
          for (long n = first; n < std::min(total, first + perSession); ++n) {
            if (!sendOne(c, kind, static_cast<int>(n))) ++errors[static_cast<int>(kind)];
            ++done;
          }
          c.quit();
        } catch (const std::exception& e) {
          std::cerr << "session failed: " << e.what() << "\n";
          ++errors[static_cast<int>(kind)];
        }
      }
    });
  }
  const auto begin = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count(); };
  std::vector<Sample> samples{sample(daemon.pid(), 0, 0)};
  std::printf("%8s %10s %8s %9s %9s %8s %12s\n", "seconds", "messages", "msgs/s", "RSS MB", "peak MB", "threads",
              "CPU ms/msg");
  std::mutex m;
  std::condition_variable cv;
  bool finished = false;
  std::thread joiner([&] {
    for (auto& t : workers) t.join();
    std::lock_guard lock(m);
    finished = true;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  while (!finished) {
    cv.wait_for(lock, std::chrono::duration<double>(every));
    const Sample s = sample(daemon.pid(), elapsed(), done.load());
    const Sample& p = samples.back();
    const double n = static_cast<double>(s.messages - p.messages);
    std::printf("%8.0f %10ld %8.0f %9.1f %9.1f %8ld %12.3f\n", s.seconds, s.messages, n / (s.seconds - p.seconds),
                static_cast<double>(s.rssKb) / 1024, static_cast<double>(s.hwmKb) / 1024, s.threads,
                n > 0 ? (s.cpuMs - p.cpuMs) / n : 0);
    std::fflush(stdout);
    samples.push_back(s);
  }
  lock.unlock();
  joiner.join();
  // RSS once the caches and queues have filled (the first sample past a tenth of the run)
  // against the end: what a day of mail adds.
  const Sample* warm = &samples.back();
  for (const auto& s : samples) {
    if (s.messages >= total / 10) {
      warm = &s;
      break;
    }
  }
  const Sample& last = samples.back();
  std::printf("%ld messages in %.0f s (%.0f msgs/s), daemon CPU %.3f ms/msg; RSS %.1f MB at %ld messages, "
              "%.1f MB at the end (%+.1f MB), peak %.1f MB\n",
              last.messages, last.seconds, static_cast<double>(last.messages) / last.seconds,
              (last.cpuMs - samples.front().cpuMs) / static_cast<double>(std::max(1L, last.messages)),
              static_cast<double>(warm->rssKb) / 1024, warm->messages, static_cast<double>(last.rssKb) / 1024,
              static_cast<double>(last.rssKb - warm->rssKb) / 1024, static_cast<double>(last.hwmKb) / 1024);
  long failed = 0;
  for (int k = 0; k < kKinds; ++k) {
    if (errors[k] > 0) std::printf("  %ld wrong answers for %s\n", errors[k].load(), kKindNames[k]);
    failed += errors[k];
  }
  return failed == 0 ? 0 : 1;
}

int concurrent(const DaemonHarness& daemon, int count, int slowMs, int probes) {
  std::atomic<int> open_{0}, wrong{0};
  std::mutex m;
  std::condition_variable cv;
  bool probed = false;
  const auto pause = std::chrono::milliseconds(slowMs);
  const auto begin = std::chrono::steady_clock::now();
  std::vector<std::thread> slow;
  for (int i = 0; i < count; ++i) {
    slow.emplace_back([&, i] {
      try {
        MilterClient c = open(daemon, "MTA");
        ++open_;
        cv.notify_all();
        std::this_thread::sleep_for(pause);  // the slow client's pace, not synchronisation
        c.macros('M', {{"i", "S" + std::to_string(i)}});
        if (c.mailFrom({"<sender@remote.example>"}).action != 'c') ++wrong;
        std::this_thread::sleep_for(pause);
        if (c.rcpt({"<bob@local.example>"}).action != 'c') ++wrong;
        for (const auto& [name, value] : messageFields("remote.example")) {
          std::this_thread::sleep_for(pause);
          c.header(name, value);
        }
        {
          std::unique_lock lock(m);  // hold the session open until the probe is done
          cv.wait(lock, [&] { return probed; });
        }
        c.endOfHeaders();
        c.body(kBody);
        const Response eom = c.endOfMessage();
        if (eom.action != 'c') ++wrong;
        c.quit();
      } catch (const std::exception& e) {
        std::cerr << "slow session failed: " << e.what() << "\n";
        ++wrong;
        ++open_;
        cv.notify_all();
      }
    });
  }
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return open_.load() == count; });
  }
  const double openSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  const Sample peak = sample(daemon.pid(), 0, 0);
  std::vector<double> latencies;
  for (int i = 0; i < probes; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      MilterClient c = open(daemon, "MTA");
      if (!sendOne(c, Kind::Accept, 1000000 + i)) ++wrong;
      c.quit();
    } catch (const std::exception& e) {
      std::cerr << "probe failed: " << e.what() << "\n";
      ++wrong;
    }
    latencies.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const Sample during = sample(daemon.pid(), 0, 0);
  {
    std::lock_guard lock(m);
    probed = true;
  }
  cv.notify_all();
  for (auto& t : slow) t.join();
  const Sample after = sample(daemon.pid(), 0, 0);
  std::printf("%d slow sessions (%d ms before each step and header) open after %.1f s: daemon %ld threads, RSS %.1f MB "
              "(%.1f MB with the probe done), peak %.1f MB\n",
              count, slowMs, openSeconds, peak.threads, static_cast<double>(peak.rssKb) / 1024,
              static_cast<double>(during.rssKb) / 1024, static_cast<double>(during.hwmKb) / 1024);
  const double p50 = percentile(latencies, 0.5), p99 = percentile(latencies, 0.99);  // sorts them
  std::printf("probe, %d messages on fresh sessions meanwhile: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", probes, p50,
              p99, latencies.empty() ? 0 : latencies.back());
  std::printf("all sessions done: daemon %ld threads, RSS %.1f MB; %d wrong answers\n", after.threads,
              static_cast<double>(after.rssKb) / 1024, wrong.load());
  return wrong == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  long soakMessages = 0;
  int concurrentSessions = 0, slowMs = 100, probes = 200, sessions = 16, perSession = 4;
  double every = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--soak") {
      soakMessages = std::stol(value);
    } else if (flag == "--concurrent") {
      concurrentSessions = std::stoi(value);
    } else if (flag == "--slow-ms") {
      slowMs = std::stoi(value);
    } else if (flag == "--probe") {
      probes = std::stoi(value);
    } else if (flag == "--sessions") {
      sessions = std::stoi(value);
    } else if (flag == "--per-session") {
      perSession = std::max(1, std::stoi(value));
    } else if (flag == "--sample") {
      every = std::stod(value);
    } else {
      soakMessages = concurrentSessions = 0;
      break;
    }
  }
  if ((soakMessages > 0) == (concurrentSessions > 0)) {
    std::cerr << "usage: load_bench --concurrent N [--slow-ms D] [--probe P]\n"
                 "       load_bench --soak M [--sessions S] [--per-session K] [--sample SECONDS]\n";
    return 64;
  }
  // Two descriptors a session here and one in the daemon (which inherits the limit).
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  TempDir dir;
  DaemonHarness daemon(dir, daemonConf(dir));
  daemon.dns()->setZone(kZone);
  return soakMessages > 0 ? soak(daemon, soakMessages, sessions, perSession, every)
                          : concurrent(daemon, concurrentSessions, slowMs, probes);
}
