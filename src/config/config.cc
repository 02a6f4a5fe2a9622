// Conf file loader: "Key value" lines (opendkim.conf style), checked against the settings
// table, then list files parsed into immutable sets, then the stage factories built.
#include "authmilter/config/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>

#include "authmilter/config/list_file.h"
#include "authmilter/config/settings.h"
#include "authmilter/util/strings.h"

namespace authmilter::config {

namespace {

struct RawValue {
  std::string value;
  int line = 0;
};

class Loader {
 public:
  explicit Loader(std::string path) : path_(std::move(path)) {
    const auto slash = path_.rfind('/');
    dir_ = slash == std::string::npos ? "." : path_.substr(0, slash == 0 ? 1 : slash);
  }

  std::shared_ptr<const Config> load() {
    readConfFile();
    auto config = std::make_shared<Config>();
    config->file = path_;
    fill(*config);
    if (!errors_.empty()) throw ConfigErrors(std::move(errors_));
    return config;
  }

 private:
  void error(int line, std::string message) { errors_.push_back({path_, line, std::move(message)}); }

  void readConfFile() {
    std::ifstream in(path_);
    if (!in) {
      error(0, std::string("cannot read configuration file: ") + std::strerror(errno));
      return;
    }
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      const std::string text = stripComment(line);
      if (text.empty()) continue;
      const auto split = text.find_first_of(" \t");
      const std::string key = text.substr(0, split);
      const std::string value =
          split == std::string::npos ? "" : std::string(util::trim(std::string_view(text).substr(split)));
      const SettingDef* def = findSetting(key);
      if (def == nullptr) {
        // OpenDKIM's name for the networks whose mail is signed (and not verified).
        error(number, util::iequals(key, "InternalHosts")
                          ? "unknown option 'InternalHosts': authmilter signs (and does not check) mail from "
                            "TrustedNetworks; list these networks there"
                          : "unknown option '" + key + "'");
        continue;
      }
      if (value.empty()) {
        error(number, std::string(def->name) + ": missing value");
        continue;
      }
      const auto [it, inserted] = values_.emplace(def->name, RawValue{value, number});
      if (!inserted) {
        error(number, std::string(def->name) + " is set twice (first at line " + std::to_string(it->second.line) + ")");
      }
    }
  }

  // The raw value of a setting (or its default, with line 0).
  RawValue raw(std::string_view name) const {
    const auto it = values_.find(std::string(name));
    if (it != values_.end()) return it->second;
    return {std::string(findSetting(name)->defaultValue), 0};
  }

  bool boolean(std::string_view name) {
    const auto v = raw(name);
    if (util::iequals(v.value, "yes") || util::iequals(v.value, "true") || v.value == "1") return true;
    if (util::iequals(v.value, "no") || util::iequals(v.value, "false") || v.value == "0") return false;
    error(v.line, std::string(name) + ": expected yes or no, got '" + v.value + "'");
    return false;
  }

  long integer(std::string_view name) {
    const auto v = raw(name);
    const SettingDef* def = findSetting(name);
    long n = 0;
    const auto* end = v.value.data() + v.value.size();
    auto [ptr, ec] = std::from_chars(v.value.data(), end, n);
    if (ec != std::errc() || ptr != end || n < def->min || n > def->max) {
      error(v.line, std::string(name) + ": expected a whole number from " + std::to_string(def->min) + " to " +
                        std::to_string(def->max) + ", got '" + v.value + "'");
      return def->min;
    }
    return n;
  }

  // "5" or "5s" (seconds), "500ms".
  std::chrono::milliseconds duration(std::string_view name) {
    const auto v = raw(name);
    const SettingDef* def = findSetting(name);
    std::string_view text = v.value;
    long scale = 1000;
    if (text.ends_with("ms")) {
      text.remove_suffix(2);
      scale = 1;
    } else if (text.ends_with("s")) {
      text.remove_suffix(1);
    }
    long n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || n > def->max / scale ||
        n * scale < def->min || n * scale > def->max) {
      error(v.line, std::string(name) + ": expected a duration from " + std::to_string(def->min) + "ms to " +
                        std::to_string(def->max / 1000) + "s such as 5s or 500ms, got '" + v.value + "'");
      return std::chrono::milliseconds(def->min);
    }
    return std::chrono::milliseconds(n * scale);
  }

  std::string choice(std::string_view name) {
    const auto v = raw(name);
    const SettingDef* def = findSetting(name);
    if (isChoice(*def, v.value)) return util::toLower(v.value);
    error(v.line, std::string(name) + ": expected one of " + std::string(def->choices) + ", got '" + v.value + "'");
    return std::string(def->defaultValue);
  }

  std::string resolvePath(const std::string& file) const {
    return file.empty() || file.front() == '/' ? file : dir_ + "/" + file;
  }

  // Reads a list file named by `name`; calls `add(entry, &error)` for each line.
  template <typename Add>
  bool list(std::string_view name, Add add) {
    const auto v = raw(name);
    if (v.value.empty()) return false;
    const std::string file = resolvePath(v.value);
    for (const auto& entry : readListFile(file, path_, v.line, errors_)) {
      std::string why;
      if (!add(entry.text, &why)) errors_.push_back({file, entry.line, why});
    }
    return true;
  }

  void fill(Config& c) {
    // Every simple setting through its binding in the table (checked against its kind and
    // limits there), before the options below that depend on them.
    for (const auto& def : settingDefs()) {
      if (def.bind.flag) def.bind.flag(c, boolean(def.name));
      if (def.bind.number) def.bind.number(c, integer(def.name));
      if (def.bind.duration) def.bind.duration(c, duration(def.name));
      if (def.bind.choice) def.bind.choice(c, choice(def.name));
    }
    std::string why;
    const auto socket = raw("Socket");
    if (auto spec = parseSocketSpec(socket.value, &why)) {
      c.socket = *spec;
    } else {
      error(socket.line, "Socket: " + why);
    }
    if (const auto metrics = raw("MetricsSocket"); !metrics.value.empty()) {
      // IPv4 only: Debian's civetweb, which serves the metrics, is built without IPv6.
      auto spec = parseSocketSpec(metrics.value, &why);
      in_addr address{};
      if (!spec) {
        error(metrics.line, "MetricsSocket: " + why);
      } else if (spec->kind != SocketSpec::Kind::Inet) {
        error(metrics.line, "MetricsSocket: Prometheus scrapes over TCP and IPv4 (the HTTP server has no IPv6): "
                            "use inet:PORT@ADDRESS, got '" + metrics.value + "'");
      } else if (inet_pton(AF_INET, spec->host.c_str(), &address) != 1) {
        error(metrics.line, "MetricsSocket: give the numeric IPv4 address to listen on, e.g. inet:9487@127.0.0.1, "
                            "got '" + metrics.value + "'");
      } else {
        c.metricsSocket = *spec;
      }
    }
    const auto umask = raw("UMask");
    unsigned mask = 0;
    const auto* end = umask.value.data() + umask.value.size();
    auto [ptr, ec] = std::from_chars(umask.value.data(), end, mask, 8);
    if (ec != std::errc() || ptr != end || mask > 0777) {
      error(umask.line, "UMask: expected an octal mode such as 007, got '" + umask.value + "'");
    }
    c.umask = mask;
    c.userId = raw("UserID").value;
    c.pidFile = resolvePath(raw("PidFile").value);

    const auto logFile = raw("LogFile").value;
    c.log.file = logFile == "stderr" ? logFile : resolvePath(logFile);

    c.authservId = raw("AuthservID").value;
    if (c.authservId.empty()) {
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      c.authservId = host[0] ? host : "localhost";
    } else if (c.authservId.find_first_of(" \t;()\"\\") != std::string::npos) {
      error(raw("AuthservID").line, "AuthservID: '" + c.authservId + "' must be one token (no blanks, ';' or quotes)");
    }

    list("LocalDomains", [&](const std::string& e, std::string* w) { return c.localDomains.add(e, w); });
    if (!list("TrustedNetworks", [&](const std::string& e, std::string* w) {
          const auto cidr = net::Cidr::parse(e, w);
          if (cidr) c.trustedNetworks.add(*cidr);
          return cidr.has_value();
        })) {
      std::string unused;
      c.trustedNetworks.add(*net::Cidr::parse("127.0.0.0/8", &unused));
      c.trustedNetworks.add(*net::Cidr::parse("::1", &unused));
    }
    list("IgnoreHosts", [&](const std::string& e, std::string* w) { return c.ignoreHosts.add(e, w); });
    c.submissionDaemons = util::splitList(raw("SubmissionDaemons").value);
    policy::SenderLoginMap logins;
    if (list("SenderLoginMap", [&](const std::string& e, std::string* w) {
          const auto split = e.find_first_of(" \t");
          std::string login = e.substr(0, split);
          if (!login.empty() && login.back() == ':') login.pop_back();
          if (login.empty()) {
            *w = "missing login";
            return false;
          }
          return logins.add(login, util::splitList(split == std::string::npos ? "" : e.substr(split)), w);
        })) {
      c.senderLoginMap = std::move(logins);
    }

    const auto nameservers = raw("Nameservers");
    for (const auto& word : util::splitList(nameservers.value)) {
      if (auto ns = dns::parseNameserver(word, &why)) {
        c.dns.nameservers.push_back(*ns);
      } else {
        error(nameservers.line, "Nameservers: " + why);
      }
    }
    if (nameservers.value.empty()) c.dns.nameservers = dns::systemNameservers();

    const auto pslFile = raw("PublicSuffixList");
    if (c.dmarcCheck && (c.dmarcOptions.standard == dmarc::Standard::Rfc7489 || !pslFile.value.empty())) {
      try {
        c.dmarcOptions.psl = std::make_shared<dmarc::PublicSuffixList>(resolvePath(pslFile.value));
      } catch (const std::exception& e) {
        error(pslFile.line, std::string("PublicSuffixList: ") + e.what());
      }
    }
    fillSigning(c);
    fillArc(c);
    fillReports(c);
  }

  // ARC: the sealing key (its own domain:selector:file, RSA) and the trusted sealers.
  void fillArc(Config& c) {
    const auto key = raw("ARCSealKey");
    if (!key.value.empty()) {
      std::string why;
      const auto line = dkim::parseKeyTableLine("arc " + key.value, &why);
      std::optional<dkim::PrivateKey> loaded;
      if (!line) {
        error(key.line, "ARCSealKey: expected domain:selector:/path/to/key, " + why);
      } else if (line->domain == "%" || !policy::normalizeDomain(line->domain)) {
        error(key.line, "ARCSealKey: '" + util::sanitize(line->domain) + "' is not a domain to seal as");
      } else if (loaded = dkim::loadPrivateKey(resolvePath(line->file), boolean("RequireSafeKeys"), &why); !loaded) {
        error(key.line, "ARCSealKey: " + why);
      } else if (loaded->algorithm != dkim::KeyAlgorithm::Rsa) {
        error(key.line, "ARCSealKey: " + line->file + " is not an RSA key (ARC validators know rsa-sha256 only)");
      } else {
        c.arcSealKey = arc::SealKey{*policy::normalizeDomain(line->domain), line->selector,
                                    std::make_shared<const dkim::PrivateKey>(std::move(*loaded))};
      }
    }
    if ((c.arcSealInbound || c.arcSealOutbound) && key.value.empty()) {
      error(raw("ARCSealing").line, "ARCSealing " + choice("ARCSealing") + " needs ARCSealKey");
    }
    c.hasArcTrustedSealers = list("ARCTrustedSealers", [&](const std::string& e, std::string* w) {
      return c.arcTrustedSealers.add(e, w);
    });
  }

  // DMARC reports: the store is checked by the daemon when it opens it (buildRuntime);
  // here only what can be wrong in the text.
  void fillReports(Config& c) {
    const auto store = raw("ReportStore");
    if (!store.value.empty() && !store.value.starts_with("sqlite:") && !store.value.starts_with("postgresql://") &&
        !store.value.starts_with("postgres://")) {
      error(store.line, "ReportStore: expected sqlite:FILE or postgresql://..., got '" + util::sanitize(store.value) + "'");
    } else if (store.value.starts_with("sqlite:")) {
      c.reports.store = "sqlite:" + resolvePath(store.value.substr(7));
    } else {
      c.reports.store = store.value;
    }
    c.reports.command = raw("ReportCommand").value;
    if (util::splitList(c.reports.command).empty()) error(raw("ReportCommand").line, "ReportCommand: empty");
    c.reports.orgName = raw("ReportOrgName").value;
    if (c.reports.orgName.empty()) c.reports.orgName = c.authservId;
    const auto email = raw("ReportEmail");
    c.reports.email = email.value;
    if (!email.value.empty()) {
      const auto at = email.value.rfind('@');
      if (at == std::string::npos || at == 0 || !policy::normalizeDomain(email.value.substr(at + 1)) ||
          email.value.find_first_of(" \t<>\"") != std::string::npos) {
        error(email.line, "ReportEmail: '" + util::sanitize(email.value) + "' is not an address (local@domain)");
      }
    }
    for (const auto& word : util::splitList(raw("ReportSuppress").value)) c.reports.suppress.push_back(util::toLower(word));
    fillFailureReports(c);
  }

  // FailureReports yes: reports go out signed by ReportEmail's key, at FailureReportRate.
  void fillFailureReports(Config& c) {
    auto& f = c.failureReports;
    const auto rate = raw("FailureReportRate");
    const auto parts = util::splitList(rate.value);
    const auto number = [](const std::string& text, unsigned* out) {
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
      return ec == std::errc() && ptr == text.data() + text.size() && *out >= 1 && *out <= 100000;
    };
    if (parts.size() != 2 || !number(parts[0], &f.perDestination) || !number(parts[1], &f.total)) {
      error(rate.line, "FailureReportRate: expected PER-ADDRESS,TOTAL reports an hour (1-100000 each), got '" +
                           util::sanitize(rate.value) + "'");
    }
    const auto bcc = raw("FailureReportsBcc");
    f.bcc = bcc.value;
    const auto at = f.bcc.rfind('@');
    if (!f.bcc.empty() && (at == std::string::npos || at == 0 || f.bcc.find_first_of(" \t<>\",") != std::string::npos)) {
      error(bcc.line, "FailureReportsBcc: '" + util::sanitize(f.bcc) + "' is not an address (local@domain)");
    }
    if (!f.enabled) return;
    const auto& email = c.reports.email;
    if (email.empty()) {
      error(raw("FailureReports").line, "FailureReports yes needs ReportEmail (the From: of the reports)");
    } else if (!c.signer || c.signingTable.select(email.substr(0, email.rfind('@')),
                                                  util::toLower(email.substr(email.rfind('@') + 1))).empty()) {
      error(raw("FailureReports").line, "FailureReports yes: no DKIM key signs ReportEmail " + email +
                                            " (unsigned reports fail DMARC)");
    }
  }

  // SignHeaders / OversignHeaders: header field names, lower case; "none" is the empty list.
  std::vector<std::string> headerNames(std::string_view name, const std::vector<std::string>& fallback) {
    const auto v = raw(name);
    if (v.value.empty()) return fallback;
    if (util::iequals(v.value, "none")) return {};
    std::vector<std::string> out;
    for (const auto& word : util::splitList(v.value)) {
      std::string lower = util::toLower(word);
      // RFC 5322 §3.6.8: a field name is printable ASCII except ':'.
      if (std::any_of(lower.begin(), lower.end(), [](char ch) { return ch <= ' ' || ch > '~' || ch == ':'; })) {
        error(v.line, std::string(name) + ": '" + util::sanitize(word) + "' is not a header field name");
        continue;
      }
      // Headers that we or the receivers add after signing would break the signature.
      for (const char* added : {"authentication-results", "received-spf", "x-authmilter-quarantine", "dkim-signature"}) {
        if (lower == added) {
          error(v.line, std::string(name) + ": " + word + " is added after signing (by authmilter or a receiver) and cannot be signed");
        }
      }
      out.push_back(std::move(lower));
    }
    return out;
  }

  // DKIM signing: which keys sign (Domain/Selector/KeyFile, or KeyTable + SigningTable), the
  // keys themselves, what the signatures cover, and whose mail is ours to sign.
  void fillSigning(Config& c) {
    const bool requireSafe = boolean("RequireSafeKeys");
    std::map<std::string, std::shared_ptr<const dkim::PrivateKey>> loaded;  // one read per file
    const auto loadKey = [&](const std::string& path, std::string* why) -> std::shared_ptr<const dkim::PrivateKey> {
      if (const auto it = loaded.find(path); it != loaded.end()) return it->second;
      auto key = dkim::loadPrivateKey(path, requireSafe, why);
      if (!key) return nullptr;
      return loaded.emplace(path, std::make_shared<const dkim::PrivateKey>(std::move(*key))).first->second;
    };
    const auto domain = raw("Domain");
    const auto selector = raw("Selector");
    const auto keyFile = raw("KeyFile");
    const auto keyTable = raw("KeyTable");
    const auto signingTable = raw("SigningTable");
    const bool simple = !domain.value.empty() || !selector.value.empty() || !keyFile.value.empty();
    const bool table = !keyTable.value.empty() || !signingTable.value.empty();
    if (simple && table) {
      error(std::max({domain.line, selector.line, keyFile.line}),
            "Domain/Selector/KeyFile and KeyTable/SigningTable both say which keys sign: use one or the other");
    } else if (simple) {
      std::string why;
      if (domain.value.empty() || selector.value.empty() || keyFile.value.empty()) {
        error(std::max({domain.line, selector.line, keyFile.line}),
              "Domain, Selector and KeyFile go together; missing: " +
                  std::string(domain.value.empty() ? "Domain " : "") + (selector.value.empty() ? "Selector " : "") +
                  (keyFile.value.empty() ? "KeyFile" : ""));
      } else if (const auto line = dkim::parseKeyTableLine("default %:" + selector.value + ":" + keyFile.value, &why);
                 !line) {
        error(selector.line, "Selector: " + why);
      } else if (const auto key = loadKey(resolvePath(keyFile.value), &why); !key) {
        error(keyFile.line, "KeyFile: " + why);
      } else {
        c.signingTable.addKey("default", {"%", line->selector, resolvePath(keyFile.value), key});
        for (const auto& word : util::splitList(domain.value)) {
          const auto d = policy::normalizeDomain(word);
          if (!d || d->front() == '[') {
            error(domain.line, "Domain: invalid domain '" + util::sanitize(word) + "'");
          } else {
            c.signingTable.addDomainRule(*d, "default");
          }
        }
      }
    } else if (table) {
      if (keyTable.value.empty() || signingTable.value.empty()) {
        error(std::max(keyTable.line, signingTable.line), "KeyTable and SigningTable go together");
      } else {
        list("KeyTable", [&](const std::string& e, std::string* w) {
          const auto line = dkim::parseKeyTableLine(e, w);
          if (!line) return false;
          const std::string path = resolvePath(line->file);
          const auto key = loadKey(path, w);
          if (key) c.signingTable.addKey(line->name, {line->domain, line->selector, path, key});
          return key != nullptr;
        });
        const bool pattern = util::istartsWith(signingTable.value, "refile:");
        const std::string file = resolvePath(signingTable.value.substr(pattern ? 7 : 0));
        for (const auto& entry : readListFile(file, path_, signingTable.line, errors_)) {
          std::string why;
          if (!c.signingTable.addRule(entry.text, pattern, &why)) errors_.push_back({file, entry.line, why});
        }
        if (c.signingTable.empty() && errors_.empty()) error(signingTable.line, "SigningTable: " + file + " has no entries, so nothing would be signed");
      }
    }

    dkim::SignOptions options;
    const auto canonicalization = raw("Canonicalization");
    const auto slash = canonicalization.value.find('/');
    const auto canon = [&](std::string_view word, dkim::Canonicalization* out) {
      if (util::iequals(word, "simple")) *out = dkim::Canonicalization::Simple;
      else if (util::iequals(word, "relaxed")) *out = dkim::Canonicalization::Relaxed;
      else return false;
      return true;
    };
    // As in OpenDKIM: one name is the header canonicalization, and the body's is simple.
    options.body = dkim::Canonicalization::Simple;
    if (!canon(canonicalization.value.substr(0, slash), &options.header) ||
        (slash != std::string::npos && !canon(canonicalization.value.substr(slash + 1), &options.body))) {
      error(canonicalization.line, "Canonicalization: expected header/body with simple or relaxed, such as "
                                   "relaxed/relaxed, got '" + canonicalization.value + "'");
    }
    options.signHeaders = headerNames("SignHeaders", dkim::defaultSignHeaders());
    if (std::find(options.signHeaders.begin(), options.signHeaders.end(), "from") == options.signHeaders.end()) {
      error(raw("SignHeaders").line, "SignHeaders must include From (RFC 6376 5.4)");
    }
    options.oversignHeaders = headerNames("OversignHeaders", {});
    options.signatureTtl = static_cast<unsigned>(integer("SignatureTTL"));
    c.signHeaders = options.signHeaders;
    c.signingDaemons = util::splitList(raw("SigningDaemons").value);
    if (c.signingTable.empty() || !errors_.empty()) return;
    try {
      auto signer = std::make_shared<const dkim::Signer>(std::move(options));
      // A key OpenSSL will not sign with is found now, not on the first message.
      for (const auto* key : c.signingTable.keys()) {
        const auto why = signer->selfTest(*key, key->domain == "%" ? "example.com" : key->domain);
        if (!why.empty()) error(0, "key " + key->file + ": cannot sign with it: " + why);
      }
      c.signer = std::move(signer);
    } catch (const std::exception& e) {
      error(0, std::string("DKIM signing: ") + e.what());
    }
  }

  std::string path_;
  std::string dir_;
  std::map<std::string, RawValue, std::less<>> values_;
  std::vector<ConfigError> errors_;
};

}  // namespace

std::optional<SocketSpec> parseSocketSpec(std::string_view text, std::string* error) {
  SocketSpec spec;
  const auto colon = text.find(':');
  const std::string scheme = util::toLower(text.substr(0, colon));
  const std::string_view rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  if (colon == std::string_view::npos || rest.empty()) {
    *error = "expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST, got '" + std::string(text) + "'";
    return std::nullopt;
  }
  if (scheme == "unix" || scheme == "local") {
    if (rest.front() != '/') {
      *error = "unix socket path must be absolute: '" + std::string(rest) + "'";
      return std::nullopt;
    }
    spec.kind = SocketSpec::Kind::Unix;
    spec.path = std::string(rest);
    spec.text = "unix:" + spec.path;
    return spec;
  }
  if (scheme != "inet" && scheme != "inet6") {
    *error = "unknown socket type '" + scheme + "' (use unix, local, inet or inet6)";
    return std::nullopt;
  }
  spec.kind = scheme == "inet" ? SocketSpec::Kind::Inet : SocketSpec::Kind::Inet6;
  const auto at = rest.find('@');
  const std::string_view port = rest.substr(0, at);
  spec.host = at == std::string_view::npos ? "" : std::string(rest.substr(at + 1));
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), spec.port);
  // Port 0 lets the kernel choose (the daemon logs the port it got): for tests.
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || spec.port > 65535) {
    *error = "bad port '" + std::string(port) + "' (0-65535)";
    return std::nullopt;
  }
  if (at != std::string_view::npos && spec.host.empty()) {
    *error = "empty host after '@'";
    return std::nullopt;
  }
  spec.text = scheme + ":" + std::to_string(spec.port) + (spec.host.empty() ? "" : "@" + spec.host);
  return spec;
}

std::shared_ptr<const Config> loadConfig(const std::string& path) { return Loader(path).load(); }

}  // namespace authmilter::config
