// SPF record syntax (RFC 7208 §4.5, §4.6.1, §5, §6, §12): a record is parsed whole before
// any of it is evaluated, and any syntax error anywhere makes it a permerror (§4.6).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace authmilter::spf {

enum class MechanismKind { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists };

struct Mechanism {
  char qualifier = '+';  // + - ~ ?
  MechanismKind kind = MechanismKind::All;
  std::string domainSpec;         // macro-string; empty: the current domain (a, mx, ptr)
  std::array<uint8_t, 16> network{};  // ip4 (first 4 bytes) / ip6, as written (never unmapped)
  unsigned cidr4 = 32;
  unsigned cidr6 = 128;
  std::string text;  // the term as written, for logs and Received-SPF
};

struct Record {
  std::vector<Mechanism> mechanisms;
  std::optional<std::string> redirect;     // domain-spec
  std::optional<std::string> explanation;  // exp= domain-spec
};

// §4.5: a TXT string is an SPF record when it starts with "v=spf1" (any case) followed by
// a space or nothing.
bool isSpfRecord(std::string_view text);

// Parses a whole record (starting with "v=spf1"). nullopt with *error on any syntax error:
// unknown mechanism, bad domain-spec or macro, bad CIDR length or address, duplicate
// redirect= or exp=, characters outside printable US-ASCII.
std::optional<Record> parseRecord(std::string_view text, std::string* error);

// §7.1 macro-string syntax; `explain`: also "c", "r", "t" and spaces (explain-string).
bool isValidMacroString(std::string_view text, bool explain, std::string* error);

// §12 domain-spec = macro-string domain-end: ends in a macro or in "." toplabel ["."].
bool isValidDomainSpec(std::string_view text, std::string* error);

}  // namespace authmilter::spf
