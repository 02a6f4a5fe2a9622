// The openspf RFC 4408 conformance suite (release 2009.10, read in place from the shared/
// directory beside the repository) against our SPF evaluator on the real DNS path: each
// scenario's zone data is served by TestDnsServer on loopback, resolved by a fresh caching
// ldns resolver per case, and evaluated by spf::Checker. RFC 7208 obsoletes RFC 4408; where
// the two differ, kRfc7208 corrects the expected result and names the section that decides.
//
// libspf2 runs on the same data as a differential check. Its differences from us are all
// explained in kLibspf2Differences; a new difference, or an entry that no longer differs,
// fails the test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "authmilter/dns/caching_resolver.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/net/ip_address.h"
#include "authmilter/spf/spf.h"
#include "authmilter/util/strings.h"
#include "spf_dns_bridge.h"
#include "test_dns_server.h"

extern "C" {
#include <spf2/spf.h>
}

namespace authmilter::spf {
namespace {

using namespace std::chrono_literals;
using testsupport::TestDnsServer;

// TIMEOUT cases wait this long once per lookup that is never answered.
constexpr auto kDnsTimeout = 300ms;
constexpr const char* kReceiver = "mx.receiver.example";
// The 2009.10 release: 191 cases in 15 scenarios.
constexpr size_t kSuiteCases = 191;

// ------------------------------------------------------------------------------------------
// Where RFC 7208 decides otherwise than the suite (which allows for RFC 4408 readings).
struct Correction {
  const char* result;
  const char* reason;
  const char* explanation = nullptr;  // set: replaces the suite's explanation too
};
const std::map<std::string, Correction> kRfc7208 = {
    // §3.1: "SPF records MUST be published as a DNS TXT (type 16) Resource Record (RR) only
    // ... Use of alternative DNS RR types ... has been discontinued"; §4.4: check_host()
    // looks the record up as TXT. A record of type SPF (99) is no record; a type SPF lookup
    // that would time out is never made.
    {"txtonly", {"fail", "§3.1/§4.4: the TXT record is the record"}},
    {"spfonly", {"none", "§3.1/§4.4: type SPF is not looked up, and there is no TXT record"}},
    {"spftimeout", {"fail", "§3.1/§4.4: only TXT is looked up, and it answers -all"}},
    {"spfoverride", {"fail", "§3.1/§4.4: type SPF no longer overrides TXT; the TXT record says -all"}},
    {"multispf2", {"pass", "§3.1/§4.4: the two type SPF records are not looked at; the one TXT record says +all"}},
    // §4.4: "if the lookup times out, then check_host() terminates immediately with the
    // result temperror" (the TXT lookup is the only one, so RFC 4408's none is gone).
    {"txttimeout", {"temperror", "§4.4: the TXT lookup times out"}},
    {"nospftxttimeout", {"temperror", "§4.4: the TXT lookup times out"}},
    // §4.5: "If the resultant record set includes more than one record, check_host()
    // produces the permerror result" (no type SPF record overrides the two TXT ones).
    {"multitxt1", {"permerror", "§4.5: two v=spf1 TXT records"}},
    // §5: an IPv4-mapped IPv6 address "MUST still be considered an IPv4 address and MUST be
    // evaluated using IPv4 mechanisms (i.e., ip4 and a)"; §5.6: ip6 tests whether <ip> is in
    // an IPv6 network, which an IPv4 <ip> never is.
    {"cidr6-0-ip4", {"neutral", "§5.6: an IPv4 client does not match ip6:::1.1.1.1/0"}},
    {"cidr6-ip4", {"neutral", "§5: an IPv4-mapped client is IPv4 and is not matched by ip6"}},
    // §5: "if the DNS server returns an error (RCODE other than 0 or 3) or the query times
    // out, the mechanism stops and the topmost check_host() returns temperror".
    {"exists-dnserr", {"temperror", "§5: the exists lookup times out"}},
    // §4.6.4: each MX record's evaluation "MUST NOT result in querying more than 10 address
    // records ... If this limit is exceeded, the mx mechanism MUST produce a permerror";
    // §5.4: "If the MX lookup limit is exceeded, then permerror is returned". 11 MX names.
    {"mx-limit", {"permerror", "§4.6.4/§5.4: 11 MX names exceed the limit of 10"}},
    // §7.4 expands %{ir} for 2001:db8::cb01 to "1.0.b.c.0.0...": lower-case nibbles, where
    // RFC 4408 §8.1 showed "1.0.B.C.0.0..." (the suite's form). Only the text differs:
    // names compare case-insensitively in DNS.
    {"v-macro-ip6",
     {"fail", "§7.4: lower-case hex nibbles in %{ir}",
      "cafe:babe::1 is queried as 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.b.a.b.e.f.a.c.ip6.arpa"}},
};

// ------------------------------------------------------------------------------------------
// Where libspf2 1.2.10 and we give different results, and why. Every entry is a libspf2
// departure from RFC 7208 unless its comment says the difference is acceptable. (The
// libspf2 result is in the test's output when an entry goes stale.)
const std::map<std::string, std::string> kLibspf2Differences = {
    // A prefix length of 0 does not compile ("Invalid IPv4 CIDR netmask (=0)"): permerror.
    // §5.6: ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT), ip6-cidr-length likewise: /0
    // is valid and means any address of the family.
    {"a-nxdomain", "/0 rejected (§5.6)"},
    {"a-cidr4-0", "/0 rejected (§5.6)"},
    {"a-cidr4-0-ip6", "/0 rejected (§5.6)"},
    {"a-cidr6-0-ip4", "//0 rejected (§5.6)"},
    {"a-cidr6-0-ip4mapped", "//0 rejected (§5.6)"},
    {"a-cidr6-0-ip6", "//0 rejected (§5.6)"},
    {"a-cidr6-0-nxdomain", "//0 rejected (§5.6)"},
    {"mx-nxdomain", "/0 rejected (§5.6)"},
    {"mx-cidr4-0", "/0 rejected (§5.6)"},
    {"mx-cidr4-0-ip6", "/0 rejected (§5.6)"},
    {"mx-cidr6-0-ip4", "//0 rejected (§5.6)"},
    {"mx-cidr6-0-ip4mapped", "//0 rejected (§5.6)"},
    {"mx-cidr6-0-ip6", "//0 rejected (§5.6)"},
    {"mx-cidr6-0-nxdomain", "//0 rejected (§5.6)"},
    {"cidr4-0", "ip4:1.1.1.1/0 rejected (§5.6)"},
    {"cidr6-0", "ip6:::1.1.1.1/0 rejected (§5.6)"},
    {"cidr6-0-ip4", "ip6:::1.1.1.1/0 rejected (§5.6)"},
    {"cidr6-ip4", "ip6:::1.1.1.1/0 rejected (§5.6)"},

    // An IPv4-mapped client (::ffff:1.2.3.4) is evaluated as IPv6: §5 says it "MUST still be
    // considered an IPv4 address and MUST be evaluated using IPv4 mechanisms".
    {"a-colon-domain-ip4mapped", "mapped client compared with AAAA records (§5)"},
    {"mx-colon-domain-ip4mapped", "mapped client compared with AAAA records (§5)"},
    {"ip4-mapped-ip6", "mapped client skips -ip4:1.2.3.4 and matches ip6:::FFFF:1.2.3.4 (§5)"},

    // Syntax errors not detected: §4.6 "any syntax errors anywhere in the record" give
    // permerror, but libspf2 evaluates the record (or the part it understood) instead.
    {"non-ascii-policy", "non-ASCII bytes in a domain-spec accepted (§3.1 US-ASCII, §4.6.1)"},
    {"redirect-is-modifier", "unknown mechanism redirect:... accepted (§4.6.1, §5)"},
    {"invalid-domain", "a:foo-bar without a valid toplabel accepted (§7.1 domain-end)"},
    {"a-bad-domain", "a:example.com:8080 accepted (§7.1 toplabel)"},
    {"a-numeric", "a:111.222.33.44 accepted (§7.1: toplabel not all-numeric)"},
    {"a-numeric-toplabel", "a:abc.123 accepted (§7.1 toplabel)"},
    {"a-bad-toplabel", "a:example.-com accepted (§7.1 toplabel)"},
    {"a-only-toplabel", "a:museum accepted (§7.1 domain-end needs a dot)"},
    {"a-only-toplabel-trailing-dot", "a:museum. accepted (§7.1 domain-end)"},
    {"a-empty-domain", "a: with an empty domain-spec accepted (§5.3, §7.1)"},
    {"mx-bad-domain", "mx:example.com:8080 accepted (§7.1 toplabel)"},
    {"mx-numeric-top-label", "mx:abc.123 accepted (§7.1 toplabel)"},
    {"mx-bad-toplab", "mx:example.-com accepted (§7.1 toplabel)"},
    {"mx-empty-domain", "mx: with an empty domain-spec accepted (§5.4, §7.1)"},
    {"ptr-empty-domain", "ptr: with an empty domain-spec accepted (§5.5, §7.1)"},
    {"exists-empty-domain", "exists: with an empty domain-spec accepted (§5.7, §7.1)"},
    {"exists-cidr", "exists:mail.example.com/24 accepted (§5.7 takes no CIDR)"},
    {"cidr4-032", "CIDR length with a leading zero accepted (§5.6 ip4-cidr-length)"},
    {"exp-empty-domain", "exp= with an empty domain-spec accepted (§6.2 grammar)"},
    {"exp-syntax-error", "exp=-all accepted (§6.2, §7.1 domain-spec)"},
    {"redirect-empty-domain", "redirect= with an empty domain-spec accepted (§6.1 grammar)"},
    {"exp-twice", "exp= twice accepted (§6: MUST NOT appear more than once, permerror)"},
    {"redirect-twice", "redirect= twice accepted (§6: MUST NOT appear more than once, permerror)"},
    {"unknown-modifier-syntax", "bad macro in an unknown modifier accepted (§6, §7.1)"},
    {"exp-only-macro-char", "%{r} outside exp text accepted (§7.2: c, r, t only in exp text)"},
    {"invalid-macro-char", "'%(' accepted (§7.1: '%' not followed by '{', '%', '-' or '_')"},
    {"invalid-embedded-macro-char", "'%(' accepted (§7.1)"},
    {"invalid-trailing-macro-char", "'%.' accepted (§7.1)"},
    // The record as a C string: it ends at the NUL byte, and what is left compiles.
    {"a-null", "record cut at its NUL byte, so the bad toplabel goes unseen (§7.1)"},
    {"mx-null", "record cut at its NUL byte, so the bad toplabel goes unseen (§7.1)"},

    // Valid records rejected.
    {"modifier-charset-good", "modifier name moo.cow-far_out rejected (§4.6.1: name may hold '.', '-', '_')"},
    {"redirect-after-mechanisms2", "its redirect target is the moo.cow-far_out record (§4.6.1)"},

    // Evaluation order and limits.
    {"redirect-after-mechanisms1", "redirect= followed (into a loop) though ~all matched (§6.1)"},
    {"include-over-limit", "lookups counted per record, not over all levels (§4.6.4)"},
    {"ptr-limit", "more than 10 PTR names is a permerror; §4.6.4 says to ignore those past 10"},

    // Acceptable: §7.3 says a %{p} name below <domain> SHOULD be chosen; libspf2 takes the
    // first name, we take mx.e7.example.com. Both results are in the suite.
    {"p-macro-multiple", "a different (allowed) choice of %{p} name (§7.3 SHOULD)"},
};

// ------------------------------------------------------------------------------------------
// The suite

struct SuiteCase {
  std::string name;      // as the suite spells it, e.g. "a-cidr6-0-ip4mapped"
  std::string scenario;  // the description of its document
  std::string spec;      // the RFC 4408 section(s) it tests
  std::string helo, host, mailFrom;
  std::vector<std::string> results;  // acceptable results, the preferred first
  std::string explanation;           // "" not checked; "DEFAULT": exp= must not be used
  std::string zone;                  // the scenario's zone data as zone-file text
  const char* correction = nullptr;  // set when RFC 7208 replaced the results: why
};

void PrintTo(const SuiteCase& c, std::ostream* os) { *os << c.name; }

struct Suite {
  std::vector<SuiteCase> cases;
  std::string error;
};

std::string scalarOrList(const YAML::Node& node, const char* separator) {
  if (!node.IsSequence()) return node.as<std::string>("");
  std::string out;
  for (const auto& item : node) out += (out.empty() ? "" : separator) + item.as<std::string>();
  return out;
}

// A name as the zone file spells it: absolute, and bytes other than letters, digits, '-',
// '_' and '.' as \DDD ("macro%percent  space%20url-space.example.com", "foo:bar/baz...").
std::string zoneName(const std::string& name) {
  std::string out;
  for (const unsigned char c : name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                       c == '_' || c == '.';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03u", c);
      out += buf;
    }
  }
  return out.ends_with('.') ? out : out + ".";
}

// TXT and SPF values: a string is one character-string, a list is ONE record of several
// (joined without spaces by the evaluator, §3.3). YAML's "\xNN" escapes are code points,
// which yaml-cpp hands over as UTF-8: the bytes differ from the ones the suite's authors
// meant, but are non-ASCII all the same, which is what those cases are about.
std::string rdata(const std::string& type, const YAML::Node& value) {
  if (type == "TXT" || type == "SPF") {
    if (!value.IsSequence()) return util::quoteEscaped(value.as<std::string>());
    std::string out;
    for (const auto& part : value) out += (out.empty() ? "" : " ") + util::quoteEscaped(part.as<std::string>());
    return out;
  }
  if (type == "MX") return value[0].as<std::string>() + " " + zoneName(value[1].as<std::string>());  // "" is "."
  if (type == "PTR" || type == "CNAME") return zoneName(value.as<std::string>());
  return value.as<std::string>();  // A, AAAA
}

// One scenario's zonedata as pyspf's driver (test/testspf.py) serves it:
// - "Auto-magic duplication": a name with SPF records and no TXT entry also gets them as
//   TXT records. "TXT: NONE" is no record, but stops the copies.
// - TIMEOUT: a lookup of the name is never answered, unless records of the type asked for
//   are listed before it; records after it are never served (the copies come last, so a
//   name with a TIMEOUT gets none). The test server's !drop does the not answering.
// Records of type SPF are served as such too, though RFC 7208 evaluators never ask.
std::string zoneText(const YAML::Node& zonedata) {
  static const char* const kTypes[] = {"A", "AAAA", "MX", "PTR", "TXT", "SPF", "CNAME"};
  std::string zone;
  for (const auto& entry : zonedata) {
    const std::string owner = zoneName(entry.first.as<std::string>());
    bool hasTxt = false;
    for (const auto& item : entry.second) hasTxt = hasTxt || (item.IsMap() && item["TXT"]);
    std::set<std::string> served;
    std::string copies;
    bool timeout = false;
    for (const auto& item : entry.second) {
      if (!item.IsMap()) {  // the bare string TIMEOUT
        timeout = true;
        break;
      }
      for (const auto& field : item) {
        const std::string type = field.first.as<std::string>();
        if (field.second.IsScalar() && field.second.as<std::string>() == "NONE") continue;
        const std::string data = rdata(type, field.second);
        zone += owner + " IN " + type + " " + data + "\n";
        served.insert(type);
        if (type == "SPF" && !hasTxt) copies += owner + " IN TXT " + data + "\n";
      }
    }
    if (!timeout) {
      zone += copies;
    } else if (served.empty()) {
      zone += "!drop " + owner + "\n";
    } else {
      for (const char* type : kTypes) {
        if (served.count(type) == 0) zone += "!drop " + owner + " " + type + "\n";
      }
    }
  }
  return zone;
}

Suite loadSuite(const std::string& path) {
  Suite suite;
  try {
    for (const auto& doc : YAML::LoadAllFromFile(path)) {
      const std::string zone = zoneText(doc["zonedata"]);
      for (const auto& test : doc["tests"]) {
        const YAML::Node& t = test.second;
        SuiteCase c;
        c.name = test.first.as<std::string>();
        c.scenario = doc["description"].as<std::string>("");
        c.spec = scalarOrList(t["spec"], ", ");
        c.helo = t["helo"].as<std::string>();
        c.host = t["host"].as<std::string>();
        c.mailFrom = t["mailfrom"].as<std::string>();
        if (t["result"].IsSequence()) {
          for (const auto& r : t["result"]) c.results.push_back(r.as<std::string>());
        } else {
          c.results.push_back(t["result"].as<std::string>());
        }
        c.explanation = t["explanation"].as<std::string>("");
        c.zone = zone;
        if (const auto it = kRfc7208.find(c.name); it != kRfc7208.end()) {
          c.results = {it->second.result};
          c.correction = it->second.reason;
          if (it->second.explanation != nullptr) c.explanation = it->second.explanation;
        }
        suite.cases.push_back(std::move(c));
      }
    }
  } catch (const std::exception& e) {
    suite.error = path + ": " + e.what();
  }
  return suite;
}

const Suite& suite() {
  static const Suite loaded = loadSuite(AUTHMILTER_SPF_SUITE);
  return loaded;
}

bool acceptable(const SuiteCase& c, const std::string& result) {
  return std::find(c.results.begin(), c.results.end(), result) != c.results.end();
}

std::string describe(const SuiteCase& c) {
  std::string expected;
  for (const auto& r : c.results) expected += (expected.empty() ? "" : " or ") + r;
  std::string out = c.name + " (" + c.scenario + ", RFC 4408 " + c.spec + "): helo=" + c.helo + " host=" + c.host +
                    " mailfrom=<" + c.mailFrom + ">\n  expected " + expected;
  if (c.correction != nullptr) out += std::string(" (RFC 7208 ") + c.correction + ")";
  return out;
}

// ------------------------------------------------------------------------------------------
// The two evaluators

dns::ResolverOptions resolverOptions(uint16_t port) {
  dns::ResolverOptions o;
  o.nameservers = {{"127.0.0.1", port}};
  o.timeout = kDnsTimeout;
  o.tries = 1;
  return o;
}

CheckResult checkOurs(const SuiteCase& c, const net::IpAddress& ip, const TestDnsServer& server) {
  CheckOptions options;
  options.fetchExplanation = true;
  options.receiver = kReceiver;
  // The null sender <> checks postmaster@HELO (the suite's convention and RFC 7208 §2.4).
  return Checker(dns::makeCachingResolver(resolverOptions(server.port()), {}), options)
      .checkMailFrom(ip, c.helo, c.mailFrom);
}

// In the child: libspf2's verdict in our words. It says "invalid" both for a DNS failure
// (return code SPF_E_DNS_ERROR: temperror) and for a record it cannot compile (permerror).
std::string evaluateWithLibspf2(const SuiteCase& c, uint16_t port) {
  testsupport::SpfDnsBridge bridge(dns::makeCachingResolver(resolverOptions(port), {}));
  SPF_server_t* server = SPF_server_new_dns(bridge.server(), 0);
  SPF_request_t* request = SPF_request_new(server);
  const bool v6 = c.host.find(':') != std::string::npos;
  if ((v6 ? SPF_request_set_ipv6_str(request, c.host.c_str()) : SPF_request_set_ipv4_str(request, c.host.c_str())) !=
      SPF_E_SUCCESS) {
    return "bad-ip";
  }
  // HELO first: an empty MAIL FROM then makes libspf2 check postmaster@HELO.
  SPF_request_set_helo_dom(request, c.helo.c_str());
  SPF_request_set_env_from(request, c.mailFrom.c_str());
  SPF_response_t* response = nullptr;
  const SPF_errcode_t rc = SPF_request_query_mailfrom(request, &response);
  switch (SPF_response_result(response)) {
    case SPF_RESULT_NEUTRAL: return "neutral";
    case SPF_RESULT_PASS: return "pass";
    case SPF_RESULT_FAIL: return "fail";
    case SPF_RESULT_SOFTFAIL: return "softfail";
    case SPF_RESULT_NONE: return "none";
    case SPF_RESULT_TEMPERROR: return "temperror";
    case SPF_RESULT_PERMERROR: return "permerror";
    case SPF_RESULT_INVALID: return rc == SPF_E_DNS_ERROR ? "temperror" : "permerror";
  }
  return "unknown";  // the process exits: nothing is freed
}

// libspf2's result for a case, from a forked child: libspf2's assert()s abort the process on
// some inputs, and such a death is the result ("abort"), not the end of this test binary.
// Call it with no other thread running (no TestDnsServer alive): a child forked while another
// thread holds a lock (malloc's, ASan's) can deadlock, which looked like a libspf2 "hang".
// The child starts its own DNS server for the case.
std::string libspf2Result(const SuiteCase& c) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return "fork failed";
  }
  if (pid == 0) {
    ::close(fds[0]);
    std::string result;
    try {
      TestDnsServer server(c.zone);
      result = evaluateWithLibspf2(c, server.port());
    } catch (const std::exception& e) {
      result = std::string("test DNS server: ") + e.what();
    }
    [[maybe_unused]] const ssize_t n = ::write(fds[1], result.data(), result.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + 20s;  // a hang is a result too
  bool hung = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fds[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
      hung = true;
      ::kill(pid, SIGKILL);
      break;
    }
    char buf[64];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (hung) return "hang";
  if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGABRT ? "abort" : "signal " + std::to_string(WTERMSIG(status));
  return out.empty() ? "no result" : out;
}

std::string testName(const std::string& name) {
  std::string out = name;
  for (char& ch : out) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// The tests

// The suite is part of the test: a missing or unreadable file fails, it never skips.
TEST(SpfSuite, LoadsEveryCase) {
  ASSERT_EQ(suite().error, "");
  EXPECT_EQ(suite().cases.size(), kSuiteCases);
  std::set<std::string> names;
  for (const auto& c : suite().cases) names.insert(c.name);
  for (const auto& [name, correction] : kRfc7208) EXPECT_EQ(names.count(name), 1u) << "no case " << name;
}

class SpfSuiteTest : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(SpfSuiteTest, Rfc7208Result) {
  const SuiteCase& c = GetParam();
  TestDnsServer server(c.zone);
  const auto ip = net::IpAddress::parse(c.host);
  ASSERT_TRUE(ip) << c.host;
  const CheckResult r = checkOurs(c, *ip, server);
  const std::string result(toString(r.result));
  EXPECT_TRUE(acceptable(c, result)) << describe(c) << "\n  got " << result << " (mechanism \"" << r.mechanism
                                     << "\", problem \"" << r.problem << "\")";
  // DEFAULT: the receiver's own text, so no exp= text may be used.
  if (c.explanation == "DEFAULT") {
    EXPECT_EQ(r.explanation, "") << describe(c);
  } else if (!c.explanation.empty()) {
    EXPECT_EQ(r.explanation, c.explanation) << describe(c);
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc4408Suite, SpfSuiteTest, ::testing::ValuesIn(suite().cases),
                         [](const ::testing::TestParamInfo<SuiteCase>& info) { return testName(info.param.name); });

// libspf2 on the same DNS data: where it and we differ must be exactly the table.
TEST(SpfSuite, Libspf2DiffersOnlyWhereExplained) {
  ASSERT_EQ(suite().error, "");
  size_t differences = 0;
  size_t libspf2Wrong = 0;
  std::ostringstream unexplained;
  std::ostringstream stale;
  std::set<std::string> names;
  for (const auto& c : suite().cases) {
    names.insert(c.name);
    const auto ip = net::IpAddress::parse(c.host);
    ASSERT_TRUE(ip) << c.host;
    std::string ours;
    {
      TestDnsServer server(c.zone);  // stopped (its threads joined) before libspf2Result forks
      ours = toString(checkOurs(c, *ip, server).result);
    }
    const std::string theirs = libspf2Result(c);
    if (!acceptable(c, theirs)) ++libspf2Wrong;
    const bool known = kLibspf2Differences.count(c.name) != 0;
    if (ours != theirs) ++differences;
    if (ours != theirs && !known) unexplained << "\n  " << c.name << ": ours " << ours << ", libspf2 " << theirs;
    if (ours == theirs && known) stale << "\n  " << c.name << ": both " << ours;
  }
  for (const auto& [name, why] : kLibspf2Differences) {
    if (names.count(name) == 0) stale << "\n  " << name << ": no such case";
  }
  std::cout << "libspf2 differs from us in " << differences << " of " << suite().cases.size()
            << " cases; its result is not the (RFC 7208-corrected) expected one in " << libspf2Wrong << "\n";
  EXPECT_EQ(unexplained.str(), "") << "differences not in kLibspf2Differences";
  EXPECT_EQ(stale.str(), "") << "kLibspf2Differences entries that do not differ";
}

}  // namespace
}  // namespace authmilter::spf
