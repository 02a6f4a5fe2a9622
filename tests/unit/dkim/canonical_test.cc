// What DKIM signing and ARC share (dkim/canonical.h): tag lists, the b= removal signatures
// are checked with, key records, and canonicalization against RFC 6376's own examples.
#include <gtest/gtest.h>

#include "authmilter/dkim/canonical.h"

namespace authmilter::dkim {
namespace {

TEST(TagListTest, ParsesRfc6376TagListsAndRefusesWhatIsNotOne) {
  std::string why;
  const auto tags = parseTagList(" v=1; a = rsa-sha256 ;\r\n\th=from :\r\n to; b=ab\r\n cd;", &why);
  ASSERT_TRUE(tags) << why;
  ASSERT_EQ(tags->size(), 4u);
  EXPECT_EQ(*findTag(*tags, "a"), "rsa-sha256");
  EXPECT_EQ(*findTag(*tags, "h"), "from :\r\n to");  // inner FWS kept, the ends trimmed
  EXPECT_EQ(*findTag(*tags, "b"), "ab\r\n cd");
  EXPECT_EQ(findTag(*tags, "bh"), nullptr);
  EXPECT_FALSE(parseTagList("a=1; a=2", &why));
  EXPECT_EQ(why, "tag a= occurs twice");
  EXPECT_FALSE(parseTagList("a=1; junk", &why));
  EXPECT_EQ(why, "'junk' is not a tag=value");
  EXPECT_FALSE(parseTagList("1a=x", &why));
  EXPECT_FALSE(parseTagList("=x", &why));
  EXPECT_TRUE(parseTagList("", &why));
}

TEST(TagListTest, SignatureValueRemovalKeepsEverythingElse) {
  EXPECT_EQ(withoutSignatureValue(" i=1; bh=AAAA; b=abc\r\n\tdef; s=x"), " i=1; bh=AAAA; b=; s=x");
  EXPECT_EQ(withoutSignatureValue(" i=1; b =abc"), " i=1; b =");
  EXPECT_EQ(withoutSignatureValue(" b=abc;"), " b=;");
}

TEST(KeyRecordTest, AcceptsUsableKeysOnlyAndSaysWhy) {
  const std::string p = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMPtYcKtf3WTA3A7PFQp4izxnc4su+l7j73Pj2YybEXa/"
                        "GLSC1F9zdfB216iBHbcCEIlrLTw8BPZk4tkwUCdNH8CAwEAAQ==";
  std::string why;
  const auto key = parsePublicKeyRecord("v=DKIM1; k=rsa; t=y; p=" + p, &why);
  ASSERT_TRUE(key) << why;
  EXPECT_EQ(key->bits, 512u);
  EXPECT_TRUE(key->testing);
  EXPECT_TRUE(parsePublicKeyRecord("p=" + p, &why));  // v= and k= are optional
  const std::vector<std::pair<std::string, std::string>> bad{
      {"k=rsa; v=DKIM1; p=" + p, "not a DKIM key record"},
      {"v=DKIM2; p=" + p, "not a DKIM key record"},
      {"h=sha1; p=" + p, "key record does not allow sha256 (h=sha1)"},
      {"s=web; p=" + p, "key record is not for email (s=web)"},
      {"k=dsa; p=" + p, "unknown key type k=dsa"},
      {"v=DKIM1; p=", "key revoked"},
      {"v=DKIM1", "key record has no p="},
      {"p=!!!!", "key p= is not base64"},
      {"p=AAAA", "key p= is not a public key"},
      {"k=ed25519; p=" + p, "key p= is not a public key"},
  };
  for (const auto& [record, reason] : bad) {
    EXPECT_FALSE(parsePublicKeyRecord(record, &why)) << record;
    EXPECT_EQ(why, reason) << record;
  }
}

// RFC 6376 §3.4.5's example, both canonicalizations.
// Found by tests/fuzz/fuzz_dkim_tags (regressions/fuzz_dkim_tags/): "====" made the decoded
// size negative, and the string resize threw std::length_error out of a b= or p= value.
TEST(Base64Test, PaddingOnlyAtTheEnd) {
  EXPECT_EQ(decodeBase64("=\r\t==\r\t="), std::nullopt);
  EXPECT_EQ(decodeBase64("===="), std::nullopt);
  EXPECT_EQ(decodeBase64("AA=A"), std::nullopt);
  EXPECT_EQ(decodeBase64("A==="), std::nullopt);
  EXPECT_EQ(decodeBase64("AAAA===="), std::nullopt);
  EXPECT_EQ(decodeBase64("YQ=="), "a");
  EXPECT_EQ(decodeBase64("YWI="), "ab");
  EXPECT_EQ(decodeBase64("YW Jj\r\n\t"), "abc");
  std::string error;
  EXPECT_EQ(parsePublicKeyRecord("v=DKIM1; p====", &error), std::nullopt);
  EXPECT_EQ(error, "key p= is not base64");
}

TEST(CanonicalizationTest, Rfc6376Example) {
  std::string relaxed, simple;
  canonicalHeader(Canonicalization::Relaxed, "A", " X", relaxed);
  canonicalHeader(Canonicalization::Relaxed, "B ", " Y\t\r\n\tZ  ", relaxed);
  EXPECT_EQ(relaxed, "a:X\r\nb:Y Z\r\n");
  canonicalHeader(Canonicalization::Simple, "B ", " Y\t\r\n\tZ  ", simple);
  EXPECT_EQ(simple, "B : Y\t\r\n\tZ  \r\n");
  BodyHasher r(Canonicalization::Relaxed), s(Canonicalization::Simple), cut(Canonicalization::Relaxed, 4);
  for (auto* h : {&r, &s, &cut}) h->update(" C \r\nD \t E\r\n\r\n\r\n");
  BodyHasher r2(Canonicalization::Relaxed), s2(Canonicalization::Simple), cut2(Canonicalization::Relaxed);
  r2.update(" C\r\nD E\r\n");
  s2.update(" C \r\nD \t E\r\n");
  cut2.update(" C\r\n");
  EXPECT_EQ(r.finish(), r2.finish());
  EXPECT_EQ(s.finish(), s2.finish());
  EXPECT_EQ(cut.finish(), cut2.finish());  // l=4: the first line only
}

}  // namespace
}  // namespace authmilter::dkim
