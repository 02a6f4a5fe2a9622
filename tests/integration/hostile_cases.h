// The hostile messages of the hardening battery (issue 23), shared by the tests
// (hostile_input_test.cc: verdicts and log lines under ASan) and the benchmark
// (tests/bench/hostile_bench.cc: CPU and RSS per message). Each case is a message, its MAIL
// FROM and the DNS records it needs; `scale` shrinks the sizes for smoke runs (1 = full).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "battery_support.h"

namespace authmilter::testsupport::battery {

struct HostileCase {
  HostileCase() = default;
  HostileCase(std::string n, std::string m, std::string from = kMailFrom, std::string z = {})
      : name(std::move(n)), message(std::move(m)), mailFrom(std::move(from)), zone(std::move(z)) {}
  std::string name;
  std::string message;
  std::string mailFrom = kMailFrom;
  std::string zone;  // records and directives added to kZone
  // Header fields sent as raw packets before the message's own (a NUL inside a value cannot
  // travel as a header otherwise: the milter protocol ends strings with NUL).
  std::vector<std::string> rawHeaderPackets = {};
};

inline size_t scaled(size_t n, double scale) { return std::max<size_t>(1, static_cast<size_t>(n * scale)); }

// `raw` with `fields` (CRLF-terminated header lines) added at the end of its header section.
inline std::string withHeaders(const std::string& raw, const std::string& fields) {
  const auto end = raw.find("\r\n\r\n");
  return raw.substr(0, end + 2) + fields + raw.substr(end + 2);
}

// `raw` with its first header line starting `prefix` replaced by `line`.
inline std::string replacingHeader(const std::string& raw, const std::string& prefix, const std::string& line) {
  const auto at = raw.find(prefix);
  return raw.substr(0, at) + line + raw.substr(raw.find("\r\n", at) + 2);
}

// The signed message's DKIM-Signature field, folded lines and all.
inline std::string signatureField() {
  const std::string raw = signedMessage();
  const auto end = raw.find("\r\nFrom:");
  return raw.substr(0, end + 2);
}

template <size_t N>
std::string withNuls(const char (&text)[N]) {
  return std::string(text, N - 1);
}

inline std::string bytes(size_t n, char c) { return std::string(n, c); }

inline std::vector<HostileCase> hostileCases(double scale) {
  const std::string mb = bytes(scaled(1024 * 1024, scale), 'A');
  const size_t deep = scaled(10000, scale);
  std::vector<HostileCase> cases;

  std::string many;
  for (size_t i = 0; i < scaled(20000, scale); ++i) many += "X-Filler-" + std::to_string(i) + ": f\r\n";
  cases.push_back({"20k_header_fields", withHeaders(signedMessage(), many)});

  cases.push_back({"1mb_subject", withHeaders(signedMessage(), "Subject: " + mb + "\r\n")});
  cases.push_back({"1mb_from", replacingHeader(forged("reject.test"), "From:", "From: \"" + mb + "\" <ceo@reject.test>\r\n")});
  cases.push_back({"1mb_dkim_signature",
                   withHeaders(signedMessage(), "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa2048; "
                                                "h=from; bh=AAAA; b=" + mb + "\r\n")});
  // From a domain without DMARC: accepted, so the forged header's fate shows.
  cases.push_back({"1mb_authentication_results",
                   withHeaders(forged("nodmarc.example"), "Authentication-Results: mx.test.example; dkim=pass (" + mb +
                                                              ")\r\n")});

  const std::string comments = bytes(deep, '(') + bytes(deep, ')');
  cases.push_back({"deep_comments_from",
                   replacingHeader(forged("reject.test"), "From:", "From: " + comments + " <ceo@reject.test>\r\n")});
  cases.push_back({"deep_comments_authentication_results",
                   withHeaders(signedMessage(), "Authentication-Results: " + comments + " mx.test.example; dkim=pass\r\n")});

  // 8-bit bytes in header names and values, the From and the envelope; NUL bytes inside
  // header names and values (raw packets: "name\0value\0" with more NULs inside).
  const std::string eightBit = "X-8bit-\xff\x80: a\xc3\x28\xfe\r\n\x80\xff: value\r\nSubject: \x01\x02\x7f\xff\r\n";
  cases.push_back({"nul_and_8bit",
                   replacingHeader(forged("reject.test"), "From:", "From: \xff\xfe <ceo@reject.test>\r\n" + eightBit),
                   "<b\x80\xffounce@spf.example>"});
  cases.back().rawHeaderPackets = {withNuls("X-Nul\0a\0b\0"), withNuls("X\0\0\0\0"),
                                   withNuls("From\0 x@evil.example\0<ceo@reject.test>\0")};

  std::string sigs;
  for (size_t i = 0; i < scaled(1000, scale); ++i) sigs += signatureField();
  cases.push_back({"1000_dkim_signatures", sigs + signedMessage()});

  std::string arc;
  for (size_t i = scaled(1000, scale); i >= 1; --i) {
    const std::string n = std::to_string(i);
    arc += "ARC-Seal: i=" + n + "; a=rsa-sha256; cv=pass; d=arc.example; s=sel; t=1704110400; b=AAAA\r\n";
    arc += "ARC-Message-Signature: i=" + n +
           "; a=rsa-sha256; c=relaxed/relaxed; d=arc.example; s=sel; h=from; bh=AAAA; b=AAAA\r\n";
    arc += "ARC-Authentication-Results: i=" + n + "; hop" + n + ".example; spf=pass\r\n";
  }
  cases.push_back({"1000_arc_sets", arc + signedMessage()});

  // SPF: %{l} expanded to the 253-character limit in more exists: terms than the limit
  // allows; an include loop; a flood of void lookups; a 60 KB record over TCP.
  const std::string local = bytes(60, 'l');
  // Each include: target expands to 320 characters; RFC 7208 7.3 drops labels from the left
  // to 253 or less: three 60-character labels remain. Each target exists ("v=spf1 -all":
  // no match, no void lookup), so the twelve of them run into the 10-term limit.
  std::string bomb = "v=spf1", targets;
  for (int i = 0; i < 12; ++i) {
    const std::string tail = "x" + std::to_string(i) + ".bomb.example";
    bomb += "\" \" include:%{l}.%{l}.%{l}.%{l}.%{l}." + tail;
    targets += local + "." + local + "." + local + "." + tail + ". TXT \"v=spf1 -all\"\n";
  }
  cases.push_back({"spf_macro_bomb", signedMessage(), "<" + local + "@bomb.example>",
                   "bomb.example. TXT \"" + bomb + "\" \" -all\"\n" + targets});
  cases.push_back({"spf_include_loop", signedMessage(), "<b@loop.example>",
                   "loop.example. TXT \"v=spf1 include:loop2.example -all\"\n"
                   "loop2.example. TXT \"v=spf1 include:loop.example -all\"\n"});
  std::string voids = "v=spf1";
  for (int i = 0; i < 9; ++i) voids += " a:n" + std::to_string(i) + ".void.example";
  cases.push_back({"spf_void_flood", signedMessage(), "<b@void.example>", "void.example. TXT \"" + voids + " -all\"\n"});
  std::string big = "big.example. TXT \"v=spf1\"";
  for (size_t i = 0; i < scaled(240, scale); ++i) {
    std::string chunk;
    for (int j = 0; j < 14; ++j) chunk += " ip4:198.51." + std::to_string(i % 250) + "." + std::to_string(j + 1);
    big += " \"" + chunk + "\"";
  }
  big += " \" ip4:203.0.113.9 -all\"";
  cases.push_back({"huge_txt_over_tcp", signedMessage(), "<b@big.example>", big + "\n!truncate big.example TXT\n"});
  return cases;
}

}  // namespace authmilter::testsupport::battery
