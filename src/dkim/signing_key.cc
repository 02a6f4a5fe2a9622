// DKIM signing keys on OpenSSL (see the header). OpenSSL parses and writes every key form;
// this file decides which forms are accepted and what a postmaster is told.
#include "authmilter/dkim/signing_key.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <vector>

#include "authmilter/dkim/canonical.h"

namespace authmilter::dkim {

namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

// RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits.
constexpr unsigned kMinimumRsaBits = 1024;
constexpr size_t kMaxKeyFileBytes = 64 * 1024;  // an RSA-16384 PEM is about 13 KiB

// Never prompt for a passphrase (a daemon has no terminal): an encrypted key fails to load.
int noPassphrase(char*, int, int, void*) { return -1; }

// Strict base64 (blanks and line ends ignored); nullopt if it is not base64 or empty.
std::optional<std::vector<unsigned char>> unbase64(std::string_view text) {
  const auto bytes = decodeBase64(text);
  if (!bytes || bytes->empty()) return std::nullopt;
  return std::vector<unsigned char>(bytes->begin(), bytes->end());
}

PkeyPtr readKey(std::string_view text) {
  if (text.find("-----BEGIN") != std::string_view::npos) {
    BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), BIO_free);
    if (!bio) return {nullptr, EVP_PKEY_free};
    return {PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr), EVP_PKEY_free};
  }
  auto raw = unbase64(text);
  if (!raw) return {nullptr, EVP_PKEY_free};
  PkeyPtr key(nullptr, EVP_PKEY_free);
  // The raw Ed25519 seed (RFC 8032 §5.1.5), or seed + public key as libsodium stores it.
  if (raw->size() == 32 || raw->size() == 64) {
    key.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, raw->data(), 32));
  } else {
    const unsigned char* p = raw->data();  // base64 DER (PKCS#8 or PKCS#1)
    key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(raw->size())));
  }
  OPENSSL_cleanse(raw->data(), raw->size());
  return key;
}

}  // namespace

std::string_view signatureAlgorithm(KeyAlgorithm algorithm) {
  return algorithm == KeyAlgorithm::Ed25519 ? "ed25519-sha256" : "rsa-sha256";
}

std::string unsafeKeyFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::string("cannot stat: ") + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if ((st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
    return std::string("readable or writable by group or others (mode ") + mode + "; chmod 600 it)";
  }
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::canonical(path, ec).parent_path();
  if (ec) return "cannot resolve its directory: " + ec.message();
  while (true) {
    if (stat(dir.c_str(), &st) != 0) return "cannot stat " + dir.string() + ": " + std::strerror(errno);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return "directory " + dir.string() + " is writable by group or others (mode " + mode + ")";
    }
    if (dir == dir.root_path() || !dir.has_parent_path()) break;
    dir = dir.parent_path();
  }
  return {};
}

std::optional<PrivateKey> parsePrivateKey(std::string_view text, std::string_view what, std::string* error) {
  PkeyPtr key = readKey(text);
  if (!key) {
    *error = std::string(what) +
             ": not a private key (expected PEM, or an Ed25519 seed in base64; encrypted keys are not supported)";
    return std::nullopt;
  }
  PrivateKey out;
  const int type = EVP_PKEY_get_base_id(key.get());
  if (type == EVP_PKEY_RSA) {
    out.algorithm = KeyAlgorithm::Rsa;
    out.bits = static_cast<unsigned>(EVP_PKEY_get_bits(key.get()));
    if (out.bits < kMinimumRsaBits) {
      *error = std::string(what) + ": RSA key of " + std::to_string(out.bits) +
               " bits is too short (RFC 8301: at least 1024, 2048 recommended)";
      return std::nullopt;
    }
    unsigned char* der = nullptr;
    const int n = i2d_PUBKEY(key.get(), &der);
    if (n <= 0) {
      *error = std::string(what) + ": cannot derive the public key";
      return std::nullopt;
    }
    out.publicKey = base64(der, static_cast<size_t>(n));
    OPENSSL_free(der);
  } else if (type == EVP_PKEY_ED25519) {
    out.algorithm = KeyAlgorithm::Ed25519;
    out.bits = 256;
    unsigned char pub[32];
    size_t size = sizeof pub;
    if (EVP_PKEY_get_raw_public_key(key.get(), pub, &size) != 1 || size != sizeof pub) {
      *error = std::string(what) + ": cannot derive the public key";
      return std::nullopt;
    }
    out.publicKey = base64(pub, size);
  } else {
    *error = std::string(what) + ": neither an RSA nor an Ed25519 key";
    return std::nullopt;
  }
  BioPtr bio(BIO_new(BIO_s_secmem()), BIO_free);
  BUF_MEM* mem = nullptr;
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      BIO_get_mem_ptr(bio.get(), &mem) != 1 || mem == nullptr) {
    *error = std::string(what) + ": cannot convert the key for signing";
    return std::nullopt;
  }
  out.pem.assign(mem->data, mem->length);
  out.pkey.reset(key.release(), EVP_PKEY_free);
  return out;
}

std::optional<PrivateKey> loadPrivateKey(const std::string& path, bool requireSafe, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "key file " + path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  if (requireSafe) {
    if (const auto why = unsafeKeyFile(path); !why.empty()) {
      *error = "key file " + path + " is not safe: " + why + " (RequireSafeKeys)";
      return std::nullopt;
    }
  }
  std::string text;
  text.resize(kMaxKeyFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxKeyFileBytes) {
    OPENSSL_cleanse(text.data(), text.size());
    *error = "key file " + path + ": larger than 64 KiB, not a key";
    return std::nullopt;
  }
  auto key = parsePrivateKey(text, "key file " + path, error);
  OPENSSL_cleanse(text.data(), text.size());
  return key;
}

PrivateKey generatePrivateKey(KeyAlgorithm algorithm, unsigned bits) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(algorithm == KeyAlgorithm::Ed25519 ? EVP_PKEY_ED25519 : EVP_PKEY_RSA, nullptr),
      EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      (algorithm == KeyAlgorithm::Rsa && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)) != 1) ||
      EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    throw std::runtime_error("key generation failed");
  }
  const PkeyPtr key(raw, EVP_PKEY_free);
  BioPtr bio(BIO_new(BIO_s_secmem()), BIO_free);
  BUF_MEM* mem = nullptr;
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      BIO_get_mem_ptr(bio.get(), &mem) != 1 || mem == nullptr) {
    throw std::runtime_error("cannot write the new key");
  }
  std::string error;
  auto parsed = parsePrivateKey(std::string_view(mem->data, mem->length), "new key", &error);
  if (!parsed) throw std::runtime_error(error);
  return std::move(*parsed);
}

std::string base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

std::string dnsRecord(const PrivateKey& key, bool testing) {
  return std::string("v=DKIM1; k=") + (key.algorithm == KeyAlgorithm::Ed25519 ? "ed25519" : "rsa") +
         (testing ? "; t=y" : "") + "; p=" + key.publicKey;
}

}  // namespace authmilter::dkim
