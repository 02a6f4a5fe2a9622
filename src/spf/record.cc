// SPF record parser, strict to the RFC 7208 ABNF (§12).
#include "authmilter/spf/record.h"

#include <arpa/inet.h>

#include <cstring>

#include "authmilter/util/strings.h"

namespace authmilter::spf {

namespace {

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlnum(char c) { return isAlpha(c) || isDigit(c); }
bool isDelimiter(char c) { return std::strchr(".-+,/_=", c) != nullptr && c != '\0'; }

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

// §12 toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool isTopLabel(std::string_view label) {
  if (label.empty()) return false;
  bool alpha = false;
  bool hyphen = false;
  for (char c : label) {
    if (isAlpha(c)) {
      alpha = true;
    } else if (c == '-') {
      hyphen = true;
    } else if (!isDigit(c)) {
      return false;
    }
  }
  if (!hyphen) return alpha;
  return isAlnum(label.front()) && isAlnum(label.back());
}

// "/N" with no leading zero and N <= max; `text` is the digits after the slash.
std::optional<unsigned> cidrLength(std::string_view digits, unsigned max) {
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  unsigned n = 0;
  for (char c : digits) {
    if (!isDigit(c)) return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  if (n > max) return std::nullopt;
  return n;
}

// §12 ip4-network: four qnums, no leading zeros.
bool parseIp4(std::string_view text, uint8_t* out) {
  int part = 0;
  size_t i = 0;
  while (part < 4) {
    size_t start = i;
    unsigned value = 0;
    while (i < text.size() && isDigit(text[i]) && i - start < 3) value = value * 10 + static_cast<unsigned>(text[i++] - '0');
    const size_t len = i - start;
    if (len == 0 || value > 255 || (len > 1 && text[start] == '0')) return false;
    out[part++] = static_cast<uint8_t>(value);
    if (part < 4) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
  }
  return i == text.size();
}

// Splits "domain-spec/4cidr//6cidr" (a, mx) into its parts.
bool splitDualCidr(std::string_view arg, std::string_view* spec, Mechanism& m, std::string* error) {
  // The CIDR suffix is the trailing "/digits" and "//digits"; a domain-spec may contain '/'
  // itself (a macro delimiter), so only the tail is looked at.
  auto digitsTail = [](std::string_view s) {
    size_t i = s.size();
    while (i > 0 && isDigit(s[i - 1])) --i;
    return i;
  };
  std::string_view rest = arg;
  size_t d = digitsTail(rest);
  if (d < rest.size() && d >= 2 && rest[d - 1] == '/' && rest[d - 2] == '/') {
    auto v6 = cidrLength(rest.substr(d), 128);
    if (!v6) return fail(error, "bad IPv6 CIDR length in '" + std::string(arg) + "'");
    m.cidr6 = *v6;
    rest = rest.substr(0, d - 2);
    d = digitsTail(rest);
  }
  if (d < rest.size() && d >= 1 && rest[d - 1] == '/' && !(d >= 2 && rest[d - 2] == '/')) {
    auto v4 = cidrLength(rest.substr(d), 32);
    if (!v4) return fail(error, "bad IPv4 CIDR length in '" + std::string(arg) + "'");
    m.cidr4 = *v4;
    rest = rest.substr(0, d - 1);
  }
  *spec = rest;
  return true;
}

bool parseMechanism(std::string_view term, Mechanism& m, std::string* error) {
  m.text = std::string(term);
  if (!term.empty() && std::strchr("+-~?", term.front()) != nullptr) {
    m.qualifier = term.front();
    term.remove_prefix(1);
  }
  size_t n = 0;
  while (n < term.size() && isAlnum(term[n])) ++n;
  const std::string name = util::toLower(term.substr(0, n));
  std::string_view arg = term.substr(n);  // ":domain", "/cidr", "" ...
  const std::string quoted = "'" + std::string(m.text) + "'";

  auto needDomain = [&](std::string_view spec) {
    if (spec.empty()) return fail(error, quoted + " has an empty domain");
    std::string why;
    if (!isValidDomainSpec(spec, &why)) return fail(error, quoted + ": " + why);
    m.domainSpec = std::string(spec);
    return true;
  };

  if (name == "all") {
    m.kind = MechanismKind::All;
    return arg.empty() || fail(error, quoted + ": 'all' takes no argument");
  }
  if (name == "include" || name == "exists") {
    m.kind = name == "include" ? MechanismKind::Include : MechanismKind::Exists;
    if (arg.empty() || arg.front() != ':') return fail(error, quoted + " needs ':domain'");
    return needDomain(arg.substr(1));
  }
  if (name == "a" || name == "mx") {
    m.kind = name == "a" ? MechanismKind::A : MechanismKind::Mx;
    std::string_view spec;
    if (!splitDualCidr(arg, &spec, m, error)) return false;
    if (spec.empty()) return true;
    if (spec.front() != ':') return fail(error, "unknown mechanism " + quoted);
    return needDomain(spec.substr(1));
  }
  if (name == "ptr") {
    m.kind = MechanismKind::Ptr;
    if (arg.empty()) return true;
    if (arg.front() != ':') return fail(error, "unknown mechanism " + quoted);
    return needDomain(arg.substr(1));
  }
  if (name == "ip4" || name == "ip6") {
    const bool v4 = name == "ip4";
    m.kind = v4 ? MechanismKind::Ip4 : MechanismKind::Ip6;
    if (arg.empty() || arg.front() != ':') return fail(error, quoted + " needs ':address'");
    arg.remove_prefix(1);
    const size_t slash = arg.find('/');
    const std::string address(arg.substr(0, slash));
    if (slash != std::string_view::npos) {
      auto length = cidrLength(arg.substr(slash + 1), v4 ? 32 : 128);
      if (!length) return fail(error, quoted + ": bad CIDR length");
      (v4 ? m.cidr4 : m.cidr6) = *length;
    }
    const bool ok = v4 ? parseIp4(address, m.network.data()) : inet_pton(AF_INET6, address.c_str(), m.network.data()) == 1;
    return ok || fail(error, quoted + ": bad " + (v4 ? "IPv4" : "IPv6") + " address");
  }
  return fail(error, "unknown mechanism " + quoted);
}

}  // namespace

bool isSpfRecord(std::string_view text) {
  return util::istartsWith(text, "v=spf1") && (text.size() == 6 || text[6] == ' ');
}

namespace {

// Checks §7.1 syntax; *endsWithMacro tells whether the last token is a macro-expand.
bool checkMacroString(std::string_view text, bool explain, bool* endsWithMacro, std::string* error) {
  bool lastWasMacro = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    lastWasMacro = false;
    if (c != '%') {
      if ((c < 0x21 || c > 0x7e) && !(c == ' ' && explain)) {
        return fail(error, c == ' ' ? "space in a domain-spec" : "character outside printable US-ASCII");
      }
      continue;
    }
    lastWasMacro = true;
    if (++i >= text.size()) return fail(error, "'%' at the end of a macro-string");
    if (text[i] == '%' || text[i] == '_' || text[i] == '-') continue;
    if (text[i] != '{') return fail(error, std::string("'%") + text[i] + "' is not a macro");
    if (++i >= text.size()) return fail(error, "unterminated macro");
    const char letter = static_cast<char>(text[i] | 0x20);
    if (!isAlpha(text[i]) || std::strchr(explain ? "slodiphcrtv" : "slodiphv", letter) == nullptr) {
      return fail(error, std::string("macro letter '") + text[i] + "' not allowed here");
    }
    ++i;
    size_t digits = 0;
    bool zero = true;
    while (i < text.size() && isDigit(text[i])) {
      if (text[i] != '0') zero = false;
      ++digits;
      ++i;
    }
    if (digits > 0 && zero) return fail(error, "macro transformer 0");
    if (i < text.size() && (text[i] == 'r' || text[i] == 'R')) ++i;
    while (i < text.size() && isDelimiter(text[i])) ++i;
    if (i >= text.size() || text[i] != '}') return fail(error, "malformed macro");
  }
  if (endsWithMacro) *endsWithMacro = lastWasMacro;
  return true;
}

}  // namespace

bool isValidMacroString(std::string_view text, bool explain, std::string* error) {
  return checkMacroString(text, explain, nullptr, error);
}

bool isValidDomainSpec(std::string_view text, std::string* error) {
  bool endsWithMacro = false;
  if (!checkMacroString(text, false, &endsWithMacro, error)) return false;
  if (endsWithMacro) return true;  // domain-end = macro-expand
  // domain-end = "." toplabel [ "." ]
  std::string_view t = text;
  if (t.ends_with('.')) t.remove_suffix(1);
  const size_t dot = t.rfind('.');
  if (dot == std::string_view::npos) return fail(error, "domain '" + std::string(text) + "' is not a dotted name");
  if (!isTopLabel(t.substr(dot + 1))) {
    return fail(error, "domain '" + std::string(text) + "' has an invalid top label");
  }
  return true;
}

std::optional<Record> parseRecord(std::string_view text, std::string* error) {
  if (!isSpfRecord(text)) {
    fail(error, "not an SPF record");
    return std::nullopt;
  }
  Record record;
  std::string_view rest = text.substr(6);
  while (!rest.empty()) {
    if (rest.front() != ' ') {
      fail(error, "terms must be separated by spaces");
      return std::nullopt;
    }
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;  // trailing spaces are allowed
    const size_t end = rest.find(' ');
    const std::string_view term = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);

    for (char c : term) {
      if (c < 0x21 || c > 0x7e) {
        fail(error, "character outside printable US-ASCII in '" + util::sanitize(term) + "'");
        return std::nullopt;
      }
    }
    // modifier = name "=" macro-string, name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
    size_t n = 0;
    if (isAlpha(term.front())) {
      while (n < term.size() && (isAlnum(term[n]) || term[n] == '-' || term[n] == '_' || term[n] == '.')) ++n;
    }
    if (n > 0 && n < term.size() && term[n] == '=') {
      const std::string name = util::toLower(term.substr(0, n));
      const std::string_view value = term.substr(n + 1);
      std::string why;
      if (name == "redirect" || name == "exp") {
        auto& slot = name == "redirect" ? record.redirect : record.explanation;
        if (slot) {
          fail(error, "more than one " + name + "= modifier");
          return std::nullopt;
        }
        if (value.empty() || !isValidDomainSpec(value, &why)) {
          fail(error, "'" + std::string(term) + "': " + (value.empty() ? "empty domain" : why));
          return std::nullopt;
        }
        slot = std::string(value);
      } else if (!isValidMacroString(value, false, &why)) {
        fail(error, "'" + std::string(term) + "': " + why);
        return std::nullopt;
      }
      continue;  // unknown modifiers are ignored (§6)
    }
    Mechanism m;
    if (!parseMechanism(term, m, error)) return std::nullopt;
    record.mechanisms.push_back(std::move(m));
  }
  return record;
}

}  // namespace authmilter::spf
