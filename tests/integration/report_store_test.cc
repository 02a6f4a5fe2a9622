// The DMARC report store on both its databases, SQLite (a file) and PostgreSQL (a real
// server of our own on loopback): equal records counted in one row, two writers adding to
// the same rows without losing or doubling a count, a report kept once per policy domain and
// day whoever makes it first, delivery states, purging; and, for SQLite, the schema
// migration from version 1 and the refusal of a newer schema.
#include "authmilter/report/report_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "postgres_server.h"
#include "aggregate_record_sample.h"
#include "temp_dir.h"

namespace authmilter::report {
namespace {

using testsupport::PostgresServer;
using testsupport::TempDir;

AggregateRecord sample(const std::string& ip = "192.0.2.7", const std::string& day = "2026-12-05",
                       const std::string& domain = "example.com") {
  return testsupport::sampleRecord(ip, day, domain);
}

class ReportStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (!postgres_ && PostgresServer::available()) postgres_ = new PostgresServer();
  }
  static void TearDownTestSuite() {
    delete postgres_;
    postgres_ = nullptr;
  }
  void SetUp() override {
    if (GetParam() == "postgresql") {
      ASSERT_TRUE(PostgresServer::available()) << PostgresServer::unavailableReason();
      const std::string db = "t" + std::to_string(++databases_);
      postgres_->createDatabase(db);
      spec_ = postgres_->uri(db);
    } else {
      spec_ = "sqlite:" + dir_.file("reports.db");
    }
  }
  std::unique_ptr<ReportStore> open() { return ReportStore::open(spec_); }

  static inline PostgresServer* postgres_ = nullptr;
  static inline int databases_ = 0;
  TempDir dir_;
  std::string spec_;
};

TEST_P(ReportStoreTest, EqualRecordsShareOneRowWithACount) {
  {
    auto store = open();
    EXPECT_EQ(store->schemaVersion(), ReportStore::kSchemaVersion);
    store->add({{sample(), 2}, {sample("192.0.2.8"), 1}});
    store->add({{sample(), 3}});
    const auto rows = store->rows("2026-12-05");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].record, sample());
    EXPECT_EQ(rows[0].count, 5u);
    EXPECT_EQ(rows[1].count, 1u);
    EXPECT_TRUE(store->rows("2026-12-04").empty());
  }
  auto reopened = open();  // the rows and the schema stay
  EXPECT_EQ(reopened->rows("2026-12-05").size(), 2u);
}

// What two milter hosts do to one store: each adds its own batches through its own
// connection, at the same time, to the same rows. Every message is counted once.
TEST_P(ReportStoreTest, TwoWritersAtOnceLoseAndDoubleNothing) {
  open();  // the schema, made once
  constexpr int kBatches = 40;
  std::atomic<int> failures{0};
  auto writer = [&](const std::string& ownIp) {
    try {
      auto store = open();
      for (int i = 0; i < kBatches; ++i) store->add({{sample(), 1}, {sample(ownIp), 2}, {sample("192.0.2.99"), 3}});
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
      ++failures;
    }
  };
  std::thread a(writer, "192.0.2.10"), b(writer, "192.0.2.11");
  a.join();
  b.join();
  ASSERT_EQ(failures.load(), 0);
  uint64_t total = 0;
  for (const auto& row : open()->rows("2026-12-05")) {
    total += row.count;
    if (row.record.sourceIp == "192.0.2.7") {
      EXPECT_EQ(row.count, 2u * kBatches);
    } else if (row.record.sourceIp == "192.0.2.99") {
      EXPECT_EQ(row.count, 6u * kBatches);
    }
  }
  EXPECT_EQ(total, 2u * kBatches * 6u);
}

TEST_P(ReportStoreTest, AReportIsKeptOnceWhoeverMakesItFirst) {
  auto store = open();
  store->add({{sample(), 1}, {sample("192.0.2.1", "2026-12-05", "example.net"), 1},
              {sample("192.0.2.1", "2026-12-06"), 1}});
  EXPECT_EQ(store->unreportedDays("2026-12-07"), (std::vector<std::string>{"2026-12-05", "2026-12-06"}));
  EXPECT_EQ(store->unreportedDays("2026-12-06"), (std::vector<std::string>{"2026-12-05"}));
  EXPECT_EQ(store->policyDomains("2026-12-05"), (std::vector<std::string>{"example.com", "example.net"}));
  StoredReport first{"aaa111", "2026-12-05", "example.com", 100, 199, "<first/>"};
  StoredReport second{"bbb222", "2026-12-05", "example.com", 100, 199, "<second/>"};
  EXPECT_EQ(store->freeze(first, {"mailto:a@example.com", "mailto:b@example.org"}).reportId, "aaa111");
  const auto kept = open()->freeze(second, {"mailto:c@example.com"});  // another run, later
  EXPECT_EQ(kept.reportId, "aaa111");
  EXPECT_EQ(kept.xml, "<first/>");
  ASSERT_EQ(store->deliveries("aaa111").size(), 2u);
  EXPECT_TRUE(store->deliveries("bbb222").empty());
  // example.net on the 5th still has no report; the 6th neither.
  EXPECT_EQ(store->unreportedDays("2026-12-07"), (std::vector<std::string>{"2026-12-05", "2026-12-06"}));
  ASSERT_TRUE(store->reportById("aaa111"));
  EXPECT_EQ(store->reportById("aaa111")->policyDomain, "example.com");
}

TEST_P(ReportStoreTest, DeliveryStatesAndPurge) {
  auto store = open();
  store->add({{sample("192.0.2.1", "2026-12-01"), 1}, {sample("192.0.2.1", "2026-12-05"), 1}});
  store->freeze({"old1", "2026-12-01", "example.com", 1, 2, "<x/>"}, {"mailto:a@example.com"});
  store->freeze({"new1", "2026-12-05", "example.com", 3, 4, "<y/>"}, {"mailto:a@example.com", "mailto:b@example.com"});
  auto pending = store->pendingDeliveries();
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].reportId, "old1");  // oldest first
  store->setDeliveryState(pending[0], "sent", "");
  store->setDeliveryState(pending[1], "pending", "sendmail exited 75");
  store->setDeliveryState(pending[2], "refused", "suppressed");
  pending = store->pendingDeliveries();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].attempts, 1);
  EXPECT_EQ(pending[0].lastError, "sendmail exited 75");
  store->purgeBefore("2026-12-02");
  EXPECT_FALSE(store->reportById("old1"));
  EXPECT_TRUE(store->rows("2026-12-01").empty());
  EXPECT_EQ(store->rows("2026-12-05").size(), 1u);
  EXPECT_EQ(store->deliveries("new1").size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Databases, ReportStoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST(SqliteReportStoreTest, AnUnusablePathSaysWhich) {
  try {
    ReportStore::open("sqlite:/nonexistent-dir/reports.db");
    FAIL() << "opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/reports.db"), std::string::npos) << e.what();
  }
}

TEST(SqliteReportStoreTest, VersionOneIsMigratedWithItsRows) {
  TempDir dir;
  const std::string path = dir.file("v1.db");
  {
    auto db = openSqlite(path);  // the schema version 1 made
    db->query("CREATE TABLE schema_version (version INTEGER NOT NULL)");
    db->query("INSERT INTO schema_version (version) VALUES (1)");
    db->query("CREATE TABLE records (day TEXT NOT NULL, policy_domain TEXT NOT NULL, record TEXT NOT NULL UNIQUE,"
              " count INTEGER NOT NULL)");
    db->query("INSERT INTO records VALUES ($1, $2, $3, $4)", {"2026-12-05", "example.com", sample().key(), "7"});
  }
  auto store = ReportStore::open("sqlite:" + path);
  EXPECT_EQ(store->schemaVersion(), 2);
  const auto rows = store->rows("2026-12-05");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].record, sample());
  EXPECT_EQ(rows[0].count, 7u);
  store->add({{sample(), 1}});  // the migrated row is found by its hash
  EXPECT_EQ(store->rows("2026-12-05")[0].count, 8u);
}

TEST(SqliteReportStoreTest, ANewerSchemaIsRefused) {
  TempDir dir;
  const std::string path = dir.file("v9.db");
  {
    auto db = openSqlite(path);
    db->query("CREATE TABLE schema_version (version INTEGER NOT NULL)");
    db->query("INSERT INTO schema_version (version) VALUES (9)");
  }
  try {
    ReportStore::open("sqlite:" + path);
    FAIL() << "opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 9 is newer"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace authmilter::report
