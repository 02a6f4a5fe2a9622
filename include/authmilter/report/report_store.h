// Where DMARC aggregate-report records are kept until their report is sent, and the reports
// themselves. Records are counted as they are stored: one row per distinct record
// (AggregateRecord::key) with a count, never one row per message; several daemons may
// write into one store (PostgreSQL) and their counts add up in the same rows.
//
// A report is made once per policy domain and UTC day and kept ("frozen") with its
// report_id, before anything is sent: a failed or repeated run sends that same report
// again, never a second different one. Each destination's delivery is its own row, marked
// sent when ReportCommand took the message.
//
// The schema carries a version the program creates and migrates (schema_version).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/report/aggregate_record.h"
#include "authmilter/report/sql.h"

namespace authmilter::report {

struct CountedRecord {
  AggregateRecord record;
  uint64_t count = 0;
};

// What the recorder writes to.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // Adds `count` to each record's row, all in one transaction. Throws std::runtime_error
  // (saying what failed) when nothing could be stored.
  virtual void add(const std::vector<CountedRecord>& records) = 0;
};

struct StoredReport {
  std::string reportId, day, policyDomain;
  int64_t begin = 0, end = 0;  // the UTC day, seconds since the epoch (inclusive)
  std::string xml;
};

struct Delivery {
  std::string reportId, destination;  // destination: the rua= URI, as published
  std::string state;                  // "pending", "sent", "refused" (see deliveryState)
  int attempts = 0;
  std::string lastError;
};

class ReportStore : public RecordSink {
 public:
  static constexpr int kSchemaVersion = 2;

  // Opens "sqlite:PATH" (or a plain path) or "postgresql://..." / "postgres://...", creating
  // or migrating the schema. Throws std::runtime_error saying what is wrong; a schema newer
  // than this program knows is refused.
  static std::unique_ptr<ReportStore> open(const std::string& spec);
  explicit ReportStore(std::unique_ptr<SqlDatabase> db);

  void add(const std::vector<CountedRecord>& records) override;

  // Days (YYYY-MM-DD, ascending) that have records and no report yet for some policy domain.
  std::vector<std::string> unreportedDays(std::string_view before);
  // Policy domains with records on `day`, and the records of one of them.
  std::vector<std::string> policyDomains(std::string_view day);
  std::vector<CountedRecord> rows(std::string_view day, std::string_view policyDomain = {});

  std::optional<StoredReport> report(std::string_view day, std::string_view policyDomain);
  std::optional<StoredReport> reportById(std::string_view reportId);
  // Keeps `report` with one pending delivery per destination, unless a report for its day and
  // policy domain exists already (another run made it first): either way returns the one kept.
  StoredReport freeze(const StoredReport& report, const std::vector<std::string>& destinations);
  std::vector<Delivery> deliveries(std::string_view reportId);
  // Every delivery still pending, oldest report first.
  std::vector<Delivery> pendingDeliveries();
  // "sent", or "refused" (not sent, and never will be: suppressed, unverified): final.
  // "pending" with an error: tried, failed, tried again on the next run.
  void setDeliveryState(const Delivery& delivery, std::string_view state, std::string_view error);
  // Deletes records and reports of days before `day`.
  void purgeBefore(std::string_view day);

  int schemaVersion();
  SqlDatabase& database() { return *db_; }

 private:
  void migrate();
  std::unique_ptr<SqlDatabase> db_;
};

// SHA-256 of a record's key, in hex: its unique index (keys can be longer than an index entry).
std::string recordHash(std::string_view key);

}  // namespace authmilter::report
