// RFC 9990 aggregate report XML, gzip, file names and rua= destinations (see the header).
#include "authmilter/report/aggregate_report.h"

#include <libxml/xmlwriter.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>

#include "authmilter/policy/domain_set.h"
#include "authmilter/util/strings.h"

namespace authmilter::report {

namespace {

// XML 1.0 cannot carry control characters, and a selector or domain taken from a message
// may hold anything: printable ASCII passes, every other byte becomes '?'.
std::string xmlSafe(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) {
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '?';
  }
  return out;
}

class Writer {
 public:
  Writer() : buffer_(xmlBufferCreate()), writer_(buffer_ ? xmlNewTextWriterMemory(buffer_, 0) : nullptr) {
    if (!writer_) throw std::runtime_error("libxml2: cannot make an XML writer");
    xmlTextWriterSetIndent(writer_, 1);
    xmlTextWriterSetIndentString(writer_, BAD_CAST "  ");
    check(xmlTextWriterStartDocument(writer_, "1.0", "UTF-8", nullptr));
  }
  ~Writer() {
    if (writer_) xmlFreeTextWriter(writer_);
    if (buffer_) xmlBufferFree(buffer_);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void root(const char* name, std::string_view ns) {
    const std::string n(ns);
    check(xmlTextWriterStartElementNS(writer_, nullptr, BAD_CAST name, BAD_CAST n.c_str()));
  }
  void start(const char* name) { check(xmlTextWriterStartElement(writer_, BAD_CAST name)); }
  void end() { check(xmlTextWriterEndElement(writer_)); }
  void element(const char* name, std::string_view value) {
    const std::string v = xmlSafe(value);
    check(xmlTextWriterWriteElement(writer_, BAD_CAST name, BAD_CAST v.c_str()));
  }
  void optional(const char* name, std::string_view value) {
    if (!value.empty()) element(name, value);
  }
  std::string finish() {
    check(xmlTextWriterEndDocument(writer_));
    xmlFreeTextWriter(writer_);  // flushes into the buffer
    writer_ = nullptr;
    return std::string(reinterpret_cast<const char*>(xmlBufferContent(buffer_)),
                       static_cast<size_t>(xmlBufferLength(buffer_)));
  }

 private:
  static void check(int rc) {
    if (rc < 0) throw std::runtime_error("libxml2: cannot write the report");
  }
  xmlBufferPtr buffer_;
  xmlTextWriterPtr writer_;
};

// RFC 9990 has no pct= and so no "sampled_out": an RFC 7489 pct= sample is "other".
void writeReason(Writer& w, std::string_view override, std::string_view comment) {
  if (override.empty()) return;
  w.start("reason");
  if (override == "sampled_out") {
    w.element("type", "other");
    w.element("comment", "sampled out by pct= (RFC 7489)");
  } else {
    w.element("type", override);
    w.optional("comment", comment);
  }
  w.end();
}

// RFC 9990 §3.1.3: passing signatures strictly aligned with the From domain first, then
// relaxed aligned ones (one domain at or below the other), then other passes, then the rest.
std::vector<DkimAuthResult> dkimInReportOrder(const AggregateRecord& r) {
  auto rank = [&](const DkimAuthResult& d) {
    if (d.result != "pass") return 3;
    if (d.domain == r.headerFrom) return 0;
    return util::isSelfOrBelow(d.domain, r.headerFrom) || util::isSelfOrBelow(r.headerFrom, d.domain) ? 1 : 2;
  };
  std::vector<DkimAuthResult> out = r.dkim;
  std::stable_sort(out.begin(), out.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  if (out.size() > kMaxDkimResults) out.resize(kMaxDkimResults);
  return out;
}

void writeRecord(Writer& w, const CountedRecord& counted) {
  const AggregateRecord& r = counted.record;
  const bool pass = r.dkimAligned == "pass" || r.spfAligned == "pass";
  w.start("record");
  w.start("row");
  w.element("source_ip", r.sourceIp);
  w.element("count", std::to_string(counted.count));
  w.start("policy_evaluated");
  w.element("disposition", pass ? "pass" : r.disposition);  // RFC 9990: "pass" when DMARC passed
  w.element("dkim", r.dkimAligned);
  w.element("spf", r.spfAligned);
  writeReason(w, r.override, r.overrideComment);
  w.end();
  w.end();
  w.start("identifiers");
  w.optional("envelope_from", r.envelopeFrom);
  w.element("header_from", r.headerFrom);
  w.end();
  w.start("auth_results");
  for (const auto& d : dkimInReportOrder(r)) {
    w.start("dkim");
    w.element("domain", d.domain);
    w.element("selector", d.selector);
    w.element("result", d.result);
    w.end();
  }
  if (!r.spfResult.empty()) {  // optional (RFC 9990 Appendix A); none when SPF was not checked
    w.start("spf");
    w.element("domain", r.spfDomain);
    if (r.spfScope == "mfrom") w.element("scope", "mfrom");  // "helo" is gone from RFC 9990
    w.element("result", r.spfResult);
    w.end();
  }
  w.end();
  w.end();
}

}  // namespace

std::string aggregateReportXml(const ReportMetadata& meta, const std::vector<CountedRecord>& records) {
  if (records.empty()) throw std::runtime_error("a report needs at least one record");
  const auto top = std::max_element(records.begin(), records.end(),
                                    [](const auto& a, const auto& b) { return a.count < b.count; });
  const AggregateRecord& policy = top->record;
  Writer w;
  w.root("feedback", kReportNamespace);
  w.element("version", "1.0");
  w.start("report_metadata");
  w.element("org_name", meta.orgName);
  w.element("email", meta.email);
  w.element("report_id", meta.reportId);
  w.start("date_range");
  w.element("begin", std::to_string(meta.begin));
  w.element("end", std::to_string(meta.end));
  w.end();
  w.optional("generator", meta.generator);
  w.end();
  w.start("policy_published");
  w.element("domain", policy.policyDomain);
  w.element("discovery_method", policy.discovery);
  w.element("p", policy.p.empty() ? "none" : policy.p);
  w.optional("sp", policy.sp);
  w.optional("np", policy.np);
  w.optional("adkim", policy.adkim);
  w.optional("aspf", policy.aspf);
  w.optional("testing", policy.testing);
  w.end();
  for (const auto& record : records) writeRecord(w, record);
  w.end();
  return w.finish();
}

std::string gzipped(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("zlib: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("zlib: deflate failed");
  return out;
}

std::string gunzipped(std::string_view data) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) throw std::runtime_error("zlib: inflateInit2 failed");
  std::string out;
  char chunk[65536];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      throw std::runtime_error("not gzip data");
    }
    out.append(chunk, sizeof chunk - z.avail_out);
  } while (rc != Z_STREAM_END);
  inflateEnd(&z);
  return out;
}

std::string reportFileName(std::string_view receiver, const StoredReport& report) {
  return std::string(receiver) + "!" + report.policyDomain + "!" + std::to_string(report.begin) + "!" +
         std::to_string(report.end) + "!" + report.reportId + ".xml.gz";
}

std::optional<std::pair<int64_t, int64_t>> dayRange(std::string_view day) {
  using namespace std::chrono;
  int y = 0;
  unsigned m = 0, d = 0;
  if (day.size() != 10 || day[4] != '-' || day[7] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (day[i] < '0' || day[i] > '9') return std::nullopt;
  }
  y = std::stoi(std::string(day.substr(0, 4)));
  m = static_cast<unsigned>(std::stoi(std::string(day.substr(5, 2))));
  d = static_cast<unsigned>(std::stoi(std::string(day.substr(8, 2))));
  const year_month_day ymd{year{y}, month{m}, std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  const int64_t begin = duration_cast<seconds>(sys_days{ymd}.time_since_epoch()).count();
  return std::pair{begin, begin + 86399};
}

std::string dayOf(int64_t secondsSinceEpoch) {
  using namespace std::chrono;
  const year_month_day ymd{floor<days>(sys_seconds{seconds{secondsSinceEpoch}})};
  char buf[16];
  snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
           static_cast<unsigned>(ymd.day()));
  return buf;
}

std::optional<std::string> ruaAddress(std::string_view uri) {
  uri = util::trim(uri);
  if (uri.size() < 7 || !util::iequals(uri.substr(0, 7), "mailto:")) return std::nullopt;
  std::string_view rest = uri.substr(7);
  if (const auto bang = rest.find('!'); bang != std::string_view::npos) rest = rest.substr(0, bang);  // size limit
  std::string address;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size() && std::isxdigit(static_cast<unsigned char>(rest[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(rest[i + 2]))) {
      address += static_cast<char>(std::stoi(std::string(rest.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      address += rest[i];
    }
  }
  const auto at = address.rfind('@');
  if (at == std::string::npos || at == 0 || address.find_first_of(" \t\r\n<>,;\"") != std::string::npos) {
    return std::nullopt;
  }
  const auto domain = policy::normalizeDomain(address.substr(at + 1));
  if (!domain || domain->front() == '[') return std::nullopt;
  return address.substr(0, at + 1) + *domain;
}

std::vector<std::string> ruaDestinations(const std::vector<CountedRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) {
    for (auto& u : util::splitList(r.record.rua)) {
      if (std::find(out.begin(), out.end(), u) == out.end()) out.push_back(std::move(u));
    }
  }
  return out;
}

}  // namespace authmilter::report
