// Domain names as policy compares them, and an immutable set of them.
// normalizeDomain() is the one place where a domain from the network or from a list file
// becomes comparable: IDNA2008 A-labels (libidn2), lower case, one trailing dot removed,
// address literals in canonical form. Anything it cannot normalize matches nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace authmilter::policy {

// "Example.COM." -> "example.com"; "bücher.example" -> "xn--bcher-kva.example";
// "[192.0.2.1]" / "[IPv6:2001:DB8::1]" -> "[192.0.2.1]" / "[ipv6:2001:db8::1]".
// nullopt for an empty name, an empty label, a label over 63 octets, a name over 253,
// characters outside letters/digits/hyphen/underscore, or a bad U-label or literal.
std::optional<std::string> normalizeDomain(std::string_view domain);

// Entries: "example.com" matches that domain only; ".example.com" matches every domain
// below it (not example.com itself); "[192.0.2.1]" matches that address literal.
class DomainSet {
 public:
  // Returns false (and sets *error) when the entry cannot be normalized.
  bool add(std::string_view entry, std::string* error);
  // `domain` must already be normalized.
  bool contains(std::string_view domain) const;
  bool empty() const { return exact_.empty() && suffixes_.empty(); }

 private:
  std::unordered_set<std::string> exact_;
  std::unordered_set<std::string> suffixes_;  // stored without the leading dot
};

}  // namespace authmilter::policy
