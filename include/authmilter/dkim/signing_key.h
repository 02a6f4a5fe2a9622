// DKIM private keys for signing: read from a file once (at start and on SIGHUP, before
// privileges are dropped at start), checked, and kept in memory as a parsed OpenSSL key
// (shared by every signing thread; OpenSSL allows concurrent signing with one key).
// RSA (PEM, at least 1024 bits, RFC 8301) and Ed25519 (RFC 8463: PEM, or the raw 32-byte
// seed in base64 as `openssl genpkey` + `openssl pkey -outform DER` extraction and other
// tools produce it). Key material never reaches a log line or an
// error message. Also makes new key pairs and their DNS TXT records (authmilter-keygen).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace authmilter::dkim {

enum class KeyAlgorithm { Rsa, Ed25519 };
// "rsa-sha256" or "ed25519-sha256": the a= this key signs with.
std::string_view signatureAlgorithm(KeyAlgorithm algorithm);

struct PrivateKey {
  KeyAlgorithm algorithm = KeyAlgorithm::Rsa;
  unsigned bits = 0;      // RSA modulus size; 256 for Ed25519
  std::string pem;        // PKCS#8 PEM (what authmilter-keygen writes). Secret.
  std::shared_ptr<evp_pkey_st> pkey;  // the key, parsed once, for signing
  std::string publicKey;  // the p= value: SubjectPublicKeyInfo (RSA) or the raw 32 bytes (Ed25519), base64
};

// Why a key file is unsafe (RequireSafeKeys, OpenDKIM's rule): readable or writable by group
// or others, or in a directory (or below one) that group or others may write and that has no
// sticky bit, so they could swap the key. Empty: safe. An error to stat counts as unsafe.
std::string unsafeKeyFile(const std::string& path);

// Reads and parses a key file. nullopt and *error (which names the file, never its content)
// when it cannot be read, is unsafe (if `requireSafe`), is not a private key, or is an RSA
// key shorter than 1024 bits.
std::optional<PrivateKey> loadPrivateKey(const std::string& path, bool requireSafe, std::string* error);
// The same for key text already in memory (`what` names it in errors).
std::optional<PrivateKey> parsePrivateKey(std::string_view text, std::string_view what, std::string* error);

// A new key pair: RSA of `bits` bits, or Ed25519 (bits ignored). Throws on failure.
PrivateKey generatePrivateKey(KeyAlgorithm algorithm, unsigned bits);

// The DNS TXT record value to publish at <selector>._domainkey.<domain>:
// "v=DKIM1; k=rsa; p=..." (RFC 6376 §3.6.1) or "v=DKIM1; k=ed25519; p=..." (RFC 8463);
// `testing` adds t=y.
std::string dnsRecord(const PrivateKey& key, bool testing = false);

// Base64 (RFC 4648, no line breaks) of `size` bytes: p= values, bh= and b=.
std::string base64(const unsigned char* data, size_t size);

}  // namespace authmilter::dkim
