// opendkim.conf(5) keys, each mapped to an authmilter setting or reported with the reason.
// Signing keys are named, not copied: authmilter reads OpenDKIM's KeyTable and SigningTable
// (plain and refile:) as they are; they are only read here to learn the signing domains
// (LocalDomains, and whether ReportEmail is signed).
#include <algorithm>

#include "authmilter/config/settings.h"
#include "authmilter/dns/resolver.h"
#include "authmilter/import/mapper.h"
#include "authmilter/util/strings.h"

namespace authmilter::import {

namespace {

constexpr std::string_view kDnssec =
    "authmilter does not validate DNSSEC itself: ask a validating resolver (Nameservers)";
constexpr std::string_view kAdsp = "ADSP (RFC 5617) is historic; DMARC replaced it";
constexpr std::string_view kNoAction =
    "authmilter does not act on a DKIM result alone: the From domain's DMARC policy decides (RejectFailures)";
constexpr std::string_view kOwnSenders =
    "authmilter signs mail from authenticated clients, TrustedNetworks, SigningDaemons and local submission";
constexpr std::string_view kNoBodyLength = "authmilter never signs with l= (it invites appended content)";
constexpr std::string_view kNoDkimReports = "authmilter sends DMARC failure reports (FailureReports), not DKIM ones";
constexpr std::string_view kNotByDomain = "authmilter has no per-domain or per-recipient exceptions";
constexpr std::string_view kTesting = "a testing aid with no equivalent (authmilter-check runs one check)";

constexpr FixedKey kOpenDkimFixed[] = {
    {"ExternalIgnoreList", Status::NotNeeded,
     "it only silenced OpenDKIM's 'external host tried to send mail as' log line; authmilter logs no such line"},
    {"OmitHeaders", Status::NotNeeded,
     "authmilter signs only the SignHeaders fields (by default RFC 6376 5.4.1's list), never Received, "
     "Return-Path or DKIM-Signature"},
    {"TrustAnchorFile", Status::NotNeeded, kDnssec},
    {"UnboundConfigFile", Status::CannotMap, kDnssec},
    {"BogusKey", Status::NotNeeded, kDnssec},
    {"InsecureKey", Status::NotNeeded, kDnssec},
    {"BogusPolicy", Status::NotNeeded, kDnssec},
    {"InsecurePolicy", Status::NotNeeded, kDnssec},
    {"UnprotectedKey", Status::NotNeeded, kDnssec},
    {"ResolverConfiguration", Status::CannotMap, "authmilter asks Nameservers, or those of /etc/resolv.conf"},
    {"ResolverTracing", Status::NotNeeded, "LogLevel debug logs the lookups; authmilter-dns shows one"},
    {"QueryCache", Status::NotNeeded, "authmilter caches DNS answers itself (DNSCacheSize)"},
    {"DNSConnect", Status::NotNeeded, "authmilter retries over TCP when an answer is truncated"},
    {"ADSP*", Status::NotNeeded, kAdsp},
    {"LocalADSP", Status::NotNeeded, kAdsp},
    {"SendADSPReports", Status::NotNeeded, kAdsp},
    {"AllowSHA1Only", Status::NotNeeded, "authmilter's OpenSSL has SHA-256; rsa-sha1 never passes (RFC 8301)"},
    {"AlwaysAddARHeader", Status::NotNeeded,
     "authmilter adds Authentication-Results to every message it checks, dkim=none included"},
    {"SingleAuthResult", Status::NotNeeded, "authmilter adds one Authentication-Results header"},
    {"DomainKeysCompat", Status::NotNeeded, "DomainKeys (RFC 4870) is historic"},
    {"RemoveARAll", Status::CannotMap,
     "authmilter removes only Authentication-Results headers with its own AuthservID (RFC 8601 5)"},
    {"RemoveARFrom", Status::CannotMap,
     "authmilter removes only Authentication-Results headers with its own AuthservID (RFC 8601 5)"},
    {"NoHeaderB", Status::CannotMap, "authmilter always writes header.b"},
    {"Quarantine", Status::CannotMap, "authmilter quarantines by DMARC policy only (QuarantineAction)"},
    {"On-*", Status::CannotMap, kNoAction},
    {"MustBeSigned", Status::CannotMap, kNoAction},
    {"TrustSignaturesFrom", Status::CannotMap, "every signature counts; DMARC counts aligned ones"},
    {"Minimum", Status::NotNeeded, "LBodyPolicy ignore (the default): DMARC does not count a partly signed body"},
    {"BodyLengths", Status::CannotMap, kNoBodyLength},
    {"BodyLengthDBFile", Status::CannotMap, kNoBodyLength},
    {"MaximumSignedBytes", Status::CannotMap, kNoBodyLength},
    {"MaximumHeaders", Status::NotNeeded,
     "authmilter refuses nothing for its size; DKIMMaxHeaderBytes (default 1 MB) bounds what it verifies"},
    {"StrictHeaders", Status::NotNeeded, "RejectMalformedFrom yes (the default) refuses a message without one From"},
    {"ClockDrift", Status::CannotMap, "authmilter allows no clock drift on t= and x="},
    {"MultipleSignatures", Status::CannotMap,
     "authmilter applies the first SigningTable match; give that KeyTable name several lines to sign with several keys"},
    {"DontSignMailTo", Status::CannotMap, kNotByDomain},
    {"ExemptDomains", Status::CannotMap, kNotByDomain},
    {"ResignAll", Status::CannotMap, kOwnSenders},
    {"ResignMailTo", Status::CannotMap, kOwnSenders},
    {"POPDBFile", Status::CannotMap, kOwnSenders},
    {"SenderHeaders", Status::CannotMap, "authmilter chooses keys by the From header only"},
    {"SenderMacro", Status::CannotMap, "authmilter chooses keys by the From header only"},
    {"SelectorHeader", Status::CannotMap, "the SigningTable chooses the key"},
    {"SelectorHeaderRemove", Status::CannotMap, "the SigningTable chooses the key"},
    {"SelectCanonicalizationHeader", Status::CannotMap, "Canonicalization applies to every signature"},
    {"IdentityHeader", Status::CannotMap, "the SigningTable's SIGNER column sets i="},
    {"IdentityHeaderRemove", Status::CannotMap, "the SigningTable's SIGNER column sets i="},
    {"RemoveOldSignatures", Status::CannotMap, "authmilter leaves existing signatures alone"},
    {"FixCRLF", Status::CannotMap, "authmilter canonicalizes the message as the MTA passes it"},
    {"ReplaceHeaders", Status::CannotMap, "authmilter does not rewrite headers"},
    {"ReplaceRules", Status::CannotMap, "authmilter does not rewrite headers"},
    {"RedirectFailuresTo", Status::CannotMap, "authmilter does not redirect mail"},
    {"SetupPolicyScript", Status::CannotMap, "authmilter runs no Lua"},
    {"ScreenPolicyScript", Status::CannotMap, "authmilter runs no Lua"},
    {"FinalPolicyScript", Status::CannotMap, "authmilter runs no Lua"},
    {"LDAP*", Status::CannotMap, "authmilter reads its tables from files"},
    {"SMTPURI", Status::CannotMap, kNoDkimReports},
    {"SendReports", Status::CannotMap, kNoDkimReports},
    {"ReportAddress", Status::CannotMap, kNoDkimReports},
    {"ReportBccAddress", Status::CannotMap, kNoDkimReports},
    {"ReportIntervalDB", Status::CannotMap, kNoDkimReports},
    {"RequestReports", Status::CannotMap, kNoDkimReports},
    {"Statistics*", Status::CannotMap, "OpenDKIM's statistics have no equivalent"},
    {"AnonymousStatistics", Status::CannotMap, "OpenDKIM's statistics have no equivalent"},
    {"Reputation*", Status::CannotMap, "the DKIM reputation service is gone"},
    {"VBR-*", Status::CannotMap, "VBR (RFC 5518) has no equivalent"},
    {"WeakSyntaxChecks", Status::CannotMap, "authmilter checks signatures as RFC 6376 says"},
    {"X-Header", Status::CannotMap, "authmilter adds no header naming itself"},
    {"SyslogName", Status::CannotMap, "authmilter logs as authmilter"},
    {"Diagnostics", Status::NotNeeded, kTesting},
    {"DiagnosticDirectory", Status::NotNeeded, kTesting},
    {"KeepTemporaryFiles", Status::NotNeeded, kTesting},
    {"TestDNSData", Status::NotNeeded, kTesting},
    {"TestPublicKeys", Status::NotNeeded, kTesting},
    {"StrictTestMode", Status::NotNeeded, kTesting},
};

// A SigningTable key's domain, for LocalDomains: "*@example.com" and "example.com" give
// "example.com"; "*@*.example.com" and ".example.com" give ".example.com"; "*" gives "*".
std::string signingKeyDomain(std::string key) {
  if (key == "*" || key == "*@*") return "*";
  if (const auto at = key.rfind('@'); at != std::string::npos) key.erase(0, at + 1);
  if (key.starts_with("*.")) key.erase(0, 1);
  return key.find('*') == std::string::npos ? key : "";
}

class OpenDkimMapper {
 public:
  OpenDkimMapper(const std::vector<ConfLine>& lines, Mapper& mapper) : lines_(lines), m_(mapper) {}

  void run() {
    const ConfLine* mode = first("Mode");
    signing_ = mode == nullptr || mode->value.find('s') != std::string::npos;
    keyTable_ = first("KeyTable") != nullptr;
    for (const auto& line : lines_) {
      if (!mapKey(line) && !mapCommonKey(line, m_) && !reportFixed(line, kOpenDkimFixed, m_)) {
        m_.report(line, Status::CannotMap, "not an opendkim.conf key authmilter-import knows");
      }
    }
    finishSimpleSigning();
    finishOversigning();
  }

 private:
  const ConfLine* first(std::string_view key) const {
    for (const auto& line : lines_) {
      if (util::iequals(line.key, key)) return &line;
    }
    return nullptr;
  }

  bool is(const ConfLine& line, std::string_view key) const { return util::iequals(line.key, key); }

  bool mapKey(const ConfLine& line) {
    if (is(line, "Mode")) {
      mapMode(line);
    } else if (is(line, "Domain") || is(line, "Selector") || is(line, "KeyFile") || is(line, "SubDomains")) {
      if (!signing_) {
        m_.report(line, Status::NotNeeded, "Mode has no 's': OpenDKIM did not sign");
      } else if (keyTable_) {
        m_.report(line, Status::NotNeeded, "OpenDKIM ignores it when KeyTable is set");
      } else {
        simple_.push_back(&line);
      }
    } else if (is(line, "KeyTable") || is(line, "SigningTable")) {
      if (signing_) {
        mapTable(line);
      } else {
        m_.report(line, Status::NotNeeded, "Mode has no 's': OpenDKIM did not sign");
      }
    } else if (is(line, "InternalHosts") || is(line, "PeerList")) {
      mapHosts(line);
    } else if (is(line, "MTA") || is(line, "MacroList")) {
      mapDaemons(line);
    } else if (is(line, "Canonicalization")) {
      mapCanonicalization(line);
    } else if (is(line, "MinimumKeyBits") || is(line, "SignatureTTL")) {
      mapInteger(line, is(line, "SignatureTTL") ? "SignatureTTL" : "MinimumKeyBits", m_);
    } else if (is(line, "MaximumSignaturesToVerify")) {
      mapInteger(line, "MaximumSignatures", m_);
    } else if (is(line, "OversignHeaders") || is(line, "AlwaysSignHeaders")) {
      std::vector<DatasetEntry> names;
      if (m_.entries(line, parseDataset(line.value), names)) oversign_.push_back({&line, std::move(names)});
    } else if (is(line, "SignHeaders")) {
      mapSignHeaders(line);
    } else if (is(line, "RequireSafeKeys")) {
      const auto on = parseBoolOrReport(line, m_);
      if (on && *on) m_.report(line, Status::NotNeeded, "authmilter's default (yes)");
      if (on && !*on) m_.set(line, "RequireSafeKeys", "no");
    } else if (is(line, "SignatureAlgorithm")) {
      mapAlgorithm(line);
    } else if (is(line, "Nameservers")) {
      mapNameservers(line);
    } else {
      return false;
    }
    return true;
  }

  void mapMode(const ConfLine& line) {
    const bool sign = line.value.find('s') != std::string::npos;
    const bool verify = line.value.find('v') != std::string::npos;
    if (sign && verify) {
      m_.report(line, Status::NotNeeded, "authmilter signs your own senders' mail and verifies the rest");
    } else if (sign) {
      m_.report(line, Status::Note,
                "authmilter also verifies mail from other hosts (its DKIM results feed DMARC); DKIMVerify no "
                "turns that off");
    } else {
      m_.report(line, Status::Note, "no 's': the signing keys were not carried over, so authmilter signs nothing");
    }
  }

  void finishSimpleSigning() {
    if (simple_.empty()) return;
    const ConfLine *domain = nullptr, *selector = nullptr, *keyFile = nullptr;
    for (const auto* line : simple_) {
      if (is(*line, "SubDomains")) {
        const auto on = parseBoolOrReport(*line, m_);
        if (on && *on) {
          m_.report(*line, Status::CannotMap,
                    "authmilter's Domain signs exactly the domains listed: list the subdomains too, or use "
                    "KeyTable with a refile: SigningTable (*@*.example.com)");
        } else if (on) {
          m_.report(*line, Status::NotNeeded, "authmilter's Domain signs exactly the domains listed");
        }
      }
      if (is(*line, "Domain")) domain = line;
      if (is(*line, "Selector")) selector = line;
      if (is(*line, "KeyFile")) keyFile = line;
    }
    if (domain == nullptr && selector == nullptr && keyFile == nullptr) return;
    if (domain == nullptr || selector == nullptr || keyFile == nullptr) {
      const std::string missing = std::string(domain ? "" : " Domain") + (selector ? "" : " Selector") +
                                  (keyFile ? "" : " KeyFile");
      for (const auto* line : {domain, selector, keyFile}) {
        if (line) m_.report(*line, Status::CannotMap, "Domain, Selector and KeyFile go together; missing:" + missing);
      }
      return;
    }
    std::vector<DatasetEntry> domains;
    if (!m_.entries(*domain, parseDataset(domain->value), domains)) return;
    std::string list;
    for (const auto& d : domains) {
      list += (list.empty() ? "" : ",") + d.text;
      m_.addSignedDomain(d.text);
    }
    m_.set(*domain, "Domain", list);
    m_.set(*selector, "Selector", selector->value);
    m_.set(*keyFile, "KeyFile", m_.resolve(keyFile->value));
  }

  void mapTable(const ConfLine& line) {
    const auto set = parseDataset(line.value);
    const bool keys = is(line, "KeyTable");
    const ConfLine* other = first(keys ? "SigningTable" : "KeyTable");
    if (other == nullptr) {
      m_.report(line, Status::CannotMap, std::string("authmilter needs KeyTable and SigningTable together; ") +
                                             (keys ? "SigningTable" : "KeyTable") + " is not set");
      return;
    }
    if (set.kind == Dataset::Kind::List) {
      mapInlineTable(line, set, keys);
      return;
    }
    const auto path = m_.filePath(line, set);
    if (!path) return;
    const bool pattern = set.kind == Dataset::Kind::PatternFile;
    if (keys) {
      m_.set(line, "KeyTable", m_.resolve(*path),
             pattern ? "refile: dropped: KeyTable names are matched exactly, as the SigningTable names them" : "");
    } else {
      m_.set(line, "SigningTable", (pattern ? "refile:" : "") + m_.resolve(*path));
    }
    std::vector<DatasetEntry> entries;
    Dataset resolved = set;
    resolved.path = m_.resolve(*path);
    if (!m_.entriesQuietly(line, resolved, entries)) return;
    for (const auto& e : entries) learnSignedDomain(keys, e.text);
  }

  // OpenDKIM's csl: tables ("NAME=DOMAIN:SELECTOR:KEYFILE,..." and "ADDRESS=NAME,...") are
  // written to files of authmilter's beside the conf ("key-table", "signing-table"), one
  // "KEY VALUE" a line. csl: lookups were exact, as a plain file's are in authmilter.
  void mapInlineTable(const ConfLine& line, const Dataset& set, bool keys) {
    const std::string file = keys ? "key-table" : "signing-table";
    const std::string origin = line.where() + ": " + line.key + " " + line.value;
    for (const auto& element : set.entries) {
      const auto eq = element.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == element.size()) {
        m_.report(line, Status::CannotMap, "'" + element + "' is not KEY=VALUE: left out of " + file);
        continue;
      }
      std::string value = element.substr(eq + 1);
      if (const auto colon = value.rfind(':'); keys && colon != std::string::npos) {
        value = value.substr(0, colon + 1) + m_.resolve(value.substr(colon + 1));  // the key file, from BaseDirectory
      }
      const std::string text = element.substr(0, eq) + " " + value;
      m_.addFileLine(file, keys ? "KeyTable" : "SigningTable", origin, text);
      learnSignedDomain(keys, text);
    }
    m_.report(line, Status::Note, "the inline list is written to " + file + ", one \"KEY VALUE\" a line");
  }

  // LocalDomains learns the domains a KeyTable line ("NAME DOMAIN:SELECTOR:KEY") or a
  // SigningTable line ("ADDRESS NAME") signs for.
  void learnSignedDomain(bool keys, const std::string& text) {
    const auto words = util::splitList(text);
    if (words.size() < 2) return;
    if (keys) {
      const std::string& spec = words[1];  // domain:selector:key
      const auto colon = spec.find(':');
      if (colon != std::string::npos && spec.substr(0, colon) != "%") m_.addSignedDomain(spec.substr(0, colon));
    } else if (const auto domain = signingKeyDomain(words[0]); domain == "*") {
      m_.setSignsEverything();
    } else if (!domain.empty()) {
      m_.addSignedDomain(domain);
    }
  }

  void mapHosts(const ConfLine& line) {
    std::vector<DatasetEntry> entries;
    if (!m_.entries(line, parseDataset(line.value), entries)) return;
    const bool internal = is(line, "InternalHosts");
    for (const auto& e : entries) {
      if (internal) {
        m_.addTrusted(e, line);
      } else {
        m_.addIgnored(e, line);
      }
    }
    m_.report(line, Status::Note,
              internal ? "mapped to TrustedNetworks: their mail is signed and not checked, as before, and they may "
                         "also relay to any domain without SMTP AUTH (like Postfix's mynetworks)"
                       : "mapped to IgnoreHosts: their mail is not checked; the relay policy still applies to them");
  }

  // MTA names and MacroList's daemon_name values are {daemon_name}s whose mail is signed.
  void mapDaemons(const ConfLine& line) {
    std::vector<DatasetEntry> entries;
    if (!m_.entries(line, parseDataset(line.value), entries)) return;
    std::string names;
    for (const auto& e : entries) {
      std::string_view text = e.text;
      if (is(line, "MacroList")) {
        const auto bar = text.find('|');
        if (!util::iequals(text.substr(0, bar), "daemon_name") && !util::iequals(text.substr(0, bar), "{daemon_name}")) {
          m_.reportAt(e.where, line.key, Status::CannotMap, "'" + e.text + "': " + std::string(kOwnSenders));
          continue;
        }
        if (bar == std::string_view::npos) {
          m_.reportAt(e.where, line.key, Status::CannotMap, "'" + e.text + "': SigningDaemons names the daemons");
          continue;
        }
        text.remove_prefix(bar + 1);
      }
      std::string rest(text);
      std::replace(rest.begin(), rest.end(), '|', ',');
      for (const auto& one : util::splitList(rest)) names += (names.empty() ? "" : ",") + one;
    }
    if (!names.empty()) m_.set(line, "SigningDaemons", names);
  }

  void mapCanonicalization(const ConfLine& line) {
    const std::string value = util::toLower(line.value);
    const auto slash = value.find('/');
    const auto ok = [](std::string_view w) { return w == "simple" || w == "relaxed"; };
    if (!ok(std::string_view(value).substr(0, slash)) ||
        (slash != std::string::npos && !ok(std::string_view(value).substr(slash + 1)))) {
      m_.report(line, Status::CannotMap, "expected simple or relaxed, header/body");
      return;
    }
    m_.set(line, "Canonicalization", value);
  }

  void mapSignHeaders(const ConfLine& line) {
    std::vector<DatasetEntry> entries;
    if (!m_.entries(line, parseDataset(line.value), entries)) return;
    std::vector<std::string> names;
    std::string dropped;
    for (const auto& e : entries) {
      const std::string lower = util::toLower(e.text);
      if (lower == "authentication-results" || lower == "received-spf" || lower == "dkim-signature" ||
          lower == "x-authmilter-quarantine") {
        dropped += (dropped.empty() ? "" : ", ") + e.text;
      } else if (std::find(names.begin(), names.end(), lower) == names.end()) {
        names.push_back(lower);
      }
    }
    std::string note = dropped.empty() ? "" : dropped + " left out: added after signing";
    if (std::find(names.begin(), names.end(), "from") == names.end()) {
      names.insert(names.begin(), "from");
      note += std::string(note.empty() ? "" : "; ") + "From added, as OpenDKIM did (RFC 6376 5.4)";
    }
    std::string value;
    for (const auto& n : names) value += (value.empty() ? "" : ",") + n;
    m_.set(line, "SignHeaders", value, note);
  }

  // OversignHeaders and AlwaysSignHeaders both put a field in h= more often than the message
  // has it: one list. authmilter's default list is kept, with these added.
  void finishOversigning() {
    if (oversign_.empty()) return;
    std::vector<std::string> names;
    for (const auto& word : util::splitList(config::findSetting("OversignHeaders")->defaultValue)) {
      names.push_back(util::toLower(word));
    }
    const size_t defaults = names.size();
    for (const auto& [line, entries] : oversign_) {
      for (const auto& e : entries) {
        if (std::find(names.begin(), names.end(), util::toLower(e.text)) == names.end()) names.push_back(util::toLower(e.text));
      }
    }
    if (names.size() == defaults) {
      for (const auto& [line, entries] : oversign_) {
        m_.report(*line, Status::NotNeeded, "authmilter oversigns these by default (OversignHeaders)");
      }
      return;
    }
    std::string value;
    for (const auto& n : names) value += (value.empty() ? "" : ",") + n;
    for (const auto& [line, entries] : oversign_) m_.set(*line, "OversignHeaders", value, "authmilter's default list, and these");
  }

  void mapAlgorithm(const ConfLine& line) {
    const std::string value = util::toLower(line.value);
    if (value == "rsa-sha256" || value == "ed25519-sha256") {
      m_.report(line, Status::NotNeeded, "the key decides: RSA keys sign rsa-sha256, Ed25519 keys ed25519-sha256");
    } else {
      m_.report(line, Status::CannotMap, "authmilter signs rsa-sha256 and ed25519-sha256 only (RFC 8301, RFC 8463)");
    }
  }

  void mapNameservers(const ConfLine& line) {
    std::string value;
    for (const auto& word : util::splitList(line.value)) {
      std::string why;
      if (!dns::parseNameserver(word, &why)) {
        m_.report(line, Status::CannotMap, why);
        return;
      }
      value += (value.empty() ? "" : ",") + word;
    }
    m_.set(line, "Nameservers", value);
  }

  const std::vector<ConfLine>& lines_;
  Mapper& m_;
  bool signing_ = true;
  bool keyTable_ = false;
  std::vector<const ConfLine*> simple_;
  std::vector<std::pair<const ConfLine*, std::vector<DatasetEntry>>> oversign_;
};

}  // namespace

void mapOpenDkim(const std::vector<ConfLine>& lines, Mapper& mapper) {
  mapper.setBaseDirectory({});
  for (const auto& line : lines) {
    if (util::iequals(line.key, "BaseDirectory")) mapper.setBaseDirectory(line.value);
  }
  OpenDkimMapper(lines, mapper).run();
}

}  // namespace authmilter::import
