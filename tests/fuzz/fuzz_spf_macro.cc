// Fuzz target: SPF macro-strings (RFC 7208 §7): the syntax check (spf::isValidMacroString,
// isValidDomainSpec) and the expansion (spf::expandMacros, truncateDomain). The first byte
// picks explain-string or domain-spec and the client address family; the rest is the text.
// Invariants: no crash; what the syntax check accepts expands; an expansion of text without
// '%' is the text; the output is bounded (each macro at most a few times its value, the
// rightmost-parts transformer capped); truncateDomain gives at most 253 bytes, a suffix of
// its input.
#include <string>

#include "authmilter/net/ip_address.h"
#include "authmilter/spf/macro.h"
#include "authmilter/spf/record.h"
#include "fuzz_support.h"

namespace {

const authmilter::spf::MacroContext& context(bool v6) {
  static const auto make = [](const char* ip) {
    authmilter::spf::MacroContext c;
    c.sender = "strong-bad@email.example.com";
    c.localPart = "strong-bad";
    c.senderDomain = "email.example.com";
    c.domain = "email.example.com";
    c.ip = *authmilter::net::IpAddress::parse(ip);
    c.helo = "mx.example.org";
    c.receiver = "receiver.example.net";
    c.now = 1700000000;
    c.validatedName = [] { return std::string("mx.example.org"); };
    return c;
  };
  static const authmilter::spf::MacroContext v4 = make("192.0.2.3"), v6c = make("2001:db8::cb01");
  return v6 ? v6c : v4;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool explain = (data[0] & 1) != 0;
  const bool v6 = (data[0] & 2) != 0;
  const std::string_view text = authmilter::fuzz::asText(data + 1, size - 1);
  std::string why;
  const bool valid = authmilter::spf::isValidMacroString(text, explain, &why);
  const auto expanded = authmilter::spf::expandMacros(text, context(v6), explain);
  if (valid) FUZZ_CHECK(expanded.has_value());
  if (!valid) FUZZ_CHECK(!why.empty());
  if (expanded) {
    if (text.find('%') == std::string_view::npos) FUZZ_CHECK(*expanded == text);
    // The longest value (an IPv6 %{i}, 63 bytes) URL-encoded triples: 200 bytes a macro.
    FUZZ_CHECK(expanded->size() <= text.size() * 200 + 200);
    const std::string truncated = authmilter::spf::truncateDomain(*expanded);
    FUZZ_CHECK(truncated.size() <= 253);
    FUZZ_CHECK(expanded->ends_with(truncated));
  }
  std::string ignored;
  if (authmilter::spf::isValidDomainSpec(text, &ignored)) {
    FUZZ_CHECK(authmilter::spf::isValidMacroString(text, false, &ignored));
  }
  return 0;
}
