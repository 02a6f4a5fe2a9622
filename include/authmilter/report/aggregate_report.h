// One DMARC aggregate report (RFC 9990): the XML of a policy domain's records for one UTC
// day (written with libxml2's writer, namespace urn:ietf:params:xml:ns:dmarc-2.0), gzipped
// (zlib), its file name, and the rua= destinations it goes to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/report/report_store.h"

namespace authmilter::report {

inline constexpr std::string_view kReportNamespace = "urn:ietf:params:xml:ns:dmarc-2.0";
inline constexpr size_t kMaxDkimResults = 100;  // per record (RFC 9990 Appendix A)

struct ReportMetadata {
  std::string orgName;    // <org_name>
  std::string email;      // <email>
  std::string reportId;   // <report_id>: letters and digits (it is also in the file name)
  std::string generator;  // <generator>: "authmilter 0.2.0"
  int64_t begin = 0, end = 0;  // <date_range>, seconds since the epoch, inclusive
};

// The report of `records` (all of one policy domain). The policy published is that of the
// most counted record (a domain that changed its record during the day is reported under
// the record most of its mail saw). Throws std::runtime_error if libxml2 fails.
std::string aggregateReportXml(const ReportMetadata& meta, const std::vector<CountedRecord>& records);

// gzip (RFC 1952) of `data`, byte-for-byte the same for the same input (no time, no name).
std::string gzipped(std::string_view data);
std::string gunzipped(std::string_view data);  // for the tests; throws on bad input

// "receiver!policy-domain!begin!end!report-id.xml.gz" (RFC 9990 §2.5.1 file name).
std::string reportFileName(std::string_view receiver, const StoredReport& report);

// A UTC day "YYYY-MM-DD" as [begin, end] seconds; nullopt if it is not a date.
std::optional<std::pair<int64_t, int64_t>> dayRange(std::string_view day);
std::string dayOf(int64_t secondsSinceEpoch);  // the UTC day a time falls in

// A rua= URI's address: "mailto:dmarc@example.com!10m" -> "dmarc@example.com" (the size
// limit is ignored, %-escapes decoded, the domain lower-cased); nullopt for any other
// scheme or a malformed address.
std::optional<std::string> ruaAddress(std::string_view uri);
// The destinations of a set of records: every distinct rua= URI they carry, in order.
std::vector<std::string> ruaDestinations(const std::vector<CountedRecord>& records);

}  // namespace authmilter::report
