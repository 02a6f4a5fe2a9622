// SPF macro expansion (RFC 7208 §7.3, §7.4).
#include "authmilter/spf/macro.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace authmilter::spf {

namespace {

// RFC 3986 unreserved characters stay; everything else becomes %XX (§7.3, upper-case letters).
std::string urlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string readableAddress(const net::IpAddress& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.family() == net::IpAddress::Family::V4 ? AF_INET : AF_INET6, ip.bytes(), buf, sizeof buf);
  return buf;
}

std::string letterValue(char letter, const MacroContext& c) {
  switch (letter) {
    case 's': return c.sender;
    case 'l': return c.localPart;
    case 'o': return c.senderDomain;
    case 'd': return c.domain;
    case 'i': return dottedAddress(c.ip);
    case 'p': return c.validatedName ? c.validatedName() : "unknown";
    case 'h': return c.helo;
    case 'c': return readableAddress(c.ip);
    case 'r': return c.receiver.empty() ? "unknown" : c.receiver;
    case 't': return std::to_string(c.now);
    case 'v': return c.ip.family() == net::IpAddress::Family::V4 ? "in-addr" : "ip6";
    default: return {};
  }
}

// Splits on any of `delimiters`, optionally reverses, keeps the rightmost `keep` parts
// (0: all), joins with '.'.
std::string transform(std::string_view value, std::string_view delimiters, size_t keep, bool reverse) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delimiters.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (reverse) std::reverse(parts.begin(), parts.end());
  const size_t first = keep == 0 || keep >= parts.size() ? 0 : parts.size() - keep;
  std::string out;
  for (size_t i = first; i < parts.size(); ++i) {
    if (i > first) out.push_back('.');
    out.append(parts[i]);
  }
  return out;
}

}  // namespace

std::string dottedAddress(const net::IpAddress& ip) {
  std::string out;
  if (ip.family() == net::IpAddress::Family::V4) return readableAddress(ip);
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < 16; ++i) {
    if (i > 0) out.push_back('.');
    out.push_back(kHex[ip.bytes()[i] >> 4]);
    out.push_back('.');
    out.push_back(kHex[ip.bytes()[i] & 15]);
  }
  return out;
}

std::optional<std::string> expandMacros(std::string_view text, const MacroContext& context, bool explain) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '%') {
      if ((c < 0x21 || c > 0x7e) && !(c == ' ' && explain)) return std::nullopt;
      out.push_back(c);
      continue;
    }
    if (++i >= text.size()) return std::nullopt;
    if (text[i] == '%') {
      out.push_back('%');
      continue;
    }
    if (text[i] == '_') {
      out.push_back(' ');
      continue;
    }
    if (text[i] == '-') {
      out.append("%20");
      continue;
    }
    if (text[i] != '{' || ++i >= text.size()) return std::nullopt;
    const char raw = text[i];
    const char letter = static_cast<char>(raw | 0x20);
    if (std::strchr(explain ? "slodiphcrtv" : "slodiphv", letter) == nullptr || letter == '\0') return std::nullopt;
    const bool upper = raw >= 'A' && raw <= 'Z';
    ++i;
    size_t keep = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      keep = std::min<size_t>(keep * 10 + static_cast<size_t>(text[i] - '0'), 1000);
      ++i;
    }
    bool reverse = false;
    if (i < text.size() && (text[i] == 'r' || text[i] == 'R')) {
      reverse = true;
      ++i;
    }
    const size_t delimStart = i;
    while (i < text.size() && std::strchr(".-+,/_=", text[i]) != nullptr && text[i] != '\0') ++i;
    if (i >= text.size() || text[i] != '}') return std::nullopt;
    std::string_view delimiters = text.substr(delimStart, i - delimStart);
    if (delimiters.empty()) delimiters = ".";
    std::string value = letterValue(letter, context);
    if (keep > 0 || reverse || delimiters != ".") value = transform(value, delimiters, keep, reverse);
    out.append(upper ? urlEncode(value) : value);
  }
  return out;
}

std::string truncateDomain(std::string name) {
  while (name.size() > 253) {
    const size_t dot = name.find('.');
    if (dot == std::string::npos) return {};
    name.erase(0, dot + 1);
  }
  return name;
}

}  // namespace authmilter::spf
