// milter_bench: starts the authmilter daemon (unix and inet sockets in turn), drives it like
// Postfix does (negotiation, macros, MAIL, RCPT, headers, end of message, ABORT; several
// messages per connection; N connections at once) and prints messages/s, latency and the
// daemon's CPU time per message. It measures; it asserts nothing about speed.
//
//   milter_bench [--sessions N[,N...]] [--messages M] [--socket unix|inet|both] [--spf yes|no]
//                [--dmarc yes|no] [--message FILE.eml] [--zone FILE] [--sign none|rsa|ed25519|both]
//                [--report off|on|ab] [--reps N] [--conf 'Setting value']...
//
// --conf adds a line to the daemon's configuration (repeatable), e.g. --conf 'ARCVerify no'
// to see what a stage costs, or --conf 'ARCSealing inbound' with an ARCSealKey.
//
// --report on: the daemon records every message for DMARC aggregate reports (ReportStore
// sqlite: in its temporary directory; the message's From domain asks for reports with
// rua=). ab: two daemons, one recording and one not, measured in turns (A, B, A, B, ...
// --reps times each) in one run; the median of each and their ratio are printed.
//
// --sign makes every session an authenticated submission ({auth_authen} at MAIL) that the
// daemon signs for the From domain with the test keys of tests/data/dkim: RSA-2048,
// Ed25519, or both (two signatures in one pass). A message that comes back without the
// signatures asked for counts as an error.
//
// With SPF (the default) the test DNS server publishes records for the sender and the HELO
// name, so after the first message the checks run on cached answers: the figures show the
// evaluation's own cost, not the network's.
#include <libmilter/mfapi.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "authmilter/report/report_store.h"
#include "daemon_harness.h"
#include "bench_stats.h"
#include "milter_client.h"

using namespace authmilter::testsupport;

namespace {

struct Options {
  std::vector<int> sessions = {1, 4, 16};
  int messages = 500;  // per session
  std::vector<std::string> sockets = {"unix", "inet"};
  bool spf = true;
  bool dmarc = true;
  std::string messageFile;  // --message: send this .eml (CRLF) instead of the built-in message
  std::string zoneFile;     // --zone: more records for the test DNS server (e.g. DKIM keys)
  std::vector<std::string> signKeys;  // --sign: fixture key files to sign with (authenticated sessions)
  std::vector<bool> report = {false};  // --report: off, on, or both (A/B)
  int reps = 1;
  std::string conf;  // --conf LINE (repeatable): more settings for the daemon, e.g. "ARCVerify no"
};

struct Run {
  double rate = 0, p50 = 0, p99 = 0, max = 0, cpu = 0;
  size_t messages = 0;
  int errors = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

constexpr const char* kSpfZone =
    "remote.example. 3600 TXT \"v=spf1 ip4:198.51.100.0/24 include:_spf.remote.example -all\"\n"
    "_spf.remote.example. 3600 TXT \"v=spf1 ip4:203.0.113.0/24 -all\"\n"
    "client.example.net. 3600 TXT \"v=spf1 a -all\"\n"
    "client.example.net. 3600 A 203.0.113.9\n"
    // The built-in message is From remote.example: DMARC passes through the aligned SPF pass.
    "_dmarc.remote.example. 3600 TXT \"v=DMARC1; p=reject\"\n";
// --report on: the same record (the last line of kSpfZone), asking for aggregate reports.
constexpr const char* kReportZone =
    "_dmarc.remote.example. 3600 TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@remote.example\"\n";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::vector<std::pair<std::string, std::string>>& headers() {
  static const std::vector<std::pair<std::string, std::string>> h = [] {
    std::vector<std::pair<std::string, std::string>> v = {
        {"Received", " from client.example.net (client.example.net [203.0.113.9]) by mx.test.example"},
        {"Authentication-Results", " upstream.example; spf=pass smtp.mailfrom=remote.example"},
        {"From", " Sender <sender@remote.example>"},
        {"To", " Bob <bob@local.example>"},
        {"Subject", " quarterly report"},
        {"Date", " Wed, 25 Nov 2026 09:00:00 +0000"},
        {"Message-ID", " <1234.5678@remote.example>"},
        {"MIME-Version", " 1.0"},
        {"Content-Type", " text/plain; charset=utf-8"}};
    for (int i = 0; i < 11; ++i) v.push_back({"X-Header-" + std::to_string(i), " some value " + std::to_string(i)});
    return v;
  }();
  return h;
}

struct Result {
  std::vector<double> latencies;  // ms per message
  int errors = 0;
};

size_t signaturesAdded(const Response& r) {
  return static_cast<size_t>(std::count_if(r.headers.begin(), r.headers.end(), [](const HeaderChange& h) {
    return h.kind == 'i' && strcasecmp(h.name.c_str(), "DKIM-Signature") == 0;
  }));
}

// `signatures`: how many DKIM-Signature headers each message must get; 0 = an inbound
// (unauthenticated) session, else an authenticated submission.
void runSession(const DaemonHarness& daemon, int messages, const MessageParts& message, size_t signatures,
                Result& out) {
  try {
    const auto& listen = daemon.listenAddress();
    MilterClient c = listen.rfind("unix:", 0) == 0 ? MilterClient::connectUnix(daemon.unixPath())
                                                   : MilterClient::connectTcp("127.0.0.1", daemon.tcpPort());
    c.negotiate();
    c.macros('C', {{"{daemon_name}", "MTA"}, {"j", "mx.test.example"}});
    c.connect("client.example.net", '4', 40000, "203.0.113.9");
    c.helo("client.example.net");
    for (int i = 0; i < messages; ++i) {
      const auto begin = std::chrono::steady_clock::now();
      std::vector<std::pair<std::string, std::string>> mailMacros = {{"i", "Q" + std::to_string(i)},
                                                                      {"{mail_addr}", "sender@remote.example"}};
      if (signatures > 0) mailMacros.emplace_back("{auth_authen}", "sender");
      c.macros('M', mailMacros);
      const char mail = c.mailFrom({"<sender@remote.example>", "SIZE=4000"}).action;
      c.macros('R', {{"{rcpt_addr}", "bob@local.example"}});
      const char rcpt = c.rcpt({"<bob@local.example>"}).action;
      const Response eom = c.sendMessage(message.headers, message.body, {{"i", "Q" + std::to_string(i)}});
      c.abort();
      if (mail != 'c' || rcpt != 'c' || eom.action != 'c' || signaturesAdded(eom) != signatures) ++out.errors;
      out.latencies.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count());
    }
    c.quit();
  } catch (const std::exception& e) {
    std::cerr << "session failed: " << e.what() << "\n";
    ++out.errors;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--sessions") {
      options.sessions = parseIntList(value);
    } else if (flag == "--messages") {
      options.messages = std::stoi(value);
    } else if (flag == "--message") {
      options.messageFile = value;
    } else if (flag == "--zone") {
      options.zoneFile = value;
    } else if (flag == "--spf") {
      options.spf = value == "yes";
    } else if (flag == "--dmarc") {
      options.dmarc = value == "yes";
    } else if (flag == "--sign" && (value == "none" || value == "rsa" || value == "ed25519" || value == "both")) {
      options.signKeys.clear();
      if (value == "rsa" || value == "both") options.signKeys.push_back("rsa2048.pem");
      if (value == "ed25519" || value == "both") options.signKeys.push_back("ed25519.pem");
    } else if (flag == "--report" && (value == "off" || value == "on" || value == "ab")) {
      options.report = value == "ab" ? std::vector<bool>{false, true} : std::vector<bool>{value == "on"};
    } else if (flag == "--conf") {
      options.conf += value + "\n";
    } else if (flag == "--reps") {
      options.reps = std::max(1, std::stoi(value));
    } else if (flag == "--socket") {
      options.sockets = value == "both" ? std::vector<std::string>{"unix", "inet"} : std::vector<std::string>{value};
    } else {
      std::cerr << "usage: milter_bench [--sessions N[,N...]] [--messages M] [--socket unix|inet|both] "
                   "[--spf yes|no] [--dmarc yes|no] [--message FILE.eml] [--zone FILE] "
                   "[--sign none|rsa|ed25519|both] [--report off|on|ab] [--reps N] [--conf 'Setting value']...\n";
      return 64;
    }
  }
  MessageParts message{headers(), std::string(2000, 'x')};
  std::string zone;
  try {
    if (!options.messageFile.empty()) message = splitMessage(readFile(options.messageFile));
    if (!options.zoneFile.empty()) zone = "\n" + readFile(options.zoneFile);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 66;
  }
  int failures = 0;
  std::printf("SPF checks: %s\n", options.spf ? "on (MAIL FROM pass via include:, HELO pass via a)" : "off");
  std::printf("DMARC: %s\n", options.dmarc ? "on" : "off");
  std::printf("message: %s\n", options.messageFile.empty() ? "built in (20 headers, 2000-byte body, unsigned)"
                                                            : options.messageFile.c_str());
  std::printf("sessions: %s\n", options.signKeys.empty() ? "inbound (unauthenticated)"
                                                         : "authenticated submissions, signed with:");
  for (const auto& key : options.signKeys) std::printf("  %s\n", key.c_str());
  if (!options.conf.empty()) std::printf("more settings:\n%s", options.conf.c_str());
  std::printf("%-6s %-7s %9s %9s %10s %8s %8s %8s %14s\n", "socket", "record", "sessions", "messages", "msgs/s",
              "p50 ms", "p99 ms", "max ms", "daemon CPU ms/msg");
  for (const auto& kind : options.sockets) {
    struct Instance {
      bool report;
      size_t sent = 0;  // messages answered
      TempDir dir;
      std::unique_ptr<DaemonHarness> daemon;
    };
    std::vector<std::unique_ptr<Instance>> instances;
    for (const bool report : options.report) {
      auto in = std::make_unique<Instance>();
      in->report = report;
      TempDir& dir = in->dir;
      dir.write("domains", "local.example\n");
      const std::string socket = kind == "unix" ? "unix:" + dir.file("s.sock") : "inet:0@127.0.0.1";
      std::string signing;
      if (!options.signKeys.empty()) {
        std::string keyTable;
        for (const auto& key : options.signKeys) {
          const std::string copy = dir.write(key, readFile(std::string(AUTHMILTER_DKIM_FIXTURES) + "/" + key));
          chmod(copy.c_str(), 0600);
          keyTable += "k %:" + key.substr(0, key.find('.')) + ":" + copy + "\n";
        }
        dir.write("keytable", keyTable);
        dir.write("signingtable", "remote.example k\n");
        signing = "KeyTable keytable\nSigningTable signingtable\n";
      }
      in->daemon = std::make_unique<DaemonHarness>(
          dir, "Socket " + socket + "\nLocalDomains domains\nAuthservID mx.test.example\n" +
                   (options.spf ? "" : "SPFCheck no\n") + (options.dmarc ? "" : "DMARCCheck no\n") + signing +
                   (report ? "ReportStore sqlite:" + dir.file("reports.db") + "\n" : "") + options.conf);
      std::string records = kSpfZone;  // --report on: the DMARC record with rua= instead
      if (report) records.replace(records.find("_dmarc.remote.example."), std::string::npos, kReportZone);
      in->daemon->dns()->setZone(records + zone);
      instances.push_back(std::move(in));
    }
    for (int sessions : options.sessions) {
      std::map<bool, std::vector<double>> rates;
      for (int rep = 0; rep < options.reps; ++rep) {
        for (const auto& in : instances) {
          const DaemonHarness& daemon = *in->daemon;
          std::vector<Result> results(static_cast<size_t>(sessions));
          const double cpuBefore = cpuMillis(daemon.pid());
          const auto begin = std::chrono::steady_clock::now();
          std::vector<std::thread> threads;
          for (auto& r : results) {
            threads.emplace_back([&] { runSession(daemon, options.messages, message, options.signKeys.size(), r); });
          }
          for (auto& t : threads) t.join();
          const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
          const double cpu = cpuMillis(daemon.pid()) - cpuBefore;
          std::vector<double> all;
          int errors = 0;
          for (auto& r : results) {
            all.insert(all.end(), r.latencies.begin(), r.latencies.end());
            errors += r.errors;
          }
          const double total = static_cast<double>(all.size());
          rates[in->report].push_back(total / seconds);
          in->sent += all.size();
          std::printf("%-6s %-7s %9d %9zu %10.0f %8.3f %8.3f %8.3f %14.3f\n", kind.c_str(),
                      in->report ? "yes" : "no", sessions, all.size(), total / seconds, percentile(all, 0.5),
                      percentile(all, 0.99), all.empty() ? 0 : *std::max_element(all.begin(), all.end()),
                      total > 0 ? cpu / total : 0);
          if (errors) std::printf("  %d errors\n", errors);
          failures += errors;
        }
      }
      if (rates.size() == 2) {  // the difference of the medians, and each one's spread
        const double off = median(rates[false]), on = median(rates[true]);
        std::printf("  %s %d sessions: median %.0f msgs/s without recording, %.0f with: recording costs %.1f %%\n",
                    kind.c_str(), sessions, off, on, off > 0 ? 100.0 * (off - on) / off : 0);
      }
    }
    // What the recording daemon stored: every message, counted in a few rows (a stop stores
    // what is still queued).
    for (const auto& in : instances) {
      if (!in->report) continue;
      in->daemon->stop();
      uint64_t counted = 0;
      size_t rows = 0;
      auto store = authmilter::report::ReportStore::open("sqlite:" + in->dir.file("reports.db"));
      for (const auto& day : store->unreportedDays("9999-12-31")) {
        for (const auto& row : store->rows(day)) counted += row.count, ++rows;
      }
      std::printf("  %s recorded: %llu of %zu messages, in %zu row(s) of the store\n", kind.c_str(),
                  static_cast<unsigned long long>(counted), in->sent, rows);
      if (counted != in->sent) ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}
