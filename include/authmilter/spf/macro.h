// SPF macro expansion (RFC 7208 §7). The syntax is checked before (isValidMacroString);
// expansion of text that does not parse returns nullopt.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "authmilter/net/ip_address.h"

namespace authmilter::spf {

struct MacroContext {
  std::string sender;        // %{s}: local-part@domain
  std::string localPart;     // %{l}
  std::string senderDomain;  // %{o}
  std::string domain;        // %{d}: the current domain
  net::IpAddress ip;      // %{i} %{c} %{v}
  std::string helo;          // %{h}
  std::string receiver;      // %{r}
  long long now = 0;         // %{t}
  std::function<std::string()> validatedName;  // %{p}: computed only when used
};

// Expands a macro-string (`explain`: an explain-string, where c, r, t and spaces are allowed).
std::optional<std::string> expandMacros(std::string_view text, const MacroContext& context, bool explain);

// §7.3: a name longer than 253 characters loses labels from the left until it fits.
std::string truncateDomain(std::string name);

// "1.2.0.192" for %{i} of 192.0.2.1; 32 dot-separated nibbles for IPv6 (§7.3).
std::string dottedAddress(const net::IpAddress& ip);

}  // namespace authmilter::spf
