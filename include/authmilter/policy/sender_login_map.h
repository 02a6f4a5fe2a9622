// SenderLoginMap: which envelope senders each SASL login may use (Postfix's
// smtpd_sender_login_maps seen from the login's side). File format, one login a line:
//   alice     alice@example.org, @alias.example.org
//   bob:      bob@example.org bob.smith@example.org
// "@domain" grants every address in that domain. Logins compare case-sensitively (SASL
// logins are), addresses case-insensitively.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "authmilter/mail/address.h"

namespace authmilter::policy {

class SenderLoginMap {
 public:
  // `addresses` as written after the login; false + *error for a malformed entry.
  bool add(std::string_view login, const std::vector<std::string>& addresses, std::string* error);
  // The null sender <> belongs to everybody (bounces, vacation replies).
  bool owns(std::string_view login, const mail::MailAddress& sender) const;
  bool empty() const { return grants_.empty(); }

 private:
  struct Grants {
    std::vector<std::string> addresses;  // "localpart@domain", lower case, domain normalized
    std::vector<std::string> domains;    // normalized
  };
  std::unordered_map<std::string, Grants> grants_;
};

}  // namespace authmilter::policy
