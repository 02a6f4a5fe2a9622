// An immutable set of IPv4/IPv6 networks (CIDR), built at config load and shared by all
// sessions. IPv4-mapped IPv6 clients match IPv4 entries (IpAddress unmaps them).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/net/ip_address.h"

namespace authmilter::net {

struct Cidr {
  IpAddress network;
  unsigned prefix = 0;

  // "192.0.2.0/24", "2001:db8::/32" or a bare address (a host route). Host bits set beyond
  // the prefix are an error: "192.0.2.1/24" is almost always a typo for .0/24 or /32.
  // On failure returns nullopt and sets *error.
  static std::optional<Cidr> parse(std::string_view text, std::string* error);
  bool contains(const IpAddress& address) const;
  std::string toString() const;
};

class CidrSet {
 public:
  void add(const Cidr& cidr) { entries_.push_back(cidr); }
  bool contains(const IpAddress& address) const;
  bool empty() const { return entries_.empty(); }
  const std::vector<Cidr>& entries() const { return entries_; }

 private:
  std::vector<Cidr> entries_;
};

}  // namespace authmilter::net
