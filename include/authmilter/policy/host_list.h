// A list of hosts as postmasters write them (OpenDMARC's IgnoreHosts, OpenDKIM's
// InternalHosts): networks in CIDR form, host names, and ".domain" for every host below.
// Names match the client name the MTA reports (its reverse lookup); addresses are the
// safer choice, since a PTR record is what the client's owner says it is.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "authmilter/net/cidr_set.h"
#include "authmilter/policy/domain_set.h"

namespace authmilter::policy {

class HostList {
 public:
  // An entry with a digit-and-dot or colon form is a network, anything else a name.
  bool add(std::string_view entry, std::string* error);
  bool matches(const std::optional<net::IpAddress>& address, std::string_view hostname) const;
  bool empty() const { return networks_.empty() && names_.empty(); }
  const net::CidrSet& networks() const { return networks_; }

 private:
  net::CidrSet networks_;
  DomainSet names_;
};

}  // namespace authmilter::policy
