// HostList: CIDR entries and name entries side by side.
#include "authmilter/policy/host_list.h"

namespace authmilter::policy {

namespace {
bool looksLikeNetwork(std::string_view entry) {
  if (entry.find(':') != std::string_view::npos || entry.find('/') != std::string_view::npos) return true;
  for (char c : entry) {
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
  }
  return true;
}
}  // namespace

bool HostList::add(std::string_view entry, std::string* error) {
  if (looksLikeNetwork(entry)) {
    const auto cidr = net::Cidr::parse(entry, error);
    if (!cidr) return false;
    networks_.add(*cidr);
    return true;
  }
  return names_.add(entry, error);
}

bool HostList::matches(const std::optional<net::IpAddress>& address, std::string_view hostname) const {
  if (address && networks_.contains(*address)) return true;
  // The MTA reports "[192.0.2.1]" (or "unknown") for a client without a verified name.
  if (hostname.empty() || hostname.front() == '[') return false;
  const auto name = normalizeDomain(hostname);
  return name && names_.contains(*name);
}

}  // namespace authmilter::policy
