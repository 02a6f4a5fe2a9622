// authmilter-import's driver: parses the inputs, runs the per-daemon tables over them in a
// fixed order (OpenDKIM, OpenDMARC, policyd-spf: later ones look at what OpenDKIM signs and
// trusts), settles conflicts (the first value wins, the rest are reported), builds the list
// files, and renders the conf.
#include <algorithm>

#include "authmilter/config/settings.h"
#include "authmilter/import/mapper.h"
#include "authmilter/net/cidr_set.h"
#include "authmilter/policy/host_list.h"
#include "authmilter/util/strings.h"

namespace authmilter::import {

namespace {

constexpr const char* kTrustedList = "trusted-networks";
constexpr const char* kIgnoreList = "ignore-hosts";
constexpr const char* kLocalList = "local-domains";

// OpenDKIM writes IPv6 entries with or without brackets: "[2001:db8::1]/64".
std::string unbracket(std::string_view text) {
  if (text.size() > 2 && text.front() == '[') {
    const auto close = text.find(']');
    if (close != std::string_view::npos) return std::string(text.substr(1, close - 1)) + std::string(text.substr(close + 1));
  }
  return std::string(text);
}

size_t settingOrder(std::string_view key) {
  const auto defs = config::settingDefs();
  for (size_t i = 0; i < defs.size(); ++i) {
    if (util::iequals(defs[i].name, key)) return i;
  }
  return defs.size();
}

}  // namespace

std::string_view toString(Status status) {
  switch (status) {
    case Status::CannotMap: return "cannot map";
    case Status::NotNeeded: return "not needed";
    case Status::Note: return "note";
    case Status::Conflict: return "conflict";
    case Status::Warning: return "warning";
  }
  return "?";
}

std::string Finding::toString() const {
  return where + ": " + key + ": " + std::string(import::toString(status)) + ": " + why;
}

const Setting* Result::find(std::string_view key) const {
  for (const auto& s : settings) {
    if (util::iequals(s.key, key)) return &s;
  }
  return nullptr;
}

void Mapper::set(const ConfLine& from, std::string_view key, std::string value, std::string note,
                 std::string_view hint) {
  const std::string origin = from.where() + ": " + from.key + " " + from.value;
  for (auto& s : result_.settings) {
    if (!util::iequals(s.key, key)) continue;
    if (s.value == value) {
      s.origins.push_back(origin);
      if (!note.empty()) s.origins.push_back("  " + note);
    } else {
      report(from, Status::Conflict,
             "authmilter has one " + std::string(key) + ": kept '" + s.value + "' from " + firstWhere_[std::string(key)] +
                 (hint.empty() ? "" : "; " + std::string(hint)));
    }
    return;
  }
  Setting s{std::string(key), std::move(value), {origin}};
  if (!note.empty()) s.origins.push_back("  " + note);
  firstWhere_[std::string(key)] = from.where();
  result_.settings.push_back(std::move(s));
}

void Mapper::setDerived(const std::string& where, std::string_view key, std::string value, std::string note) {
  if (result_.find(key) != nullptr) return;
  firstWhere_[std::string(key)] = where;
  result_.settings.push_back({std::string(key), std::move(value), {where + ": " + note}});
}

void Mapper::report(const ConfLine& line, Status status, std::string why) {
  reportAt(line.where(), line.key, status, std::move(why));
}

void Mapper::reportAt(std::string where, std::string key, Status status, std::string why) {
  result_.findings.push_back({std::move(where), std::move(key), status, std::move(why)});
}

void Mapper::addListLine(const std::string& list, const std::string& setting, const std::string& origin,
                         const std::string& entry) {
  auto& lines = lists_[list];
  listSetting_[list] = setting;
  const std::string comment = "# " + origin;
  if (std::find(lines.begin(), lines.end(), comment) == lines.end()) lines.push_back(comment);
  if (std::find(lines.begin(), lines.end(), entry) == lines.end()) lines.push_back(entry);
}

void Mapper::addTrusted(const DatasetEntry& entry, const ConfLine& from) {
  const std::string& key = from.key;
  const std::string origin = from.where() + ": " + from.key + " " + from.value;
  const std::string text = unbracket(entry.text);
  if (text.starts_with('!')) {
    reportAt(entry.where, key, Status::CannotMap,
             "'" + text + "': TrustedNetworks has no exclusions; a wider entry of the list now trusts it");
    return;
  }
  if (util::iequals(text, "localhost")) {
    // Loopback is always listed (finish()); the name stands for it.
    addListLine(kTrustedList, "TrustedNetworks", origin, "127.0.0.0/8");
    return;
  }
  std::string why;
  if (!net::Cidr::parse(text, &why)) {
    reportAt(entry.where, key, Status::CannotMap,
             "'" + text + "': TrustedNetworks takes addresses and networks, not host names; list its addresses");
    return;
  }
  addListLine(kTrustedList, "TrustedNetworks", origin, text);
}

void Mapper::addIgnored(const DatasetEntry& entry, const ConfLine& from) {
  const std::string& key = from.key;
  const std::string origin = from.where() + ": " + from.key + " " + from.value;
  std::string text = unbracket(entry.text);
  if (text.starts_with('!')) {
    reportAt(entry.where, key, Status::CannotMap, "'" + text + "': IgnoreHosts has no exclusions; left out");
    return;
  }
  if (text.starts_with("*.")) text.erase(0, 1);  // "*.example.com" -> ".example.com"
  policy::HostList check;
  std::string why;
  if (!check.add(text, &why)) {
    reportAt(entry.where, key, Status::CannotMap, why);
    return;
  }
  addListLine(kIgnoreList, "IgnoreHosts", origin, text);
}

bool Mapper::trustedHas(std::string_view entry) const {
  const auto it = lists_.find(kTrustedList);
  return it != lists_.end() && std::find(it->second.begin(), it->second.end(), entry) != it->second.end();
}

void Mapper::addSignedDomain(const std::string& entry) {
  std::string why;
  if (!signedSet_.add(entry, &why)) return;
  const auto normalized = policy::normalizeDomain(entry.starts_with('.') ? entry.substr(1) : entry);
  const std::string text = (entry.starts_with('.') ? "." : "") + *normalized;
  if (std::find(signedDomains_.begin(), signedDomains_.end(), text) == signedDomains_.end()) {
    signedDomains_.push_back(text);
  }
}

bool Mapper::signsFor(std::string_view domain) const { return signsEverything_ || signedSet_.contains(domain); }

std::string Mapper::listPath(const std::string& name) const {
  return options_.listDir.empty() ? name : options_.listDir + "/" + name;
}

void Mapper::finish(bool anyInput) {
  // authmilter lets TrustedNetworks relay; local programs talk to the MTA over loopback.
  if (const auto it = lists_.find(kTrustedList); it != lists_.end()) {
    net::CidrSet set;
    for (const auto& line : it->second) {
      std::string why;
      if (const auto cidr = net::Cidr::parse(line, &why)) set.add(*cidr);
    }
    for (const char* loopback : {"127.0.0.1", "::1"}) {
      if (set.contains(*net::IpAddress::parse(loopback))) continue;
      const std::string entry = std::string(loopback) == "::1" ? "::1" : "127.0.0.0/8";
      addListLine(kTrustedList, "TrustedNetworks", "added by authmilter-import: loopback (local programs)", entry);
      reportAt("authmilter-import", "TrustedNetworks", Status::Note,
               entry + " added: authmilter lets TrustedNetworks relay and signs their mail, and local programs "
                       "reach the MTA over loopback");
    }
  }
  if (!options_.localDomains.empty()) {
    result_.settings.push_back({"LocalDomains", options_.localDomains, {"--local-domains " + options_.localDomains}});
  } else if (!signedDomains_.empty()) {
    for (const auto& d : signedDomains_) addListLine(kLocalList, "LocalDomains", "the domains the inputs sign for", d);
    reportAt("authmilter-import", "LocalDomains", Status::Warning,
             std::string(kLocalList) + " lists the domains the inputs sign for; authmilter refuses mail from "
             "other hosts to any domain not in LocalDomains (Relay access denied): add every domain this host "
             "receives mail for (Postfix: mydestination, virtual_mailbox_domains, relay_domains), or give "
             "--local-domains FILE");
  } else if (anyInput) {
    reportAt("authmilter-import", "LocalDomains", Status::Warning,
             "no domain is known: authmilter refuses mail from other hosts to any domain not in LocalDomains "
             "(Relay access denied); write the domains this host receives mail for to a file and name it with "
             "LocalDomains (or import again with --local-domains FILE)");
  }
  for (const auto& [name, lines] : lists_) {
    result_.lists.push_back({name, listSetting_[name], lines});
    result_.settings.push_back({listSetting_[name], listPath(name), {"written by authmilter-import: " + name}});
  }
  std::stable_sort(result_.settings.begin(), result_.settings.end(),
                   [](const Setting& a, const Setting& b) { return settingOrder(a.key) < settingOrder(b.key); });
}

Result importConfigs(const std::vector<Input>& inputs, const Options& options) {
  Result result;
  Mapper mapper(options, result);
  std::vector<const Input*> ordered;
  for (const auto& in : inputs) ordered.push_back(&in);
  std::stable_sort(ordered.begin(), ordered.end(), [](const Input* a, const Input* b) { return a->source < b->source; });
  for (const auto* in : ordered) {
    if (in->source == Source::PolicydSpf) {
      mapPolicydSpf(parseSpfConf(in->name, in->text, result.errors), in->name, mapper);
      continue;
    }
    const auto lines = parseMilterConf(in->name, in->text, options.read, result.errors);
    if (in->source == Source::OpenDkim) {
      mapOpenDkim(lines, mapper);
    } else {
      mapOpenDmarc(lines, in->name, mapper);
    }
  }
  mapper.finish(!inputs.empty());
  return result;
}

namespace {

// Comment text folded at about 88 columns, each line starting with "# " (+ indent).
void appendComment(std::string& out, std::string_view text, std::string_view indent) {
  constexpr size_t kWidth = 88;
  std::string line(indent);
  size_t pos = 0;
  while (pos < text.size()) {
    auto next = text.find(' ', pos);
    if (next == std::string_view::npos) next = text.size();
    const auto word = text.substr(pos, next - pos);
    if (line.size() > indent.size() && line.size() + 1 + word.size() > kWidth) {
      out += "# " + line + "\n";
      line = std::string(indent) + "  ";
    } else if (line.size() > indent.size()) {
      line += ' ';
    }
    line += word;
    pos = next + 1;
  }
  out += "# " + line + "\n";
}

}  // namespace

std::string renderConf(const Result& result, const std::vector<Input>& inputs, std::string_view version) {
  std::string out = "# authmilter.conf written by authmilter-import " + std::string(version) + " from\n";
  for (const auto& in : inputs) {
    const char* what = in.source == Source::OpenDkim ? "OpenDKIM" : in.source == Source::OpenDmarc ? "OpenDMARC" : "policyd-spf";
    out += "#   " + in.name + " (" + what + ")\n";
  }
  out += "# Check it with: authmilter -n -c THIS-FILE. What is not set here keeps authmilter's default\n"
         "# (authmilter.conf(5)); authmilter-import(8) explains each mapping.\n";
  if (!result.findings.empty()) {
    out += "#\n# Not carried over, or carried over with a difference:\n";
    for (const auto& f : result.findings) out += "#   " + f.toString() + "\n";
  }
  for (const auto& s : result.settings) {
    out += "\n";
    for (const auto& origin : s.origins) {
      const bool note = origin.starts_with("  ");
      appendComment(out, note ? std::string_view(origin).substr(2) : origin, note ? "  " : "");
    }
    out += s.key + " " + s.value + "\n";
  }
  return out;
}

}  // namespace authmilter::import
