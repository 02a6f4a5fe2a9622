// authmilter-bench: a milter load driver that talks to milters the way Postfix does, for
// comparing authmilter with other milters (or chains of them) on the same corpus.
//
//   authmilter-bench --milter SPEC [--milter SPEC ...] --corpus DIR [--sessions N[,N...]]
//                    [--messages M] [--per-connection K] [--hold MS] [--log FILE]
//                    [--progress SECONDS] [--timeout SECONDS]
//
// SPEC is unix:/path or inet:PORT@127.0.0.1 (numeric loopback addresses only). Several
// --milter options form a chain, as smtpd_milters = a, b does: every SMTP step goes to each
// milter in order, a message's content goes through the first milter and then, with the
// header changes the first asked for applied, through the next (so OpenDMARC sees OpenDKIM's
// Authentication-Results), and the first reject, tempfail or discard ends the message.
//
// The corpus is DIR/mail/*.eml (CRLF) with an envelope beside each, NAME.env: lines
// "client_ip A", "client_name N", "helo H", "sender S", "rcpt R" (one per recipient) and
// "login L" ("-": none), as make_corpus.py writes them. --sessions N runs N load threads at
// once, each sending M messages; every K (--per-connection, default 1) of them form one SMTP
// session with its own connection to each milter, as Postfix makes them (connect, HELO with
// the envelope of the session's first message, then per message MAIL, RCPT, header, end of
// headers, body chunks, end of message, ABORT -- Postfix sends ABORT after every message).
// A message's latency covers all milters (and, for a session's first, the connection).
// --hold MS makes every client slow: it keeps its connections idle MS ms after HELO, so that
// --sessions 1000 holds 1000 sessions open at once. For each --sessions value it prints messages/s, latency p50/p90/p99/max (one
// message, all milters), and the replies per kind; --log writes one line per message and
// milter: file, milter number, final action, reply text, header changes.
// Exit: 0 done (whatever the verdicts), 1 a session failed (I/O, protocol, timeout), 64 usage.
#include <libmilter/mfapi.h>
#include <strings.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench_stats.h"
#include "milter_client.h"

using namespace authmilter::testsupport;
using Clock = std::chrono::steady_clock;

namespace {

struct Envelope {
  std::string clientIp = "198.51.100.1", clientName = "unknown", helo = "unknown", sender, login;
  std::vector<std::string> rcpts;
};

struct CorpusMessage {
  std::string name;
  Envelope envelope;
  MessageParts parts;
};

struct Options {
  std::vector<std::string> milters;
  std::string corpus;
  std::vector<int> sessions = {1, 4, 16};
  int messages = 100;  // per session
  std::string logFile;
  double progress = 0;  // seconds between progress lines; 0: none
  int timeout = 30;
  int perConnection = 1;  // messages per SMTP session (milter connection)
  int holdMs = 0;         // a slow client: wait this long after HELO before the first MAIL
};

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Envelope readEnvelope(const std::filesystem::path& path) {
  Envelope e;
  std::istringstream in(readFile(path));
  for (std::string line; std::getline(in, line);) {
    const auto space = line.find(' ');
    const std::string key = line.substr(0, space), value = space == std::string::npos ? "" : line.substr(space + 1);
    if (key == "client_ip") e.clientIp = value;
    else if (key == "client_name") e.clientName = value;
    else if (key == "helo") e.helo = value;
    else if (key == "sender") e.sender = value;
    else if (key == "rcpt") e.rcpts.push_back(value);
    else if (key == "login") e.login = value == "-" ? "" : value;
    else if (!key.empty()) throw std::runtime_error(path.string() + ": unknown key '" + key + "'");
  }
  if (e.sender.empty() || e.rcpts.empty()) throw std::runtime_error(path.string() + ": needs sender and rcpt");
  return e;
}

std::vector<CorpusMessage> readCorpus(const std::string& dir) {
  std::vector<CorpusMessage> out;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(dir) / "mail")) {
    if (entry.path().extension() == ".eml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto env = f;
    env.replace_extension(".env");
    out.push_back({f.stem().string(), readEnvelope(env), splitMessage(readFile(f))});
  }
  if (out.empty()) throw std::runtime_error(dir + "/mail has no .eml files");
  return out;
}

// One milter of the chain, in one session.
struct Link {
  MilterClient client;
  bool leadingSpace = false;  // negotiated SMFIP_HDR_LEADSPC: header values keep their space
};

MilterClient connectSpec(const std::string& spec, std::chrono::milliseconds timeout) {
  if (spec.rfind("unix:", 0) == 0) return MilterClient::connectUnix(spec.substr(5), timeout);
  if (spec.rfind("inet:", 0) == 0) {
    const auto at = spec.find('@');
    if (at == std::string::npos) throw std::runtime_error("inet:PORT@ADDRESS expected: " + spec);
    return MilterClient::connectTcp(spec.substr(at + 1), static_cast<uint16_t>(std::stoi(spec.substr(5, at - 5))),
                                    timeout);
  }
  throw std::runtime_error("unix:/path or inet:PORT@ADDRESS expected: " + spec);
}

bool ends(const Response& r) { return r.action != 0 && r.action != SMFIR_CONTINUE && r.action != SMFIR_ACCEPT; }

// A milter's header changes, applied as the MTA would before the next milter sees the headers.
// Values are kept as " value" (with the space after the colon).
void applyChanges(const Response& r, bool leadingSpace, std::vector<std::pair<std::string, std::string>>& headers) {
  for (const auto& c : r.headers) {
    const std::string value = leadingSpace ? c.value : " " + c.value;
    if (c.kind == 'h') {
      headers.emplace_back(c.name, value);
    } else if (c.kind == 'i') {
      headers.insert(headers.begin() + std::min<size_t>(c.index, headers.size()), {c.name, value});
    } else if (c.kind == 'm') {
      uint32_t seen = 0;
      for (auto it = headers.begin(); it != headers.end(); ++it) {
        if (strcasecmp(it->first.c_str(), c.name.c_str()) == 0 && ++seen == c.index) {
          if (c.value.empty()) {
            headers.erase(it);
          } else {
            it->second = value;
          }
          break;
        }
      }
    }
  }
}

std::string describe(const Response& r) {
  std::string out(1, r.action ? r.action : '-');
  if (!r.reply.empty()) out += " \"" + r.reply + "\"";
  if (r.quarantine) out += " quarantine=\"" + *r.quarantine + "\"";
  for (const auto& c : r.headers) {
    std::string value;
    for (char ch : c.value) value += ch == '\n' || ch == '\t' ? ' ' : ch;  // one log line per milter
    out += std::string(" ") + c.kind + ":" + c.name + "=[" + value + "]";
  }
  return out;
}

// What the message came to, for the reply counts: the first ending reply, else quarantine or accept.
std::string outcome(const std::vector<Response>& eoms, const Response* ended) {
  if (ended) {
    switch (ended->action) {
      case SMFIR_REJECT: return "reject";
      case SMFIR_TEMPFAIL: return "tempfail";
      case SMFIR_DISCARD: return "discard";
      case SMFIR_REPLYCODE: return ended->reply.empty() ? "reply" : ended->reply[0] == '4' ? "tempfail" : "reject";
      default: return std::string("other:") + ended->action;
    }
  }
  for (const auto& r : eoms) {
    if (r.quarantine) return "quarantine";
  }
  return "accept";
}

struct Stats {
  std::vector<double> latencies;
  std::map<std::string, long> outcomes;
  int errors = 0;
};

class Bench {
 public:
  Bench(const Options& o, const std::vector<CorpusMessage>& corpus) : o_(o), corpus_(corpus) {
    if (!o.logFile.empty()) {
      log_.open(o.logFile, std::ios::app);
      if (!log_) throw std::runtime_error("cannot write " + o.logFile);
    }
  }

  // One load thread: its share of the messages, `perConnection` per SMTP session. Like
  // Postfix, every SMTP session opens its own connection to each milter; connect and HELO
  // carry the envelope of the session's first message.
  void session(int id, Stats& stats) {
    try {
      for (int n = 0; n < o_.messages;) {
        const auto pick = [&](int k) -> const CorpusMessage& {
          return corpus_[(static_cast<size_t>(id) * 7919 + static_cast<size_t>(k) * 104729) % corpus_.size()];
        };
        // A message's latency runs from the end of the one before (or, for the session's
        // first, from before connecting).
        auto start = Clock::now();
        std::vector<Link> chain = open(pick(n).envelope);
        // A slow client keeps its connection idle (this models the client; it synchronises nothing).
        if (o_.holdMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o_.holdMs));
        for (int k = 0; k < o_.perConnection && n < o_.messages; ++k, ++n) {
          one(chain, pick(n), id, n, stats);
          const auto now = Clock::now();
          stats.latencies.push_back(std::chrono::duration<double, std::milli>(now - start).count());
          start = now;
          ++done_;
        }
        for (auto& link : chain) link.client.quit();
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu_);
      std::cerr << "session " << id << " failed: " << e.what() << "\n";
      ++stats.errors;
    }
  }

  std::atomic<long> done_{0};

 private:
  std::vector<Link> open(const Envelope& e) {
    const auto timeout = std::chrono::seconds(o_.timeout);
    std::vector<Link> chain;
    for (const auto& spec : o_.milters) {
      Link link{connectSpec(spec, timeout)};
      link.leadingSpace = (link.client.negotiate().protocol & SMFIP_HDR_LEADSPC) != 0;
      link.client.macros('C', {{"j", "mx.local.bench"}, {"{daemon_name}", "MTA"}, {"_", e.clientName}});
      link.client.connect(e.clientName, '4', 40000, e.clientIp);
      link.client.helo(e.helo);
      chain.push_back(std::move(link));
    }
    return chain;
  }

  void one(std::vector<Link>& chain, const CorpusMessage& m, int id, int n, Stats& stats) {
    const std::string qid = "B" + std::to_string(id) + "N" + std::to_string(n);
    const Response* ended = nullptr;
    std::vector<Response> eoms(chain.size());
    std::vector<std::string> logLines(chain.size());
    std::vector<std::pair<std::string, std::string>> mailMacros = {{"i", qid}, {"{mail_addr}", m.envelope.sender}};
    if (!m.envelope.login.empty()) {
      mailMacros.insert(mailMacros.end(), {{"{auth_authen}", m.envelope.login}, {"{auth_type}", "PLAIN"}});
    }
    // Envelope: every milter sees MAIL and RCPT in turn. A milter that answers accept is done
    // with this message and, as the MTA does, is sent nothing more of it.
    std::vector<bool> done(chain.size(), false);
    std::vector<Response> steps;
    steps.reserve(chain.size() * (1 + m.envelope.rcpts.size()));
    const auto step = [&](size_t i, Response r) {
      steps.push_back(std::move(r));
      if (steps.back().action == SMFIR_ACCEPT) done[i] = true;
      if (ends(steps.back())) ended = &steps.back();
    };
    for (size_t i = 0; !ended && i < chain.size(); ++i) {
      chain[i].client.macros('M', mailMacros);
      step(i, chain[i].client.mailFrom({"<" + m.envelope.sender + ">"}));
    }
    for (size_t i = 0; !ended && i < chain.size(); ++i) {
      for (const auto& rcpt : m.envelope.rcpts) {
        if (ended || done[i]) break;
        chain[i].client.macros('R', {{"{rcpt_addr}", rcpt}});
        step(i, chain[i].client.rcpt({"<" + rcpt + ">"}));
      }
    }
    // Content: milter by milter, each seeing the header changes of those before it.
    auto headers = m.parts.headers;
    for (size_t i = 0; !ended && i < chain.size(); ++i) {
      if (done[i]) continue;
      auto& link = chain[i];
      std::vector<std::pair<std::string, std::string>> sent;
      for (const auto& [name, value] : headers) {
        sent.emplace_back(name, link.leadingSpace || value.empty() || value[0] != ' ' ? value : value.substr(1));
      }
      link.client.data();
      eoms[i] = link.client.sendMessage(sent, m.parts.body, {{"i", qid}});
      logLines[i] = describe(eoms[i]);
      if (ends(eoms[i])) {
        ended = &eoms[i];
        break;
      }
      applyChanges(eoms[i], link.leadingSpace, headers);
    }
    for (auto& link : chain) link.client.abort();
    const std::string result = outcome(eoms, ended);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats.outcomes[result];
    if (log_.is_open()) {
      for (size_t i = 0; i < chain.size(); ++i) {
        log_ << m.name << " milter" << (i + 1) << " " << (logLines[i].empty() ? "-" : logLines[i]) << "\n";
      }
      log_ << m.name << " result " << result << (ended && !ended->reply.empty() ? " \"" + ended->reply + "\"" : "")
           << "\n";
    }
  }

  const Options& o_;
  const std::vector<CorpusMessage>& corpus_;
  std::mutex mu_;
  std::ofstream log_;
};

constexpr const char* kUsage =
    "usage: authmilter-bench --milter SPEC [--milter SPEC ...] --corpus DIR [--sessions N[,N...]]\n"
    "                        [--messages M] [--per-connection K] [--hold MS] [--log FILE]\n"
    "                        [--progress SECONDS] [--timeout SECONDS]\n";

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
      const std::string value = argv[++i];
      if (flag == "--milter") o.milters.push_back(value);
      else if (flag == "--corpus") o.corpus = value;
      else if (flag == "--sessions") o.sessions = parseIntList(value);
      else if (flag == "--messages") o.messages = std::stoi(value);
      else if (flag == "--log") o.logFile = value;
      else if (flag == "--progress") o.progress = std::stod(value);
      else if (flag == "--timeout") o.timeout = std::stoi(value);
      else if (flag == "--per-connection") o.perConnection = std::max(1, std::stoi(value));
      else if (flag == "--hold") o.holdMs = std::max(0, std::stoi(value));
      else throw std::invalid_argument("unknown option " + flag);
    }
    if (o.milters.empty() || o.corpus.empty()) throw std::invalid_argument("--milter and --corpus are required");
  } catch (const std::exception& e) {
    std::cerr << "authmilter-bench: " << e.what() << "\n" << kUsage;
    return 64;
  }
  std::vector<CorpusMessage> corpus;
  try {
    corpus = readCorpus(o.corpus);
  } catch (const std::exception& e) {
    std::cerr << "authmilter-bench: " << e.what() << "\n";
    return 66;
  }
  std::printf("milters: ");
  for (size_t i = 0; i < o.milters.size(); ++i) std::printf("%s%s", i ? " -> " : "", o.milters[i].c_str());
  std::printf("\ncorpus: %zu messages in %s\n", corpus.size(), o.corpus.c_str());
  std::printf("%9s %9s %9s %8s %8s %8s %9s  %s\n", "sessions", "messages", "msgs/s", "p50 ms", "p90 ms", "p99 ms",
              "max ms", "outcomes");
  int failures = 0;
  for (int sessions : o.sessions) {
    Bench bench(o, corpus);
    std::vector<Stats> stats(static_cast<size_t>(sessions));
    const auto begin = Clock::now();
    std::vector<std::thread> threads;
    for (int s = 0; s < sessions; ++s) threads.emplace_back([&, s] { bench.session(s, stats[static_cast<size_t>(s)]); });
    std::atomic<bool> finished{false};
    std::thread progress;
    if (o.progress > 0) {
      progress = std::thread([&] {
        const long total = static_cast<long>(sessions) * o.messages;
        auto next = Clock::now();
        while (!finished) {
          next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.progress));
          while (!finished && Clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(50));
          if (!finished) std::fprintf(stderr, "  ... %ld of %ld messages\n", bench.done_.load(), total);
        }
      });
    }
    for (auto& t : threads) t.join();
    finished = true;
    if (progress.joinable()) progress.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    std::vector<double> all;
    std::map<std::string, long> outcomes;
    int errors = 0;
    for (auto& st : stats) {
      all.insert(all.end(), st.latencies.begin(), st.latencies.end());
      for (const auto& [k, v] : st.outcomes) outcomes[k] += v;
      errors += st.errors;
    }
    std::string kinds;
    for (const auto& [k, v] : outcomes) kinds += k + "=" + std::to_string(v) + " ";
    const double total = static_cast<double>(all.size());
    std::printf("%9d %9zu %9.0f %8.3f %8.3f %8.3f %9.3f  %s\n", sessions, all.size(), total / seconds,
                percentile(all, 0.5), percentile(all, 0.9), percentile(all, 0.99),
                all.empty() ? 0.0 : *std::max_element(all.begin(), all.end()), kinds.c_str());
    if (errors) std::printf("  %d sessions failed\n", errors);
    std::fflush(stdout);
    failures += errors;
  }
  return failures == 0 ? 0 : 1;
}
