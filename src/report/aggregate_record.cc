// Aggregate-report records (see the header).
#include "authmilter/report/aggregate_record.h"

#include <ctime>

namespace authmilter::report {

namespace {

// Fields are separated by tabs, DKIM results by commas and their parts by spaces; those
// characters (and the escape) are escaped inside values, so any value round-trips.
void put(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case ',': out += "\\c"; break;
      case ' ': out += "\\s"; break;
      default: out += c;
    }
  }
}

// Splits `text` at unescaped `sep` and unescapes each part; nullopt on a bad escape.
std::optional<std::vector<std::string>> split(std::string_view text, char sep) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == sep) {
      parts.emplace_back();
    } else if (c == '\\') {
      if (++i == text.size()) return std::nullopt;
      switch (text[i]) {
        case '\\': parts.back() += '\\'; break;
        case 't': parts.back() += '\t'; break;
        case 'n': parts.back() += '\n'; break;
        case 'c': parts.back() += ','; break;
        case 's': parts.back() += ' '; break;
        default: return std::nullopt;
      }
    } else {
      parts.back() += c;
    }
  }
  return parts;
}

std::string policyName(dmarc::Policy p) { return std::string(dmarc::toString(p)); }

std::string utcDay(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char day[16];
  std::strftime(day, sizeof day, "%Y-%m-%d", &tm);
  return day;
}

}  // namespace

std::string AggregateRecord::key() const {
  std::string out;
  for (const std::string* field : {&policyDomain, &rua, &day, &p, &sp, &np, &adkim, &aspf, &testing, &psd,
                                   &discovery, &sourceIp, &disposition, &dkimAligned, &spfAligned, &override,
                                   &headerFrom, &envelopeFrom, &spfDomain, &spfScope, &spfResult}) {
    put(out, *field);
    out += '\t';
  }
  for (size_t i = 0; i < dkim.size(); ++i) {
    if (i > 0) out += ',';
    put(out, dkim[i].domain);
    out += ' ';
    put(out, dkim[i].selector);
    out += ' ';
    put(out, dkim[i].result);
  }
  return out;
}

std::optional<AggregateRecord> AggregateRecord::fromKey(std::string_view key) {
  // Tabs are never inside a field (escaped), so a plain split finds the fields; each field
  // is unescaped by split() below.
  std::vector<std::string_view> raw;
  size_t start = 0;
  while (true) {
    const size_t tab = key.find('\t', start);
    raw.push_back(key.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  AggregateRecord r;
  std::string* fields[] = {&r.policyDomain, &r.rua, &r.day, &r.p, &r.sp, &r.np, &r.adkim, &r.aspf, &r.testing,
                           &r.psd, &r.discovery, &r.sourceIp, &r.disposition, &r.dkimAligned, &r.spfAligned,
                           &r.override, &r.headerFrom, &r.envelopeFrom, &r.spfDomain, &r.spfScope, &r.spfResult};
  constexpr size_t kFields = sizeof fields / sizeof fields[0];
  if (raw.size() != kFields + 1) return std::nullopt;
  for (size_t i = 0; i < kFields; ++i) {
    auto value = split(raw[i], '\t');
    if (!value || value->size() != 1) return std::nullopt;
    *fields[i] = std::move(value->front());
  }
  if (!raw.back().empty()) {
    // DKIM results: unescape after splitting at the unescaped separators.
    std::vector<std::string_view> entries;
    size_t from = 0;
    while (true) {
      const size_t comma = raw.back().find(',', from);
      entries.push_back(raw.back().substr(from, comma == std::string_view::npos ? std::string_view::npos : comma - from));
      if (comma == std::string_view::npos) break;
      from = comma + 1;
    }
    for (const auto entry : entries) {
      std::vector<std::string> parts;
      size_t at = 0;
      while (true) {
        const size_t space = entry.find(' ', at);
        auto part = split(entry.substr(at, space == std::string_view::npos ? std::string_view::npos : space - at), ' ');
        if (!part || part->size() != 1) return std::nullopt;
        parts.push_back(std::move(part->front()));
        if (space == std::string_view::npos) break;
        at = space + 1;
      }
      if (parts.size() != 3) return std::nullopt;
      r.dkim.push_back({parts[0], parts[1], parts[2]});
    }
  }
  return r;
}

std::optional<AggregateRecord> aggregateRecordOf(const pipeline::Message& m, std::string_view discovery,
                                                 std::chrono::system_clock::time_point when) {
  if (!m.dmarc || !m.dmarc->evaluation) return std::nullopt;
  const dmarc::Outcome& o = *m.dmarc->evaluation;
  if (!o.record || o.record->rua.empty()) return std::nullopt;
  const dmarc::Record& rec = *o.record;
  AggregateRecord r;
  r.policyDomain = o.policyDomain;
  for (const auto& uri : rec.rua) r.rua += (r.rua.empty() ? "" : ",") + uri;
  r.day = utcDay(when);
  r.p = policyName(rec.p);
  r.sp = policyName(rec.sp);
  r.np = policyName(rec.np);
  r.adkim = rec.strictDkim ? "s" : "r";
  r.aspf = rec.strictSpf ? "s" : "r";
  r.testing = rec.testing ? "y" : "n";
  r.psd = std::string(1, rec.psd);
  r.discovery = std::string(discovery);
  r.sourceIp = o.sourceIp;
  r.disposition = policyName(m.dmarc->applied);
  if (r.disposition.empty()) r.disposition = "none";
  r.dkimAligned = o.dkimAligned.empty() ? "fail" : "pass";
  r.spfAligned = o.spfAligned ? "pass" : "fail";
  if (!o.lowered.empty()) {
    r.override = o.lowered.starts_with("t=") ? "policy_test_mode" : "sampled_out";
  } else if (o.result == dmarc::Result::Fail && m.dmarc->applied != o.disposition) {
    r.override = "local_policy";  // RejectFailures no
  }
  r.headerFrom = o.authorDomain;
  r.envelopeFrom = m.sender.null ? std::string() : m.sender.domain;
  if (m.spf && m.spf->skipped == pipeline::Skip::None) {
    r.spfDomain = m.spf->mailFrom.domain;
    r.spfScope = m.spf->mailFrom.property == "smtp.helo" ? "helo" : "mfrom";
    r.spfResult = std::string(pipeline::toString(m.spf->mailFrom.result));
  }
  if (m.dkim) {
    for (const auto& d : m.dkim->signatures) {
      r.dkim.push_back({d.domain, d.selector, std::string(pipeline::toString(d.result))});
    }
  }
  return r;
}

}  // namespace authmilter::report
