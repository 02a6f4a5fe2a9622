// DKIM verification of messages signed by an independent signer (dkimpy; fixtures and
// their test keys in tests/data/dkim, see its README), keys served by the test DNS server
// and fetched through the real DNS path. Also the hostile inputs: each must get a clear
// result, never a crash.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "authmilter/dkim/verifier.h"
#include "authmilter/dns/caching_resolver.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/mail/message_text.h"
#include "fixture_files.h"
#include "test_dns_server.h"

namespace authmilter::dkim {
namespace {

using testsupport::TestDnsServer;

std::string fixture(const std::string& name) { return testsupport::dkimFixture(name); }

class DkimVerifyTest : public ::testing::Test {
 protected:
  DkimVerifyTest() : dns_(fixture("keys.zone") + "\n!drop slow._domainkey.example.com\n") { reset({}); }

  void reset(VerifyOptions options) {
    dns::ResolverOptions r;
    r.nameservers = {*dns::parseNameserver(dns_.nameserver4(), nullptr)};
    r.timeout = std::chrono::milliseconds(300);
    r.tries = 1;
    verifier_ = std::make_unique<Verifier>(dns::makeCachingResolver(r, {}), options);
  }

  std::vector<SignatureResult> verify(const std::string& message, size_t* unchecked = nullptr) {
    return verifyMessage(*verifier_, message, unchecked);
  }

  // The one signature of a fixture.
  SignatureResult only(const std::string& name) {
    const auto results = verify(fixture(name));
    if (results.size() != 1) throw std::runtime_error(name + ": expected one signature");
    return results.front();
  }

  TestDnsServer dns_;
  std::unique_ptr<Verifier> verifier_;
};

TEST_F(DkimVerifyTest, EachCanonicalizationPairAndBothAlgorithmsPass) {
  for (const char* name : {"rsa-simple-simple.eml", "rsa-simple-relaxed.eml", "rsa-relaxed-simple.eml",
                           "rsa-relaxed-relaxed.eml", "ed25519-simple-simple.eml", "ed25519-simple-relaxed.eml",
                           "ed25519-relaxed-simple.eml", "ed25519-relaxed-relaxed.eml", "rsa1024.eml"}) {
    const auto r = only(name);
    EXPECT_EQ(r.result, Result::Pass) << name << ": " << r.reason;
    EXPECT_EQ(r.domain, "example.com") << name;
    EXPECT_EQ(r.identity, "@example.com") << name;
    EXPECT_EQ(r.bPrefix.size(), 8u) << name;
    EXPECT_TRUE(r.reason.empty()) << name << ": " << r.reason;
  }
  const auto ed = only("ed25519-relaxed-relaxed.eml");
  EXPECT_EQ(ed.algorithm, "ed25519-sha256");
  EXPECT_EQ(ed.selector, "ed25519");
  EXPECT_EQ(only("rsa-simple-simple.eml").algorithm, "rsa-sha256");
}

TEST_F(DkimVerifyTest, BPrefixIsTheStartOfTheSignature) {
  const std::string message = fixture("rsa-relaxed-relaxed.eml");
  const auto b = message.find(" b=");
  ASSERT_NE(b, std::string::npos);
  EXPECT_EQ(only("rsa-relaxed-relaxed.eml").bPrefix, message.substr(b + 3, 8));
}

TEST_F(DkimVerifyTest, BareLfFilesVerifyLikeCrlf) {
  std::string message = fixture("rsa-simple-simple.eml");
  std::string lf;
  for (char c : message) {
    if (c != '\r') lf.push_back(c);
  }
  ASSERT_NE(lf.size(), message.size());
  const auto results = verify(lf);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].result, Result::Pass) << results[0].reason;
}

// As a milter gets a body: in chunks, with whatever line ends the MTA passed. Bare LF and
// bare CR are hashed as the CRLF they were signed as, wherever the chunks split them, and a
// last line without a line end is hashed with one.
TEST_F(DkimVerifyTest, StreamedBodiesWithBareLineEndsVerifyInAnyChunking) {
  for (const char* name : {"rsa-simple-simple.eml", "rsa-relaxed-relaxed.eml"}) {
    const std::string message = fixture(name);
    const mail::MessageText parts = mail::splitMessageText(message);
    const std::string crlf = message.substr(message.find("\r\n\r\n") + 4);
    std::string lf = crlf, cr = crlf;
    for (size_t at; (at = lf.find("\r\n")) != std::string::npos;) lf.erase(at, 1);
    for (size_t at; (at = cr.find("\r\n")) != std::string::npos;) cr.erase(at + 1, 1);
    const std::string unterminated = crlf.substr(0, crlf.find_last_not_of("\r\n") + 1);
    ASSERT_LT(unterminated.size(), crlf.size());
    const std::vector<std::pair<const char*, std::string>> bodies = {
        {"CRLF", crlf}, {"LF", lf}, {"CR", cr}, {"unterminated", unterminated}};
    for (const auto& [kind, body] : bodies) {
      for (size_t chunk : {size_t{1}, size_t{7}, body.size()}) {
        Verification v(*verifier_);
        for (const auto& [header, value] : parts.headers) v.header(header, value);
        v.endOfHeaders();
        for (size_t at = 0; at < body.size(); at += chunk) v.body(std::string_view(body).substr(at, chunk));
        const auto results = v.finish();
        ASSERT_EQ(results.size(), 1u);
        EXPECT_EQ(results[0].result, Result::Pass)
            << name << ", " << kind << " body, chunks of " << chunk
            << ": " << results[0].reason;
      }
    }
  }
}

TEST_F(DkimVerifyTest, TamperedBodyAndHeaderFail) {
  const auto body = only("tampered-body.eml");
  EXPECT_EQ(body.result, Result::Fail);
  EXPECT_EQ(body.reason, "body hash did not verify");
  const auto header = only("tampered-header.eml");
  EXPECT_EQ(header.result, Result::Fail);
  EXPECT_EQ(header.reason, "signature did not verify");
}

TEST_F(DkimVerifyTest, SeveralSignaturesWithMixedResults) {
  const auto results = verify(fixture("multi.eml"));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].result, Result::Pass);
  EXPECT_EQ(results[0].algorithm, "rsa-sha256");
  EXPECT_EQ(results[1].result, Result::Pass);
  EXPECT_EQ(results[1].algorithm, "ed25519-sha256");
  EXPECT_EQ(results[2].result, Result::Fail);
}

TEST_F(DkimVerifyTest, Rfc8301PolicyForSha1AndShortKeys) {
  const auto sha1 = only("rsa-sha1.eml");
  EXPECT_EQ(sha1.result, Result::Policy);
  EXPECT_NE(sha1.reason.find("rsa-sha1"), std::string::npos);
  const auto shortKey = only("rsa512.eml");
  EXPECT_EQ(shortKey.result, Result::Policy);
  EXPECT_NE(shortKey.reason.find("MinimumKeyBits"), std::string::npos);
  // MinimumKeyBits is honoured both ways: 2048 makes the 1024-bit key a policy failure.
  reset({5, 2048, 1 << 20});
  EXPECT_EQ(only("rsa1024.eml").result, Result::Policy);
  EXPECT_EQ(only("rsa-relaxed-relaxed.eml").result, Result::Pass);
}

TEST_F(DkimVerifyTest, TimeLimitsRevocationAndTagsNeverPass) {
  const auto expired = only("expired.eml");
  EXPECT_EQ(expired.result, Result::PermError);
  EXPECT_EQ(expired.reason, "signature expired (x=)");
  const auto future = only("future.eml");
  EXPECT_EQ(future.result, Result::PermError);
  EXPECT_EQ(future.reason, "signature timestamp in the future (t=)");
  const auto revoked = only("revoked.eml");
  EXPECT_EQ(revoked.result, Result::PermError);
  EXPECT_EQ(revoked.reason, "key revoked (empty p=)");
  const auto noFrom = only("no-from-in-h.eml");
  EXPECT_EQ(noFrom.result, Result::PermError);
  EXPECT_EQ(noFrom.reason, "From is not signed (h=)");
  EXPECT_EQ(only("i-outside-d.eml").result, Result::PermError);
  EXPECT_EQ(only("strict-subdomain.eml").result, Result::PermError);  // key t=s, i= in a subdomain
}

TEST_F(DkimVerifyTest, KeyLookups) {
  const auto nokey = only("nokey.eml");
  EXPECT_EQ(nokey.result, Result::PermError);
  EXPECT_EQ(nokey.reason, "no key at missing._domainkey.example.com");
  const auto slow = only("slow.eml");
  EXPECT_EQ(slow.result, Result::TempError);
  EXPECT_EQ(dns_.queryCount("slow._domainkey.example.com", "TXT"), 1u);
  // The key came through our resolver (and its cache): asked once for two verifications.
  only("rsa-relaxed-relaxed.eml");
  only("rsa-simple-simple.eml");
  EXPECT_EQ(dns_.queryCount("rsa2048._domainkey.example.com", "TXT"), 1u);
}

TEST_F(DkimVerifyTest, TestingKeyIsReported) {
  const auto r = only("testing.eml");
  EXPECT_EQ(r.result, Result::Pass);
  EXPECT_TRUE(r.testing);
  EXPECT_EQ(r.reason, "testing key (t=y)");
}

TEST_F(DkimVerifyTest, LengthTagIsReported) {
  const auto appended = only("length.eml");
  EXPECT_EQ(appended.result, Result::Pass);
  EXPECT_TRUE(appended.partialBody);
  EXPECT_NE(appended.reason.find("l= covers"), std::string::npos) << appended.reason;
  const auto intact = only("length-intact.eml");
  EXPECT_EQ(intact.result, Result::Pass);
  EXPECT_FALSE(intact.partialBody);
}

TEST_F(DkimVerifyTest, UnsignedMessageHasNoResults) { EXPECT_TRUE(verify(fixture("unsigned.eml")).empty()); }

// ---- hostile input ------------------------------------------------------------------------

// The fixture with `extra` header lines put on top (unsigned headers: the signature holds).
std::string withHeaders(const std::string& message, const std::string& extra) { return extra + message; }

TEST_F(DkimVerifyTest, HugeHeaderAndTenThousandHeaders) {
  const std::string message = fixture("rsa-relaxed-relaxed.eml");
  auto r = verify(withHeaders(message, "X-Junk: " + std::string(64 * 1024, 'a') + "\r\n"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, Result::Pass);
  std::string many;
  for (int i = 0; i < 10'000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  r = verify(withHeaders(message, many));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, Result::Pass);
  // Past DKIMMaxHeaderBytes nothing is verified, and the result says why.
  reset({5, 1024, 16384});
  r = verify(withHeaders(message, "X-Junk: " + std::string(64 * 1024, 'a') + "\r\n"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, Result::PermError);
  EXPECT_NE(r[0].reason.find("DKIMMaxHeaderBytes"), std::string::npos);
}

TEST_F(DkimVerifyTest, AThousandSignaturesOnlyMaximumAreChecked) {
  const std::string message = fixture("rsa-relaxed-relaxed.eml");
  const std::string signature = message.substr(0, message.find("\r\nFrom:") + 2);
  ASSERT_EQ(signature.rfind("DKIM-Signature:", 0), 0u);
  std::string many;
  for (int i = 0; i < 999; ++i) many += signature;
  size_t unchecked = 0;
  const auto r = verify(many + message, &unchecked);
  EXPECT_EQ(r.size(), 5u);
  EXPECT_EQ(unchecked, 995u);
  for (const auto& s : r) EXPECT_EQ(s.result, Result::Pass) << s.reason;
  EXPECT_EQ(dns_.queryCount("rsa2048._domainkey.example.com", "TXT"), 1u);
}

TEST_F(DkimVerifyTest, BrokenBase64NeverPasses) {
  const std::string message = fixture("rsa-relaxed-relaxed.eml");
  std::string badB = message;
  badB.replace(badB.find(" b=") + 3, 6, "!!*\x01%%");
  auto r = verify(badB);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].result, Result::Pass);
  std::string badBh = message;
  badBh.replace(badBh.find("bh=") + 3, 6, "@@@###");
  r = verify(badBh);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].result, Result::Pass);
  std::string emptyB = message;
  const auto b = emptyB.find(" b=") + 3;
  emptyB.erase(b, emptyB.find("\r\nFrom:") - b);
  r = verify(emptyB);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, Result::PermError);
}

TEST_F(DkimVerifyTest, NulBytesAndBareCrLfInHeaders) {
  const std::string message = fixture("rsa-relaxed-relaxed.eml");
  std::string hostile = "X-Nul: a" + std::string(1, '\0') + "b\r\nX-Cr: a\rb\r\nX-Lf: a\nb\r\n";
  auto r = verify(hostile + message);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, Result::Pass);
  // In the signed Subject, they break the signature, nothing else.
  std::string tampered = message;
  tampered.insert(tampered.find("Subject: ") + 9, std::string("\0\r", 2));
  r = verify(tampered);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].result, Result::Fail);
}

TEST_F(DkimVerifyTest, FiftyMegabyteBody) {
  std::string big = fixture("length-intact.eml");
  std::string line(998, 'x');
  line += "\r\n";
  big.reserve(big.size() + 50 * 1000 * 1000);
  while (big.size() < 50u * 1000 * 1000) big += line;
  const auto r = verify(big);
  ASSERT_EQ(r.size(), 1u);
  // l= covers the original body: the signature holds, and the appended 50 MB are reported.
  EXPECT_EQ(r[0].result, Result::Pass);
  EXPECT_TRUE(r[0].partialBody);
  std::string whole = fixture("rsa-relaxed-relaxed.eml") + std::string(50 * 1000 * 1000, 'y');
  const auto r2 = verify(whole);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_EQ(r2[0].result, Result::Fail);
}

TEST_F(DkimVerifyTest, MalformedSignatureTagsArePermerror) {
  const std::string message = fixture("rsa-relaxed-relaxed.eml");
  auto variant = [&](const std::string& from, const std::string& to) {
    std::string m = message;
    const auto at = m.find(from);
    if (at == std::string::npos || at > m.find("\r\nFrom:")) throw std::runtime_error("no " + from);
    m.replace(at, from.size(), to);
    return m;
  };
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"v=1;", "v=2;"},                                  // bogus version
           {"a=rsa-sha256;", "a=rsa-md5;"},                   // bogus algorithm
           {"c=relaxed/relaxed;", "c=weird/relaxed;"},        // bogus canonicalization
           {"d=example.com;", "d=example.net(.example.com;"},  // CVE-2020-12272's d=
           {"d=example.com;", ""},                            // d= missing
           {"s=rsa2048;", ""},                                // s= missing
           {"v=1;", "v=1; v=1;"},                             // duplicated tag
           {"i=@example.com;", "i=@other.example;"},          // i= outside d=
           {"v=1; ", ""},                                     // v= missing
           {"a=rsa-sha256; ", ""},                            // a= missing
           {"c=relaxed/relaxed; ", "c=relaxed/relaxed/x; "},  // c= with three parts
           {"h=from : to :", "h=to :"},                       // From not signed (h=)
           {"q=dns/txt;", "q=http/well-known;"},              // unknown query method
       }) {
    const auto r = verify(variant(from, to));
    ASSERT_EQ(r.size(), 1u) << to;
    EXPECT_EQ(r[0].result, Result::PermError) << from << " -> " << to << ": " << r[0].reason;
  }
}

}  // namespace
}  // namespace authmilter::dkim

namespace authmilter::dkim {
namespace {

// As Postfix hands a message to a milter: folded header lines joined by bare LF, body CRLF.
TEST_F(DkimVerifyTest, PostfixStyleBareLfFoldingInHeaderValues) {
  for (const char* name : {"rsa-relaxed-relaxed.eml", "rsa-simple-simple.eml"}) {
    const std::string message = fixture(name);
    const size_t split = message.find("\r\n\r\n");
    Verification v(*verifier_);
    std::string head = message.substr(0, split + 2);
    std::string current;
    size_t pos = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    while (pos < head.size()) {
      const size_t end = head.find("\r\n", pos);
      const std::string line = head.substr(pos, end - pos);
      pos = end + 2;
      if (line[0] == ' ' || line[0] == '\t') {
        headers.back().second += "\n" + line;
      } else {
        const size_t colon = line.find(':');
        headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
      }
    }
    for (const auto& [n, value] : headers) v.header(n, value);
    v.endOfHeaders();
    v.body(message.substr(split + 4));
    const auto r = v.finish();
    ASSERT_EQ(r.size(), 1u) << name;
    EXPECT_EQ(r[0].result, Result::Pass) << name << ": " << r[0].reason;
  }
}

}  // namespace
}  // namespace authmilter::dkim
