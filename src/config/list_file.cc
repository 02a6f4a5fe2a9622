// List file reader shared by every list-valued option.
#include "authmilter/config/list_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "authmilter/util/strings.h"

namespace authmilter::config {

std::string stripComment(const std::string& line) {
  // '#' starts a comment at the start of the text or after a blank; "blank" is what trim()
  // removes, so "\r#x" (a CRLF file's stray CR) is a comment too, and stripping is idempotent.
  const std::string_view text = util::trim(line);
  size_t cut = std::string_view::npos;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '#' && (i == 0 || std::string_view(" \t\r\n").find(text[i - 1]) != std::string_view::npos)) {
      cut = i;
      break;
    }
  }
  return std::string(util::trim(text.substr(0, cut)));
}

std::vector<ListLine> readListFile(const std::string& path, const std::string& confFile, int confLine,
                                   std::vector<ConfigError>& errors) {
  std::vector<ListLine> out;
  std::ifstream in(path);
  if (!in) {
    errors.push_back({confFile, confLine, "cannot read " + path + ": " + std::strerror(errno)});
    return out;
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string text = stripComment(line);
    if (!text.empty()) out.push_back({number, std::move(text)});
  }
  if (in.bad()) errors.push_back({confFile, confLine, "error reading " + path});
  return out;
}

}  // namespace authmilter::config
