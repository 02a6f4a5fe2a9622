// Small helpers the benchmark programs share (they print figures, assert nothing); tests
// read /proc through procStatus too.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
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

// utime + stime of `pid` in milliseconds (/proc/PID/stat fields 14 and 15).
inline double cpuMillis(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;
  unsigned long utime = 0, stime = 0;
  fields >> utime >> stime;
  return 1000.0 * static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A number field of /proc/PID/status ("VmRSS", "VmHWM" in kB; "Threads"); 0 if absent.
inline long procStatus(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, field.size() + 1, field + ":") == 0) return std::stol(line.substr(field.size() + 1));
  }
  return 0;
}

}  // namespace authmilter::testsupport
