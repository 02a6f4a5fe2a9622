// authmilter-keygen: makes a DKIM key pair (RSA or Ed25519) for authmilter's signing, writes
// the private key with mode 0600 (never over an existing file) and the DNS TXT record to
// publish, and prints the record and the KeyTable line. What opendkim-genkey does, for both
// algorithms, so that nobody needs a second tool.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

#include "authmilter/dkim/signing_key.h"
#include "authmilter/policy/domain_set.h"
#include "authmilter/version.h"

namespace {

using namespace authmilter;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

void usage(std::ostream& out) {
  out << "usage: authmilter-keygen -d DOMAIN -s SELECTOR [-a rsa|ed25519] [-b BITS] [-D DIR] [-u USER] [-t]\n"
         "  Makes a DKIM key pair and writes DIR/SELECTOR.private (mode 0600; an existing file is\n"
         "  never overwritten) and DIR/SELECTOR.txt (the TXT record, in zone file syntax).\n"
         "  -a  rsa (default) or ed25519 (RFC 8463; publish an RSA key beside it for receivers\n"
         "      that do not know Ed25519 yet)\n"
         "  -b  RSA key size, 1024-8192 bits (default 2048)\n"
         "  -D  directory (default: the current one)\n"
         "  -u  give the key file to this user (the daemon's UserID re-reads keys on SIGHUP)\n"
         "  -t  publish the key in testing mode (t=y: receivers treat failures as unsigned)\n"
         "  Exit: 0 written, 1 failed, 2 usage error.\n";
}

// A zone file line with the TXT value split into quoted strings of at most 255 bytes
// (RFC 1035 §3.3.14; RFC 6376 §3.6.2.2 joins them again).
std::string zoneLine(const std::string& name, const std::string& value) {
  std::string line = name + ". IN TXT";
  for (size_t i = 0; i < value.size(); i += 250) line += " \"" + value.substr(i, 250) + "\"";
  return line;
}

bool writeFile(const std::string& path, const std::string& content, mode_t mode, std::string* error) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno) + (errno == EEXIST ? " (remove it first, or pick another selector)" : "");
    return false;
  }
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = path + ": " + std::strerror(errno);
      close(fd);
      unlink(path.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string domain, selector, algorithm = "rsa", dir = ".", user;
  unsigned bits = 2048;
  bool testing = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return kExitOk;
    }
    if (arg == "-V") {
      std::cout << "authmilter-keygen " << kVersion << "\n";
      return kExitOk;
    }
    if (arg == "-t") {
      testing = true;
      continue;
    }
    if (arg.size() != 2 || arg[0] != '-' || i + 1 >= argc || std::string("dsabDu").find(arg[1]) == std::string::npos) {
      std::cerr << "authmilter-keygen: unknown or incomplete option '" << arg << "'\n";
      usage(std::cerr);
      return kExitUsage;
    }
    const std::string value = argv[++i];
    switch (arg[1]) {
      case 'd': domain = value; break;
      case 's': selector = value; break;
      case 'a': algorithm = value; break;
      case 'D': dir = value; break;
      case 'u': user = value; break;
      case 'b':
        try {
          size_t used = 0;
          const unsigned long n = std::stoul(value, &used);
          if (used != value.size() || n < 1024 || n > 8192) throw std::out_of_range("bits");
          bits = static_cast<unsigned>(n);
        } catch (const std::exception&) {
          std::cerr << "authmilter-keygen: -b: expected 1024 to 8192 bits, got '" << value << "'\n";
          return kExitUsage;
        }
        break;
    }
  }
  if (domain.empty() || selector.empty()) {
    std::cerr << "authmilter-keygen: -d DOMAIN and -s SELECTOR are required\n";
    usage(std::cerr);
    return kExitUsage;
  }
  const auto normalDomain = policy::normalizeDomain(domain);
  const auto normalSelector = policy::normalizeDomain(selector);
  if (!normalDomain || normalDomain->front() == '[') {
    std::cerr << "authmilter-keygen: -d: invalid domain '" << domain << "'\n";
    return kExitUsage;
  }
  if (!normalSelector || normalSelector->front() == '[') {
    std::cerr << "authmilter-keygen: -s: invalid selector '" << selector << "'\n";
    return kExitUsage;
  }
  if (algorithm != "rsa" && algorithm != "ed25519") {
    std::cerr << "authmilter-keygen: -a: expected rsa or ed25519, got '" << algorithm << "'\n";
    return kExitUsage;
  }
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  if (!user.empty()) {
    const passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr) {
      std::cerr << "authmilter-keygen: -u: no user '" << user << "'\n";
      return kExitUsage;
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }

  const auto alg = algorithm == "ed25519" ? dkim::KeyAlgorithm::Ed25519 : dkim::KeyAlgorithm::Rsa;
  dkim::PrivateKey key;
  try {
    key = dkim::generatePrivateKey(alg, bits);
  } catch (const std::exception& e) {
    std::cerr << "authmilter-keygen: " << e.what() << "\n";
    return kExitFailed;
  }
  const std::string base = dir + "/" + *normalSelector;
  const std::string keyPath = base + ".private";
  const std::string recordPath = base + ".txt";
  const std::string record = zoneLine(*normalSelector + "._domainkey." + *normalDomain, dnsRecord(key, testing));
  std::string error;
  if (!writeFile(keyPath, key.pem, 0600, &error)) {
    std::cerr << "authmilter-keygen: " << error << "\n";
    return kExitFailed;
  }
  if (!user.empty() && chown(keyPath.c_str(), uid, gid) != 0) {
    std::cerr << "authmilter-keygen: chown " << keyPath << ": " << std::strerror(errno) << "\n";
    unlink(keyPath.c_str());
    return kExitFailed;
  }
  if (!writeFile(recordPath, record + "\n", 0644, &error)) {
    std::cerr << "authmilter-keygen: " << error << "\n";
    unlink(keyPath.c_str());
    return kExitFailed;
  }
  std::cout << "wrote " << keyPath << " ("
            << (alg == dkim::KeyAlgorithm::Rsa ? "RSA " + std::to_string(key.bits) + " bits" : std::string("Ed25519"))
            << ", mode 0600" << (user.empty() ? "" : ", owner " + user) << ") and " << recordPath << "\n"
            << "publish this TXT record:\n  " << record << "\n"
            << "KeyTable line (an RSA and an Ed25519 line under one name sign every message twice):\n  "
            << *normalDomain << "  " << *normalDomain << ":" << *normalSelector << ":" << keyPath << "\n"
            << "SigningTable line:\n  " << *normalDomain << "  " << *normalDomain << "\n";
  if (alg == dkim::KeyAlgorithm::Rsa && bits < 2048) {
    std::cout << "note: " << bits << "-bit RSA is the minimum RFC 8301 allows; 2048 is recommended\n";
  }
  return kExitOk;
}
