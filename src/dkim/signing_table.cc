// Signing key choice (see the header).
#include "authmilter/dkim/signing_table.h"

#include <cctype>

#include "authmilter/policy/domain_set.h"
#include "authmilter/util/strings.h"

namespace authmilter::dkim {

namespace {

// "%" stands for the From domain (opendkim.conf(5), KeyTable and SigningTable).
std::string expand(std::string_view text, std::string_view domain) {
  std::string out;
  for (char c : text) {
    if (c == '%') {
      out.append(domain);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool isSubdomainOrSame(std::string_view name, std::string_view parent) {
  return util::iequals(name, parent) ||
         (name.size() > parent.size() && name[name.size() - parent.size() - 1] == '.' &&
          util::iequals(name.substr(name.size() - parent.size()), parent));
}

}  // namespace

bool wildcardMatch(std::string_view pattern, std::string_view text) {
  // Iterative glob with backtracking to the last '*': linear-ish, never recursive.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() &&
               std::tolower(static_cast<unsigned char>(pattern[p])) == std::tolower(static_cast<unsigned char>(text[t]))) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::optional<KeyTableLine> parseKeyTableLine(std::string_view line, std::string* error) {
  const auto words = util::splitList(line);
  if (words.size() != 2) {
    *error = "expected 'name domain:selector:/path/to/key'";
    return std::nullopt;
  }
  KeyTableLine out;
  out.name = words[0];
  const std::string& value = words[1];
  const auto first = value.find(':');
  const auto second = first == std::string::npos ? first : value.find(':', first + 1);
  if (second == std::string::npos) {
    *error = "expected domain:selector:/path/to/key after the name, got '" + util::sanitize(value) + "'";
    return std::nullopt;
  }
  out.domain = value.substr(0, first);
  out.selector = util::toLower(value.substr(first + 1, second - first - 1));
  out.file = value.substr(second + 1);
  if (out.domain != "%") {
    const auto domain = policy::normalizeDomain(out.domain);
    if (!domain || domain->front() == '[') {
      *error = "invalid signing domain '" + util::sanitize(out.domain) + "'";
      return std::nullopt;
    }
    out.domain = *domain;
  }
  // RFC 6376 §3.1: a selector is one or more dot-separated sub-domain labels.
  if (const auto selector = policy::normalizeDomain(out.selector); !selector || selector->front() == '[') {
    *error = "invalid selector '" + util::sanitize(out.selector) + "'";
    return std::nullopt;
  }
  if (out.file.empty()) {
    *error = "missing key file path";
    return std::nullopt;
  }
  return out;
}

void SigningTable::addKey(const std::string& name, KeyEntry entry) { keys_[name].push_back(std::move(entry)); }

bool SigningTable::addRule(std::string_view line, bool pattern, std::string* error) {
  const auto words = util::splitList(line);
  if (words.size() < 2 || words.size() > 3) {
    *error = "expected 'address-or-pattern keyname [signer]'";
    return false;
  }
  if (!hasKey(words[1])) {
    *error = "no KeyTable entry named '" + util::sanitize(words[1]) + "'";
    return false;
  }
  Rule rule{words[1], words.size() == 3 ? words[2] : std::string()};
  std::string key = util::toLower(words[0]);
  if (pattern) {
    patterns_.emplace_back(std::move(key), std::move(rule));
  } else if (!exact_.emplace(key, std::move(rule)).second) {
    *error = "'" + util::sanitize(words[0]) + "' is listed twice";
    return false;
  }
  return true;
}

void SigningTable::addDomainRule(std::string_view domain, const std::string& name) {
  exact_.emplace(util::toLower(domain), Rule{name, {}});
}

size_t SigningTable::keyCount() const {
  size_t n = 0;
  for (const auto& [name, entries] : keys_) n += entries.size();
  return n;
}

std::vector<const KeyEntry*> SigningTable::keys() const {
  std::vector<const KeyEntry*> out;
  for (const auto& [name, entries] : keys_) {
    for (const auto& e : entries) out.push_back(&e);
  }
  return out;
}

const SigningTable::Rule* SigningTable::find(const std::string& address, const std::string& localPart,
                                             const std::string& domain, std::string* matched) const {
  for (const auto& [pattern, rule] : patterns_) {
    if (wildcardMatch(pattern, address)) {
      if (matched) *matched = pattern;
      return &rule;
    }
  }
  std::vector<std::string> candidates{address, domain};
  std::vector<std::string> parents;
  for (auto dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1)) {
    parents.push_back(domain.substr(dot));  // ".example.com", ".com"
  }
  for (const auto& p : parents) candidates.push_back(localPart + "@" + p);
  for (const auto& p : parents) candidates.push_back(p);
  candidates.push_back(localPart + "@*");
  candidates.push_back("*");
  for (const auto& c : candidates) {
    if (const auto it = exact_.find(c); it != exact_.end()) {
      if (matched) *matched = c;
      return &it->second;
    }
  }
  return nullptr;
}

std::vector<SignatureSpec> SigningTable::select(std::string_view localPart, std::string_view domain,
                                                std::string* matched) const {
  const std::string lowerLocal = util::toLower(localPart);
  const std::string lowerDomain = util::toLower(domain);
  const Rule* rule = find(lowerLocal + "@" + lowerDomain, lowerLocal, lowerDomain, matched);
  if (rule == nullptr) return {};
  const auto keys = keys_.find(rule->keyName);
  if (keys == keys_.end()) return {};
  std::vector<SignatureSpec> out;
  for (const auto& entry : keys->second) {
    SignatureSpec spec;
    spec.domain = entry.domain == "%" ? lowerDomain : entry.domain;
    spec.selector = entry.selector;
    spec.entry = &entry;
    // RFC 6376 §3.5: i= must be in d= or a subdomain of it; otherwise it is left out.
    const std::string signer = expand(rule->signer, lowerDomain);
    const auto at = signer.rfind('@');
    if (!signer.empty() && isSubdomainOrSame(at == std::string::npos ? signer : signer.substr(at + 1), spec.domain)) {
      spec.identity = at == std::string::npos ? "@" + signer : signer;
    }
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace authmilter::dkim
