// The report recorder (see the header).
#include "authmilter/report/recorder.h"

#include "authmilter/metrics/metrics.h"
#include "authmilter/log/logger.h"

namespace authmilter::report {

Recorder::Recorder(std::shared_ptr<RecordSink> store, size_t capacity, std::chrono::milliseconds interval)
    : store_(std::move(store)), capacity_(capacity), interval_(interval), thread_([this] { run(); }) {}

Recorder::~Recorder() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool Recorder::record(AggregateRecord record) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() + retryRecords_ < capacity_) {
      queue_.push_back(std::move(record));
      ++accepted_;
      return true;
    }
  }
  const uint64_t n = ++dropped_;
  metrics::countReportRecordDropped();
  if (n == 1 || n % 1000 == 0) {
    log::warning("DMARC report records dropped: the report store cannot keep up (" + std::to_string(n) +
                 " so far; ReportQueueSize " + std::to_string(capacity_) + ")");
  }
  return false;
}

bool Recorder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const uint64_t target = accepted_;
  flushRequested_ = true;
  wake_.notify_all();
  return done_.wait_for(lock, timeout, [&] { return handled_ >= target; });
}

size_t Recorder::unstored() {
  std::lock_guard lock(mutex_);
  return queue_.size() + retryRecords_;
}

// Takes the queue (the lock is held only for the swap: sessions never wait on the counting
// or the store), counts equal records together with any batch still to be stored, and gives
// them to the store. retry_ belongs to this thread alone; retryRecords_ (read by record()
// for the bound) changes under the lock. True when the store took them.
bool Recorder::storeBatch(std::unique_lock<std::mutex>& lock) {
  std::vector<AggregateRecord> batch;
  batch.swap(queue_);
  taken_ += batch.size();
  retryRecords_ += batch.size();
  const size_t records = retryRecords_;
  lock.unlock();
  for (auto& r : batch) {
    auto key = r.key();
    auto [it, inserted] = retryIndex_.try_emplace(std::move(key), retry_.size());
    if (inserted) retry_.push_back({std::move(r), 0});
    ++retry_[it->second].count;
  }
  bool ok = true;
  if (!retry_.empty()) {
    try {
      store_->add(retry_);
    } catch (const std::exception& e) {
      ok = false;
      ++failures_;
      log::error(std::string("DMARC report records not stored (kept, tried again): ") + e.what());
    }
    if (ok) {
      retry_.clear();
      retryIndex_.clear();
    }
  }
  lock.lock();
  if (ok) {
    stored_ += records;
    retryRecords_ -= records;
  }
  handled_ = taken_;
  done_.notify_all();
  return ok;
}

void Recorder::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, interval_, [&] { return stop_ || flushRequested_; });
    flushRequested_ = false;
    storeBatch(lock);
    if (stop_) return;
  }
}

namespace {

class ReopeningStore : public RecordSink {
 public:
  explicit ReopeningStore(std::string spec) : spec_(std::move(spec)) {}
  void add(const std::vector<CountedRecord>& records) override {
    try {
      if (!store_) store_ = ReportStore::open(spec_);
      store_->add(records);
    } catch (...) {
      store_.reset();  // connect afresh next time
      throw;
    }
  }

 private:
  std::string spec_;
  std::unique_ptr<ReportStore> store_;
};

}  // namespace

std::shared_ptr<RecordSink> reopeningStore(std::string spec) { return std::make_shared<ReopeningStore>(std::move(spec)); }

}  // namespace authmilter::report
