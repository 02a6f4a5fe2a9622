// Fuzz target: the native engine's milter protocol codec (milter/protocol.h) and its
// conversation (milter/native_connection.h: negotiation, macros, Sessions, replies, edits)
// on a stream of bytes as an MTA (or anyone who reaches the socket) may send them. The first
// byte chooses where the stream is split into reads. Invariants: no crash; the packets
// framed are the same however the stream is split; a broken length stops the reading for
// good with a reason; a packet never exceeds kMaxPacket; every typed parse of a packet
// either refuses it or gives fields that, written back as the MTA writes them, parse to the
// same. The conversation, fed every framed packet until it says Close (the real DNS layer
// replaced by a table, checks on as the daemon runs them): what it answers is a sequence of
// whole packets the MTA knows, none before negotiation, and only edits it negotiated.
#include <string>
#include <vector>

#include "authmilter/milter/config_store.h"
#include "authmilter/milter/native_connection.h"
#include "authmilter/milter/protocol.h"
#include "authmilter/runtime/runtime.h"
#include "fuzz_support.h"
#include "temp_dir.h"

namespace {

using namespace authmilter::milter::protocol;
using authmilter::milter::NativeConnection;

// The runtime every conversation takes at negotiation: DMARC reject for example.com, whose
// SPF record lets 192.0.2.0/24 send, signing for example.org.
void setUpRuntime() {
  static const bool done = [] {
    using namespace authmilter;
    fuzz::quietLogs();
    static testsupport::TempDir dir;
    dir.write("domains", "example.org\n");
    dir.write("trusted", "10.0.0.0/8\n");
    auto resolver = std::make_shared<fuzz::TableResolver>();
    resolver->setRecords("_dmarc.example.com", dns::RrType::TXT, {"v=DMARC1; p=reject"});
    resolver->setRecords("_dmarc.example.net", dns::RrType::TXT, {"v=DMARC1; p=quarantine"});
    resolver->setRecords("example.com", dns::RrType::TXT, {"v=spf1 ip4:192.0.2.0/24 -all"});
    const std::string conf = "AuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\n"
                             "SubmissionDaemons MSA\n";
    milter::setCurrentRuntime(runtime::buildRuntime(config::loadConfig(dir.write("c", conf)), resolver));
    return true;
  }();
  (void)done;
}

// The conversation's answer: whole packets, each one an MTA knows from a milter.
void checkAnswer(const std::string& bytes) {
  Reader r;
  r.append(bytes);
  std::string error;
  while (const auto p = r.next(&error)) {
    FUZZ_CHECK(std::string_view("acdrtpyhimq+-2ebO").find(p->command) != std::string_view::npos);
  }
  FUZZ_CHECK(error.empty() && r.buffered() == 0);
}

void converse(const std::vector<std::pair<char, std::string>>& packets) {
  setUpRuntime();
  NativeConnection conversation("fuzz");
  Writer out;
  bool negotiated = false;
  for (const auto& [command, data] : packets) {
    const auto next = conversation.handle(Packet{command, data}, out);
    if (!negotiated) {  // nothing is answered before SMFIC_OPTNEG but its own reply
      FUZZ_CHECK(out.bytes().empty() || command == command::kOptions);
      negotiated = !out.bytes().empty();
    }
    checkAnswer(out.bytes());
    out.clear();
    if (next == NativeConnection::Next::Close) break;
  }
  conversation.end();
}

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
  converse(whole);
  return 0;
}
