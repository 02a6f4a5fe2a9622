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

// `text` cut at every `sep`: the separators themselves are never escaped, and escapes never
// contain one, so this finds the fields; each is then unescaped on its own.
std::vector<std::string_view> cut(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = text.find(sep);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

// The value put() escaped; nullopt on a bad escape.
std::optional<std::string> unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    switch (text[i]) {
      case '\\': out += '\\'; break;
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'c': out += ','; break;
      case 's': out += ' '; break;
      default: return std::nullopt;
    }
  }
  return out;
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
                                   &headerFrom, &envelopeFrom, &spfDomain, &spfScope, &spfResult, &overrideComment}) {
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
  const auto raw = cut(key, '\t');
  AggregateRecord r;
  std::string* fields[] = {&r.policyDomain, &r.rua, &r.day, &r.p, &r.sp, &r.np, &r.adkim, &r.aspf, &r.testing,
                           &r.psd, &r.discovery, &r.sourceIp, &r.disposition, &r.dkimAligned, &r.spfAligned,
                           &r.override, &r.headerFrom, &r.envelopeFrom, &r.spfDomain, &r.spfScope, &r.spfResult,
                           &r.overrideComment};
  constexpr size_t kFields = sizeof fields / sizeof fields[0];
  // Keys stored before overrideComment existed have one field less.
  if (raw.size() != kFields + 1 && raw.size() != kFields) return std::nullopt;
  for (size_t i = 0; i + 1 < raw.size(); ++i) {
    auto value = unescape(raw[i]);
    if (!value) return std::nullopt;
    *fields[i] = std::move(*value);
  }
  if (raw.back().empty()) return r;
  for (const auto entry : cut(raw.back(), ',')) {
    const auto parts = cut(entry, ' ');
    if (parts.size() != 3) return std::nullopt;
    auto domain = unescape(parts[0]), selector = unescape(parts[1]), result = unescape(parts[2]);
    if (!domain || !selector || !result) return std::nullopt;
    r.dkim.push_back({std::move(*domain), std::move(*selector), std::move(*result)});
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
  if (m.dmarc->override) {
    r.override = m.dmarc->override->type;  // ARCTrustedSealers
    r.overrideComment = m.dmarc->override->comment;
  } else if (!o.lowered.empty()) {
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
