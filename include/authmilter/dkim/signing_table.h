// Which keys sign a message, chosen by the address in its From header, in the table formats
// OpenDKIM users know (opendkim.conf(5)):
//   KeyTable      name  domain:selector:/path/to/key     (several lines may share a name:
//                                                         one RSA and one Ed25519 key -> two
//                                                         signatures from one table entry)
//   SigningTable  key   name [signer]
// A plain SigningTable is looked up in OpenDKIM's order, first match wins: user@host, host,
// user@.parent for each parent domain (nearest first), .parent likewise, user@*, *.
// A "refile:" SigningTable holds '*' wildcard patterns matched against user@host, first match
// in file order wins. A "%" in the KeyTable domain or in the signer stands for the From
// domain. The one-domain form (Domain, Selector, KeyFile) is a table of exact domains.
// Keys are loaded by the config loader; this class only chooses. Immutable once built.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authmilter/dkim/signing_key.h"

namespace authmilter::dkim {

// One KeyTable key.
struct KeyEntry {
  std::string domain;  // d=, lower case; "%" = the From domain
  std::string selector;
  std::string file;    // where the key came from (for messages; never its content)
  std::shared_ptr<const PrivateKey> key;
};

// One signature to make.
struct SignatureSpec {
  std::string domain;    // d=
  std::string selector;  // s=
  std::string identity;  // i=, or empty
  const KeyEntry* entry = nullptr;
};

struct KeyTableLine {
  std::string name, domain, selector, file;
};
// "name domain:selector:/path/to/key". nullopt + *error when malformed.
std::optional<KeyTableLine> parseKeyTableLine(std::string_view line, std::string* error);

class SigningTable {
 public:
  void addKey(const std::string& name, KeyEntry entry);
  bool hasKey(std::string_view name) const { return keys_.count(std::string(name)) > 0; }
  // One SigningTable line: "key name [signer]" (key: an address form, or a pattern when
  // `pattern`). false + *error for a malformed line or an unknown key name.
  bool addRule(std::string_view line, bool pattern, std::string* error);
  // The one-domain form: every From in `domain` is signed with the keys named `name`.
  void addDomainRule(std::string_view domain, const std::string& name);

  bool empty() const { return exact_.empty() && patterns_.empty(); }
  size_t keyCount() const;
  // Every key, for the start-up check that libopendkim signs with each.
  std::vector<const KeyEntry*> keys() const;

  // The signatures for a From address (local part and domain, domain as an A-label); empty
  // when the table does not cover it. `*matched` (if given) says which entry matched.
  std::vector<SignatureSpec> select(std::string_view localPart, std::string_view domain,
                                    std::string* matched = nullptr) const;

 private:
  struct Rule {
    std::string keyName;
    std::string signer;
  };
  const Rule* find(const std::string& address, const std::string& localPart, const std::string& domain,
                   std::string* matched) const;

  std::map<std::string, std::vector<KeyEntry>, std::less<>> keys_;
  std::map<std::string, Rule, std::less<>> exact_;             // lower case
  std::vector<std::pair<std::string, Rule>> patterns_;         // lower case, file order
};

// '*' matches any run of characters (also none); everything else itself, case-insensitively.
bool wildcardMatch(std::string_view pattern, std::string_view text);

}  // namespace authmilter::dkim
