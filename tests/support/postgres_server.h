// A private PostgreSQL server for tests: initdb into a temporary directory, then the real
// postgres (Debian's package) on 127.0.0.1 and a free port, its unix socket in that directory
// (never /var/run), trust authentication for the superuser "authmilter", durability off
// (fsync, synchronous_commit, full_page_writes). Stopped (pg_ctl -m immediate) and removed
// when destroyed. postgres refuses to run as root, so under root initdb and pg_ctl run as the
// "postgres" user (the package creates it), which then owns the directory.
#pragma once

#include <string>

#include "temp_dir.h"

namespace authmilter::testsupport {

class PostgresServer {
 public:
  // Starts the server and creates the database "authmilter". Throws std::runtime_error naming
  // the command that failed, with the tail of its output (and of the server's log).
  PostgresServer();
  ~PostgresServer();  // never throws; a server that will not stop is killed
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Whether the server binaries (initdb, pg_ctl, postgres, createdb) are there, and under root
  // the "postgres" user too; if not, unavailableReason() says what is missing. The binaries
  // are looked for in $AUTHMILTER_PG_BINDIR when set, else in the newest
  // /usr/lib/postgresql/N/bin.
  static bool available();
  static std::string unavailableReason();  // "" when available()

  // "postgresql://authmilter@127.0.0.1:PORT/DB", for PQconnectdb.
  std::string uri(const std::string& db = "authmilter") const;
  int port() const { return port_; }
  // CREATE DATABASE `name` (owned by "authmilter"); throws on failure (one that exists).
  void createDatabase(const std::string& name);

 private:
  void stop() noexcept;

  TempDir dir_;
  std::string binDir_;
  std::string dataDir_;
  std::string serverLog_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace authmilter::testsupport
