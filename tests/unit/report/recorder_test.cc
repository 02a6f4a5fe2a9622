// DMARC aggregate-report records: how a record survives its storage key, and how the
// recorder never makes a caller wait on a slow store. (The stores themselves, SQLite and
// PostgreSQL: tests/integration/report_store_test.cc.)
#include "authmilter/report/recorder.h"
#include "aggregate_record_sample.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>


namespace authmilter::report {
namespace {

using namespace std::chrono_literals;

AggregateRecord sample(const std::string& ip = "192.0.2.7") {
  AggregateRecord r = testsupport::sampleRecord(ip);
  r.rua = "mailto:dmarc@example.com,mailto:x@y.example!10m";
  r.aspf = "s";
  r.dkim = {{"example.net", "s1", "pass"}, {"example.com", "sel,with space\\and\ttab", "fail"}};
  return r;
}

TEST(AggregateRecordTest, EveryFieldSurvivesItsKey) {
  const AggregateRecord r = sample();
  const auto back = AggregateRecord::fromKey(r.key());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, r);
  AggregateRecord noDkim = sample();
  noDkim.dkim.clear();
  EXPECT_EQ(*AggregateRecord::fromKey(noDkim.key()), noDkim);
  EXPECT_NE(sample("192.0.2.8").key(), r.key());
  EXPECT_FALSE(AggregateRecord::fromKey("too\tfew"));
  EXPECT_FALSE(AggregateRecord::fromKey(std::string(21, '\t') + "a b"));  // a DKIM result of two parts
}

// ARCTrustedSealers' reason comment is part of the key; keys stored before it existed (one
// field fewer) still read, with no comment.
TEST(AggregateRecordTest, OverrideCommentsRoundTripAndOlderKeysStillRead) {
  AggregateRecord r = sample();
  r.disposition = "none";
  r.override = "trusted_forwarder";
  r.overrideComment = "arc=pass as[2].d=fwd.example as[1].d=lists.example";
  EXPECT_EQ(*AggregateRecord::fromKey(r.key()), r);
  const AggregateRecord plain = sample();
  std::string old = plain.key();
  old.erase(old.rfind("\t\t"), 1);  // the empty comment field and its tab
  const auto back = AggregateRecord::fromKey(old);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, plain);
}

// A store that holds every add() until the test opens the gate, and can be made to fail.
class GatedStore : public RecordSink {
 public:
  void add(const std::vector<CountedRecord>& records) override {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    if (failing_) throw std::runtime_error("store down");
    for (const auto& r : records) total_ += r.count, rows_ += 1;
  }
  void open(bool failing = false) {
    std::lock_guard lock(mutex_);
    open_ = true;
    failing_ = failing;
    changed_.notify_all();
  }
  bool waitEntered(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return entered_ >= n; });
  }
  uint64_t total() {
    std::lock_guard lock(mutex_);
    return total_;
  }
  uint64_t rows() {
    std::lock_guard lock(mutex_);
    return rows_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false, failing_ = false;
  int entered_ = 0;
  uint64_t total_ = 0, rows_ = 0;
};

TEST(RecorderTest, ASlowStoreNeverHoldsUpTheCallerAndTheBoundIsCounted) {
  auto store = std::make_shared<GatedStore>();
  Recorder recorder(store, 3, 1h);  // stores only when flushed: the test decides when
  ASSERT_TRUE(recorder.record(sample()));
  recorder.flush(0ms);                   // the thread takes it and blocks in the store
  ASSERT_TRUE(store->waitEntered(1));
  // The store is stuck; the caller is not: three fit (one batch in the store counts against
  // the bound), the rest are dropped and counted.
  EXPECT_TRUE(recorder.record(sample()));
  EXPECT_TRUE(recorder.record(sample("192.0.2.8")));
  EXPECT_FALSE(recorder.record(sample()));
  EXPECT_EQ(recorder.dropped(), 1u);
  store->open();
  EXPECT_TRUE(recorder.flush(10s));
  EXPECT_EQ(store->total(), 3u);  // the first and the two queued ones
  EXPECT_EQ(recorder.stored(), 3u);
}

TEST(RecorderTest, AFailedBatchIsKeptAndStoredLaterCountedTogether) {
  auto store = std::make_shared<GatedStore>();
  Recorder recorder(store, 100, 1h);
  store->open(/*failing=*/true);
  recorder.record(sample());
  recorder.record(sample());
  EXPECT_TRUE(recorder.flush(10s));
  EXPECT_EQ(recorder.failures(), 1u);
  EXPECT_EQ(recorder.stored(), 0u);
  store->open(/*failing=*/false);
  recorder.record(sample());
  EXPECT_TRUE(recorder.flush(10s));
  EXPECT_EQ(recorder.stored(), 3u);
  EXPECT_EQ(store->total(), 3u);
  EXPECT_EQ(store->rows(), 1u);  // three equal records, one row with a count of 3
}

}  // namespace
}  // namespace authmilter::report
