// IpAddress parsing and printing on inet_pton/inet_ntop.
#include "authmilter/net/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "authmilter/util/strings.h"

namespace authmilter::net {

IpAddress IpAddress::fromV4(const std::array<uint8_t, 4>& bytes) {
  IpAddress a;
  a.family_ = Family::V4;
  std::memcpy(a.bytes_.data(), bytes.data(), 4);
  return a;
}

IpAddress IpAddress::fromV6(const std::array<uint8_t, 16>& bytes) {
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kMappedPrefix, 12) == 0) {
    return fromV4({bytes[12], bytes[13], bytes[14], bytes[15]});
  }
  IpAddress a;
  a.family_ = Family::V6;
  a.bytes_ = bytes;
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  text = util::trim(text);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (util::istartsWith(text, "IPv6:")) text.remove_prefix(5);
  if (text.empty() || text.size() > 64) return std::nullopt;
  const std::string s(text);
  std::array<uint8_t, 4> v4{};
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), v4.data()) == 1) return fromV4(v4);
    return std::nullopt;
  }
  std::array<uint8_t, 16> v6{};
  if (inet_pton(AF_INET6, s.c_str(), v6.data()) == 1) return fromV6(v6);
  return std::nullopt;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family_ == Family::V4 ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

}  // namespace authmilter::net
