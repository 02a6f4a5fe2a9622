// spf::Checker through the real DNS path (fixture in spf_check_fixture.h), continued: the
// client and the identities checked (RFC 7208 §2.3, §2.4, §5), what a result records (its
// lookups, through the cache too), long and hostile input, and the Received-SPF header
// (§9.1), taken apart by an RFC 5322 parser so hostile text cannot break it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authmilter/dns/caching_resolver.h"
#include "authmilter/spf/spf.h"
#include "authmilter/util/strings.h"
#include "spf_check_fixture.h"

namespace authmilter::spf {
namespace {

using namespace testing_support;
using dns::DnsStatus;
using ::testing::StartsWith;

// ---------------------------------------------------------------------------------------
// Clients, identities, what the result records

TEST_F(SpfCheckTest, Ipv4MappedClientIsAnIpv4Client) {  // §5: "MUST still be considered an IPv4 address"
  serve(txt("mapped.test", "v=spf1 -ip4:1.2.3.4 ip6:::ffff:1.2.3.4 +all") +
        txt("a.mapped.test", "v=spf1 a:h.mapped.test exists:%{ir}.%{v}.mapped.test -all") +
        "h.mapped.test. IN A 192.0.2.1\n4.3.2.1.in-addr.mapped.test. IN A 127.0.0.2\n");
  const auto client = ip("::ffff:1.2.3.4");
  ASSERT_EQ(client.family(), IpAddress::Family::V4);
  auto r = checker().checkHost(client, "mapped.test", "user@mapped.test", kHelo);
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  EXPECT_THAT(r.mechanism, HasSubstr("ip4:1.2.3.4"));
  r = checker().checkHost(client, "a.mapped.test", "user@a.mapped.test", kHelo);
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(asked(r, "h.mapped.test", RrType::A), 1u) << describe(r);
  EXPECT_EQ(asked(r, "h.mapped.test", RrType::AAAA), 0u) << describe(r);
}

TEST_F(SpfCheckTest, NullSenderChecksPostmasterAtTheHelo) {  // §2.4
  serve(txt(kHelo, "v=spf1 exists:%{l}.%{o}.%{d}.nl.test -all") +
        "postmaster.mail.helo.test.mail.helo.test.nl.test. IN A 127.0.0.2\n");
  const auto r = checker().checkMailFrom(ip(kClient4), kHelo, "");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.identity, "helo");
  EXPECT_EQ(r.sender, "postmaster@mail.helo.test");
  EXPECT_EQ(r.domain, "mail.helo.test");
}

TEST_F(SpfCheckTest, CheckHeloUsesPostmasterAtTheHelo) {  // §2.3
  serve(txt(kHelo, "v=spf1 exists:%{l}.%{d}.hl.test -all") + "postmaster.mail.helo.test.hl.test. IN A 127.0.0.2\n");
  auto r = checker().checkHelo(ip(kClient4), kHelo);
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(r.identity, "helo");
  EXPECT_EQ(r.sender, "postmaster@mail.helo.test");
  EXPECT_EQ(r.domain, "mail.helo.test");
  // MAIL FROM with a sender: identity mailfrom.
  r = checker().checkMailFrom(ip(kClient4), kHelo, "someone@mail.helo.test");
  EXPECT_EQ(r.identity, "mailfrom");
  EXPECT_EQ(r.sender, "someone@mail.helo.test");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);  // someone.mail.helo.test.hl.test does not exist
}

TEST_F(SpfCheckTest, HeloThatIsNotADomainIsNone) {  // §2.3, §4.3
  serve(txt("localhost", "v=spf1 -all") + txt("[192.0.2.10]", "v=spf1 -all"));
  for (const char* helo : {"[192.0.2.10]", "[IPv6:2001:db8::10]", "localhost", "192.0.2.10"}) {
    const auto r = checker().checkHelo(ip(kClient4), helo);
    EXPECT_EQ(toString(r.result), "none") << helo << ": " << describe(r);
    EXPECT_EQ(r.identity, "helo") << helo;
  }
  // §2.3: "This SPF check can only be performed when the HELO string is a valid,
  // multi-label domain name": an address literal or a bare word is not looked up at all.
  for (const char* helo : {"[192.0.2.10]", "[IPv6:2001:db8::10]", "localhost"}) {
    const auto r = checker().checkHelo(ip(kClient4), helo);
    EXPECT_TRUE(r.lookups.empty()) << helo << ": " << describe(r);
  }
  // The null sender with such a HELO: postmaster@[192.0.2.10] has no domain to check either.
  const auto r = checker().checkMailFrom(ip(kClient4), "[192.0.2.10]", "");
  EXPECT_EQ(toString(r.result), "none") << describe(r);
  EXPECT_TRUE(r.lookups.empty()) << describe(r);
  EXPECT_EQ(server_.queryCount("[192.0.2.10]", "TXT"), 0u);
  EXPECT_EQ(server_.queryCount("localhost", "TXT"), 0u);
}

TEST_F(SpfCheckTest, LookupsRecordEachQuestionInOrder) {
  serve(hostZone() + txt("lk.test", "v=spf1 a:far.m.test exists:nothing.m.test mx:mxhost.m.test -all"));
  const auto r = checker().checkMailFrom(ip(kClient4), kHelo, "user@lk.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_THAT(r.mechanism, HasSubstr("mx:mxhost.m.test"));
  EXPECT_EQ(r.dnsTerms, 3u);
  EXPECT_EQ(r.voidLookups, 1u);
  EXPECT_EQ(r.identity, "mailfrom");
  EXPECT_EQ(r.sender, "user@lk.test");
  EXPECT_EQ(r.domain, "lk.test");
  ASSERT_EQ(r.lookups.size(), 5u) << describe(r);
  const struct {
    const char* name;
    RrType type;
    DnsStatus status;
    size_t records;
  } want[] = {{"lk.test", RrType::TXT, DnsStatus::Ok, 1},
              {"far.m.test", RrType::A, DnsStatus::Ok, 1},
              {"nothing.m.test", RrType::A, DnsStatus::NxDomain, 0},
              {"mxhost.m.test", RrType::MX, DnsStatus::Ok, 1},
              {"host.m.test", RrType::A, DnsStatus::Ok, 1}};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(dns::canonicalName(r.lookups[i].name), want[i].name) << i;
    EXPECT_EQ(r.lookups[i].type, want[i].type) << i;
    EXPECT_EQ(r.lookups[i].status, want[i].status) << i;
    EXPECT_EQ(r.lookups[i].records, want[i].records) << i;
    EXPECT_FALSE(r.lookups[i].fromCache) << i;
  }
}

TEST_F(SpfCheckTest, ASecondCheckThroughTheCacheAsksNothing) {
  serve(hostZone() + txt("c.test", "v=spf1 a:far.m.test mx:mxhost.m.test -all"));
  dns::ResolverOptions o;
  o.nameservers = {{"127.0.0.1", server_.port()}};
  o.timeout = 2000ms;
  o.tries = 1;
  const Checker c(dns::makeCachingResolver(o, dns::CacheOptions{}), CheckOptions{});
  const auto first = c.checkMailFrom(ip(kClient4), kHelo, "user@c.test");
  const auto queries = server_.totalQueries();
  const auto second = c.checkMailFrom(ip(kClient4), kHelo, "user@c.test");
  EXPECT_EQ(toString(first.result), "pass") << describe(first);
  EXPECT_EQ(toString(second.result), "pass") << describe(second);
  EXPECT_EQ(server_.totalQueries(), queries);
  ASSERT_EQ(second.lookups.size(), first.lookups.size());
  for (const auto& l : second.lookups) EXPECT_TRUE(l.fromCache) << l.name;
  EXPECT_EQ(second.dnsTerms, first.dnsTerms);  // the limit counts terms, cached or not
}

// ---------------------------------------------------------------------------------------
// Long and hostile input (run these under AUTHMILTER_SANITIZE)

TEST_F(SpfCheckTest, FourKilobyteRecord) {
  std::string record = "v=spf1";
  for (int i = 0; record.size() < 4000; ++i) {
    record += " ip4:10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24";
  }
  record += " ip4:192.0.2.10 -all";
  ASSERT_GE(record.size(), 4000u);
  serve(txt("big.test", record, 200));  // cuts fall inside terms
  auto r = host("big.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_THAT(r.mechanism, HasSubstr("ip4:192.0.2.10"));
  EXPECT_EQ(r.dnsTerms, 0u);
  r = host("big.test", "192.0.2.11");
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
}

TEST_F(SpfCheckTest, ExplanationLadenWithTransformers) {
  const std::string piece = "%{l1r+-=_/,}|%{lr+-=_/,}|%{l2r+-=_/,}|%{L}|%{d2r}|%{ir}|%{S}%%%_%-;";
  std::string text;
  for (int i = 0; i < 40; ++i) text += piece;
  serve(txt("hx.test", "v=spf1 -all exp=why.hx.test") + txt("why.hx.test", text));
  const std::string sender = "a-b+c=d_e/f,g@hx.test";
  const auto r = explaining().checkHost(ip(kClient4), "hx.test", sender, kHelo);
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  const std::string expanded =
      "a|g.f.e.d.c.b.a|b.a|a-b%2Bc%3Dd_e%2Ff%2Cg|test.hx|10.2.0.192|a-b%2Bc%3Dd_e%2Ff%2Cg%40hx.test% %20;";
  std::string want;
  for (int i = 0; i < 40; ++i) want += expanded;
  EXPECT_EQ(r.explanation, want);
}

TEST_F(SpfCheckTest, FfBytesInSenderAndHelo) {
  serve(txt("ff.test", "v=spf1 exists:%{l}.ff.test exists:%{h}.ff.test -all"));
  const std::string sender = "\xff\xfe\x80@ff.test";
  const std::string helo = "h\xff.helo.test";
  auto r = checker().checkMailFrom(ip(kClient4), helo, sender);
  // Neither name exists: two void lookups, no match, -all.
  EXPECT_EQ(toString(r.result), "fail") << describe(r);
  r = checker().checkHelo(ip(kClient4), helo);
  EXPECT_EQ(toString(r.result), "none") << describe(r);
  r = checker().checkMailFrom(ip(kClient4), kHelo, "user@\xff\xff.test");
  EXPECT_EQ(toString(r.result), "none") << describe(r);
  const std::string header = formatReceivedSpf(r, ip(kClient4), helo, sender, kReceiver);
  for (const unsigned char c : header) EXPECT_LT(c, 0x80) << "8-bit byte in: " << header;
}

TEST_F(SpfCheckTest, TwoHundredMacrosInOneDomainSpec) {  // §7.3 truncation at scale
  std::string spec;
  for (int i = 0; i < 200; ++i) spec += "%{l}.";
  spec += "many.test";
  // "ab." x 200 + "many.test" is 609 characters; labels go from the left until <= 253: 81 stay.
  std::string name;
  for (int i = 0; i < 81; ++i) name += "ab.";
  name += "many.test";
  ASSERT_EQ(name.size(), 252u);
  serve(txt("many.test", "v=spf1 exists:" + spec + " -all") + name + ". IN A 127.0.0.2\n");
  const auto r = checker().checkMailFrom(ip(kClient4), kHelo, "ab@many.test");
  EXPECT_EQ(toString(r.result), "pass") << describe(r);
  EXPECT_EQ(server_.queryCount(name, "A"), 1u);
  EXPECT_EQ(r.dnsTerms, 1u);
}

// ---------------------------------------------------------------------------------------
// Received-SPF (§9.1)

// The header value taken apart: result, comment, key=value pairs (unquoted), or why not.
struct ParsedHeader {
  std::string result;
  std::string comment;
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string error;
  std::string value(const std::string& key) const {
    for (const auto& [k, v] : pairs) {
      if (k == key) return v;
    }
    return "<absent>";
  }
  size_t count(const std::string& key) const {
    size_t n = 0;
    for (const auto& p : pairs) n += p.first == key;
    return n;
  }
};

// RFC 5322 dot-atom-text: atext runs joined by single dots.
bool isDotAtom(std::string_view v) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-/=?^_`{|}~";
  if (v.empty() || v.front() == '.' || v.back() == '.') return false;
  for (size_t i = 0; i < v.size(); ++i) {
    const unsigned char c = v[i];
    if (c == '.') {
      if (v[i + 1] == '.') return false;
    } else if (!std::isalnum(c) && kSpecials.find(static_cast<char>(c)) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// RFC 5322 structure: folding only as "\n" + WSP; no other control characters; the comment
// nests with quoted-pairs; values are tokens or quoted-strings.
ParsedHeader parseReceivedSpf(const std::string& header) {
  ParsedHeader p;
  std::string s;
  for (size_t i = 0; i < header.size(); ++i) {
    const unsigned char c = header[i];
    if (c == '\n') {
      if (i + 1 >= header.size() || (header[i + 1] != '\t' && header[i + 1] != ' ')) {
        p.error = "line break not followed by blank space at " + std::to_string(i);
        return p;
      }
      continue;  // unfold
    }
    if (c < 0x20 && c != '\t') {
      p.error = "control character " + std::to_string(c) + " at " + std::to_string(i);
      return p;
    }
    if (c >= 0x7f) {
      p.error = "non-ASCII byte at " + std::to_string(i);
      return p;
    }
    s += static_cast<char>(c);
  }
  size_t i = 0;
  auto skipBlank = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) p.result += s[i++];
  skipBlank();
  if (i < s.size() && s[i] == '(') {
    int depth = 0;
    for (; i < s.size(); ++i) {
      if (s[i] == '\\') {
        p.comment += s[++i];
        continue;
      }
      if (s[i] == '(') ++depth;
      if (s[i] == ')' && --depth == 0) break;
      if (depth > 0 && !(s[i] == '(' && depth == 1)) p.comment += s[i];
    }
    if (i >= s.size()) {
      p.error = "unterminated comment";
      return p;
    }
    ++i;
  }
  while (true) {
    skipBlank();
    if (i >= s.size()) break;
    std::string key;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-' || s[i] == '_')) {
      key += s[i++];
    }
    if (key.empty() || i >= s.size() || s[i] != '=') {
      p.error = "expected key= at " + std::to_string(i) + " in: " + s;
      return p;
    }
    ++i;
    std::string value;
    const bool quotedValue = i < s.size() && s[i] == '"';
    if (quotedValue) {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value += s[i++];
      }
      if (i >= s.size()) {
        p.error = "unterminated quoted string for " + key;
        return p;
      }
      ++i;
    } else {
      while (i < s.size() && s[i] != ';' && s[i] != ' ' && s[i] != '\t' && s[i] != '"' && s[i] != '(') value += s[i++];
    }
    if (!quotedValue && !isDotAtom(value)) {
      p.error = "value of " + key + " is neither dot-atom nor quoted-string: " + value;
      return p;
    }
    p.pairs.emplace_back(util::toLower(key), value);
    skipBlank();
    if (i < s.size()) {
      if (s[i] != ';') {
        p.error = "expected ';' after " + key + " at " + std::to_string(i) + " in: " + s;
        return p;
      }
      ++i;
    }
  }
  return p;
}

class ReceivedSpfTest : public SpfCheckTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ReceivedSpfTest, HeaderNamesResultClientSenderHeloIdentityReceiver) {
  const std::string result = GetParam();
  serve(txt("pass.hdr.test", "v=spf1 +all") + txt("fail.hdr.test", "v=spf1 -all") +
        txt("softfail.hdr.test", "v=spf1 ~all") + txt("neutral.hdr.test", "v=spf1 ?all") +
        "none.hdr.test. IN A 192.0.2.10\n" + txt("temperror.hdr.test", "v=spf1 -all") +
        "!servfail temperror.hdr.test\n" + txt("permerror.hdr.test", "v=spf1 foo:bar"));
  const std::string mailFrom = "user@" + result + ".hdr.test";
  const auto r = checker().checkMailFrom(ip(kClient4), kHelo, mailFrom);
  ASSERT_EQ(toString(r.result), result) << describe(r);
  const std::string header = formatReceivedSpf(r, ip(kClient4), kHelo, mailFrom, kReceiver);
  EXPECT_THAT(header, StartsWith(result + " ")) << header;
  const auto p = parseReceivedSpf(header);
  ASSERT_EQ(p.error, "") << header;
  EXPECT_EQ(p.result, result);
  EXPECT_EQ(p.value("client-ip"), kClient4) << header;
  EXPECT_EQ(p.value("envelope-from"), mailFrom) << header;
  EXPECT_EQ(p.value("helo"), kHelo) << header;
  EXPECT_EQ(p.value("identity"), "mailfrom") << header;
  EXPECT_EQ(p.value("receiver"), kReceiver) << header;
  for (const auto& [key, value] : p.pairs) EXPECT_EQ(p.count(key), 1u) << key << " twice in " << header;
}

INSTANTIATE_TEST_SUITE_P(EveryResult, ReceivedSpfTest,
                         ::testing::Values("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"));

TEST_F(SpfCheckTest, ReceivedSpfForIpv6AndTheNullSender) {
  serve(txt(kHelo, "v=spf1 ip6:2001:db8::/64 -all"));
  const auto r = checker().checkMailFrom(ip(kClient6), kHelo, "");
  ASSERT_EQ(toString(r.result), "pass") << describe(r);
  const std::string header = formatReceivedSpf(r, ip(kClient6), kHelo, "", kReceiver);
  const auto p = parseReceivedSpf(header);
  ASSERT_EQ(p.error, "") << header;
  EXPECT_EQ(p.result, "pass");
  EXPECT_EQ(p.value("client-ip"), kClient6) << header;
  EXPECT_EQ(p.value("identity"), "helo") << header;
  EXPECT_EQ(p.value("helo"), kHelo) << header;
  EXPECT_EQ(p.value("receiver"), kReceiver) << header;
  EXPECT_NE(p.value("envelope-from"), "<absent>") << header;
}

TEST_F(SpfCheckTest, ReceivedSpfCannotBeBrokenByHostileText) {
  CheckResult r;
  r.result = Result::PermError;
  r.identity = "mailfrom";
  r.sender = "\"x\r\nX-Sender: 1\"@evil.test";
  r.domain = "evil.test";
  r.mechanism = "-all\r\nX-Injected: yes\"; client-ip=6.6.6.6; (";
  r.problem = "bad \"quote\" \\ (paren ) ) \n\r\x01\x7f\xff; receiver=evil";
  r.explanation = "line1\r\nX-Evil: 1\"; client-ip=6.6.6.6";
  const std::string helo = "evil\r\nX-Helo: 1\"; identity=helo";
  const std::string mailFrom = "\"x\r\nX-Sender: 1\"@evil.test";
  const std::string header = formatReceivedSpf(r, ip(kClient4), helo, mailFrom, "mx\r\n.receiver.test");
  EXPECT_EQ(header.find('\r'), std::string::npos) << header;
  const auto p = parseReceivedSpf(header);
  ASSERT_EQ(p.error, "") << header;
  EXPECT_EQ(p.result, "permerror");
  EXPECT_EQ(p.count("client-ip"), 1u) << header;
  EXPECT_EQ(p.value("client-ip"), kClient4) << header;
  EXPECT_EQ(p.count("identity"), 1u) << header;
  EXPECT_EQ(p.value("identity"), "mailfrom") << header;
  EXPECT_EQ(p.count("receiver"), 1u) << header;
  for (const auto& [key, value] : p.pairs) {
    EXPECT_EQ(p.count(key), 1u) << key << " twice in " << header;
    EXPECT_THAT(key, ::testing::Not(StartsWith("x-"))) << header;
  }
}

// The same through DNS: an explanation and a record with CR, LF and quotes.
TEST_F(SpfCheckTest, ReceivedSpfCannotBeBrokenByDnsText) {
  serve(txt("inj.test", "v=spf1 -all exp=why.inj.test") +
        txt("why.inj.test", "no\r\nX-Injected: 1\"; client-ip=6.6.6.6 (") +
        txt("bad.inj.test", "v=spf1 a:x\r\nX-Injected:\"1\".test +all"));
  for (const char* domain : {"inj.test", "bad.inj.test"}) {
    const std::string mailFrom = std::string("user@") + domain;
    const auto r = explaining().checkMailFrom(ip(kClient4), kHelo, mailFrom);
    EXPECT_NE(r.result, Result::Pass) << describe(r);
    const std::string header = formatReceivedSpf(r, ip(kClient4), kHelo, mailFrom, kReceiver);
    EXPECT_EQ(header.find('\r'), std::string::npos) << header;
    const auto p = parseReceivedSpf(header);
    ASSERT_EQ(p.error, "") << header;
    EXPECT_EQ(p.count("client-ip"), 1u) << header;
    EXPECT_EQ(p.value("client-ip"), kClient4) << header;
    EXPECT_EQ(p.value("envelope-from"), mailFrom) << header;
    for (const auto& [key, value] : p.pairs) EXPECT_EQ(p.count(key), 1u) << key << " twice in " << header;
  }
}

}  // namespace
}  // namespace authmilter::spf
