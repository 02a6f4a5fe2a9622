// The fixture and helpers the spf::Checker integration tests share (spf_check_test.cc,
// spf_macro_limits_test.cc, spf_identity_header_test.cc): a TestDnsServer on loopback
// serving each test's records, LdnsResolver against it, the client addresses and HELO the
// checks use, TXT records in zone-file syntax, the hosts the mechanism tests point at, a
// table of rows run at once, and a CheckResult described in one line for failure messages.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/net/ip_address.h"
#include "authmilter/spf/spf.h"
#include "authmilter/util/strings.h"
#include "test_dns_server.h"

namespace authmilter::spf::testing_support {

using dns::RrType;
using net::IpAddress;
using ::testing::HasSubstr;
using testsupport::TestDnsServer;
using namespace std::chrono_literals;

inline constexpr const char* kClient4 = "192.0.2.10";
inline constexpr const char* kClient6 = "2001:db8::10";
inline constexpr const char* kHelo = "mail.helo.test";
inline constexpr const char* kReceiver = "mx.receiver.test";

inline const std::string kHeader =
    "$TTL 300\n"
    "test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n";

inline IpAddress ip(std::string_view text) {
  const auto a = IpAddress::parse(text);
  if (!a) throw std::runtime_error("bad test address " + std::string(text));
  return *a;
}

// One character-string in zone-file syntax: quotes and backslashes escaped, every octet
// outside printable ASCII as \DDD, so control and 8-bit bytes reach the wire as they are.
inline std::string zoneString(std::string_view text) { return util::quoteEscaped(text); }

// A TXT record holding `text`, cut into character-strings of `chunk` octets (a cut may fall
// inside a term: RFC 7208 §3.3 joins them with nothing between).
inline std::string txt(std::string_view name, std::string_view text, size_t chunk = 255) {
  std::string line = std::string(name) + ". IN TXT";
  if (text.empty()) line += " \"\"";
  for (size_t i = 0; i < text.size(); i += chunk) line += " " + zoneString(text.substr(i, chunk));
  return line + "\n";
}

inline std::string txtStrings(std::string_view name, const std::vector<std::string>& strings) {
  std::string line = std::string(name) + ". IN TXT";
  for (const auto& s : strings) line += " " + zoneString(s);
  return line + "\n";
}

// "20010db8...": the 32 nibbles of an IPv6 address, dotted, in order or reversed.
inline std::string dottedNibbles(std::string_view hex32, bool reversed) {
  std::string out;
  for (size_t i = 0; i < hex32.size(); ++i) {
    if (!out.empty()) out += '.';
    out += hex32[reversed ? hex32.size() - 1 - i : i];
  }
  return out;
}
// 2001:db8::10 written out.
inline constexpr std::string_view kClient6Hex = "20010db8000000000000000000000010";

// The support hosts the mechanism tests point at.
inline std::string hostZone() {
  return "host.m.test. IN A 192.0.2.10\n"
         "host.m.test. IN AAAA 2001:db8::10\n"
         "near.m.test. IN A 192.0.2.99\n"
         "near.m.test. IN AAAA 2001:db8::99\n"
         "far.m.test. IN A 198.51.100.1\n"
         "far.m.test. IN AAAA 2001:db8:ffff::1\n"
         "v4only.m.test. IN A 192.0.2.10\n"
         "ex.m.test. IN A 127.0.0.2\n"
         "mxhost.m.test. IN MX 10 host.m.test.\n"
         "mxnear.m.test. IN MX 10 near.m.test.\n"
         "mxfar.m.test. IN MX 10 far.m.test.\n"
         "nomx.m.test. IN A 192.0.2.10\n"
         "10.2.0.192.in-addr.arpa. IN PTR host.m.test.\n"
         "20.2.0.192.in-addr.arpa. IN PTR host.m.test.\n" +
         dottedNibbles(kClient6Hex, true) + ".ip6.arpa. IN PTR host.m.test.\n";
}

inline std::string describe(const CheckResult& r) {
  std::string s = "result=" + std::string(toString(r.result)) + " mechanism='" + r.mechanism + "' problem='" +
                  r.problem + "' explanation='" + r.explanation + "' terms=" + std::to_string(r.dnsTerms) +
                  " void=" + std::to_string(r.voidLookups) + " lookups:";
  for (const auto& l : r.lookups) {
    s += " " + l.name + "/" + dns::rrTypeName(l.type) + "=" + std::string(dns::statusName(l.status));
  }
  return s;
}

// How often the check asked (name, type), by its own account.
inline size_t asked(const CheckResult& r, std::string_view name, RrType type) {
  size_t n = 0;
  for (const auto& l : r.lookups) {
    if (l.type == type && dns::canonicalName(l.name) == dns::canonicalName(name)) ++n;
  }
  return n;
}

class SpfCheckTest : public ::testing::Test {
 protected:
  void serve(const std::string& records) { server_.setZone(kHeader + records); }

  std::shared_ptr<dns::Resolver> resolver(std::chrono::milliseconds timeout = 2000ms, unsigned tries = 1) const {
    dns::ResolverOptions o;
    o.nameservers = {{"127.0.0.1", server_.port()}};
    o.timeout = timeout;
    o.tries = tries;
    return std::make_shared<dns::LdnsResolver>(o);
  }

  Checker checker(CheckOptions o = {}) const {
    o.receiver = kReceiver;
    return Checker(resolver(), o);
  }
  Checker explaining() const {
    CheckOptions o;
    o.fetchExplanation = true;
    return checker(o);
  }

  // check_host(ip, domain, "user@domain") with the default HELO.
  CheckResult host(std::string_view domain, std::string_view client = kClient4) const {
    return checker().checkHost(ip(client), domain, "user@" + std::string(domain), kHelo);
  }

  struct Row {
    std::string record;
    std::string client;
    std::string result;
    std::string mechanism = {};  // a substring of CheckResult::mechanism, when given
    std::string extra = {};      // more zone lines; {D} stands for the row's domain
  };
  // Each row gets its own domain rN.rows.test holding its record; all are served at once.
  void runRows(const std::vector<Row>& rows) {
    std::string zone = hostZone();
    for (size_t i = 0; i < rows.size(); ++i) {
      const std::string domain = "r" + std::to_string(i) + ".rows.test";
      zone += txt(domain, rows[i].record);
      std::string extra = rows[i].extra;
      for (size_t at; (at = extra.find("{D}")) != std::string::npos;) extra.replace(at, 3, domain);
      zone += extra;
    }
    serve(zone);
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      const auto r = host("r" + std::to_string(i) + ".rows.test", row.client);
      EXPECT_EQ(toString(r.result), row.result)
          << "record '" << row.record << "', client " << row.client << ": " << describe(r);
      if (!row.mechanism.empty()) {
        EXPECT_THAT(r.mechanism, HasSubstr(row.mechanism)) << "record '" << row.record << "'";
      }
      if (r.result == Result::PermError || r.result == Result::TempError) {
        EXPECT_FALSE(r.problem.empty()) << "record '" << row.record << "' gave " << toString(r.result)
                                        << " without a problem";
      }
    }
  }

  TestDnsServer server_{kHeader};
};

}  // namespace authmilter::spf::testing_support
