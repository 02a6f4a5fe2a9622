// The settings table's rows for ARC (RFC 8617); settingDefs() lists them after DMARC's.
#include "authmilter/config/config.h"
#include "authmilter/config/settings.h"

#include <string_view>

namespace authmilter::config {

namespace {

constexpr SettingDef kArcSettings[] = {
    {.name = "ARCVerify",
     .kind = SettingKind::Bool,
     .defaultValue = "yes",
     .section = "ARC",
     .syntax = "yes|no",
     .help = R"(validate the ARC chain of mail from other hosts. Default: yes)",
     .sample = "ARCVerify yes",
     .bind = {.flag = [](Config& c, bool v) { c.arcVerify = v; }}},
    {.name = "ARCSealing",
     .kind = SettingKind::Enum,
     .defaultValue = "no",
     .choices = "no|inbound|outbound|all",
     .section = "ARC",
     .syntax = "no|inbound|outbound|all",
     .help = R"(which mail gets our ARC set (ARC-Seal, ARC-Message-Signature,
ARC-Authentication-Results) with ARCSealKey. inbound: mail from other hosts, sealed as it
passes (a forwarder that hands mail on unchanged); the ARC-Authentication-Results is our
Authentication-Results for it. outbound: mail from our own senders (authenticated,
TrustedNetworks, no client address): a mailing list that re-sends what it received through
this MTA; from TrustedNetworks or without a client address, the Authentication-Results our
inbound pass left in the message (AuthservID) is copied, with the arc= it found, because the
list has changed the message since. all: both. A chain ending in cv=fail is never extended,
nor one of 50 sets, nor one whose keys could not be fetched. The log says arc_seal=.
Default: no)",
     .sample = "ARCSealing no",
     .bind = {.choice = [](Config& c, std::string_view v) {
       c.arcSealInbound = v == "inbound" || v == "all";
       c.arcSealOutbound = v == "outbound" || v == "all";
     }}},
    {.name = "ARCSealKey",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "ARC",
     .syntax = "DOMAIN:SELECTOR:FILE",
     .help = R"(the key ARC sets are signed with, in KeyTable form: d=, s= and an
RSA private key file (authmilter-keygen makes one and its DNS record; publish it at
SELECTOR._domainkey.DOMAIN). Its own key, apart from the DKIM keys, so that a DKIM key
rotation does not touch it. Default: unset)",
     .sample = "# ARCSealKey example.org:arc2026:keys/arc2026.private"},
    {.name = "ARCTrustedSealers",
     .kind = SettingKind::File,
     .defaultValue = "",
     .section = "ARC",
     .syntax = "FILE",
     .help = R"(domains whose ARC seals we trust (lists and forwarders we know):
when DMARC fails but the ARC chain passes and every sealer from the newest set down to the
oldest one whose ARC-Message-Signature still validates is listed, the message is not
rejected or quarantined: disposition none, shown as "override=trusted_forwarder arc=pass
as[1].d=lists.example" in Authentication-Results, dmarc_action= in the log, and
trusted_forwarder in aggregate reports. If such a chain cannot be checked for DNS trouble,
the message gets 451 4.4.3 instead of a rejection. One domain a line ("lists.example", or
".example" for every domain below). Default: unset (no overrides))",
     .sample = "# ARCTrustedSealers arc-trusted-sealers"},
};

}  // namespace

std::span<const SettingDef> arcSettingDefs() { return kArcSettings; }

}  // namespace authmilter::config
