// The message-level helpers of milter_client.h, built on MilterClient: a message file split
// into header fields and body as Postfix hands them over, one whole SMTP session delivering
// it, the message with the milter's header changes applied, and the inserted
// Authentication-Results header.
#include "milter_client.h"

#include <strings.h>

#include <gtest/gtest.h>
#include <libmilter/mfdef.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace authmilter::testsupport {

MessageParts splitMessage(std::string_view raw) {
  MessageParts p;
  const size_t split = raw.find("\r\n\r\n");
  const std::string_view head = raw.substr(0, split == std::string_view::npos ? raw.size() : split + 2);
  if (split != std::string_view::npos) p.body = std::string(raw.substr(split + 4));
  size_t pos = 0;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    if (line.empty()) continue;
    if ((line.front() == ' ' || line.front() == '\t') && !p.headers.empty()) {
      p.headers.back().second.append("\n").append(line);
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    p.headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  return p;
}

Response deliverMessage(const std::string& unixPath, const std::string& raw, const std::string& qid,
                        const Envelope& envelope) {
  MilterClient c = MilterClient::connectUnix(unixPath);
  c.negotiate();
  c.macros(SMFIC_CONNECT, {{"{daemon_name}", envelope.daemonName}});
  c.connect(envelope.host, envelope.family, 40000, envelope.ip);
  c.helo(envelope.host);
  std::vector<std::pair<std::string, std::string>> mailMacros{{"i", qid}};
  if (!envelope.login.empty()) mailMacros.emplace_back("{auth_authen}", envelope.login);
  c.macros(SMFIC_MAIL, mailMacros);
  EXPECT_EQ(c.mailFrom({envelope.mailFrom}).action, 'c') << qid;
  EXPECT_EQ(c.rcpt({envelope.rcpt}).action, 'c') << qid;
  const MessageParts p = splitMessage(raw);
  Response eom = c.sendMessage(p.headers, p.body, {{"i", qid}});
  c.quit();
  return eom;
}

std::string deliveredMessage(const std::string& raw, const Response& response, bool leadingSpace) {
  const auto split = raw.find("\r\n\r\n");
  const std::string head = split == std::string::npos ? raw : raw.substr(0, split + 2);
  const std::string body = split == std::string::npos ? std::string() : raw.substr(split + 4);
  std::vector<std::string> fields;  // each "Name:value\r\n" with its continuation lines
  for (size_t pos = 0; pos < head.size();) {
    size_t end = head.find("\r\n", pos);
    end = end == std::string::npos ? head.size() : end + 2;
    const std::string line = head.substr(pos, end - pos);
    if (!fields.empty() && (line[0] == ' ' || line[0] == '\t')) {
      fields.back() += line;
    } else {
      fields.push_back(line);
    }
    pos = end;
  }
  const auto field = [&](const HeaderChange& h) {
    std::string value = (leadingSpace ? "" : " ") + h.value;
    std::string out = h.name + ":";
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) out += '\r';
      out += value[i];
    }
    return out + "\r\n";
  };
  const auto nameOf = [](const std::string& f) { return f.substr(0, f.find(':')); };
  for (const auto& h : response.headers) {
    if (h.kind == 'i') {
      fields.insert(fields.begin() + std::min<size_t>(h.index, fields.size()), field(h));
    } else if (h.kind == 'h') {
      fields.push_back(field(h));
    } else if (h.kind == 'm') {
      uint32_t seen = 0;
      for (auto it = fields.begin(); it != fields.end(); ++it) {
        if (strcasecmp(nameOf(*it).c_str(), h.name.c_str()) != 0 || ++seen != h.index) continue;
        if (h.value.empty()) {
          fields.erase(it);
        } else {
          *it = field(h);
        }
        break;
      }
    }
  }
  std::string out;
  for (const auto& f : fields) out += f;
  return out + "\r\n" + body;
}

std::optional<std::string> insertedAuthResults(const Response& response) {
  for (const auto& h : response.headers) {
    if (h.kind == 'i' && h.name == "Authentication-Results") return h.value;
  }
  return std::nullopt;
}

}  // namespace authmilter::testsupport
