// MilterClient: a small MTA-side client for the sendmail milter protocol (version 6), used by
// integration tests and benchmarks to drive a milter daemon over a unix or TCP socket.
// It speaks the wire protocol, honours negotiated "don't send"/"no reply" flags, coalesces writes
// like Postfix, and checks replies strictly (malformed/unexpected packets and timeouts throw).
// It deliberately does not model SMTP state: it doesn't filter macros by the milter's symbol
// lists, doesn't stop after accept/reject, and never sets TCP_NODELAY (Nagle stays on, as Postfix).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace authmilter::testsupport {

// One header modification requested by the milter at end of message.
struct HeaderChange {
  // 'h' add (index unused, 0), 'i' insert at index, 'm' change (empty value = delete).
  char kind;
  // 'i': insert position; 'm': 1-based occurrence of `name` among headers of that name.
  uint32_t index;
  std::string name;
  std::string value;
};

// What the milter answered to one command.
struct Response {
  // Final reply: 'c' continue, 'a' accept, 'r' reject, 't' tempfail, 'd' discard,
  // 'y' reply code (see `reply`), 's' skip (body chunks only, if SMFIP_SKIP was negotiated).
  // 0 = no reply expected (no-reply flag negotiated) or the step was not sent at all.
  char action = 0;
  std::string reply;                      // for 'y': e.g. "550 5.7.1 ..." (no trailing NUL)
  std::vector<HeaderChange> headers;      // 'h'/'i'/'m' received before the final reply
  std::optional<std::string> quarantine;  // 'q' reason
  // Raw command byte of every other modification seen ('+', '-', '2', 'e', 'b'), in order.
  std::vector<char> others;
};

// Result of option negotiation, as answered by the milter.
struct Negotiated {
  uint32_t version = 0;
  uint32_t actions = 0;   // SMFIF_* the milter wants to use
  uint32_t protocol = 0;  // SMFIP_* the milter requested
  // SMFIM_* stage -> space separated macro names requested via smfi_setsymlist.
  std::map<int, std::string> macroLists;
};

// Move-only; one instance owns one connection. Every call throws std::runtime_error on I/O
// errors, protocol errors or when the per-call timeout expires, so a test can never hang.
class MilterClient {
 public:
  // `timeout` bounds connecting and, afterwards, every single send and every wait for a reply.
  static MilterClient connectUnix(const std::string& path,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // `host` must be a numeric address ("127.0.0.1", "::1"); no name resolution is done.
  static MilterClient connectTcp(const std::string& host, uint16_t port,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

  MilterClient(MilterClient&& other) noexcept;
  MilterClient& operator=(MilterClient&& other) noexcept;
  MilterClient(const MilterClient&) = delete;
  MilterClient& operator=(const MilterClient&) = delete;
  ~MilterClient();  // closes the socket

  // Offers protocol version 6 with the given SMFIF_* action and SMFIP_* protocol masks, reads the
  // milter's 'O' reply including any symbol lists. Throws if the milter asks for more than offered.
  Negotiated negotiate(uint32_t actions = 0x1FF, uint32_t protocol = 0x001FFFFF);
  const Negotiated& negotiated() const { return negotiated_; }

  // 'D' packet with macros for command `forCommand` (e.g. 'C', 'M', 'L'). Never waits for a reply
  // (queued, see flush()). An empty list sends nothing.
  void macros(char forCommand, const std::vector<std::pair<std::string, std::string>>& nameValues);

  // SMTP stages. Each returns Response{} (action 0) without sending anything if the milter asked
  // not to get that step (SMFIP_NO*), or after sending if it asked not to reply (SMFIP_NR_*).
  Response connect(const std::string& hostname, char family /* '4','6','L','U' */, uint16_t port,
                   const std::string& address);
  Response helo(const std::string& name);
  Response mailFrom(const std::vector<std::string>& args);  // args[0] is "<addr>", rest ESMTP args
  Response rcpt(const std::vector<std::string>& args);
  Response data();
  Response header(const std::string& name, const std::string& value);  // value sent as given
  Response endOfHeaders();
  Response body(std::string_view chunk);  // one 'B' packet (caller keeps chunks <= 65535 bytes)
  // 'E' without data; collects modifications ('h','i','m','q', others) until the final reply.
  Response endOfMessage();
  void abort();  // 'A', no reply (queued, see flush())
  void quit();   // 'Q', no reply (sent immediately)

  // True if the milter closed (or reset) the connection within `wait`. Flushes queued packets
  // first. Data arriving meanwhile is kept for later reads, not discarded.
  bool peerClosed(std::chrono::milliseconds wait);

  // Headers (each preceded by a 'D' packet for 'L' if macrosBeforeEachHeader is non-empty, like
  // Postfix), end of headers, body in chunks of at most 65535 bytes, end of message. Returns the
  // end-of-message response, or earlier the first header/EOH/body reply that is neither 'c' nor
  // "no reply" ('s' on a body chunk stops sending the body and goes on to end of message).
  Response sendMessage(
      const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body,
      const std::vector<std::pair<std::string, std::string>>& macrosBeforeEachHeader = {});

  // Low-level access for protocol-robustness tests: queue any packet; flush and wait for one
  // reply (modifications are accepted only if endOfMessage).
  void sendPacket(char command, std::string_view payload);
  Response readResponse(bool endOfMessage = false);
  // Sends queued packets, then `bytes` as they are (no framing): broken packets, garbage.
  void sendRaw(std::string_view bytes);
  // Half-closes the connection (no more bytes from us; replies can still be read).
  void shutdownWrite();

  // Sends all queued packets now. Like Postfix (which writes through a buffered stream), packets
  // that get no reply ('D', no-reply steps, 'A', raw packets) are queued and go out together with
  // the next packet that waits for a reply. A queue of 64 KiB or more, peerClosed(), quit() and
  // the destructor (best effort, non-blocking) flush too. Call this if a test needs them on the
  // wire before its next client call.
  void flush();

  // Every byte the milter has sent on this connection so far (replies, edits, negotiation).
  const std::string& received() const { return received_; }
  void setTimeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  MilterClient(int fd, std::chrono::milliseconds timeout);

  Response step(char command, uint32_t noSendFlag, uint32_t noReplyFlag, std::string_view payload,
                const char* stage);
  Response awaitReply(const char* stage, bool endOfMessage, bool bodyChunk);
  void writeQueue();
  std::string describeQueue() const;
  void flushQuietly() noexcept;
  std::pair<char, std::string> readPacket(std::chrono::steady_clock::time_point deadline,
                                          const std::string& what);
  void fillBuffer(std::chrono::steady_clock::time_point deadline, const std::string& what);
  void closeFd() noexcept;

  int fd_ = -1;
  std::chrono::milliseconds timeout_;
  Negotiated negotiated_;
  bool isNegotiated_ = false;
  bool eof_ = false;         // milter closed its side; inbuf_ may still hold data
  bool sendBroken_ = false;  // a send failed with EPIPE/ECONNRESET
  std::string received_;     // every byte the milter sent, for comparing engines
  std::string inbuf_;        // received bytes not yet consumed, starting at inpos_
  std::size_t inpos_ = 0;
  std::string outbuf_;                // packets queued but not yet sent
  std::vector<char> queuedCommands_;  // their command bytes, for error messages
};

// A message file (CRLF line ends) split the way Postfix hands it to a milter: one
// (name, " value") per header field, folded lines joined by a bare LF, and the body.
struct MessageParts {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};
MessageParts splitMessage(std::string_view raw);

// How deliverMessage() presents a message: one SMTP session, as Postfix's smtpd would.
struct Envelope {
  std::string ip = "203.0.113.9";
  char family = '4';                      // '4', '6', or 'U' (no address: local submission)
  std::string host = "mail.example.com";  // client hostname and HELO name
  std::string mailFrom = "<alice@example.com>";
  std::string rcpt = "<bob@example.org>";
  std::string login;  // {auth_authen}; empty: not authenticated
  std::string daemonName = "MTA";  // {daemon_name}
};

// Connects to the daemon's unix socket, sends `raw` (a message file, split as splitMessage
// does) with queue id `qid`, expects MAIL and RCPT to be accepted (a test failure
// otherwise), quits, and returns the end-of-message response.
Response deliverMessage(const std::string& unixPath, const std::string& raw, const std::string& qid,
                        const Envelope& envelope = {});

// The message as the MTA delivers it: `raw` (a message file, CRLF) with the header changes
// of `response` applied in order ('i' insert at an index among all header fields, 'h' add
// at the end, 'm' change or delete the index-th field of that name). Values are taken as
// the milter sent them, after "Name:" (a milter that negotiated LEADSPC sends the space;
// `leadingSpace` false adds one, as sendmail does), bare-LF folding written as CRLF.
std::string deliveredMessage(const std::string& raw, const Response& response, bool leadingSpace = true);

// The value of the Authentication-Results header the milter inserted, if it did.
std::optional<std::string> insertedAuthResults(const Response& response);

}  // namespace authmilter::testsupport
