// The report store (see the header). The queries are the same for SQLite and PostgreSQL;
// only the schema's column types differ.
#include "authmilter/report/report_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>

#include "authmilter/util/strings.h"


namespace authmilter::report {

std::string recordHash(std::string_view key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(key.data(), key.size(), digest, &length, EVP_sha256(), nullptr);
  return util::hexLower(digest, length);
}

std::unique_ptr<ReportStore> ReportStore::open(const std::string& spec) {
  if (spec.starts_with("postgresql://") || spec.starts_with("postgres://")) {
    return std::make_unique<ReportStore>(openPostgres(spec));
  }
  std::string path = spec.starts_with("sqlite:") ? spec.substr(7) : spec;
  if (path.empty()) throw std::runtime_error("report store: no file named in '" + spec + "'");
  return std::make_unique<ReportStore>(openSqlite(path));
}

ReportStore::ReportStore(std::unique_ptr<SqlDatabase> db) : db_(std::move(db)) { migrate(); }

int ReportStore::schemaVersion() {
  const auto rows = db_->query("SELECT MAX(version) FROM schema_version");
  if (rows.empty() || rows[0][0].empty()) return 0;
  return std::stoi(rows[0][0]);
}

// Version 1 (never released in a daemon): records keyed by the record text itself.
// Version 2: records keyed by the SHA-256 of the key, reports and deliveries.
void ReportStore::migrate() {
  const bool pg = db_->dialect() == SqlDatabase::Dialect::Postgres;
  const std::string integer = pg ? "BIGINT" : "INTEGER";
  db_->query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  SqlTransaction tx(*db_);
  if (pg) db_->query("LOCK TABLE schema_version IN EXCLUSIVE MODE");  // two daemons starting at once
  const int version = schemaVersion();
  if (version > kSchemaVersion) {
    throw std::runtime_error("report store " + db_->name() + ": schema version " + std::to_string(version) +
                             " is newer than this authmilter knows (" + std::to_string(kSchemaVersion) + ")");
  }
  if (version == kSchemaVersion) return;  // the transaction rolls back: nothing changed
  if (version == 1) db_->query("ALTER TABLE records RENAME TO records_v1");
  db_->query("CREATE TABLE records (record_hash TEXT PRIMARY KEY, day TEXT NOT NULL,"
             " policy_domain TEXT NOT NULL, record_key TEXT NOT NULL, count " + integer + " NOT NULL)");
  db_->query("CREATE INDEX records_by_day ON records (day, policy_domain)");
  db_->query("CREATE TABLE reports (report_id TEXT PRIMARY KEY, day TEXT NOT NULL, policy_domain TEXT NOT NULL,"
             " begin_time " + integer + " NOT NULL, end_time " + integer + " NOT NULL, report_xml TEXT NOT NULL,"
             " UNIQUE (day, policy_domain))");
  db_->query("CREATE TABLE deliveries (report_id TEXT NOT NULL REFERENCES reports (report_id) ON DELETE CASCADE,"
             " destination TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
             " last_error TEXT NOT NULL DEFAULT '', PRIMARY KEY (report_id, destination))");
  if (version == 1) {
    for (const auto& row : db_->query("SELECT day, policy_domain, record, count FROM records_v1")) {
      db_->query("INSERT INTO records (record_hash, day, policy_domain, record_key, count) VALUES ($1, $2, $3, $4, $5)",
                 {recordHash(row[2]), row[0], row[1], row[2], row[3]});
    }
    db_->query("DROP TABLE records_v1");
  }
  db_->query("DELETE FROM schema_version");
  db_->query("INSERT INTO schema_version (version) VALUES ($1)", {std::to_string(kSchemaVersion)});
  tx.commit();
}

void ReportStore::add(const std::vector<CountedRecord>& records) {
  if (records.empty()) return;
  // One order for every writer, so that two daemons' transactions cannot deadlock.
  struct Row {
    std::string hash, key;
    const CountedRecord* counted;
  };
  std::vector<Row> byHash;
  byHash.reserve(records.size());
  for (const auto& r : records) {
    std::string key = r.record.key();
    byHash.push_back({recordHash(key), std::move(key), &r});
  }
  std::sort(byHash.begin(), byHash.end(), [](const Row& a, const Row& b) { return a.hash < b.hash; });
  SqlTransaction tx(*db_);
  for (const auto& row : byHash) {
    const AggregateRecord& r = row.counted->record;
    db_->query("INSERT INTO records (record_hash, day, policy_domain, record_key, count) VALUES ($1, $2, $3, $4, $5)"
               " ON CONFLICT (record_hash) DO UPDATE SET count = records.count + excluded.count",
               {row.hash, r.day, r.policyDomain, row.key, std::to_string(row.counted->count)});
  }
  tx.commit();
}

std::vector<std::string> ReportStore::unreportedDays(std::string_view before) {
  std::vector<std::string> days;
  for (auto& row : db_->query("SELECT DISTINCT r.day FROM records r WHERE r.day < $1 AND NOT EXISTS"
                              " (SELECT 1 FROM reports p WHERE p.day = r.day AND p.policy_domain = r.policy_domain)"
                              " ORDER BY r.day",
                              {std::string(before)})) {
    days.push_back(std::move(row[0]));
  }
  return days;
}

std::vector<std::string> ReportStore::policyDomains(std::string_view day) {
  std::vector<std::string> out;
  for (auto& row : db_->query("SELECT DISTINCT policy_domain FROM records WHERE day = $1 ORDER BY policy_domain",
                              {std::string(day)})) {
    out.push_back(std::move(row[0]));
  }
  return out;
}

std::vector<CountedRecord> ReportStore::rows(std::string_view day, std::string_view policyDomain) {
  const auto result =
      policyDomain.empty()
          ? db_->query("SELECT record_key, count FROM records WHERE day = $1 ORDER BY policy_domain, record_key",
                       {std::string(day)})
          : db_->query("SELECT record_key, count FROM records WHERE day = $1 AND policy_domain = $2"
                       " ORDER BY record_key",
                       {std::string(day), std::string(policyDomain)});
  std::vector<CountedRecord> out;
  out.reserve(result.size());
  for (const auto& row : result) {
    auto record = AggregateRecord::fromKey(row[0]);
    if (!record) throw std::runtime_error("report store " + db_->name() + ": unreadable record in the database");
    out.push_back({std::move(*record), std::stoull(row[1])});
  }
  return out;
}

std::optional<StoredReport> ReportStore::report(std::string_view day, std::string_view policyDomain) {
  const auto rows = db_->query("SELECT report_id, begin_time, end_time, report_xml FROM reports"
                               " WHERE day = $1 AND policy_domain = $2",
                               {std::string(day), std::string(policyDomain)});
  if (rows.empty()) return std::nullopt;
  return StoredReport{rows[0][0], std::string(day), std::string(policyDomain), std::stoll(rows[0][1]),
                      std::stoll(rows[0][2]), rows[0][3]};
}

std::optional<StoredReport> ReportStore::reportById(std::string_view reportId) {
  const auto rows = db_->query("SELECT day, policy_domain FROM reports WHERE report_id = $1", {std::string(reportId)});
  if (rows.empty()) return std::nullopt;
  return report(rows[0][0], rows[0][1]);
}

StoredReport ReportStore::freeze(const StoredReport& r, const std::vector<std::string>& destinations) {
  {
    SqlTransaction tx(*db_);
    const auto inserted = db_->query(
        "INSERT INTO reports (report_id, day, policy_domain, begin_time, end_time, report_xml)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (day, policy_domain) DO NOTHING RETURNING report_id",
        {r.reportId, r.day, r.policyDomain, std::to_string(r.begin), std::to_string(r.end), r.xml});
    if (!inserted.empty()) {
      for (const auto& d : destinations) {
        db_->query("INSERT INTO deliveries (report_id, destination, state) VALUES ($1, $2, 'pending')"
                   " ON CONFLICT DO NOTHING",
                   {r.reportId, d});
      }
    }
    tx.commit();
  }
  auto kept = report(r.day, r.policyDomain);
  if (!kept) throw std::runtime_error("report store " + db_->name() + ": report " + r.reportId + " vanished");
  return *kept;
}

std::vector<Delivery> ReportStore::deliveries(std::string_view reportId) {
  std::vector<Delivery> out;
  for (auto& row : db_->query("SELECT report_id, destination, state, attempts, last_error FROM deliveries"
                              " WHERE report_id = $1 ORDER BY destination",
                              {std::string(reportId)})) {
    out.push_back({std::move(row[0]), std::move(row[1]), std::move(row[2]), std::stoi(row[3]), std::move(row[4])});
  }
  return out;
}

std::vector<Delivery> ReportStore::pendingDeliveries() {
  std::vector<Delivery> out;
  for (auto& row : db_->query("SELECT d.report_id, d.destination, d.state, d.attempts, d.last_error"
                              " FROM deliveries d JOIN reports r ON r.report_id = d.report_id"
                              " WHERE d.state = 'pending' ORDER BY r.day, r.policy_domain, d.destination")) {
    out.push_back({std::move(row[0]), std::move(row[1]), std::move(row[2]), std::stoi(row[3]), std::move(row[4])});
  }
  return out;
}

void ReportStore::setDeliveryState(const Delivery& d, std::string_view state, std::string_view error) {
  db_->query("UPDATE deliveries SET state = $3, attempts = attempts + 1, last_error = $4"
             " WHERE report_id = $1 AND destination = $2",
             {d.reportId, d.destination, std::string(state), std::string(error)});
}

void ReportStore::purgeBefore(std::string_view day) {
  SqlTransaction tx(*db_);
  db_->query("DELETE FROM deliveries WHERE report_id IN (SELECT report_id FROM reports WHERE day < $1)",
             {std::string(day)});
  db_->query("DELETE FROM reports WHERE day < $1", {std::string(day)});
  db_->query("DELETE FROM records WHERE day < $1", {std::string(day)});
  tx.commit();
}

}  // namespace authmilter::report
