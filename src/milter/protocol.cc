// The milter protocol's framing and encoding (see protocol.h).
#include "authmilter/milter/protocol.h"

namespace authmilter::milter::protocol {

namespace {

uint32_t readU32(std::string_view s, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

void putU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// A NUL-terminated string at `at`; advances `at` past the NUL. nullopt without one.
std::optional<std::string> takeString(std::string_view data, size_t& at) {
  const size_t nul = data.find('\0', at);
  if (nul == std::string_view::npos) return std::nullopt;
  std::string s(data.substr(at, nul - at));
  at = nul + 1;
  return s;
}

void putString(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

}  // namespace

uint32_t stageOf(char command) {
  switch (command) {
    case command::kConnect: return stage::kConnect;
    case command::kHelo: return stage::kHelo;
    case command::kMail: return stage::kMail;
    case command::kRcpt: return stage::kRcpt;
    case command::kData: return stage::kData;
    case command::kEndOfMessage: return stage::kEndOfMessage;
    case command::kEndOfHeaders: return stage::kEndOfHeaders;
    default: return stage::kCount;
  }
}

std::optional<Packet> Reader::next(std::string* error) {
  if (broken_) return std::nullopt;
  // Drop what was handed out, once it is most of the buffer (keeps the copy cheap).
  if (offset_ > 0 && offset_ * 2 >= buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  if (buffer_.size() - offset_ < 4) return std::nullopt;
  const uint32_t length = readU32(buffer_, offset_);
  if (length == 0 || length > kMaxPacket) {
    broken_ = true;
    *error = length == 0 ? "milter packet of length 0"
                         : "milter packet of " + std::to_string(length) + " bytes, more than " +
                               std::to_string(kMaxPacket);
    return std::nullopt;
  }
  if (buffer_.size() - offset_ - 4 < length) return std::nullopt;
  Packet p;
  p.command = buffer_[offset_ + 4];
  p.data = std::string_view(buffer_).substr(offset_ + 5, length - 1);
  offset_ += 4 + length;
  return p;
}

std::optional<Options> parseOptions(std::string_view data) {
  if (data.size() < 12) return std::nullopt;
  return Options{readU32(data, 0), readU32(data, 4), readU32(data, 8)};
}

std::optional<ConnectInfo> parseConnect(std::string_view data) {
  ConnectInfo c;
  size_t at = 0;
  auto host = takeString(data, at);
  if (!host || at >= data.size()) return std::nullopt;
  c.hostname = std::move(*host);
  c.family = data[at++];
  if (c.family == 'U') return at == data.size() ? std::optional(c) : std::nullopt;
  if (c.family != '4' && c.family != '6' && c.family != 'L') return std::nullopt;
  if (data.size() - at < 2) return std::nullopt;
  c.port = static_cast<uint16_t>((static_cast<unsigned char>(data[at]) << 8) | static_cast<unsigned char>(data[at + 1]));
  at += 2;
  auto address = takeString(data, at);
  if (!address || at != data.size()) return std::nullopt;
  c.address = std::move(*address);
  return c;
}

std::optional<std::vector<std::string>> parseStrings(std::string_view data) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < data.size()) {
    auto s = takeString(data, at);
    if (!s) return std::nullopt;
    out.push_back(std::move(*s));
  }
  return out;
}

std::optional<std::pair<char, std::vector<std::pair<std::string, std::string>>>> parseMacros(std::string_view data) {
  if (data.empty()) return std::nullopt;
  const auto strings = parseStrings(data.substr(1));
  if (!strings || strings->size() % 2 != 0) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i < strings->size(); i += 2) pairs.emplace_back((*strings)[i], (*strings)[i + 1]);
  return std::pair{data[0], std::move(pairs)};
}

std::optional<std::pair<std::string, std::string>> parseHeader(std::string_view data) {
  // As libmilter: strings past the value are ignored.
  const auto strings = parseStrings(data);
  if (!strings || strings->size() < 2) return std::nullopt;
  return std::pair{(*strings)[0], (*strings)[1]};
}

void Writer::packet(char command, std::string_view data) {
  putU32(out_, static_cast<uint32_t>(data.size() + 1));
  out_.push_back(command);
  out_.append(data);
}

void Writer::simple(char reply) { packet(reply, {}); }

void Writer::replyCode(std::string_view text) {
  std::string data(text);
  data.push_back('\0');
  packet(reply::kReplyCode, data);
}

void Writer::addHeader(std::string_view name, std::string_view value) {
  std::string data;
  putString(data, name);
  putString(data, value);
  packet(reply::kAddHeader, data);
}

void Writer::insertHeader(uint32_t index, std::string_view name, std::string_view value) {
  indexedHeader(reply::kInsertHeader, index, name, value);
}

void Writer::changeHeader(uint32_t index, std::string_view name, std::string_view value) {
  indexedHeader(reply::kChangeHeader, index, name, value);
}

void Writer::indexedHeader(char command, uint32_t index, std::string_view name, std::string_view value) {
  std::string data;
  putU32(data, index);
  putString(data, name);
  putString(data, value);
  packet(command, data);
}

void Writer::quarantine(std::string_view reason) {
  std::string data;
  putString(data, reason);
  packet(reply::kQuarantine, data);
}

void Writer::options(const Options& o, const std::vector<std::pair<uint32_t, std::string>>& macros) {
  std::string data;
  putU32(data, o.version);
  putU32(data, o.actions);
  putU32(data, o.protocol);
  for (const auto& [stage, names] : macros) {
    putU32(data, stage);
    putString(data, names);
  }
  packet(reply::kOptions, data);
}

}  // namespace authmilter::milter::protocol
