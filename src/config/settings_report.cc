// The settings table's rows for DMARC aggregate reports (its own file: the table in
// settings.cc would pass 800 lines). settingDefs() lists them after the others.
#include "authmilter/config/config.h"
#include "authmilter/config/settings.h"
#include "authmilter/util/strings.h"

namespace authmilter::config {

namespace {

constexpr SettingDef kReportSettings[] = {
    {.name = "ReportStore",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "DMARC reports",
     .syntax = "sqlite:FILE|postgresql://USER@HOST[:PORT]/DB",
     .help = R"(where every DMARC evaluation of a domain
that asks for aggregate reports (rua=) is recorded, counted by identical result, for
authmilter-report. sqlite:FILE for one host (the file and its directory must be writable
by UserID); a PostgreSQL database (libpq URI, password in ~/.pgpass or PGPASSFILE) when
several milter hosts report as one. The schema is created and upgraded by authmilter.
Recording never makes a message wait: see ReportQueueSize. A change needs a restart.
Default: unset (nothing is recorded).)",
     .sample = "# ReportStore sqlite:/var/lib/authmilter/reports.db",
     .bind = {}},
    {.name = "ReportQueueSize",
     .kind = SettingKind::Integer,
     .defaultValue = "100000",
     .min = 100,
     .max = 10'000'000,
     .section = "DMARC reports",
     .syntax = "N",
     .help = R"(records held in memory while the store is slow or down
(100-10000000; up to 2 KB each, so the default takes at most about 200 MB). Past that,
records are dropped, counted and logged ("DMARC report records dropped"); mail is never
held up. A change needs a restart. Default: 100000)",
     .sample = "ReportQueueSize 100000",
     .bind = {.number = [](Config& c, long v) { c.reports.queueSize = static_cast<size_t>(v); }}},
    {.name = "ReportOrgName",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "DMARC reports",
     .syntax = "NAME",
     .help = R"(who sends the reports (<org_name>, and the receiver part of the
attachment's file name). Default: unset (AuthservID).)",
     .sample = "# ReportOrgName example.org"},
    {.name = "ReportEmail",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "DMARC reports",
     .syntax = "ADDRESS",
     .help = R"(the From: address of the reports and their <email>. Its domain
must be one the signing keys sign (Domain/KeyFile or KeyTable/SigningTable): reports are
DKIM-signed so that they pass DMARC aligned. authmilter-report refuses to run without it.
Default: unset.)",
     .sample = "# ReportEmail dmarc-reports@example.org"},
    {.name = "ReportCommand",
     .kind = SettingKind::String,
     .defaultValue = "/usr/sbin/sendmail -t -oi",
     .section = "DMARC reports",
     .syntax = "COMMAND [ARG...]",
     .help = R"(what a report message is piped to, one message per
destination (run without a shell; words split on blanks). Exit status 0: the report is
marked sent; anything else: it stays pending and the next run sends the same report again.
Default: /usr/sbin/sendmail -t -oi)",
     .sample = "ReportCommand /usr/sbin/sendmail -t -oi"},
    {.name = "ReportSuppress",
     .kind = SettingKind::Words,
     .defaultValue = "",
     .section = "DMARC reports",
     .syntax = "ADDRESS|DOMAIN[,...]",
     .help = R"(send no report to these rua= addresses, nor to any
address in these domains, nor about these policy domains. Default: unset.)",
     .sample = "# ReportSuppress example.net,dmarc@example.com"},
    {.name = "ReportSuppressLocalDomains",
     .kind = SettingKind::Bool,
     .defaultValue = "no",
     .section = "DMARC reports",
     .syntax = "yes|no",
     .help = R"(send no report about a policy domain in LocalDomains
(our own mail coming back to us). Default: no)",
     .sample = "ReportSuppressLocalDomains no",
     .bind = {.flag = [](Config& c, bool v) { c.reports.suppressLocalDomains = v; }}},
    {.name = "ReportKeepDays",
     .kind = SettingKind::Integer,
     .defaultValue = "14",
     .min = 2,
     .max = 366,
     .section = "DMARC reports",
     .syntax = "DAYS",
     .help = R"(records and reports older than this are deleted by
authmilter-report (2-366); a delivery that keeps failing is tried until then.
Default: 14)",
     .sample = "ReportKeepDays 14",
     .bind = {.number = [](Config& c, long v) { c.reports.keepDays = static_cast<unsigned>(v); }}},
    {.name = "FailureReports",
     .kind = SettingKind::Bool,
     .defaultValue = "no",
     .section = "DMARC failure reports",
     .syntax = "yes|no",
     .help = R"(send failure reports at all. Needs ReportEmail with a DKIM key.
Default: no)",
     .sample = "FailureReports no",
     .bind = {.flag = [](Config& c, bool v) { c.failureReports.enabled = v; }}},
    {.name = "FailureReportBody",
     .kind = SettingKind::Bool,
     .defaultValue = "no",
     .section = "DMARC failure reports",
     .syntax = "yes|no",
     .help = R"(include the failed message's body (its first 64 KB), not only its
header section. Think of your users' privacy and your law before saying yes. Default: no)",
     .sample = "FailureReportBody no",
     .bind = {.flag = [](Config& c, bool v) { c.failureReports.body = v; }}},
    {.name = "FailureReportRate",
     .kind = SettingKind::String,
     .defaultValue = "5,100",
     .section = "DMARC failure reports",
     .syntax = "PER-ADDRESS,TOTAL",
     .help = R"(at most PER-ADDRESS reports an hour to one address, and TOTAL an
hour in all (RFC 9991 §5: senders rate-limit); the rest are logged ("over
FailureReportRate") and not sent. A reload starts the counts afresh. Default: 5,100)",
     .sample = "FailureReportRate 5,100"},
    {.name = "FailureReportsBcc",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "DMARC failure reports",
     .syntax = "ADDRESS",
     .help = R"(a copy of every failure report to this address (a local
postmaster's), whatever became of the report itself. Counted in FailureReportRate like
any address. Default: unset)",
     .sample = "# FailureReportsBcc postmaster@example.org"},
};

}  // namespace

std::span<const SettingDef> reportSettingDefs() { return kReportSettings; }

}  // namespace authmilter::config
