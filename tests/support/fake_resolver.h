// A Resolver for unit tests: answers from a table, counts every call, and can hold
// lookups at a gate (to make several threads ask at the same time). An unscripted
// question is answered ServFail with a detail saying so, and counted in unscripted().
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "authmilter/dns/resolver.h"

namespace authmilter::testsupport {

class FakeResolver : public dns::Resolver {
 public:
  void set(const std::string& name, dns::RrType type, dns::DnsAnswer answer) {
    std::lock_guard lock(mutex_);
    answers_[{dns::canonicalName(name), type}] = std::move(answer);
  }
  // Convenience: an Ok answer with TXT (or other) records of one TTL.
  void setRecords(const std::string& name, dns::RrType type, std::vector<std::string> texts, uint32_t ttl) {
    dns::DnsAnswer a;
    a.status = dns::DnsStatus::Ok;
    a.ttl = ttl;
    a.canonicalName = name;
    for (auto& t : texts) a.records.push_back({std::move(t), 0});
    set(name, type, std::move(a));
  }
  void setStatus(const std::string& name, dns::RrType type, dns::DnsStatus status, uint32_t ttl) {
    dns::DnsAnswer a;
    a.status = status;
    a.ttl = ttl;
    a.canonicalName = name;
    set(name, type, std::move(a));
  }

  dns::DnsAnswer lookup(std::string_view name, dns::RrType type) override {
    std::unique_lock lock(mutex_);
    ++calls_[{dns::canonicalName(name), type}];
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    const auto it = answers_.find({dns::canonicalName(name), type});
    if (it == answers_.end()) {
      ++unscripted_;
      dns::DnsAnswer a;
      a.status = dns::DnsStatus::ServFail;
      a.detail = "unscripted question " + std::string(name) + " " + dns::rrTypeName(type);
      return a;
    }
    return it->second;
  }

  int calls(const std::string& name, dns::RrType type) const {
    std::lock_guard lock(mutex_);
    const auto it = calls_.find({dns::canonicalName(name), type});
    return it == calls_.end() ? 0 : it->second;
  }
  int unscripted() const {
    std::lock_guard lock(mutex_);
    return unscripted_;
  }

  // While closed, lookups wait inside the resolver (as on the wire).
  void closeGate() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void openGate() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits until `n` lookups in all have entered the resolver.
  void waitEntered(int n) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return entered_ >= n; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  int entered_ = 0;
  int unscripted_ = 0;
  std::map<std::pair<std::string, dns::RrType>, dns::DnsAnswer> answers_;
  std::map<std::pair<std::string, dns::RrType>, int> calls_;
};

}  // namespace authmilter::testsupport
