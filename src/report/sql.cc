// SQLite and PostgreSQL behind report::SqlDatabase (see the header).
#include "authmilter/report/sql.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <map>
#include <stdexcept>

namespace authmilter::report {

void SqlDatabase::rollback() noexcept {
  try {
    query("ROLLBACK");
  } catch (...) {
    // the transaction is gone either way (the connection dropped, or it never began)
  }
}

namespace {

class SqliteDatabase : public SqlDatabase {
 public:
  explicit SqliteDatabase(const std::string& path) : name_(path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("report store " + path + ": cannot open: " + why);
    }
    sqlite3_busy_timeout(db_, 10000);  // another writer (a daemon, the reporter) holds the lock briefly
    try {
      query("PRAGMA journal_mode=WAL");
      query("PRAGMA synchronous=NORMAL");  // WAL: durable at checkpoints, never corrupt
    } catch (...) {
      sqlite3_close(db_);
      throw;
    }
  }
  ~SqliteDatabase() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  Dialect dialect() const override { return Dialect::Sqlite; }
  const std::string& name() const override { return name_; }
  void begin() override { query("BEGIN IMMEDIATE"); }

  std::vector<SqlRow> run(std::string_view sql, const std::vector<std::string>& params) override {
    sqlite3_stmt* stmt = prepared(sql);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string name = "$" + std::to_string(i + 1);
      const int index = sqlite3_bind_parameter_index(stmt, name.c_str());
      if (index == 0) continue;  // not used by this statement
      sqlite3_bind_text(stmt, index, params[i].data(), static_cast<int>(params[i].size()), SQLITE_STATIC);
    }
    std::vector<SqlRow> rows;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      SqlRow row;
      const int columns = sqlite3_column_count(stmt);
      for (int c = 0; c < columns; ++c) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        row.emplace_back(text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, c))) : "");
      }
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) {
      const std::string why = sqlite3_errmsg(db_);
      sqlite3_reset(stmt);
      throw std::runtime_error("report store " + name_ + ": " + why);
    }
    sqlite3_reset(stmt);
    return rows;
  }

 private:
  sqlite3_stmt* prepared(std::string_view sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error("report store " + name_ + ": " + sqlite3_errmsg(db_));
    }
    return statements_.emplace(std::string(sql), stmt).first->second;
  }

  std::string name_;
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

// "postgresql://user:secret@host/db" -> "postgresql://user@host/db": never log a password.
std::string withoutPassword(const std::string& uri) {
  const auto scheme = uri.find("://");
  if (scheme == std::string::npos) return uri;
  const auto at = uri.find('@', scheme + 3);
  const auto colon = uri.find(':', scheme + 3);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return uri;
  return uri.substr(0, colon) + uri.substr(at);
}

class PostgresDatabase : public SqlDatabase {
 public:
  explicit PostgresDatabase(const std::string& uri) : name_(withoutPassword(uri)) {
    conn_ = PQconnectdb(uri.c_str());
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      const std::string why = conn_ ? PQerrorMessage(conn_) : "out of memory";
      PQfinish(conn_);
      throw std::runtime_error("report store " + name_ + ": cannot connect: " + trim(why));
    }
    query("SET client_min_messages = warning");  // no NOTICEs on stderr for IF NOT EXISTS
  }
  ~PostgresDatabase() override { PQfinish(conn_); }

  Dialect dialect() const override { return Dialect::Postgres; }
  const std::string& name() const override { return name_; }
  void begin() override { query("BEGIN"); }

  std::vector<SqlRow> run(std::string_view sql, const std::vector<std::string>& params) override {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    const std::string text(sql);
    PGresult* result = PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0);
    const auto status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const std::string why = result ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
      PQclear(result);
      throw std::runtime_error("report store " + name_ + ": " + trim(why));
    }
    std::vector<SqlRow> rows;
    const int n = PQntuples(result), columns = PQnfields(result);
    rows.reserve(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r) {
      SqlRow row;
      for (int c = 0; c < columns; ++c) row.emplace_back(PQgetvalue(result, r, c), PQgetlength(result, r, c));
      rows.push_back(std::move(row));
    }
    PQclear(result);
    return rows;
  }

 private:
  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    for (auto& ch : s) {
      if (ch == '\n') ch = ' ';
    }
    return s;
  }

  std::string name_;
  PGconn* conn_ = nullptr;
};

}  // namespace

std::unique_ptr<SqlDatabase> openSqlite(const std::string& path) { return std::make_unique<SqliteDatabase>(path); }
std::unique_ptr<SqlDatabase> openPostgres(const std::string& uri) { return std::make_unique<PostgresDatabase>(uri); }

}  // namespace authmilter::report
