// Message file splitting (see the header).
#include "authmilter/util/message_text.h"

namespace authmilter::util {

MessageText splitMessageText(std::string_view raw) {
  std::string text;
  text.reserve(raw.size() + raw.size() / 32);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) text.push_back('\r');
    text.push_back(raw[i]);
  }
  MessageText out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find("\r\n", pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = std::min(end + 2, text.size());
    if (line.empty()) break;  // end of the header section
    if ((line.front() == ' ' || line.front() == '\t') && !out.headers.empty()) {
      out.headers.back().second.append("\r\n").append(line);  // a folded continuation
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out.headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  if (pos < text.size()) out.body = text.substr(pos);
  return out;
}

void wireHeaderField(std::string_view name, std::string_view value, std::string& out) {
  out.assign(name).append(":");
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) out.push_back('\r');
    out.push_back(value[i]);
  }
}

}  // namespace authmilter::util
