// SQLite report store (see the header).
#include "authmilter/report/report_store.h"

#include <sqlite3.h>

#include <stdexcept>

namespace authmilter::report {

namespace {

struct Statement {
  sqlite3_stmt* stmt = nullptr;
  Statement(sqlite3* db, const char* sql, const std::string& path) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error("report store " + path + ": " + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(stmt); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
};

void bindText(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

}  // namespace

SqliteReportStore::SqliteReportStore(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("report store " + path + ": cannot open: " + why);
  }
  sqlite3_busy_timeout(db_, 5000);  // another writer (the reporter) holds the lock briefly
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const int version = schemaVersion();
    if (version > kSchemaVersion) {
      throw std::runtime_error("report store " + path + ": schema version " + std::to_string(version) +
                               " is newer than this authmilter knows (" + std::to_string(kSchemaVersion) + ")");
    }
    if (version < 1) {
      exec("BEGIN IMMEDIATE");
      exec("CREATE TABLE IF NOT EXISTS records ("
           " day TEXT NOT NULL, policy_domain TEXT NOT NULL, record TEXT NOT NULL UNIQUE,"
           " count INTEGER NOT NULL)");
      exec("CREATE INDEX IF NOT EXISTS records_by_day ON records (day, policy_domain)");
      exec("DELETE FROM schema_version");
      exec("INSERT INTO schema_version (version) VALUES (1)");
      exec("COMMIT");
    }
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

SqliteReportStore::~SqliteReportStore() { sqlite3_close(db_); }

void SqliteReportStore::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string why = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    throw std::runtime_error("report store " + path_ + ": " + why);
  }
}

int SqliteReportStore::schemaVersion() {
  Statement s(db_, "SELECT MAX(version) FROM schema_version", path_);
  if (sqlite3_step(s.stmt) != SQLITE_ROW || sqlite3_column_type(s.stmt, 0) == SQLITE_NULL) return 0;
  return sqlite3_column_int(s.stmt, 0);
}

void SqliteReportStore::add(const std::vector<CountedRecord>& records) {
  if (records.empty()) return;
  exec("BEGIN IMMEDIATE");
  try {
    Statement s(db_,
                "INSERT INTO records (day, policy_domain, record, count) VALUES (?1, ?2, ?3, ?4)"
                " ON CONFLICT (record) DO UPDATE SET count = count + excluded.count",
                path_);
    for (const auto& [record, count] : records) {
      sqlite3_reset(s.stmt);
      bindText(s.stmt, 1, record.day);
      bindText(s.stmt, 2, record.policyDomain);
      bindText(s.stmt, 3, record.key());
      sqlite3_bind_int64(s.stmt, 4, static_cast<sqlite3_int64>(count));
      if (sqlite3_step(s.stmt) != SQLITE_DONE) throw std::runtime_error("report store " + path_ + ": " + sqlite3_errmsg(db_));
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<CountedRecord> SqliteReportStore::rows(std::string_view day) {
  Statement s(db_, "SELECT record, count FROM records WHERE day = ?1 ORDER BY policy_domain, record", path_);
  bindText(s.stmt, 1, std::string(day));
  std::vector<CountedRecord> out;
  while (sqlite3_step(s.stmt) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s.stmt, 0));
    auto record = AggregateRecord::fromKey(text ? text : "");
    if (!record) throw std::runtime_error("report store " + path_ + ": unreadable record in the database");
    out.push_back({std::move(*record), static_cast<uint64_t>(sqlite3_column_int64(s.stmt, 1))});
  }
  return out;
}

}  // namespace authmilter::report
