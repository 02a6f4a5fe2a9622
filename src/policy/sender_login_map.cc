// SenderLoginMap parsing and ownership checks.
#include "authmilter/policy/sender_login_map.h"

#include <algorithm>

#include "authmilter/policy/domain_set.h"
#include "authmilter/util/strings.h"

namespace authmilter::policy {

bool SenderLoginMap::add(std::string_view login, const std::vector<std::string>& addresses, std::string* error) {
  if (addresses.empty()) {
    *error = "login '" + std::string(login) + "' has no addresses";
    return false;
  }
  auto& grants = grants_[std::string(login)];
  for (const auto& entry : addresses) {
    if (entry.size() > 1 && entry.front() == '@') {
      const auto domain = normalizeDomain(std::string_view(entry).substr(1));
      if (!domain) {
        *error = "'" + entry + "' is not a valid @domain";
        return false;
      }
      grants.domains.push_back(*domain);
      continue;
    }
    const auto parsed = mail::parseMailAddress(entry);
    if (!parsed.valid || parsed.null || !parsed.hasDomain || parsed.sourceRoute) {
      *error = "'" + entry + "' is not an address (user@domain) or @domain";
      return false;
    }
    grants.addresses.push_back(util::toLower(parsed.localPart) + "@" + parsed.domain);
  }
  return true;
}

bool SenderLoginMap::owns(std::string_view login, const mail::MailAddress& sender) const {
  if (sender.null) return true;
  if (!sender.valid || !sender.hasDomain || sender.sourceRoute) return false;
  const auto it = grants_.find(std::string(login));
  if (it == grants_.end()) return false;
  const auto& grants = it->second;
  if (std::find(grants.domains.begin(), grants.domains.end(), sender.domain) != grants.domains.end()) return true;
  const std::string key = util::toLower(sender.localPart) + "@" + sender.domain;
  return std::find(grants.addresses.begin(), grants.addresses.end(), key) != grants.addresses.end();
}

}  // namespace authmilter::policy
