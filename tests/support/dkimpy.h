// The independent verifier for DKIM signing tests: dkimpy (tests/support/dkimpy_verify.py,
// Debian python3-dkim + python3-nacl) run on a message file, with keys from a zone file.
#pragma once

#include <string>
#include <vector>

#include "temp_dir.h"

namespace authmilter::testsupport {

// Writes `message` (CRLF) into `dir` and returns dkimpy's verdict on each DKIM-Signature,
// topmost first: "pass d=example.com s=rsa2048 a=rsa-sha256", "fail (why) d=...", or
// {"none"}. A dkimpy that cannot run fails the calling test (and returns its output).
std::vector<std::string> dkimpyVerify(const TempDir& dir, const std::string& message, const std::string& zoneFile);

// Copies a key file into `dir` with mode 0600 (git checks files out 0644, which
// RequireSafeKeys refuses) and returns its path.
std::string privateKeyCopy(const TempDir& dir, const std::string& source, const std::string& name);

}  // namespace authmilter::testsupport
