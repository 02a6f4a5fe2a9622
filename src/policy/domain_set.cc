// Domain normalization (libidn2 for U-labels) and the DomainSet lookup.
#include "authmilter/policy/domain_set.h"

#include <idn2.h>

#include <cstdlib>

#include "authmilter/net/ip_address.h"
#include "authmilter/util/strings.h"

namespace authmilter::policy {

namespace {
bool isAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// RFC 1035 §2.3.4 sizes; letters, digits, hyphen and underscore (underscore for service
// names such as _dmarc; never harmful in a comparison).
bool validAsciiName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t labelLength = 0;
  for (char c : name) {
    if (c == '.') {
      if (labelLength == 0) return false;
      labelLength = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++labelLength > 63) return false;
  }
  return labelLength > 0;
}

std::optional<std::string> normalizeLiteral(std::string_view literal) {
  const auto address = net::IpAddress::parse(literal);
  if (!address) return std::nullopt;
  const std::string prefix = address->family() == net::IpAddress::Family::V6 ? "ipv6:" : "";
  return "[" + prefix + address->toString() + "]";
}
}  // namespace

std::optional<std::string> normalizeDomain(std::string_view domain) {
  if (!domain.empty() && domain.front() == '[') {
    if (domain.back() != ']') return std::nullopt;
    return normalizeLiteral(domain);
  }
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (isAscii(domain)) {
    std::string lower = util::toLower(domain);
    if (!validAsciiName(lower)) return std::nullopt;
    return lower;
  }
  const std::string input(domain);
  char* output = nullptr;
  int rc = idn2_to_ascii_8z(input.c_str(), &output, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) {
    rc = idn2_to_ascii_8z(input.c_str(), &output, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
  }
  if (rc != IDN2_OK || output == nullptr) return std::nullopt;
  std::string result = util::toLower(output);
  idn2_free(output);
  if (!validAsciiName(result)) return std::nullopt;
  return result;
}

bool DomainSet::add(std::string_view entry, std::string* error) {
  const bool suffix = !entry.empty() && entry.front() == '.';
  const auto normalized = normalizeDomain(suffix ? entry.substr(1) : entry);
  if (!normalized) {
    *error = "'" + std::string(entry) + "' is not a valid domain name";
    return false;
  }
  (suffix ? suffixes_ : exact_).insert(*normalized);
  return true;
}

bool DomainSet::contains(std::string_view domain) const {
  if (exact_.count(std::string(domain)) > 0) return true;
  // Walk the parents: "a.b.example.com" tries "b.example.com", "example.com", "com".
  for (size_t dot = domain.find('.'); dot != std::string_view::npos; dot = domain.find('.', dot + 1)) {
    if (suffixes_.count(std::string(domain.substr(dot + 1))) > 0) return true;
  }
  return false;
}

}  // namespace authmilter::policy
