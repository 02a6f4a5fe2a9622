// The milter protocol (version 6, as Postfix and sendmail speak it) as bytes: framing of the
// packets on a connection, the typed content of what the MTA sends, and the encoding of what
// the milter answers. Our own code, independent of libmilter (no libmilter header here): the
// first piece of the native engine (issue 24). No I/O: a Reader takes the bytes a read
// returned and yields every complete packet in them; a Writer appends replies to a buffer
// that one write sends.
//
// A packet: uint32 length (network byte order, counting the command byte), the command
// byte, then length - 1 bytes of data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace authmilter::milter::protocol {

// Commands from the MTA.
namespace command {
inline constexpr char kAbort = 'A', kBody = 'B', kConnect = 'C', kMacro = 'D', kEndOfMessage = 'E', kHelo = 'H',
                      kQuitNewConnection = 'K', kHeader = 'L', kMail = 'M', kEndOfHeaders = 'N', kOptions = 'O',
                      kQuit = 'Q', kRcpt = 'R', kData = 'T', kUnknown = 'U';
}
// Replies and edits from the milter.
namespace reply {
inline constexpr char kAccept = 'a', kContinue = 'c', kDiscard = 'd', kAddHeader = 'h', kInsertHeader = 'i',
                      kChangeHeader = 'm', kProgress = 'p', kQuarantine = 'q', kReject = 'r', kTempfail = 't',
                      kReplyCode = 'y', kOptions = 'O';
}

// What the milter may do to a message (SMFIF_*), negotiated in SMFIC_OPTNEG.
namespace action {
inline constexpr uint32_t kAddHeaders = 0x01, kChangeBody = 0x02, kAddRcpt = 0x04, kDeleteRcpt = 0x08,
                          kChangeHeaders = 0x10, kQuarantine = 0x20, kChangeFrom = 0x40, kAddRcptArgs = 0x80,
                          kSetMacroList = 0x100;
}
// Protocol flags (SMFIP_*): steps the MTA leaves out (kNo*), steps it expects no reply to
// (kNoReply*), and how header values come.
namespace flag {
inline constexpr uint32_t kNoConnect = 0x1, kNoHelo = 0x2, kNoMail = 0x4, kNoRcpt = 0x8, kNoBody = 0x10,
                          kNoHeaders = 0x20, kNoEndOfHeaders = 0x40, kNoReplyHeader = 0x80, kNoUnknown = 0x100,
                          kNoData = 0x200, kSkip = 0x400, kRcptRejected = 0x800, kNoReplyConnect = 0x1000,
                          kNoReplyHelo = 0x2000, kNoReplyMail = 0x4000, kNoReplyRcpt = 0x8000,
                          kNoReplyData = 0x10000, kNoReplyUnknown = 0x20000, kNoReplyEndOfHeaders = 0x40000,
                          kNoReplyBody = 0x80000, kHeaderLeadingSpace = 0x100000;
}
// The stages a milter may name macros for (SMFIM_*), in the order libmilter searches them.
namespace stage {
inline constexpr uint32_t kConnect = 0, kHelo = 1, kMail = 2, kRcpt = 3, kData = 4, kEndOfMessage = 5,
                          kEndOfHeaders = 6, kCount = 7;
}
// The stage whose macros a SMFIC_MACRO for `command` carries; kCount for any other command.
uint32_t stageOf(char command);

inline constexpr uint32_t kVersion = 6;
// Past this a packet is refused and the connection closed: what libmilter is told to take
// (src/milter/callbacks.cc), more than any header field Postfix passes.
inline constexpr size_t kMaxPacket = 16 * 1024 * 1024;

struct Packet {
  char command = 0;
  std::string_view data;  // valid until the next call of the Reader's next() or append()
};

// Frames the byte stream of one connection.
class Reader {
 public:
  // Adds what a read returned.
  void append(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete packet, nullopt when more bytes are needed. A length of 0 or past
  // kMaxPacket sets `error` (the connection must be closed) and returns nullopt for good.
  std::optional<Packet> next(std::string* error);
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  size_t offset_ = 0;  // start of the first packet not yet returned
  bool broken_ = false;
};

// SMFIC_OPTNEG: what the MTA offers (and, in the milter's reply, what it asks for).
struct Options {
  uint32_t version = 0, actions = 0, protocol = 0;
};

// SMFIC_CONNECT.
struct ConnectInfo {
  std::string hostname;
  char family = 'U';  // '4', '6', 'L' (unix socket), 'U' (unknown: no address follows)
  uint16_t port = 0;
  std::string address;
};

// Each parse returns nullopt for a malformed packet (missing NULs, short fields).
std::optional<Options> parseOptions(std::string_view data);
std::optional<ConnectInfo> parseConnect(std::string_view data);
// NUL-terminated strings: HELO (one), MAIL and RCPT (the address, then ESMTP arguments),
// unknown commands (one).
std::optional<std::vector<std::string>> parseStrings(std::string_view data);
// SMFIC_MACRO: the command the macros belong to, then name/value pairs.
std::optional<std::pair<char, std::vector<std::pair<std::string, std::string>>>> parseMacros(std::string_view data);
// SMFIC_HEADER: name and value (further strings ignored, as libmilter does).
std::optional<std::pair<std::string, std::string>> parseHeader(std::string_view data);

// Encodes replies into one buffer (sent with one write).
class Writer {
 public:
  void simple(char reply);  // accept, continue, discard, reject, tempfail, progress
  // "550 5.7.1 text" (one line; '%' is sent as it is: no libmilter formatting here).
  void replyCode(std::string_view text);
  void addHeader(std::string_view name, std::string_view value);
  void insertHeader(uint32_t index, std::string_view name, std::string_view value);
  void changeHeader(uint32_t index, std::string_view name, std::string_view value);  // value "": delete
  void quarantine(std::string_view reason);
  // The reply to SMFIC_OPTNEG, with the macros wanted at each stage (SMFIM_* index, names).
  void options(const Options& options, const std::vector<std::pair<uint32_t, std::string>>& macros = {});

  const std::string& bytes() const { return out_; }
  void clear() { out_.clear(); }

 private:
  void packet(char command, std::string_view data);
  void indexedHeader(char command, uint32_t index, std::string_view name, std::string_view value);
  std::string out_;
};

}  // namespace authmilter::milter::protocol
