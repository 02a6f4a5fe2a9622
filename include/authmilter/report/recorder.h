// Hands aggregate-report records from the mail path to a report store without ever making a
// session wait on it: record() puts the record in a bounded in-memory queue (or, when the
// queue is full, drops it and counts the drop) and returns at once; one thread takes the
// queue in batches, counts equal records together and stores them. If the store is slow or
// down, mail goes on at full speed: a failed batch is kept and tried again, new records
// past the bound are dropped, counted and logged (the first, then every 1000th).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "authmilter/report/report_store.h"

namespace authmilter::report {

class Recorder {
 public:
  // `capacity`: records held at most (queued plus a batch waiting to be stored again).
  // `interval`: how often the thread stores what is queued.
  Recorder(std::shared_ptr<RecordSink> store, size_t capacity, std::chrono::milliseconds interval);
  ~Recorder();  // stores what is queued (one last try), then stops
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Never waits for the store. False when the record was dropped (queue full).
  bool record(AggregateRecord record);
  // Waits until everything recorded before the call has been given to the store (stored
  // or failed); for shutdown and the tests. Bounded by `timeout`; false if it ran out.
  bool flush(std::chrono::milliseconds timeout);

  // Records held and not yet stored (queued, or in a batch the store refused).
  size_t unstored();
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t stored() const { return stored_.load(); }   // records (messages) stored
  uint64_t failures() const { return failures_.load(); }  // batches the store refused

 private:
  void run();
  bool storeBatch(std::unique_lock<std::mutex>& lock);

  std::shared_ptr<RecordSink> store_;
  size_t capacity_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<AggregateRecord> queue_;
  // Counted and not yet stored, and where each key is in it (the thread's own).
  std::vector<CountedRecord> retry_;
  std::unordered_map<std::string, size_t> retryIndex_;
  size_t retryRecords_ = 0;                     // records taken and not yet stored (under mutex_)
  uint64_t taken_ = 0;    // records taken from the queue so far
  uint64_t handled_ = 0;  // records given to the store so far (stored or failed)
  uint64_t accepted_ = 0; // records ever queued
  bool stop_ = false;
  bool flushRequested_ = false;
  std::atomic<uint64_t> dropped_{0}, stored_{0}, failures_{0};
  std::thread thread_;
};

// The store ReportStore names ("sqlite:PATH", "postgresql://..."), opened on first use and
// again after a failure (a PostgreSQL server that restarts or is down when the daemon starts
// costs records past ReportQueueSize, never mail).
std::shared_ptr<RecordSink> reopeningStore(std::string spec);

}  // namespace authmilter::report
