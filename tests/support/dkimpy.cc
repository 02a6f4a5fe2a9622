// dkimpy as a test oracle (see the header).
#include "dkimpy.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "daemon_harness.h"

namespace authmilter::testsupport {

std::vector<std::string> dkimpyVerify(const TempDir& dir, const std::string& message, const std::string& zoneFile) {
  const std::string file = dir.write("dkimpy-input.eml", message);
  const auto [rc, out] = runProgram("/usr/bin/python3", {AUTHMILTER_DKIMPY_VERIFY, file, zoneFile});
  EXPECT_EQ(rc, 0) << "dkimpy_verify.py failed:\n" << out;
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string privateKeyCopy(const TempDir& dir, const std::string& source, const std::string& name) {
  std::ifstream in(source, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + source);
  const std::string path = dir.write(name, {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()});
  chmod(path.c_str(), 0600);
  return path;
}

}  // namespace authmilter::testsupport
