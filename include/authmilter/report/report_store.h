// Where DMARC aggregate-report records are kept until a report is sent. Records are counted
// as they are stored: one row per distinct record (AggregateRecord::key) with a count, never
// one row per message. SqliteReportStore is the embedded store (one file, WAL); the schema
// carries a version the program creates and migrates.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authmilter/report/aggregate_record.h"

struct sqlite3;

namespace authmilter::report {

struct CountedRecord {
  AggregateRecord record;
  uint64_t count = 0;
};

class ReportStore {
 public:
  virtual ~ReportStore() = default;
  // Adds `count` to each record's row, all in one transaction. Throws std::runtime_error
  // (saying what failed) when nothing could be stored.
  virtual void add(const std::vector<CountedRecord>& records) = 0;
};

class SqliteReportStore : public ReportStore {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens (creating it and its tables if needed) the database at `path`. Throws
  // std::runtime_error naming the file when it cannot be opened, or when its schema is
  // newer than this program knows.
  explicit SqliteReportStore(const std::string& path);
  ~SqliteReportStore() override;
  SqliteReportStore(const SqliteReportStore&) = delete;
  SqliteReportStore& operator=(const SqliteReportStore&) = delete;

  void add(const std::vector<CountedRecord>& records) override;
  // The rows of one UTC day ("YYYY-MM-DD"), for the reporter and the tests.
  std::vector<CountedRecord> rows(std::string_view day);
  int schemaVersion();

 private:
  void exec(const char* sql);
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace authmilter::report
