// opendmarc.conf(5) and policyd-spf.conf(5) keys, each mapped to an authmilter setting or
// reported with the reason. Where OpenDMARC's default differs from authmilter's in a way the
// postmaster would notice on the first day (RejectFailures, HoldQuarantinedMessages), the
// old behaviour is written out, with a comment saying how to switch.
#include <algorithm>
#include <charconv>

#include "authmilter/config/settings.h"
#include "authmilter/import/mapper.h"
#include "authmilter/util/strings.h"

namespace authmilter::import {

namespace {

constexpr std::string_view kOwnChecks =
    "authmilter checks SPF and DKIM itself, in the same process, and reads no results from headers";
constexpr std::string_view kNoExemptions = "authmilter has no per-domain exemptions; IgnoreHosts exempts clients";

constexpr FixedKey kOpenDmarcFixed[] = {
    {"SPFIgnoreResults", Status::NotNeeded, kOwnChecks},
    {"SPFSelfValidate", Status::NotNeeded, kOwnChecks},
    {"TrustedAuthservIDs", Status::NotNeeded, kOwnChecks},
    {"IgnoreDomains", Status::CannotMap, kNoExemptions},
    {"IgnoreMailFrom", Status::CannotMap, kNoExemptions},
    {"CopyFailuresTo", Status::CannotMap, "authmilter sends no copies of failing messages (FailureReportsBcc copies reports)"},
    {"RecordAllMessages", Status::CannotMap,
     "authmilter records evaluations of domains that ask for aggregate reports (rua=) only"},
};

bool isAddress(std::string_view text) {
  const auto at = text.rfind('@');
  return at != std::string_view::npos && at > 0 && at + 1 < text.size() && text.find_first_of(" \t<>\",") == std::string_view::npos;
}

class OpenDmarcMapper {
 public:
  OpenDmarcMapper(const std::vector<ConfLine>& lines, Mapper& mapper, const std::string& file)
      : lines_(lines), m_(mapper), file_(file) {}

  void run() {
    for (const auto& line : lines_) {
      if (!mapKey(line) && !mapCommonKey(line, m_) && !reportFixed(line, kOpenDmarcFixed, m_)) {
        m_.report(line, Status::CannotMap, "not an opendmarc.conf key authmilter-import knows");
      }
    }
    finishFailureReports();
    // OpenDMARC's defaults where authmilter's would change what happens to mail.
    if (!seen("RejectFailures")) {
      m_.setDerived(file_, "RejectFailures", "no",
                    "RejectFailures not set: OpenDMARC's default (false) only reported DMARC failures; authmilter's "
                    "default (yes) enforces p=reject and p=quarantine: say yes when ready");
    }
    if (!seen("HoldQuarantinedMessages")) {
      m_.setDerived(file_, "QuarantineAction", "header",
                    "HoldQuarantinedMessages not set: OpenDMARC's default (false) delivered p=quarantine mail; "
                    "authmilter's default holds it (QuarantineAction quarantine)");
    }
    if (!seen("IgnoreAuthenticatedClients")) {
      m_.reportAt(file_, "IgnoreAuthenticatedClients", Status::Note,
                  "not set: OpenDMARC checked authenticated clients' mail; authmilter does not (its default): it "
                  "checks DMARC before it signs, so their own mail would fail");
    }
  }

 private:
  bool is(const ConfLine& line, std::string_view key) const { return util::iequals(line.key, key); }
  bool seen(std::string_view key) const {
    return std::any_of(lines_.begin(), lines_.end(), [&](const ConfLine& l) { return util::iequals(l.key, key); });
  }

  // A boolean key: `ifTrue`/`ifFalse` say what each value means; a setting name maps it.
  void flag(const ConfLine& line, std::string_view setting, bool authmilterDefault, std::string_view note = {}) {
    const auto on = parseBoolOrReport(line, m_);
    if (!on) return;
    if (*on == authmilterDefault) {
      m_.report(line, Status::NotNeeded, "authmilter's default (" + std::string(setting) + (*on ? " yes)" : " no)"));
    } else {
      m_.set(line, setting, *on ? "yes" : "no", std::string(note));
    }
  }

  bool mapKey(const ConfLine& line) {
    if (is(line, "RejectFailures")) {
      flag(line, "RejectFailures", true);
    } else if (is(line, "RejectMultiValueFrom")) {
      flag(line, "RejectMalformedFrom", true, "also lets through a message without From, or with an empty one");
    } else if (is(line, "HoldQuarantinedMessages")) {
      const auto on = parseBoolOrReport(line, m_);
      if (on && *on) m_.report(line, Status::NotNeeded, "authmilter's default (QuarantineAction quarantine)");
      if (on && !*on) m_.set(line, "QuarantineAction", "header", "delivered, with an X-Authmilter-Quarantine header");
    } else if (is(line, "IgnoreAuthenticatedClients")) {
      const auto on = parseBoolOrReport(line, m_);
      if (on && *on) m_.report(line, Status::NotNeeded, "authmilter's default (IgnoreAuthenticatedClients yes)");
      if (on && !*on) {
        m_.report(line, Status::CannotMap,
                  "kept IgnoreAuthenticatedClients yes: authmilter checks DMARC before it signs, so authenticated "
                  "users' own mail would fail");
      }
    } else if (is(line, "IgnoreHosts")) {
      // A file (not a dataset) of names, addresses and networks.
      std::vector<DatasetEntry> entries;
      Dataset file;
      file.kind = Dataset::Kind::File;
      file.path = m_.resolve(line.value);
      if (!m_.entries(line, file, entries)) return true;
      for (const auto& e : entries) m_.addIgnored(e, line);
    } else if (is(line, "PublicSuffixList")) {
      mapPublicSuffixList(line);
    } else if (is(line, "HistoryFile")) {
      m_.set(line, "ReportStore", m_.options().reportStore,
             "the history file itself is not imported; authmilter-report (daily: contrib/authmilter-report.timer) "
             "replaces opendmarc-import and opendmarc-reports: remove their cron job, set ReportEmail");
      m_.report(line, Status::Note,
                "mapped to ReportStore " + m_.options().reportStore +
                    "; authmilter-report replaces opendmarc-import and opendmarc-reports (remove their cron job); "
                    "it needs ReportEmail (opendmarc-reports' --report-email)");
    } else if (is(line, "FailureReports")) {
      failureReports_ = &line;
    } else if (is(line, "FailureReportsSentBy")) {
      if (isAddress(line.value)) {
        m_.set(line, "ReportEmail", line.value);
        reportEmail_ = line.value;
      } else {
        m_.report(line, Status::CannotMap, "'" + line.value + "' is not an address (local@domain)");
      }
    } else if (is(line, "FailureReportsBcc")) {
      const auto addresses = util::splitList(line.value);
      if (!addresses.empty() && isAddress(addresses[0])) {
        m_.set(line, "FailureReportsBcc", addresses[0]);
        if (addresses.size() > 1) m_.report(line, Status::CannotMap, "authmilter copies to one address: kept " + addresses[0]);
      } else {
        m_.report(line, Status::CannotMap, "'" + line.value + "' is not an address (local@domain)");
      }
    } else if (is(line, "FailureReportsOnNone")) {
      const auto on = parseBoolOrReport(line, m_);
      if (on && *on) m_.report(line, Status::NotNeeded, "authmilter reports failures whatever p= says (ruf= and fo= decide)");
      if (on && !*on) m_.report(line, Status::Note, "authmilter also reports failures under p=none (ruf= and fo= decide)");
    } else if (is(line, "ReportCommand")) {
      const auto words = util::splitList(line.value);
      if (words == std::vector<std::string>{"/usr/sbin/sendmail", "-t"} ||
          line.value == config::findSetting("ReportCommand")->defaultValue) {
        m_.report(line, Status::NotNeeded, "authmilter's default (/usr/sbin/sendmail -t -oi)");
      } else {
        m_.set(line, "ReportCommand", line.value);
      }
    } else {
      return false;
    }
    return true;
  }

  void mapPublicSuffixList(const ConfLine& line) {
    const std::string path = m_.resolve(line.value);
    if (path.starts_with("/usr/share/publicsuffix/")) {
      m_.report(line, Status::NotNeeded,
                "authmilter finds Organizational Domains by the DNS tree walk (RFC 9989); with DMARCStandard rfc7489 "
                "it reads Debian's publicsuffix package");
      return;
    }
    m_.set(line, "PublicSuffixList", path, "read at start; used only with DMARCStandard rfc7489");
  }

  // FailureReports yes needs ReportEmail, and a key that signs it (unsigned reports fail DMARC).
  void finishFailureReports() {
    if (failureReports_ == nullptr) return;
    const auto on = parseBoolOrReport(*failureReports_, m_);
    if (!on) return;
    if (!*on) {
      m_.report(*failureReports_, Status::NotNeeded, "authmilter's default (FailureReports no)");
      return;
    }
    if (reportEmail_.empty()) {
      m_.report(*failureReports_, Status::CannotMap,
                "authmilter sends them from ReportEmail, signed: set FailureReportsSentBy (or ReportEmail), then "
                "FailureReports yes");
      return;
    }
    const auto domain = policy::normalizeDomain(reportEmail_.substr(reportEmail_.rfind('@') + 1));
    if (!domain || !m_.signsFor(*domain)) {
      m_.report(*failureReports_, Status::CannotMap,
                "no imported DKIM key signs " + reportEmail_ +
                    " (unsigned reports fail DMARC): add one for its domain, then FailureReports yes");
      return;
    }
    m_.set(*failureReports_, "FailureReports", "yes");
  }

  const std::vector<ConfLine>& lines_;
  Mapper& m_;
  std::string file_;
  const ConfLine* failureReports_ = nullptr;
  std::string reportEmail_;
};

// policyd-spf's MAIL FROM rejection, as authmilter can do it: it rejects fail only.
void mapMailFromReject(const ConfLine* line, bool testOnly, Mapper& m, const std::string& file) {
  const std::string value = line ? util::toLower(line->value) : "fail";
  const std::string where = line ? line->where() : file;
  const std::string key = "Mail_From_reject";
  if (value == "false" || value == "no_check" || !testOnly) {
    if (line && value != "no_check") m.reportAt(where, key, Status::NotNeeded, "authmilter's default (SPFRejectFail no)");
    return;
  }
  if (value != "fail" && value != "spf_not_pass" && value != "softfail") {
    m.reportAt(where, key, Status::CannotMap, "'" + line->value + "' is not a policyd-spf choice");
    return;
  }
  const std::string note = value == "fail" ? "" : "authmilter rejects fail only; softfail and neutral go to DMARC";
  if (line) {
    m.set(*line, "SPFRejectFail", "yes", note);
  } else {
    m.setDerived(file, "SPFRejectFail", "yes", "Mail_From_reject not set: policyd-spf's default rejects fail");
  }
  if (!note.empty()) m.reportAt(where, key, Status::Note, note);
}

}  // namespace

void mapOpenDmarc(const std::vector<ConfLine>& lines, const std::string& file, Mapper& mapper) {
  mapper.setBaseDirectory({});
  for (const auto& line : lines) {
    if (util::iequals(line.key, "BaseDirectory")) mapper.setBaseDirectory(line.value);
  }
  OpenDmarcMapper(lines, mapper, file).run();
}

namespace {

constexpr std::string_view kSpfOnlyHeaders = "authmilter has no per-check exemptions by name or domain";

constexpr FixedKey kSpfFixed[] = {
    {"debugLevel", Status::NotNeeded, "LogLevel debug logs every lookup"},
    {"Mock", Status::NotNeeded, "a testing aid; authmilter-check spf shows one evaluation"},
    {"SPF_Enhanced_Status_Codes", Status::NotNeeded, "authmilter rejects with 550 5.7.23 (RFC 7372)"},
    {"PermError_reject", Status::CannotMap, "authmilter never rejects a permerror; DMARC decides"},
    {"TempError_Defer", Status::CannotMap,
     "DNSErrorAction tempfail defers on a temperror of SPF, DKIM and DMARC alike; set it if that is wanted"},
    {"Domain_Whitelist", Status::CannotMap, kSpfOnlyHeaders},
    {"Domain_Whitelist_PTR", Status::CannotMap, kSpfOnlyHeaders},
    {"HELO_Whitelist", Status::CannotMap, kSpfOnlyHeaders},
    {"Reject_Not_Pass_Domains", Status::CannotMap, "authmilter rejects fail only (SPFRejectFail)"},
    {"No_Mail", Status::CannotMap, "authmilter rejects fail only (SPFRejectFail)"},
    {"Reason_Message", Status::CannotMap, "the rejection names the domain's explanation or a standard text"},
    {"Hide_Receiver", Status::CannotMap, "authmilter's Received-SPF has a fixed form (RFC 7208 9.1)"},
    {"Void_Limit", Status::CannotMap, "RFC 7208 4.6.4's limit of 2 void lookups is fixed"},
    {"Prospective", Status::CannotMap, "authmilter checks the client that connected"},
    {"HELO_pass_restriction", Status::CannotMap, "a Postfix access(5) action; write it in Postfix's restrictions"},
    {"Mail_From_pass_restriction", Status::CannotMap, "a Postfix access(5) action; write it in Postfix's restrictions"},
};

void mapSpfAddresses(const ConfLine& line, Mapper& m) {
  // policyd-spf's default skip list: authmilter's default TrustedNetworks (loopback).
  constexpr std::string_view kLoopback[] = {"127.0.0.0/8", "::ffff:127.0.0.0/104", "::1", "::1/128"};
  bool added = false;
  for (const auto& word : util::splitList(line.value)) {
    if (std::find(std::begin(kLoopback), std::end(kLoopback), word) != std::end(kLoopback) || m.trustedHas(word)) continue;
    m.addIgnored({line.where(), word}, line);
    added = true;
  }
  m.report(line, added ? Status::Note : Status::NotNeeded,
           added ? "mapped to IgnoreHosts: authmilter has no SPF-only exemption, so DKIM and DMARC skip them too"
                 : "loopback and TrustedNetworks are not checked anyway");
}

}  // namespace

void mapPolicydSpf(const std::vector<ConfLine>& lines, const std::string& file, Mapper& m) {
  const ConfLine* mailFrom = nullptr;
  const ConfLine* helo = nullptr;
  bool testOnly = true;  // TestOnly = 1 (the default) means "reject"; 0 only adds headers.
  for (const auto& line : lines) {
    const auto is = [&](std::string_view key) { return util::iequals(line.key, key); };
    if (is("Mail_From_reject")) {
      mailFrom = &line;
    } else if (is("HELO_reject")) {
      helo = &line;
    } else if (is("TestOnly")) {
      testOnly = line.value != "0";
      m.report(line, Status::NotNeeded, testOnly ? "rejections follow Mail_From_reject" : "nothing is rejected by SPF (SPFRejectFail no)");
    } else if (is("skip_addresses") || is("Whitelist")) {
      mapSpfAddresses(line, m);
    } else if (is("Authserv_Id")) {
      if (line.value.find_first_of(" \t;()\"\\") == std::string::npos) {
        m.set(line, "AuthservID", line.value, {}, "one process writes one Authentication-Results header");
      } else {
        m.report(line, Status::CannotMap, "an authserv-id is one token");
      }
    } else if (is("Lookup_Time")) {
      const auto* def = config::findSetting("SPFTimeout");  // limits in milliseconds
      long seconds = -1;
      const auto* end = line.value.data() + line.value.size();
      if (const auto [ptr, ec] = std::from_chars(line.value.data(), end, seconds); ec != std::errc() || ptr != end) seconds = -1;
      const long ms = seconds < 0 || seconds > def->max / 1000 ? -1 : seconds * 1000;
      if (ms < def->min || ms > def->max) {
        m.report(line, Status::CannotMap, "SPFTimeout takes 1 to 60 seconds, not '" + line.value + "'");
      } else {
        m.set(line, "SPFTimeout", std::to_string(ms / 1000) + "s");
      }
    } else if (is("Header_Type")) {
      const std::string type = util::toLower(line.value);
      if (type == "spf") {
        m.report(line, Status::NotNeeded, "authmilter adds Received-SPF (SPFAddHeader yes) and Authentication-Results");
      } else {
        m.set(line, "SPFAddHeader", "no", "the SPF result is in Authentication-Results, which authmilter always adds");
      }
    } else if (!reportFixed(line, kSpfFixed, m)) {
      m.report(line, Status::CannotMap, "not a policyd-spf.conf key authmilter-import knows");
    }
  }
  if (helo) {
    const std::string value = util::toLower(helo->value);
    m.report(*helo, value == "false" || value == "no_check" ? Status::NotNeeded : Status::CannotMap,
             "authmilter checks HELO, records the result and never rejects on it");
  }
  if (mailFrom && util::iequals(mailFrom->value, "No_Check")) {
    if (helo && util::iequals(helo->value, "No_Check")) {
      m.set(*mailFrom, "SPFCheck", "no");
    } else {
      m.report(*mailFrom, Status::CannotMap, "authmilter checks MAIL FROM whenever it checks SPF (SPFCheck no: neither)");
    }
  }
  mapMailFromReject(mailFrom, testOnly, m, file);
  m.reportAt(file, "check_policy_service", Status::Note,
             "authmilter checks SPF at MAIL FROM: remove policyd-spf from Postfix's smtpd_recipient_restrictions "
             "(check_policy_service) and its master.cf entry");
}

}  // namespace authmilter::import
