// parseMailAddress: a small RFC 5321 Path scanner that is strict where relay checks need it.
#include "authmilter/mail/address.h"

#include "authmilter/policy/domain_set.h"
#include "authmilter/util/strings.h"

namespace authmilter::mail {

namespace {
// Finds `target` outside quoted strings (with backslash escapes); npos if absent.
// `last` chooses the last occurrence. Sets *balanced = false on an unterminated quote.
size_t findUnquoted(std::string_view s, char target, bool last, bool* balanced) {
  size_t found = std::string_view::npos;
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted && c == '\\') {
      ++i;
      continue;
    }
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == target) {
      found = i;
      if (!last) break;
    }
  }
  *balanced = !quoted;
  return found;
}

std::string unquote(std::string_view local) {
  std::string out;
  out.reserve(local.size());
  bool quoted = false;
  for (size_t i = 0; i < local.size(); ++i) {
    const char c = local[i];
    if (quoted && c == '\\' && i + 1 < local.size()) {
      out.push_back(local[++i]);
    } else if (c == '"') {
      quoted = !quoted;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

MailAddress invalid(MailAddress a, std::string why) {
  a.valid = false;
  a.error = std::move(why);
  return a;
}
}  // namespace

MailAddress parseMailAddress(std::string_view argument) {
  MailAddress a;
  std::string_view s = util::trim(argument);
  const bool open = !s.empty() && s.front() == '<';
  const bool close = !s.empty() && s.back() == '>';
  if (open != close || (open && s.size() < 2)) {
    a.text = util::sanitize(s);
    return invalid(a, "unbalanced angle brackets");
  }
  if (open) s = util::trim(s.substr(1, s.size() - 2));
  a.text = util::sanitize(s);
  if (s.empty()) {
    a.valid = true;
    a.null = true;
    return a;
  }
  bool balanced = true;
  if (s.front() == '@') {  // RFC 5321 §4.1.2 A-d-l, obsolete and a relay trick
    const size_t colon = findUnquoted(s, ':', false, &balanced);
    if (colon == std::string_view::npos) return invalid(a, "source route without ':'");
    a.sourceRoute = true;
    s = s.substr(colon + 1);
  }
  const size_t at = findUnquoted(s, '@', true, &balanced);
  if (!balanced) return invalid(a, "unterminated quoted string");
  const std::string_view local = at == std::string_view::npos ? s : s.substr(0, at);
  a.localPart = unquote(local);
  if (a.localPart.empty()) return invalid(a, "empty local part");
  a.routingInLocalPart = a.localPart.find_first_of("@%!") != std::string::npos;
  if (at != std::string_view::npos) {
    a.hasDomain = true;
    const auto domain = policy::normalizeDomain(s.substr(at + 1));
    if (!domain) return invalid(a, "bad domain");
    a.domain = *domain;
  }
  a.valid = true;
  return a;
}

}  // namespace authmilter::mail
