// The settings table. Keep conf/authmilter.conf in step: a test fails otherwise.
#include "authmilter/config/settings.h"

#include "authmilter/util/strings.h"

namespace authmilter::config {

namespace {
constexpr SettingDef kSettings[] = {
    // Daemon
    {"Socket", SettingKind::Socket, "unix:/run/authmilter/authmilter.sock"},
    {"UMask", SettingKind::Octal, "007"},
    {"UserID", SettingKind::String, ""},
    {"PidFile", SettingKind::File, ""},
    {"ShutdownTimeout", SettingKind::Integer, "30", 0, 3600},
    // Logging
    {"Syslog", SettingKind::Bool, "yes"},
    {"SyslogFacility", SettingKind::Enum, "mail", 0, 0,
     "mail|daemon|user|local0|local1|local2|local3|local4|local5|local6|local7"},
    {"LogLevel", SettingKind::Enum, "info", 0, 0, "error|warning|notice|info|debug"},
    {"LogFile", SettingKind::String, ""},
    // Authentication-Results
    {"AuthservID", SettingKind::String, ""},
    // Relay policy
    {"LocalDomains", SettingKind::File, ""},
    {"TrustedNetworks", SettingKind::File, ""},
    {"IgnoreHosts", SettingKind::File, ""},
    {"SubmissionDaemons", SettingKind::Words, ""},
    {"SenderLoginMap", SettingKind::File, ""},
    // DNS
    {"Nameservers", SettingKind::Words, ""},
    {"DNSTimeout", SettingKind::Duration, "5s", 10, 60'000},
    {"DNSRetries", SettingKind::Integer, "2", 1, 10},
    {"DNSCacheSize", SettingKind::Integer, "10000", 0, 10'000'000},
    {"DNSCacheMaxTTL", SettingKind::Integer, "3600", 0, 604'800},
    {"DNSErrorAction", SettingKind::Enum, "accept", 0, 0, "accept|tempfail"},
    // SPF
    {"SPFCheck", SettingKind::Bool, "yes"},
    {"SPFAddHeader", SettingKind::Bool, "yes"},
    {"SPFRejectFail", SettingKind::Bool, "no"},
    {"SPFExplanation", SettingKind::Bool, "no"},
    {"SPFTimeout", SettingKind::Duration, "20s", 100, 60'000},
    // DKIM verification
    {"DKIMVerify", SettingKind::Bool, "yes"},
    {"MaximumSignatures", SettingKind::Integer, "5", 1, 100},
    {"MinimumKeyBits", SettingKind::Integer, "1024", 512, 16384},
    {"LBodyPolicy", SettingKind::Enum, "ignore", 0, 0, "ignore|accept"},
    {"DKIMMaxHeaderBytes", SettingKind::Integer, "1048576", 16384, 67'108'864},
    // DMARC
    {"DMARCCheck", SettingKind::Bool, "yes"},
    {"DMARCStandard", SettingKind::Enum, "rfc9989", 0, 0, "rfc9989|rfc7489"},
    {"PublicSuffixList", SettingKind::File, ""},
    {"RejectFailures", SettingKind::Bool, "yes"},
    {"QuarantineAction", SettingKind::Enum, "quarantine", 0, 0, "quarantine|header"},
    {"RejectMalformedFrom", SettingKind::Bool, "yes"},
    {"IgnoreAuthenticatedClients", SettingKind::Bool, "yes"},
    // DKIM signing
    {"Domain", SettingKind::Words, ""},
    {"Selector", SettingKind::String, ""},
    {"KeyFile", SettingKind::File, ""},
    {"KeyTable", SettingKind::File, ""},
    {"SigningTable", SettingKind::String, ""},
    {"RequireSafeKeys", SettingKind::Bool, "yes"},
    {"Canonicalization", SettingKind::String, "relaxed/relaxed"},
    {"SignHeaders", SettingKind::Words, ""},
    {"OversignHeaders", SettingKind::Words, "From,To,Subject,Date,Message-ID,Content-Type,MIME-Version"},
    {"SignatureTTL", SettingKind::Integer, "0", 0, 31'536'000},
    {"SigningDaemons", SettingKind::Words, ""},
};
}  // namespace

std::span<const SettingDef> settingDefs() { return kSettings; }

const SettingDef* findSetting(std::string_view name) {
  for (const auto& def : kSettings) {
    if (util::iequals(def.name, name)) return &def;
  }
  return nullptr;
}

}  // namespace authmilter::config
