// Test files read whole: the DKIM fixtures of tests/data/dkim (AUTHMILTER_DKIM_FIXTURES,
// defined for the test targets that use them) and any other file a test names.
#pragma once

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace authmilter::testsupport {

// The file's bytes; throws std::runtime_error naming it when it cannot be read.
inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

#ifdef AUTHMILTER_DKIM_FIXTURES
inline std::string dkimFixturePath(const std::string& name) { return std::string(AUTHMILTER_DKIM_FIXTURES "/") + name; }
inline std::string dkimFixture(const std::string& name) { return readFile(dkimFixturePath(name)); }
#endif

}  // namespace authmilter::testsupport
