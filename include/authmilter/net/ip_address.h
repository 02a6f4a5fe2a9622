// An IPv4 or IPv6 address, parsed from the forms MTAs and list files use.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are unmapped to IPv4 on parse, so a
// client arriving over an IPv6 socket matches IPv4 list entries.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace authmilter::net {

class IpAddress {
 public:
  enum class Family : uint8_t { V4, V6 };

  // Accepts "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "[192.0.2.1]", "[IPv6:2001:db8::1]"
  // and "IPv6:2001:db8::1" (the last two as SMTP address literals spell them).
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress fromV4(const std::array<uint8_t, 4>& bytes);
  static IpAddress fromV6(const std::array<uint8_t, 16>& bytes);  // unmaps ::ffff:0:0/96

  Family family() const { return family_; }
  size_t size() const { return family_ == Family::V4 ? 4 : 16; }
  const uint8_t* bytes() const { return bytes_.data(); }
  std::string toString() const;
  bool operator==(const IpAddress&) const = default;

 private:
  Family family_ = Family::V4;
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace authmilter::net
