// CIDR parsing and matching (linear scan: trusted-network lists are short).
#include "authmilter/net/cidr_set.h"

#include <charconv>

namespace authmilter::net {

namespace {
bool prefixMatches(const uint8_t* a, const uint8_t* b, unsigned bits) {
  unsigned i = 0;
  for (; bits >= 8; bits -= 8, ++i) {
    if (a[i] != b[i]) return false;
  }
  if (bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits));
  return (a[i] & mask) == (b[i] & mask);
}

bool hostBitsClear(const IpAddress& network, unsigned prefix) {
  const unsigned total = static_cast<unsigned>(network.size() * 8);
  for (unsigned bit = prefix; bit < total; ++bit) {
    if (network.bytes()[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}
}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* error) {
  const auto slash = text.find('/');
  const auto addressText = text.substr(0, slash);
  const auto address = IpAddress::parse(addressText);
  if (!address || addressText.find('[') != std::string_view::npos) {
    *error = "'" + std::string(text) + "' is not an IPv4 or IPv6 address or network";
    return std::nullopt;
  }
  const unsigned maxPrefix = static_cast<unsigned>(address->size() * 8);
  // An IPv4-mapped network (::ffff:192.0.2.0/120) becomes the IPv4 network it stands for.
  const bool mapped = address->family() == IpAddress::Family::V4 && addressText.find(':') != std::string_view::npos;
  unsigned prefix = maxPrefix;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, prefix);
    if (digits.empty() || ec != std::errc() || ptr != end) {
      *error = "'" + std::string(text) + "' has a bad prefix length";
      return std::nullopt;
    }
    if (mapped) {
      if (prefix < 96 || prefix > 128) {
        *error = "'" + std::string(text) + "': an IPv4-mapped network needs a prefix from 96 to 128";
        return std::nullopt;
      }
      prefix -= 96;
    }
    if (prefix > maxPrefix) {
      *error = "'" + std::string(text) + "': prefix length is larger than " + std::to_string(maxPrefix);
      return std::nullopt;
    }
  }
  if (!hostBitsClear(*address, prefix)) {
    *error = "'" + std::string(text) + "' has bits set beyond the /" + std::to_string(prefix) +
             " prefix (write the network address, or /" + std::to_string(maxPrefix) + " for one host)";
    return std::nullopt;
  }
  return Cidr{*address, prefix};
}

bool Cidr::contains(const IpAddress& address) const {
  return address.family() == network.family() && prefixMatches(address.bytes(), network.bytes(), prefix);
}

std::string Cidr::toString() const { return network.toString() + "/" + std::to_string(prefix); }

bool CidrSet::contains(const IpAddress& address) const {
  for (const auto& entry : entries_) {
    if (entry.contains(address)) return true;
  }
  return false;
}

}  // namespace authmilter::net
