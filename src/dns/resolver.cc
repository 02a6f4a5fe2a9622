// Names for the DNS layer's enums, and nameserver address parsing.
#include "authmilter/dns/resolver.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <fstream>

#include "authmilter/util/strings.h"

namespace authmilter::dns {

namespace {
struct TypeName {
  RrType type;
  std::string_view name;
};
constexpr TypeName kTypeNames[] = {
    {RrType::A, "A"},     {RrType::NS, "NS"}, {RrType::CNAME, "CNAME"}, {RrType::SOA, "SOA"},
    {RrType::PTR, "PTR"}, {RrType::MX, "MX"}, {RrType::TXT, "TXT"},     {RrType::AAAA, "AAAA"},
    {RrType::SPF, "SPF"},
};

bool isNumericAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}
}  // namespace

std::string rrTypeName(RrType type) {
  for (const auto& t : kTypeNames) {
    if (t.type == type) return std::string(t.name);
  }
  return "TYPE" + std::to_string(static_cast<unsigned>(type));
}

std::optional<RrType> parseRrType(std::string_view s) {
  for (const auto& t : kTypeNames) {
    if (util::iequals(t.name, s)) return t.type;
  }
  if (util::istartsWith(s, "TYPE") && s.size() > 4) {
    unsigned n = 0;
    const auto digits = s.substr(4);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc() && ptr == digits.data() + digits.size() && n > 0 && n < 65536) {
      return static_cast<RrType>(n);
    }
  }
  return std::nullopt;
}

std::string_view statusName(DnsStatus status) {
  switch (status) {
    case DnsStatus::Ok: return "ok";
    case DnsStatus::NxDomain: return "nxdomain";
    case DnsStatus::NoData: return "nodata";
    case DnsStatus::ServFail: return "servfail";
    case DnsStatus::Timeout: return "timeout";
  }
  return "unknown";
}

std::string Nameserver::text() const {
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::optional<Nameserver> parseNameserver(std::string_view text, std::string* error) {
  Nameserver ns;
  std::string_view host = util::trim(text);
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) {
      *error = "missing ']' in '" + std::string(text) + "'";
      return std::nullopt;
    }
    const auto rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        *error = "expected ':PORT' after ']' in '" + std::string(text) + "'";
        return std::nullopt;
      }
      port = rest.substr(1);
      if (port.empty()) {
        *error = "missing port after ':' in '" + std::string(text) + "'";
        return std::nullopt;
      }
    }
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    const auto colon = host.find(':');
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (port.empty()) {
      *error = "missing port after ':' in '" + std::string(text) + "'";
      return std::nullopt;
    }
  }
  ns.address = std::string(host);
  if (!isNumericAddress(ns.address)) {
    *error = "'" + std::string(text) + "' is not a numeric IPv4 or IPv6 address (a name cannot be looked up " +
             "before there is a resolver; write IPv6 with a port as [ADDRESS]:PORT)";
    return std::nullopt;
  }
  if (!port.empty()) {
    unsigned n = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || ptr != port.data() + port.size() || n == 0 || n > 65535) {
      *error = "bad port '" + std::string(port) + "' in '" + std::string(text) + "' (1-65535)";
      return std::nullopt;
    }
    ns.port = static_cast<uint16_t>(n);
  }
  return ns;
}

std::vector<Nameserver> nameserversFromResolvConf(const std::string& path, std::string* error) {
  std::vector<Nameserver> result;
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read " + path;
    return result;
  }
  std::string line;
  while (std::getline(in, line)) {
    const auto words = util::splitList(line);
    if (words.size() >= 2 && words[0] == "nameserver") {
      std::string address = words[1];
      // A link-local scope ("fe80::1%eth0") is not something we can send to by address alone.
      if (address.find('%') != std::string::npos) continue;
      std::string unused;
      // resolv.conf has bare addresses; an IPv6 one must not be read as ADDRESS:PORT.
      if (address.find(':') != std::string::npos) address = "[" + address + "]";
      if (auto ns = parseNameserver(address, &unused)) result.push_back(*ns);
    }
  }
  if (result.empty()) *error = path + " names no usable nameserver";
  return result;
}

std::vector<Nameserver> systemNameservers() {
  std::string unused;
  auto list = nameserversFromResolvConf("/etc/resolv.conf", &unused);
  if (list.empty()) list.push_back({"127.0.0.1", 53});
  return list;
}

std::string canonicalName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return util::toLower(name);
}

}  // namespace authmilter::dns
