// Small helpers the benchmark programs share (they print figures, assert nothing).
#pragma once

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace authmilter::testsupport {

// The p-quantile (0..1) of `v` (sorted in place); 0 for an empty sample.
inline double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// "1,4,16" -> {1, 4, 16}; std::invalid_argument on a non-number.
inline std::vector<int> parseIntList(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

}  // namespace authmilter::testsupport
