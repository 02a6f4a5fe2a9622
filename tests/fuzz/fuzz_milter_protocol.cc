// Fuzz target: the native engine's milter protocol codec (milter/protocol.h) on a stream of
// bytes as an MTA (or anyone who reaches the socket) may send them. The first byte chooses
// where the stream is split into reads. Invariants: no crash; the packets framed are the same
// however the stream is split; a broken length stops the reading for good with a reason; a
// packet never exceeds kMaxPacket; every typed parse of a packet either refuses it or gives
// fields that, written back as the MTA writes them, parse to the same.
#include <string>
#include <vector>

#include "authmilter/milter/protocol.h"
#include "fuzz_support.h"

namespace {

using namespace authmilter::milter::protocol;

std::vector<std::pair<char, std::string>> frame(std::string_view stream, size_t split, std::string* error) {
  Reader r;
  std::vector<std::pair<char, std::string>> out;
  r.append(stream.substr(0, split));
  while (auto p = r.next(error)) out.emplace_back(p->command, std::string(p->data));
  r.append(stream.substr(split));
  while (auto p = r.next(error)) out.emplace_back(p->command, std::string(p->data));
  return out;
}

std::string joined(const std::vector<std::string>& strings) {
  std::string out;
  for (const auto& s : strings) out += s + '\0';
  return out;
}

void checkTyped(char command, const std::string& data) {
  switch (command) {
    case command::kConnect:
      if (const auto c = parseConnect(data)) {
        std::string again = c->hostname + '\0' + c->family;
        if (c->family != 'U') {
          again += static_cast<char>(c->port >> 8);
          again += static_cast<char>(c->port & 0xff);
          again += c->address + '\0';
        }
        FUZZ_CHECK(again == data);
      }
      break;
    case command::kMacro:
      if (const auto m = parseMacros(data)) {
        std::string again(1, m->first);
        for (const auto& [name, value] : m->second) again += name + '\0' + value + '\0';
        FUZZ_CHECK(again == data);
      }
      break;
    case command::kHeader:
      if (const auto h = parseHeader(data)) FUZZ_CHECK(data.starts_with(h->first + '\0' + h->second + '\0'));
      break;
    case command::kOptions:
      if (const auto o = parseOptions(data)) FUZZ_CHECK(data.size() >= 12);
      break;
    default:
      if (const auto s = parseStrings(data)) FUZZ_CHECK(joined(*s) == data);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view stream = authmilter::fuzz::asText(data + 1, size - 1);
  const size_t split = stream.empty() ? 0 : data[0] % (stream.size() + 1);
  std::string error1, error2;
  const auto whole = frame(stream, stream.size(), &error1);
  const auto parts = frame(stream, split, &error2);
  FUZZ_CHECK(whole == parts && error1 == error2);
  for (const auto& [command, payload] : whole) {
    FUZZ_CHECK(payload.size() + 1 <= kMaxPacket);
    checkTyped(command, payload);
  }
  return 0;
}
