// Envelope addresses (RFC 5321 §4.1.2 Path) as the MTA hands them to the milter.
// The parser takes the address apart only as far as policy needs: local part (unquoted),
// domain (normalized), and every routing device that has been used to sneak mail through
// relay checks: source routes, '%' and '!' paths, '@' inside a quoted local part.
// It does not decide anything; the relay stage does.
#pragma once

#include <string>
#include <string_view>

namespace authmilter::mail {

struct MailAddress {
  bool valid = false;        // false: unparseable (unbalanced quotes or brackets, bad domain)
  bool null = false;         // "<>"
  std::string text;          // the address without angle brackets, control characters replaced
  std::string localPart;     // unquoted
  std::string domain;        // normalized (normalizeDomain); empty when there is no '@'
  bool hasDomain = false;
  bool sourceRoute = false;  // "@relay1,@relay2:user@domain"
  bool routingInLocalPart = false;  // '@', '%' or '!' in the unquoted local part
  std::string error;         // why !valid
};

// `argument` is the first MAIL/RCPT argument as the MTA passes it, usually "<user@domain>".
MailAddress parseMailAddress(std::string_view argument);

}  // namespace authmilter::mail
