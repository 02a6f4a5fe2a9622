// Fuzz target: the conf loader (config::loadConfig: the settings table, every value's
// grammar, the list files and keys it names) and the runtime built from what it accepts
// (runtime::buildRuntime). The input is the conf file, written to a temporary directory that
// also holds list files, a key and its KeyTable/SigningTable under fixed names. Inputs with
// '/' are skipped: a path out of the directory would read whatever the machine has (a
// /dev/zero list file is the operator's own foot-gun, not a stranger's). Invariants: no
// crash; a conf is either loaded or refused with ConfigErrors, each naming a file and saying
// what is wrong (any other exception escapes and is a finding).
#include <sys/stat.h>

#include <string>

#include "authmilter/config/config.h"
#include "authmilter/dkim/signing_key.h"
#include "authmilter/runtime/runtime.h"
#include "fuzz_support.h"
#include "temp_dir.h"

namespace {

using namespace authmilter;

struct Files {
  testsupport::TempDir dir;
  Files() {
    dir.write("domains", "example.org\n.example.net\n[192.0.2.1]\n");
    dir.write("networks", "10.0.0.0/8\n2001:db8::/32\n192.0.2.7\n");
    dir.write("hosts", "mail.example.com\n.example.com\n192.0.2.0/24\n");
    dir.write("logins", "alice: alice@example.org, @example.net\nbob bob@example.org\n");
    const auto key = authmilter::dkim::generatePrivateKey(authmilter::dkim::KeyAlgorithm::Ed25519, 0);
    const std::string pem = dir.write("key.pem", key.pem);
    chmod(pem.c_str(), 0600);
    dir.write("key.table", "k1 example.org:s1:key.pem\n");
    dir.write("signing.table", "*@example.org k1\n");
    dir.write("suppress", "postmaster@example.org\n");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Files files;
  static const auto resolver = std::make_shared<fuzz::TableResolver>();
  fuzz::quietLogs();
  const std::string_view conf = fuzz::asText(data, size);
  if (conf.find('/') != std::string_view::npos) return 0;
  const std::string path = files.dir.write("fuzz.conf", std::string(conf));
  std::shared_ptr<const config::Config> loaded;
  try {
    loaded = config::loadConfig(path);
  } catch (const config::ConfigErrors& e) {
    FUZZ_CHECK(!e.errors().empty());
    for (const auto& error : e.errors()) {
      FUZZ_CHECK(!error.file.empty() && !error.message.empty() && error.line >= 0);
    }
    return 0;
  }
  FUZZ_CHECK(loaded != nullptr && loaded->file == path);
  FUZZ_CHECK(!loaded->authservId.empty());
  const auto runtime = runtime::buildRuntime(loaded, resolver);
  FUZZ_CHECK(runtime != nullptr && !runtime->stages.empty());
  return 0;
}
