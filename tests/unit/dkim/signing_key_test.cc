// Signing keys: the forms accepted (PEM RSA, PEM and raw-seed Ed25519), the ones refused
// (short RSA, not a key, encrypted), RequireSafeKeys, and that errors never carry key material.
#include "authmilter/dkim/signing_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "dkimpy.h"
#include "temp_dir.h"

namespace authmilter::dkim {
namespace {

using testsupport::privateKeyCopy;
using testsupport::TempDir;

std::string fixture(const std::string& name) { return std::string(AUTHMILTER_DKIM_FIXTURES "/") + name; }

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The p= of a fixture key's TXT record (tests/data/dkim/<name>.txt).
std::string publishedKey(const std::string& name) {
  const std::string txt = readFile(fixture(name + ".txt"));
  std::string p = txt.substr(txt.find("p=") + 2);
  while (!p.empty() && (p.back() == '\n' || p.back() == ' ')) p.pop_back();
  return p;
}

TEST(SigningKeyTest, PemKeysLoadWithTheirPublicHalves) {
  TempDir dir;
  std::string error;
  const auto rsa = loadPrivateKey(privateKeyCopy(dir, fixture("rsa2048.pem"), "rsa"), true, &error);
  ASSERT_TRUE(rsa) << error;
  EXPECT_EQ(rsa->algorithm, KeyAlgorithm::Rsa);
  EXPECT_EQ(rsa->bits, 2048u);
  EXPECT_EQ(rsa->publicKey, publishedKey("rsa2048"));
  EXPECT_EQ(dnsRecord(*rsa), "v=DKIM1; k=rsa; p=" + publishedKey("rsa2048"));
  EXPECT_NE(rsa->pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  const auto ed = loadPrivateKey(privateKeyCopy(dir, fixture("ed25519.pem"), "ed"), true, &error);
  ASSERT_TRUE(ed) << error;
  EXPECT_EQ(ed->algorithm, KeyAlgorithm::Ed25519);
  EXPECT_EQ(ed->publicKey, publishedKey("ed25519"));
  EXPECT_EQ(dnsRecord(*ed, true), "v=DKIM1; k=ed25519; t=y; p=" + publishedKey("ed25519"));
  EXPECT_EQ(signatureAlgorithm(ed->algorithm), "ed25519-sha256");
  EXPECT_EQ(loadPrivateKey(privateKeyCopy(dir, fixture("rsa1024.pem"), "r1024"), true, &error)->bits, 1024u);
}

TEST(SigningKeyTest, RefusedKeysSayWhyWithoutTheirContent) {
  TempDir dir;
  std::string error;
  const std::string shortKey = privateKeyCopy(dir, fixture("rsa512.pem"), "short");
  EXPECT_FALSE(loadPrivateKey(shortKey, true, &error));
  EXPECT_EQ(error, "key file " + shortKey +
                       ": RSA key of 512 bits is too short (RFC 8301: at least 1024, 2048 recommended)");
  for (const std::string& garbage : {std::string("hello world\n"), std::string("QUJD\n"),
                                     std::string("-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n"),
                                     std::string(), std::string(100000, 'A')}) {
    const std::string path = dir.write("bad", garbage);
    chmod(path.c_str(), 0600);
    EXPECT_FALSE(loadPrivateKey(path, true, &error));
    EXPECT_NE(error.find("key file " + path), std::string::npos) << error;
    if (!garbage.empty()) {
      EXPECT_EQ(error.find(garbage.substr(0, 4)), std::string::npos) << error;
    }
  }
  // A passphrase-protected key: refused, never a prompt.
  const std::string encrypted = dir.file("enc");
  ASSERT_EQ(std::system(("openssl pkey -in " + fixture("rsa2048.pem") + " -aes256 -passout pass:x -out " +
                         encrypted + " 2>/dev/null && chmod 600 " + encrypted)
                            .c_str()),
            0);
  EXPECT_FALSE(loadPrivateKey(encrypted, true, &error));
  EXPECT_NE(error.find("encrypted keys are not supported"), std::string::npos) << error;
  EXPECT_FALSE(loadPrivateKey(dir.file("missing"), true, &error));
  EXPECT_EQ(error, "key file " + dir.file("missing") + ": cannot read: No such file or directory");
}

TEST(SigningKeyTest, RequireSafeKeys) {
  TempDir dir;
  std::string error;
  const std::string key = privateKeyCopy(dir, fixture("rsa2048.pem"), "k");
  EXPECT_EQ(unsafeKeyFile(key), "");
  for (const mode_t mode : {0640, 0604, 0620, 0602}) {
    chmod(key.c_str(), mode);
    EXPECT_NE(unsafeKeyFile(key).find("readable or writable by group or others"), std::string::npos) << mode;
    EXPECT_FALSE(loadPrivateKey(key, true, &error));
    EXPECT_TRUE(loadPrivateKey(key, false, &error)) << "RequireSafeKeys no: " << error;
  }
  chmod(key.c_str(), 0400);
  EXPECT_EQ(unsafeKeyFile(key), "");
  // A directory group or others may write, without the sticky bit, anywhere above the key.
  std::filesystem::create_directories(dir.file("a/b"));
  const std::string deep = privateKeyCopy(dir, fixture("rsa2048.pem"), "a/b/k");
  chmod(dir.file("a").c_str(), 0770);
  EXPECT_EQ(unsafeKeyFile(deep), "directory " + dir.file("a") + " is writable by group or others (mode 0770)");
  chmod(dir.file("a").c_str(), 01777);  // sticky, like /tmp: others cannot swap what is ours
  EXPECT_EQ(unsafeKeyFile(deep), "");
  chmod(dir.file("a").c_str(), 0755);
  EXPECT_EQ(unsafeKeyFile(dir.file("a/b")), "not a regular file");
  // A link to a key is judged by the key and the directories it really sits in.
  std::filesystem::create_symlink(deep, dir.file("link"));
  EXPECT_EQ(unsafeKeyFile(dir.file("link")), "");
}

TEST(SigningKeyTest, GeneratedKeysRoundTrip) {
  for (const auto algorithm : {KeyAlgorithm::Rsa, KeyAlgorithm::Ed25519}) {
    const PrivateKey key = generatePrivateKey(algorithm, 1024);
    std::string error;
    const auto again = parsePrivateKey(key.pem, "generated", &error);
    ASSERT_TRUE(again) << error;
    EXPECT_EQ(again->publicKey, key.publicKey);
    EXPECT_EQ(again->algorithm, algorithm);
  }
}

}  // namespace
}  // namespace authmilter::dkim
