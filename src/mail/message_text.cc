// Message file splitting (see the header).
#include "authmilter/mail/message_text.h"

#include <algorithm>

#include "authmilter/util/strings.h"

namespace authmilter::mail {

bool isHeaderNamed(std::string_view name, std::string_view wanted) {
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  return util::iequals(name, wanted);
}

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

bool isCrlfOnly(std::string_view chunk, bool crBefore) {
  size_t pairs = 0;  // LFs that close a CR within this chunk
  for (size_t at = chunk.find('\n'); at != std::string_view::npos; at = chunk.find('\n', at + 1)) {
    if (at == 0 ? !crBefore : chunk[at - 1] != '\r') return false;
    if (at > 0) ++pairs;
  }
  if (crBefore && (chunk.empty() || chunk.front() != '\n')) return false;
  const size_t open = !chunk.empty() && chunk.back() == '\r' ? 1 : 0;
  return static_cast<size_t>(std::count(chunk.begin(), chunk.end(), '\r')) == pairs + open;
}

void mendLineEnds(std::string_view chunk, bool crBefore, std::string& out) {
  out.clear();
  out.reserve(chunk.size() + chunk.size() / 16 + 2);
  bool cr = crBefore;
  for (char c : chunk) {
    if (cr && c != '\n') out.push_back('\n');  // the CR before was bare
    if (c == '\n' && !cr) out.push_back('\r');  // a bare LF
    out.push_back(c);
    cr = c == '\r';
  }
}

}  // namespace authmilter::mail
