// List files (LocalDomains, TrustedNetworks, IgnoreHosts, SenderLoginMap): one entry a
// line, '#' starts a comment, blank lines ignored. Read once at load or reload.
#pragma once

#include <string>
#include <vector>

#include "authmilter/config/config_error.h"

namespace authmilter::config {

struct ListLine {
  int line = 0;
  std::string text;  // comment removed, trimmed, never empty
};

// On failure to read, appends one error attributed to where the conf named the file
// (confFile:confLine) and returns an empty list.
std::vector<ListLine> readListFile(const std::string& path, const std::string& confFile, int confLine,
                                   std::vector<ConfigError>& errors);

// Removes a '#' comment (at line start or after a blank) and surrounding blanks.
std::string stripComment(const std::string& line);

}  // namespace authmilter::config
