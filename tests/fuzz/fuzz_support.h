// What the libFuzzer targets share: the invariant check (abort, so libFuzzer keeps the
// input), splitting an input into fields, a resolver that answers from a fixed table and
// remembers nothing (a fuzz run asks millions of distinct names), and a logger that keeps
// only the last line. Header-only; each target is one .cc with LLVMFuzzerTestOneInput.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authmilter/dns/resolver.h"
#include "authmilter/log/logger.h"

// An invariant of the code under test: on violation print it and abort (libFuzzer then
// saves the input as a crash).
#define FUZZ_CHECK(cond)                                                                         \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "fuzz invariant violated: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

namespace authmilter::fuzz {

inline std::string_view asText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input cut at each `separator`; at most `maxFields` fields (the last takes the rest).
inline std::vector<std::string_view> splitFields(std::string_view input, char separator, size_t maxFields) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < maxFields) {
    const size_t cut = input.find(separator);
    if (cut == std::string_view::npos) break;
    out.push_back(input.substr(0, cut));
    input.remove_prefix(cut + 1);
  }
  out.push_back(input);
  return out;
}

// Answers from a table set up once; anything else NXDOMAIN. No per-query state.
class TableResolver : public dns::Resolver {
 public:
  void setRecords(const std::string& name, dns::RrType type, std::vector<std::string> texts) {
    dns::DnsAnswer a;
    a.status = dns::DnsStatus::Ok;
    a.ttl = 300;
    a.canonicalName = name;
    for (auto& t : texts) a.records.push_back({std::move(t), 0});
    answers_[{dns::canonicalName(name), type}] = std::move(a);
  }
  void setStatus(const std::string& name, dns::RrType type, dns::DnsStatus status) {
    dns::DnsAnswer a;
    a.status = status;
    a.canonicalName = name;
    answers_[{dns::canonicalName(name), type}] = std::move(a);
  }
  dns::DnsAnswer lookup(std::string_view name, dns::RrType type) override {
    const auto it = answers_.find({dns::canonicalName(name), type});
    if (it != answers_.end()) return it->second;
    dns::DnsAnswer a;
    a.status = dns::DnsStatus::NxDomain;
    a.canonicalName = std::string(name);
    return a;
  }

 private:
  std::map<std::pair<std::string, dns::RrType>, dns::DnsAnswer> answers_;
};

// Keeps the last line written (the transaction's log line is checked from the End).
class LastLineLogger : public log::Logger {
 public:
  void write(log::LogLevel, std::string_view line) override {
    std::lock_guard lock(mutex_);
    last_.assign(line);
  }

 private:
  std::mutex mutex_;
  std::string last_;
};

// Installs a LastLineLogger once, so nothing a target runs writes to syslog or stderr.
inline void quietLogs() {
  static const bool done = [] {
    log::setLogger(std::make_shared<LastLineLogger>());
    return true;
  }();
  (void)done;
}

}  // namespace authmilter::fuzz
