// ARC (RFC 8617) held to an independent implementation, dkimpy's arc_sign/arc_verify
// (tests/support/dkimpy_arc.py): we validate chains dkimpy sealed, dkimpy validates chains we
// sealed, in both orders and over several hops; and both must call the same tampering,
// reordering, duplication and gaps. Keys come from tests/data/dkim/keys.zone (FakeResolver
// here; one case through the real DNS layer and test DNS server).
#include <gtest/gtest.h>

#include <sstream>

#include "authmilter/arc/arc.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/mail/message_text.h"
#include "daemon_harness.h"
#include "fake_resolver.h"
#include "fixture_files.h"
#include "temp_dir.h"
#include "test_dns_server.h"

namespace authmilter {
namespace {

using testsupport::dkimFixture;
using testsupport::dkimFixturePath;

const std::string kZone = dkimFixturePath("keys.zone");
constexpr long long kTime = 1704110400;

// The TXT records of keys.zone, as a FakeResolver answers them.
void loadZone(testsupport::FakeResolver& resolver) {
  std::istringstream in(dkimFixture("keys.zone"));
  for (std::string line; std::getline(in, line);) {
    const auto txt = line.find(" IN TXT ");
    if (line.empty() || line[0] == ';' || txt == std::string::npos) continue;
    std::string text;
    for (size_t q = line.find('"', txt); q != std::string::npos; q = line.find('"', line.find('"', q + 1) + 1)) {
      text += line.substr(q + 1, line.find('"', q + 1) - q - 1);
    }
    resolver.setRecords(line.substr(0, line.find(' ')), dns::RrType::TXT, {text}, 300);
  }
}

std::string message(const std::string& authResults) {
  return "Authentication-Results: " + authResults +
         "\r\n"
         "From: Alice <alice@example.com>\r\n"
         "To: list@lists.example\r\n"
         "Subject: hello\r\n"
         "Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
         "Message-ID: <1@example.com>\r\n"
         "\r\n"
         "Hello world\r\n";
}

class ArcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loadZone(resolver_);
    std::string why;
    auto key = dkim::loadPrivateKey(dkimFixturePath("rsa2048.pem"), false, &why);
    ASSERT_TRUE(key) << why;
    key_ = {"example.com", "rsa2048", std::make_shared<const dkim::PrivateKey>(std::move(*key))};
  }

  arc::ChainResult validate(const std::string& raw) { return arc::validateMessage(raw, resolver_, {}); }

  // dkimpy's next set on `raw`; its cv= comes from the arc= of srvId's Authentication-Results.
  std::string dkimpySeal(const std::string& raw, const std::string& srvId) {
    const auto file = dir_.write("in.eml", raw);
    const auto [rc, out] = testsupport::runProgram(
        "/usr/bin/python3", {AUTHMILTER_DKIMPY_ARC, "sign", file, dkimFixturePath("rsa2048.pem"), "example.com",
                             "rsa2048", srvId, std::to_string(kTime)});
    EXPECT_EQ(rc, 0) << out;
    return out;
  }

  // dkimpy's verdict: "cv=pass (success)", "cv=fail (...)", "cv=none (...)", then per set.
  std::vector<std::string> dkimpyVerify(const std::string& raw) {
    const auto file = dir_.write("check.eml", raw);
    const auto [rc, out] = testsupport::runProgram("/usr/bin/python3", {AUTHMILTER_DKIMPY_ARC, "verify", file, kZone});
    EXPECT_EQ(rc, 0) << out;
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  // Our next set on `raw` as a sealer would add it, AAR payload `results`; the set on top.
  std::string ourSeal(const std::string& raw, const std::string& results, std::optional<arc::ChainStatus> cv = {}) {
    const mail::MessageText text = mail::splitMessageText(raw);
    arc::Collector collector;
    for (const auto& [name, value] : text.headers) collector.header(name, value);
    collector.endOfHeaders(true);
    collector.body(text.body);
    collector.endOfBody();
    const auto chain = arc::validate(collector, resolver_, {});
    EXPECT_TRUE(chain.sealable()) << chain.reason;
    arc::SealRequest request{&key_, cv.value_or(chain.nextCv()), results,
                             {"from", "to", "subject", "date", "message-id"}, kTime};
    std::string error;
    const auto set = arc::seal(collector, chain, request, &error);
    EXPECT_TRUE(set) << error;
    if (!set) return raw;
    return "ARC-Seal: " + set->seal + "\r\nARC-Message-Signature: " + set->messageSignature +
           "\r\nARC-Authentication-Results: " + set->authResults + "\r\n" + raw;
  }

  testsupport::TempDir dir_;
  testsupport::FakeResolver resolver_;
  arc::SealKey key_;
};

// Replaces the first occurrence of `from` after `after` in `text`.
std::string replaceAfter(std::string text, const std::string& after, const std::string& from, const std::string& to) {
  const size_t at = text.find(from, text.find(after));
  if (at == std::string::npos) throw std::runtime_error("no '" + from + "' after '" + after + "'");
  return text.replace(at, from.size(), to);
}

// Three hops: dkimpy (i=1), us (i=2), dkimpy (i=3).
TEST_F(ArcTest, ChainsSealedByEitherSideValidateOnBoth) {
  std::string m = dkimpySeal(message("lists.example; dkim=pass header.d=example.com"), "lists.example");
  auto chain = validate(m);
  ASSERT_EQ(chain.result, arc::Result::Pass) << chain.reason;
  EXPECT_EQ(chain.sets, 1u);
  EXPECT_EQ(chain.oldestPass, 0u);
  ASSERT_EQ(chain.details.size(), 1u);
  EXPECT_EQ(chain.details[0].domain, "example.com");
  EXPECT_EQ(chain.details[0].cv, "none");

  m = ourSeal(m, "fwd.example; arc=pass");
  EXPECT_EQ(dkimpyVerify(m).at(0), "cv=pass (success)");
  chain = validate(m);
  ASSERT_EQ(chain.result, arc::Result::Pass) << chain.reason;
  EXPECT_EQ(chain.sets, 2u);
  EXPECT_EQ(chain.details[1].cv, "pass");

  m = dkimpySeal("Authentication-Results: mx3.example; arc=pass\r\n" + m, "mx3.example");
  chain = validate(m);
  EXPECT_EQ(chain.result, arc::Result::Pass) << chain.reason;
  EXPECT_EQ(chain.sets, 3u);
  const auto dkimpy = dkimpyVerify(m);
  EXPECT_EQ(dkimpy.at(0), "cv=pass (success)");
  EXPECT_EQ(dkimpy.size(), 4u);
}

TEST_F(ArcTest, OurFirstSealValidatesOnDkimpy) {
  const std::string m = ourSeal(message("mx.example; spf=pass smtp.mailfrom=example.com"),
                                "mx.example; spf=pass smtp.mailfrom=example.com; arc=none");
  const auto dkimpy = dkimpyVerify(m);
  EXPECT_EQ(dkimpy.at(0), "cv=pass (success)");
  EXPECT_EQ(dkimpy.at(1), "i=1 ams=pass as=pass cv=none d=example.com s=rsa2048");
  EXPECT_NE(m.find("ARC-Authentication-Results: i=1; mx.example; spf=pass"), std::string::npos);
  EXPECT_EQ(validate(m).result, arc::Result::Pass);
}

// A list that changes the message after hop 1 sealed it: the chain still passes (every seal
// holds, the newest signature validates) with oldest-pass 2, on both sides.
TEST_F(ArcTest, ModifiedAfterFirstHopPassesWithOldestPass) {
  std::string m = ourSeal(message("a.example; arc=none"), "a.example; arc=none");
  m = replaceAfter(m, "\r\n\r\n", "Hello world", "Hello world, with a list footer");
  m = ourSeal(m, "b.example; arc=pass", arc::ChainStatus::Pass);
  const auto chain = validate(m);
  ASSERT_EQ(chain.result, arc::Result::Pass) << chain.reason;
  EXPECT_EQ(chain.oldestPass, 2u);
  EXPECT_EQ(chain.details[0].ams, arc::Check::Fail);
  EXPECT_EQ(dkimpyVerify(m).at(0), "cv=pass (success)");
}

// Every field of every instance of a 3-set chain, changed: both sides say fail.
TEST_F(ArcTest, TamperingAtEveryInstanceFailsOnBothSides) {
  std::string m = message("a.example; arc=none");
  for (int hop = 1; hop <= 3; ++hop) m = ourSeal(m, "hop" + std::to_string(hop) + ".example; arc=pass");
  ASSERT_EQ(validate(m).result, arc::Result::Pass);
  for (int i = 1; i <= 3; ++i) {
    const std::string n = std::to_string(i);
    for (const auto& [field, from, to] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"ARC-Authentication-Results: i=" + n, ".example", ".exampla"},
             {"ARC-Message-Signature: i=" + n, "t=", "t=1"},
             {"ARC-Seal: i=" + n, "t=", "t=1"}}) {
      SCOPED_TRACE(field);
      const std::string bad = replaceAfter(m, field, from, to);
      const auto chain = validate(bad);
      EXPECT_EQ(chain.result, arc::Result::Fail) << chain.reason;
      EXPECT_TRUE(dkimpyVerify(bad).at(0).starts_with("cv=fail")) << dkimpyVerify(bad).at(0);
    }
  }
  // The body, after the last seal: the newest ARC-Message-Signature fails.
  const std::string bad = replaceAfter(m, "\r\n\r\n", "Hello", "Jello");
  const auto chain = validate(bad);
  EXPECT_EQ(chain.result, arc::Result::Fail);
  EXPECT_NE(chain.reason.find("ARC-Message-Signature i=3: body hash"), std::string::npos) << chain.reason;
  EXPECT_TRUE(dkimpyVerify(bad).at(0).starts_with("cv=fail"));
}

// Where the fields stand does not matter, instances do (RFC 8617 §5.1.1 orders the sealed
// fields by i=): a chain with its fields in reverse order passes. dkimpy picks the fields it
// hashes by position (bottom-up, as DKIM's h= does) and fails it: not a behaviour to copy.
TEST_F(ArcTest, FieldOrderDoesNotMatterButInstancesDo) {
  std::string m = message("a.example; arc=none");
  for (int hop = 1; hop <= 3; ++hop) m = ourSeal(m, "hop" + std::to_string(hop) + ".example; arc=pass");
  const mail::MessageText text = mail::splitMessageText(m);
  std::vector<std::pair<std::string, std::string>> headers = text.headers;
  std::reverse(headers.begin(), headers.begin() + 9);  // the nine ARC fields, oldest first now
  std::string shuffled;
  for (const auto& [name, value] : headers) shuffled += name + ":" + value + "\r\n";
  shuffled += "\r\n" + text.body;
  EXPECT_EQ(validate(shuffled).result, arc::Result::Pass) << validate(shuffled).reason;

  // A duplicate instance: the AS of i=2 twice.
  const size_t as2 = m.find("ARC-Seal: i=2");
  const size_t end = m.find("\r\nARC-", as2 + 1);
  const std::string duplicate = m.substr(as2, end + 2 - as2) + m;
  auto chain = validate(duplicate);
  EXPECT_EQ(chain.result, arc::Result::Fail);
  EXPECT_EQ(chain.reason, "two ARC-Seal fields with i=2");
  EXPECT_TRUE(dkimpyVerify(duplicate).at(0).starts_with("cv=fail"));

  // A missing instance: every field of i=2 gone.
  std::string gap;
  for (const auto& [name, value] : text.headers) {
    if (!(arc::isArcHeader(name) && value.find("i=2;") != std::string::npos)) gap += name + ":" + value + "\r\n";
  }
  gap += "\r\n" + text.body;
  chain = validate(gap);
  EXPECT_EQ(chain.result, arc::Result::Fail);
  EXPECT_EQ(chain.reason, "ARC set i=2 has no ARC-Authentication-Results");
  EXPECT_TRUE(dkimpyVerify(gap).at(0).starts_with("cv=fail"));
}

TEST_F(ArcTest, CvRulesAndTheEndOfAChain) {
  // i=1 sealed with cv=pass: invalid.
  std::string m = ourSeal(message("a.example; arc=none"), "a.example; arc=none", arc::ChainStatus::Pass);
  auto chain = validate(m);
  EXPECT_EQ(chain.result, arc::Result::Fail);
  EXPECT_EQ(chain.reason, "ARC-Seal i=1 has cv=pass, expected none");
  // Sealing a failed chain: cv=fail over our set only; validators say fail and it ends there.
  m = ourSeal(m, "b.example; arc=fail", arc::ChainStatus::Fail);
  chain = validate(m);
  EXPECT_EQ(chain.result, arc::Result::Fail);
  EXPECT_TRUE(chain.terminated);
  EXPECT_FALSE(chain.sealable());
  EXPECT_EQ(chain.details.back().cv, "fail");
  EXPECT_TRUE(dkimpyVerify(m).at(0).starts_with("cv=ended")) << dkimpyVerify(m).at(0);
}

// 50 sets is the most a chain may have; we seal up to it and validate it; a 51st set is
// refused; 60 sets fail before a single key is fetched.
TEST_F(ArcTest, FiftySetsAtMostSixtyFailWithoutKeyLookups) {
  std::string m = message("a.example; arc=none");
  for (int hop = 1; hop <= 50; ++hop) m = ourSeal(m, "hop.example; arc=pass");
  auto chain = validate(m);
  EXPECT_EQ(chain.result, arc::Result::Pass) << chain.reason;
  EXPECT_EQ(chain.sets, 50u);
  EXPECT_FALSE(chain.sealable());
  EXPECT_EQ(dkimpyVerify(m).at(0), "cv=pass (success)");

  std::string sixty;
  for (int i = 60; i >= 1; --i) {
    const std::string n = std::to_string(i);
    sixty += "ARC-Seal: i=" + n + "; cv=pass; a=rsa-sha256; d=x.example; s=s; b=AAAA\r\n"
             "ARC-Message-Signature: i=" + n + "; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA\r\n"
             "ARC-Authentication-Results: i=" + n + "; x.example; arc=pass\r\n";
  }
  testsupport::FakeResolver counting;
  chain = arc::validateMessage(sixty + message("x; none"), counting, {});
  EXPECT_EQ(chain.result, arc::Result::Fail);
  EXPECT_EQ(chain.reason, "ARC set i=60 is past the limit of 50");
  EXPECT_EQ(counting.calls("s._domainkey.x.example", dns::RrType::TXT), 0);
}

// Hostile header sections are parsing work only: no key is fetched, nothing crashes.
TEST_F(ArcTest, HostileArcFieldsFailWithoutKeyLookups) {
  testsupport::FakeResolver counting;
  const std::vector<std::pair<std::string, std::string>> cases{
      {"ARC-Seal: i=99999999999999999999; cv=none\r\n", "ARC-Seal without a valid i="},
      {"ARC-Seal: i=51; cv=none; a=rsa-sha256; d=x; s=s; b=A\r\n", "ARC set i=51 is past the limit of 50"},
      {"ARC-Seal: i=1; i=1; cv=none\r\n", "ARC-Seal: tag i= occurs twice"},
      {"ARC-Seal: garbage\r\n", "ARC-Seal: 'garbage' is not a tag=value"},
      {"ARC-Authentication-Results: x.example; none\r\n", "ARC-Authentication-Results without a valid i="},
      {"ARC-Seal: i=0; cv=none\r\n", "ARC-Seal without a valid i="},
      {"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=x; s=s; b=A; h=from\r\nARC-Message-Signature: i=1; a=rsa-sha256; "
       "d=x; s=s; h=from; bh=A; b=A\r\nARC-Authentication-Results: i=1; x; none\r\n",
       "ARC-Seal i=1 has h="},
  };
  for (const auto& [fields, reason] : cases) {
    const auto chain = arc::validateMessage(fields + message("x; none"), counting, {});
    EXPECT_EQ(chain.result, arc::Result::Fail) << fields;
    EXPECT_EQ(chain.reason, reason) << fields;
  }
  // A thousand seals with 10 KB values each.
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "ARC-Seal: i=1; b=" + std::string(10000, 'A') + "\r\n";
  const auto chain = arc::validateMessage(many + message("x; none"), counting, {});
  EXPECT_EQ(chain.result, arc::Result::Fail);
  EXPECT_EQ(counting.unscripted(), 0);
}

TEST_F(ArcTest, KeyTroubleIsTemperrorAndBadKeysFail) {
  const std::string m = ourSeal(message("a.example; arc=none"), "a.example; arc=none");
  resolver_.setStatus("rsa2048._domainkey.example.com", dns::RrType::TXT, dns::DnsStatus::ServFail, 0);
  auto chain = validate(m);
  EXPECT_EQ(chain.result, arc::Result::TempError);
  EXPECT_FALSE(chain.sealable());
  resolver_.setStatus("rsa2048._domainkey.example.com", dns::RrType::TXT, dns::DnsStatus::NxDomain, 0);
  chain = validate(m);
  EXPECT_EQ(chain.result, arc::Result::Fail);
  EXPECT_NE(chain.reason.find("no key at rsa2048._domainkey.example.com"), std::string::npos) << chain.reason;
  resolver_.setRecords("rsa2048._domainkey.example.com", dns::RrType::TXT, {"v=DKIM1; k=rsa; p="}, 300);
  EXPECT_NE(validate(m).reason.find("key revoked"), std::string::npos);
  // A 512-bit key (RFC 8301): fails however good the signature.
  resolver_.setRecords("rsa2048._domainkey.example.com", dns::RrType::TXT,
                       {"v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMPtYcKtf3WTA3A7PFQp4izxnc4su+l7j73Pj2YybEXa/"
                        "GLSC1F9zdfB216iBHbcCEIlrLTw8BPZk4tkwUCdNH8CAwEAAQ=="},
                       300);
  EXPECT_NE(validate(m).reason.find("512 bits, under MinimumKeyBits"), std::string::npos) << validate(m).reason;
  // rsa-sha1 is not allowed (RFC 8301).
  loadZone(resolver_);
  const std::string sha1 = replaceAfter(m, "ARC-Message-Signature: i=1", "a=rsa-sha256", "a=rsa-sha1");
  EXPECT_NE(validate(sha1).reason.find("a=rsa-sha1 not allowed"), std::string::npos) << validate(sha1).reason;
}

// Through the shared DNS layer (ldns) and a DNS server on loopback, as the daemon fetches keys.
TEST_F(ArcTest, KeysComeThroughTheDnsLayer) {
  const std::string m = dkimpySeal(message("lists.example; dkim=pass"), "lists.example");
  testsupport::TestDnsServer server(testsupport::readFile(kZone));
  dns::ResolverOptions options;
  options.nameservers = {{"127.0.0.1", server.port()}};
  dns::LdnsResolver resolver(options);
  EXPECT_EQ(arc::validateMessage(m, resolver, {}).result, arc::Result::Pass);
  // And authmilter-check says the same.
  const std::string file = dir_.write("sealed.eml", m);
  const auto [rc, out] =
      testsupport::runAuthmilterCheck({"arc", file, "--nameserver", "127.0.0.1:" + std::to_string(server.port())});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(out.starts_with("arc=pass header.oldest-pass=0  (1 set,")) << out;
  EXPECT_NE(out.find("set i=1: d=example.com s=rsa2048 cv=none  ams=pass as=pass"), std::string::npos) << out;
}

TEST(ArcResultIn, ReadsTheArcResultOfAnAuthenticationResults) {
  EXPECT_EQ(arc::arcResultIn("mx.example; spf=pass; arc=pass header.oldest-pass=0"), arc::ChainStatus::Pass);
  EXPECT_EQ(arc::arcResultIn("mx.example; arc=fail (\"arc=pass\"; x)"), arc::ChainStatus::Fail);
  EXPECT_EQ(arc::arcResultIn("mx.example; dkim=pass reason=\"arc=pass;\""), std::nullopt);
  EXPECT_EQ(arc::arcResultIn("mx.example; arc=temperror"), std::nullopt);
  EXPECT_EQ(arc::arcResultIn("mx.example; none"), std::nullopt);
  EXPECT_EQ(arc::arcResultIn("arc=pass"), std::nullopt);  // that is the authserv-id
}

}  // namespace
}  // namespace authmilter

namespace authmilter {
namespace {

TEST(ArcKeyCacheTest, RemembersKeysAndErrorsAndStaysBounded) {
  const std::string good = "v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMPtYcKtf3WTA3A7PFQp4izxnc4su+l7j73Pj2Yy"
                           "bEXa/GLSC1F9zdfB216iBHbcCEIlrLTw8BPZk4tkwUCdNH8CAwEAAQ==";
  arc::KeyCache cache(2);
  std::string why;
  const auto first = cache.parse(good, &why);
  ASSERT_TRUE(first);
  const auto again = cache.parse(good, &why);
  ASSERT_TRUE(again);
  EXPECT_EQ(first->key.get(), again->key.get());  // the same parsed key, not a second decode
  EXPECT_FALSE(cache.parse("v=DKIM1; p=", &why));
  EXPECT_EQ(why, "key revoked");
  EXPECT_FALSE(cache.parse("v=DKIM1; p=", &why));
  EXPECT_EQ(why, "key revoked");
  // A third record fills the cache past its capacity: it starts again, and still answers.
  EXPECT_FALSE(cache.parse("k=dsa; p=AAAA", &why));
  const auto fresh = cache.parse(good, &why);
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh->key.get(), first->key.get());
  EXPECT_EQ(fresh->bits, 512u);
}

}  // namespace
}  // namespace authmilter
