// DKIM signing held to an independent verifier: messages signed by authmilter's Signer (RSA
// and Ed25519, every canonicalization pair, dual signatures, oversigning, x=) are checked by
// dkimpy against the test keys' TXT records, and by our own verifier through the test DNS
// server. authmilter-keygen's keys and records are checked the same way.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "authmilter/dkim/signer.h"
#include "authmilter/dkim/signing_key.h"
#include "authmilter/dkim/verifier.h"
#include "authmilter/dns/caching_resolver.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/util/strings.h"
#include "daemon_harness.h"
#include "dkimpy.h"
#include "temp_dir.h"
#include "test_dns_server.h"

using namespace authmilter;
using namespace authmilter::testsupport;

namespace {

std::string fixture(const std::string& name) { return std::string(AUTHMILTER_DKIM_FIXTURES "/") + name; }

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Folded headers, odd spacing, trailing blank lines and white space at line ends: what
// simple and relaxed canonicalization treat differently.
const std::string kMessage =
    "From: Alice Example <alice@example.com>\r\n"
    "To: bob@example.org,\r\n"
    "\tcarol@example.org\r\n"
    "Subject:   Quarterly   report \r\n"
    "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <sign-test@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "X-Unsigned: not in SignHeaders\r\n"
    "\r\n"
    "Hello Bob,  \r\n"
    "\r\n"
    "the numbers\tare in.\r\n"
    "\r\n"
    "\r\n";

// What a receiver gets: our DKIM-Signature fields on top of the message.
std::string withSignatures(const std::vector<dkim::MadeSignature>& made, const std::string& message) {
  std::string out;
  for (const auto& m : made) out += "DKIM-Signature: " + m.value + "\r\n";
  return out + message;
}

class DkimSignTest : public ::testing::Test {
 protected:
  DkimSignTest() {
    rsa_.domain = ed_.domain = "example.com";
    rsa_.selector = "rsa2048";
    ed_.selector = "ed25519";
    rsa_.file = privateKeyCopy(dir_, fixture("rsa2048.pem"), "rsa.key");
    ed_.file = privateKeyCopy(dir_, fixture("ed25519.pem"), "ed.key");
    std::string error;
    auto rsa = dkim::loadPrivateKey(rsa_.file, true, &error);
    auto ed = dkim::loadPrivateKey(ed_.file, true, &error);
    if (!rsa || !ed) throw std::runtime_error(error);
    rsa_.key = std::make_shared<dkim::PrivateKey>(*rsa);
    ed_.key = std::make_shared<dkim::PrivateKey>(*ed);
  }

  static dkim::SignOptions options(dkim::Canonicalization header, dkim::Canonicalization body) {
    dkim::SignOptions o;
    o.header = header;
    o.body = body;
    o.signHeaders = dkim::defaultSignHeaders();
    o.oversignHeaders = dkim::defaultOversignHeaders();
    return o;
  }

  static dkim::SignatureSpec spec(const dkim::KeyEntry& key) {
    dkim::SignatureSpec s;
    s.domain = key.domain;
    s.selector = key.selector;
    s.entry = &key;
    return s;
  }

  std::vector<dkim::MadeSignature> sign(const dkim::Signer& signer, const std::vector<dkim::SignatureSpec>& specs,
                                        const std::string& message = kMessage) {
    std::vector<dkim::MadeSignature> made;
    std::string error;
    EXPECT_TRUE(dkim::signMessage(signer, specs, message, &made, &error)) << error;
    return made;
  }

  // Our own verifier, on the real DNS path.
  std::vector<std::string> ourVerdicts(const std::string& message) {
    dns::ResolverOptions r;
    r.nameservers = {*dns::parseNameserver(dns_.nameserver4(), nullptr)};
    dkim::Verifier verifier(dns::makeCachingResolver(r, {}), {});
    std::vector<std::string> out;
    for (const auto& r : dkim::verifyMessage(verifier, message, nullptr)) {
      out.push_back(std::string(dkim::toString(r.result)) + " s=" + r.selector + (r.reason.empty() ? "" : " " + r.reason));
    }
    return out;
  }

  TempDir dir_;
  TestDnsServer dns_{readFile(fixture("keys.zone"))};
  dkim::KeyEntry rsa_, ed_;
};

TEST_F(DkimSignTest, EveryAlgorithmAndCanonicalizationVerifiesWithDkimpy) {
  using C = dkim::Canonicalization;
  for (const auto& [header, body] : {std::pair{C::Relaxed, C::Relaxed}, std::pair{C::Simple, C::Simple},
                                     std::pair{C::Relaxed, C::Simple}, std::pair{C::Simple, C::Relaxed}}) {
    const dkim::Signer signer(options(header, body));
    for (const auto* key : {&rsa_, &ed_}) {
      const auto made = sign(signer, {spec(*key)});
      ASSERT_EQ(made.size(), 1u);
      const std::string algorithm = key == &rsa_ ? "rsa-sha256" : "ed25519-sha256";
      EXPECT_EQ(made[0].algorithm, algorithm);
      const std::string c = std::string(header == C::Simple ? "simple" : "relaxed") + "/" +
                            (body == C::Simple ? "simple" : "relaxed");
      EXPECT_NE(made[0].value.find("c=" + c + ";"), std::string::npos) << made[0].value;
      const std::string message = withSignatures(made, kMessage);
      EXPECT_EQ(dkimpyVerify(dir_, message, fixture("keys.zone")),
                std::vector<std::string>{"pass d=example.com s=" + key->selector + " a=" + algorithm})
          << c << "\n" << message;
      EXPECT_EQ(ourVerdicts(message), std::vector<std::string>{"pass s=" + key->selector}) << c;
    }
  }
}

TEST_F(DkimSignTest, DualSignatureInOnePassBothVerify) {
  const dkim::Signer signer(options(dkim::Canonicalization::Relaxed, dkim::Canonicalization::Relaxed));
  const auto made = sign(signer, {spec(rsa_), spec(ed_)});
  ASSERT_EQ(made.size(), 2u);
  const std::string message = withSignatures(made, kMessage);
  EXPECT_EQ(dkimpyVerify(dir_, message, fixture("keys.zone")),
            (std::vector<std::string>{"pass d=example.com s=rsa2048 a=rsa-sha256",
                                      "pass d=example.com s=ed25519 a=ed25519-sha256"}));
  EXPECT_EQ(ourVerdicts(message), (std::vector<std::string>{"pass s=rsa2048", "pass s=ed25519"}));
}

TEST_F(DkimSignTest, TagsAreTheOnesAskedFor) {
  auto o = options(dkim::Canonicalization::Relaxed, dkim::Canonicalization::Relaxed);
  o.signatureTtl = 86400;
  const dkim::Signer signer(o);
  const auto made = sign(signer, {spec(rsa_)});
  ASSERT_EQ(made.size(), 1u);
  std::string tags;
  for (char c : made[0].value) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') tags.push_back(c);
  }
  // tag=value pairs of the unfolded signature (std::regex trips GCC 12's -Wmaybe-uninitialized under ASan).
  std::map<std::string, std::string> tag;
  std::stringstream list(tags);
  for (std::string item; std::getline(list, item, ';');) {
    const auto eq = item.find('=');
    if (eq != std::string::npos) tag[item.substr(0, eq)] = item.substr(eq + 1);
  }
  ASSERT_TRUE(tag.count("t") && tag.count("x")) << tags;
  EXPECT_EQ(std::stoll(tag["x"]) - std::stoll(tag["t"]), 86400);
  EXPECT_EQ(tag.count("l"), 0u) << "no l= ever: " << tags;
  // Oversigning: each header of OversignHeaders once more than present; X-Unsigned not at all.
  ASSERT_TRUE(tag.count("h")) << tags;
  std::map<std::string, int> signedTimes;
  std::stringstream h(tag["h"]);
  for (std::string name; std::getline(h, name, ':');) ++signedTimes[authmilter::util::toLower(name)];
  for (const char* name : {"from", "to", "subject", "date", "message-id", "content-type", "mime-version"}) {
    EXPECT_EQ(signedTimes[name], 2) << name << " is in the message once, so oversigned it is in h= twice: " << tag["h"];
  }
  EXPECT_EQ(signedTimes.count("x-unsigned"), 0u) << tag["h"];
  EXPECT_EQ(signedTimes.count("cc"), 0u) << "not in the message, not oversigned: " << tag["h"];
  EXPECT_EQ(dkimpyVerify(dir_, withSignatures(made, kMessage), fixture("keys.zone"))[0].substr(0, 4), "pass");
}

TEST_F(DkimSignTest, OversigningCatchesAnAddedHeaderAndBodyChangesFail) {
  const dkim::Signer signer(options(dkim::Canonicalization::Relaxed, dkim::Canonicalization::Relaxed));
  const auto made = sign(signer, {spec(rsa_)});
  const std::string good = withSignatures(made, kMessage);
  // A second Subject appended below the signed one (a forwarder's trick) breaks the signature.
  std::string addedSubject = good;
  addedSubject.insert(addedSubject.find("\r\n\r\n") + 2, "Subject: free money\r\n");
  EXPECT_EQ(dkimpyVerify(dir_, addedSubject, fixture("keys.zone"))[0].substr(0, 4), "fail") << addedSubject;
  std::string changedBody = good;
  changedBody.replace(changedBody.find("numbers"), 7, "NUMBERS");
  EXPECT_EQ(dkimpyVerify(dir_, changedBody, fixture("keys.zone"))[0].substr(0, 4), "fail");
  // Headers outside SignHeaders may change freely.
  std::string changedUnsigned = good;
  changedUnsigned.replace(changedUnsigned.find("not in SignHeaders"), 3, "NOT");
  EXPECT_EQ(dkimpyVerify(dir_, changedUnsigned, fixture("keys.zone"))[0].substr(0, 4), "pass");
}

TEST_F(DkimSignTest, IdentityAndBareLfMessages) {
  const dkim::Signer signer(options(dkim::Canonicalization::Simple, dkim::Canonicalization::Simple));
  auto s = spec(rsa_);
  s.identity = "alice@mail.example.com";
  // A file with bare LF line ends is signed as the CRLF it is on the wire.
  std::string lf = kMessage;
  for (size_t at; (at = lf.find("\r\n")) != std::string::npos;) lf.erase(at, 1);
  const auto made = sign(signer, {s}, lf);
  ASSERT_EQ(made.size(), 1u);
  EXPECT_NE(made[0].value.find("i=alice@mail.example.com"), std::string::npos) << made[0].value;
  EXPECT_EQ(dkimpyVerify(dir_, withSignatures(made, kMessage), fixture("keys.zone")),
            std::vector<std::string>{"pass d=example.com s=rsa2048 a=rsa-sha256"});
}

// The bodies where canonicalization has edge cases (RFC 6376 §3.4.3-3.4.4): empty, only
// empty lines, no final CRLF, white space only lines, white space at line ends, a long line.
TEST_F(DkimSignTest, BodyEdgeCasesVerifyInEveryCanonicalization) {
  const std::string headers = "From: <alice@example.com>\r\nSubject: edge\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n";
  const std::vector<std::string> bodies = {
      "",
      "\r\n\r\n\r\n",
      "no line end",
      " \t \r\nx \t y\t\r\n \r\n\t\r\n",
      "line\r\n\r\nafter an empty line   \r\n\r\n",
      std::string(3000, 'a') + " \t " + std::string(3000, 'b') + "\r\n"};
  using C = dkim::Canonicalization;
  for (const C body : {C::Simple, C::Relaxed}) {
    const dkim::Signer signer(options(C::Simple, body));
    for (size_t i = 0; i < bodies.size(); ++i) {
      const std::string message = headers + "\r\n" + bodies[i];
      const auto made = sign(signer, {spec(i % 2 ? ed_ : rsa_)}, message);
      ASSERT_EQ(made.size(), 1u);
      const std::string signedMessage = withSignatures(made, message);
      EXPECT_EQ(dkimpyVerify(dir_, signedMessage, fixture("keys.zone"))[0].substr(0, 4), "pass")
          << "body " << i << (body == C::Simple ? " simple" : " relaxed") << "\n" << signedMessage;
      EXPECT_EQ(ourVerdicts(signedMessage)[0].substr(0, 4), "pass") << "body " << i;
    }
  }
}

// The body hash does not depend on how the body arrives: one chunk, single bytes (a CRLF
// split between chunks), or bare LF line ends.
TEST_F(DkimSignTest, BodyHashIsTheSameHoweverTheBodyIsChunked) {
  const std::string body = "Hello  \r\n\r\nworld\t \r\n\r\n\r\nend";
  const auto bodyHash = [&](dkim::Canonicalization c, size_t chunk, bool bareLf) {
    const dkim::Signer signer(options(dkim::Canonicalization::Relaxed, c));
    dkim::Signing signing(signer, {spec(rsa_)}, "test");
    signing.header("From", " <alice@example.com>");
    signing.endOfHeaders();
    std::string text = body;
    if (bareLf) {
      for (size_t at; (at = text.find("\r\n")) != std::string::npos;) text.erase(at, 1);
    }
    for (size_t at = 0; at < text.size(); at += chunk) signing.body(std::string_view(text).substr(at, chunk));
    std::vector<dkim::MadeSignature> made;
    std::string error;
    EXPECT_TRUE(signing.finish(&made, &error)) << error;
    const std::string& value = made.at(0).value;
    const size_t bh = value.find("bh=");
    return value.substr(bh, value.find(';', bh) - bh);
  };
  for (const auto c : {dkim::Canonicalization::Simple, dkim::Canonicalization::Relaxed}) {
    const std::string whole = bodyHash(c, body.size(), false);
    EXPECT_EQ(bodyHash(c, 1, false), whole);
    EXPECT_EQ(bodyHash(c, 7, false), whole);
    EXPECT_EQ(bodyHash(c, 1, true), whole);
  }
  EXPECT_NE(bodyHash(dkim::Canonicalization::Simple, body.size(), false),
            bodyHash(dkim::Canonicalization::Relaxed, body.size(), false));
}

// Many signed headers: h= folds after its colons, and no line of the field is longer than
// 78 characters, in simple header canonicalization too (the field is hashed as folded).
TEST_F(DkimSignTest, LongHeaderListsFoldAndStillVerify) {
  std::string message;
  for (const char* name : {"List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner",
                           "List-Archive", "Resent-Date", "Resent-From", "Resent-To", "In-Reply-To", "References"}) {
    message += std::string(name) + ": x\r\n";
  }
  message += kMessage;
  for (const auto c : {dkim::Canonicalization::Simple, dkim::Canonicalization::Relaxed}) {
    const dkim::Signer signer(options(c, c));
    auto s = spec(ed_);
    s.identity = "a;b=c@example.com";  // i= in dkim-quoted-printable
    const auto made = sign(signer, {s}, message);
    ASSERT_EQ(made.size(), 1u);
    const std::string line = "DKIM-Signature: " + made[0].value;
    std::stringstream lines(line);
    for (std::string l; std::getline(lines, l);) EXPECT_LE(l.size(), 79u) << "(with its CR) " << l;
    EXPECT_NE(made[0].value.find("i=a=3Bb=3Dc@example.com;"), std::string::npos) << made[0].value;
    const std::string signedMessage = withSignatures(made, message);
    EXPECT_EQ(dkimpyVerify(dir_, signedMessage, fixture("keys.zone")),
              std::vector<std::string>{"pass d=example.com s=ed25519 a=ed25519-sha256"})
        << signedMessage;
    EXPECT_EQ(ourVerdicts(signedMessage), std::vector<std::string>{"pass s=ed25519"});
  }
}

TEST_F(DkimSignTest, RawEd25519SeedSignsLikeItsPem) {
  // The same key as ed25519.pem, as the raw 32-byte seed in base64.
  std::string error;
  const auto pem = dkim::parsePrivateKey(readFile(fixture("ed25519.pem")), "pem", &error);
  ASSERT_TRUE(pem) << error;
  const auto [rc, seed] = runProgram("/bin/sh", {"-c", "openssl pkey -in " + fixture("ed25519.pem") +
                                                          " -outform DER | tail -c 32 | base64"});
  ASSERT_EQ(rc, 0) << seed;
  dkim::KeyEntry raw = ed_;
  raw.file = dir_.write("seed.key", seed);
  chmod(raw.file.c_str(), 0600);
  const auto key = dkim::loadPrivateKey(raw.file, true, &error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(key->algorithm, dkim::KeyAlgorithm::Ed25519);
  EXPECT_EQ(key->publicKey, pem->publicKey);
  raw.key = std::make_shared<dkim::PrivateKey>(*key);
  const dkim::Signer signer(options(dkim::Canonicalization::Relaxed, dkim::Canonicalization::Relaxed));
  EXPECT_EQ(dkimpyVerify(dir_, withSignatures(sign(signer, {spec(raw)}), kMessage), fixture("keys.zone")),
            std::vector<std::string>{"pass d=example.com s=ed25519 a=ed25519-sha256"});
}

TEST(AuthmilterKeygenTest, KeysAndRecordsItMakesVerify) {
  TempDir dir;
  for (const std::string algorithm : {"rsa", "ed25519"}) {
    const std::string selector = "k" + algorithm;
    const auto [rc, out] =
        runAuthmilterKeygen({"-a", algorithm, "-d", "Example.COM", "-s", selector, "-D", dir.path()});
    ASSERT_EQ(rc, 0) << out;
    const std::string keyPath = dir.file(selector + ".private");
    EXPECT_NE(out.find("publish this TXT record:\n  " + selector + "._domainkey.example.com. IN TXT \"v=DKIM1; k=" +
                       algorithm + "; p="),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("example.com  example.com:" + selector + ":" + keyPath), std::string::npos) << out;
    struct stat st {};
    ASSERT_EQ(stat(keyPath.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::string error;
    const auto key = dkim::loadPrivateKey(keyPath, true, &error);
    ASSERT_TRUE(key) << error;
    EXPECT_EQ(key->bits, algorithm == "rsa" ? 2048u : 256u);
    dkim::KeyEntry entry{"example.com", selector, keyPath, std::make_shared<dkim::PrivateKey>(*key)};
    dkim::SignatureSpec spec{"example.com", selector, "", &entry};
    dkim::SignOptions options;
    options.signHeaders = dkim::defaultSignHeaders();
    const dkim::Signer signer(options);
    std::vector<dkim::MadeSignature> made;
    ASSERT_TRUE(dkim::signMessage(signer, {spec}, kMessage, &made, &error)) << error;
    EXPECT_EQ(dkimpyVerify(dir, withSignatures(made, kMessage), dir.file(selector + ".txt")),
              std::vector<std::string>{"pass d=example.com s=" + selector + " a=" + algorithm + "-sha256"});
    // Never over an existing key.
    const auto [again, againOut] = runAuthmilterKeygen({"-a", algorithm, "-d", "example.com", "-s", selector, "-D", dir.path()});
    EXPECT_EQ(again, 1) << againOut;
    EXPECT_NE(againOut.find("File exists"), std::string::npos) << againOut;
    EXPECT_EQ(dkim::loadPrivateKey(keyPath, true, &error)->publicKey, key->publicKey);
  }
  EXPECT_EQ(runAuthmilterKeygen({"-d", "example.com"}).first, 2);
  EXPECT_EQ(runAuthmilterKeygen({"-d", "example.com", "-s", "x", "-a", "dsa"}).first, 2);
  EXPECT_EQ(runAuthmilterKeygen({"-d", "example.com", "-s", "x", "-b", "512"}).first, 2);
  EXPECT_EQ(runAuthmilterKeygen({"-d", "bad domain", "-s", "x"}).first, 2);
}

}  // namespace
