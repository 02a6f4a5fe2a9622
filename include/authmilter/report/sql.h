// The little SQL the report store needs, over SQLite (libsqlite3) and PostgreSQL (libpq):
// statements with text parameters $1..$n, rows of text, transactions. The store's queries
// are written once against this; only the schema's types differ by dialect.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace authmilter::report {

using SqlRow = std::vector<std::string>;  // every column as text; NULL as ""

class SqlDatabase {
 public:
  enum class Dialect { Sqlite, Postgres };
  virtual ~SqlDatabase() = default;
  virtual Dialect dialect() const = 0;
  // Runs one statement with parameters $1..$n bound as text. Throws std::runtime_error
  // naming the database (never its password) and saying what failed.
  std::vector<SqlRow> query(std::string_view sql, const std::vector<std::string>& params = {}) {
    return run(sql, params);
  }
  // A write transaction: SQLite takes the write lock at once (BEGIN IMMEDIATE).
  virtual void begin() = 0;
  void commit() { query("COMMIT"); }
  void rollback() noexcept;
  virtual const std::string& name() const = 0;  // for messages

 protected:
  virtual std::vector<SqlRow> run(std::string_view sql, const std::vector<std::string>& params) = 0;
};

// Opens (creating it) the SQLite file at `path`, in WAL mode.
std::unique_ptr<SqlDatabase> openSqlite(const std::string& path);
// Connects to the PostgreSQL server a libpq URI names ("postgresql://user@host:port/db",
// any libpq connection string works). Throws when it cannot connect.
std::unique_ptr<SqlDatabase> openPostgres(const std::string& uri);

// Commits at the end of the scope unless commit() ran or an exception is leaving: then rolls back.
class SqlTransaction {
 public:
  explicit SqlTransaction(SqlDatabase& db) : db_(db) { db_.begin(); }
  ~SqlTransaction() {
    if (!done_) db_.rollback();
  }
  SqlTransaction(const SqlTransaction&) = delete;
  SqlTransaction& operator=(const SqlTransaction&) = delete;
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  SqlDatabase& db_;
  bool done_ = false;
};

}  // namespace authmilter::report
