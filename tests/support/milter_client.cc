// MilterClient implementation: non-blocking socket + poll() with deadlines, packet framing
// (uint32 big-endian length covering command byte + data), and strict reply parsing.
// Written from the protocol description; constants come from libmilter's mfdef.h.
#include "milter_client.h"

#include <arpa/inet.h>
#include <libmilter/mfdef.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace authmilter::testsupport {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kProtocolVersion = SMFI_PROT_VERSION;  // 6
constexpr uint32_t kOldestVersion = 2;                    // oldest version an MTA still accepts
constexpr int kLastMacroStage = 6;                        // SMFIM_EOH (mfapi.h)
constexpr std::size_t kMaxBodyChunk = 65535;              // MILTER_CHUNK_SIZE
constexpr uint32_t kMaxIncomingPacket = 64u << 20;        // sanity cap against garbage lengths
constexpr std::size_t kReadSize = std::size_t{64} * 1024;
constexpr std::size_t kFlushThreshold = std::size_t{64} * 1024;  // send queued packets beyond this

// SMFIF_* action flags live in mfapi.h (the filter API), not mfdef.h; the wire values are fixed.
constexpr uint32_t kActAddHeaders = 0x001;     // SMFIF_ADDHDRS: 'h', 'i'
constexpr uint32_t kActChangeBody = 0x002;     // SMFIF_CHGBODY: 'b'
constexpr uint32_t kActAddRcpt = 0x004;        // SMFIF_ADDRCPT: '+'
constexpr uint32_t kActDeleteRcpt = 0x008;     // SMFIF_DELRCPT: '-'
constexpr uint32_t kActChangeHeaders = 0x010;  // SMFIF_CHGHDRS: 'm'
constexpr uint32_t kActQuarantine = 0x020;     // SMFIF_QUARANTINE: 'q'
constexpr uint32_t kActChangeFrom = 0x040;     // SMFIF_CHGFROM: 'e'
constexpr uint32_t kActAddRcptPar = 0x080;     // SMFIF_ADDRCPT_PAR: '2'
constexpr uint32_t kActSetSymList = 0x100;     // SMFIF_SETSYMLIST: symbol lists in 'O' reply

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("milter client: " + what);
}

[[noreturn]] void failErrno(const std::string& what, int err) {
  fail(what + ": " + std::strerror(err));
}

// "'h' (0x68)" for messages; non-printable bytes only as hex.
std::string describeCommand(char command) {
  char buf[16];
  auto byte = static_cast<unsigned char>(command);
  if (byte >= 0x20 && byte < 0x7f) {
    std::snprintf(buf, sizeof(buf), "'%c' (0x%02x)", command, byte);
  } else {
    std::snprintf(buf, sizeof(buf), "0x%02x", byte);
  }
  return buf;
}

uint32_t decodeU32(const char* bytes) {
  auto byte = [bytes](int i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[i]));
  };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

void putU32(std::string& out, uint32_t value) {
  out.push_back(static_cast<char>((value >> 24) & 0xff));
  out.push_back(static_cast<char>((value >> 16) & 0xff));
  out.push_back(static_cast<char>((value >> 8) & 0xff));
  out.push_back(static_cast<char>(value & 0xff));
}

void putU16(std::string& out, uint16_t value) {
  out.push_back(static_cast<char>((value >> 8) & 0xff));
  out.push_back(static_cast<char>(value & 0xff));
}

// Appends `value` plus its terminating NUL; an embedded NUL would silently corrupt the packet.
void putString(std::string& out, std::string_view value, const char* what) {
  if (value.find('\0') != std::string_view::npos) {
    fail(std::string(what) + " contains a NUL byte (use sendPacket() for raw data)");
  }
  out.append(value);
  out.push_back('\0');
}

// Sequential reader over one packet's data; every malformation is a protocol error.
class PayloadReader {
 public:
  PayloadReader(std::string_view data, std::string context)
      : data_(data), context_(std::move(context)) {}

  bool atEnd() const { return data_.empty(); }

  uint32_t u32() {
    if (data_.size() < 4) fail(context_ + ": truncated (expected a 32-bit value)");
    uint32_t value = decodeU32(data_.data());
    data_.remove_prefix(4);
    return value;
  }

  std::string string() {
    std::size_t nul = data_.find('\0');
    if (nul == std::string_view::npos) fail(context_ + ": string is not NUL-terminated");
    std::string value(data_.substr(0, nul));
    data_.remove_prefix(nul + 1);
    return value;
  }

  void expectEnd() const {
    if (!data_.empty()) {
      fail(context_ + ": " + std::to_string(data_.size()) + " unexpected trailing byte(s)");
    }
  }

 private:
  std::string_view data_;
  std::string context_;
};

// Milliseconds left until `deadline`, rounded up and clamped for poll().
int pollTimeout(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<decltype(left)>(left, 0, INT_MAX));
}

// Waits until `fd` reports any of `events` (or an error/hangup); throws on timeout.
void waitFor(int fd, short events, Clock::time_point deadline, const std::string& what) {
  for (;;) {
    pollfd pfd{fd, events, 0};
    int rc = ::poll(&pfd, 1, pollTimeout(deadline));
    if (rc > 0) return;
    if (rc == 0) fail("timed out " + what);
    if (errno != EINTR) failErrno("poll() failed " + what, errno);
  }
}

// Closes the descriptor on scope exit unless released (exception safety during setup).
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

int connectSocket(int domain, const sockaddr* address, socklen_t length,
                  std::chrono::milliseconds timeout, const std::string& description) {
  FdGuard guard{::socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (guard.fd < 0) failErrno("socket() for " + description, errno);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (::connect(guard.fd, address, length) == 0) break;
    int err = errno;
    if (err == EINPROGRESS || err == EINTR) {
      // TCP handshake in progress: wait for writability, then fetch the real result.
      waitFor(guard.fd, POLLOUT, deadline, "connecting to " + description);
      int soError = 0;
      socklen_t soLength = sizeof(soError);
      if (::getsockopt(guard.fd, SOL_SOCKET, SO_ERROR, &soError, &soLength) != 0) {
        failErrno("getsockopt(SO_ERROR) for " + description, errno);
      }
      if (soError != 0) failErrno("connect to " + description, soError);
      break;
    }
    if (err == EAGAIN) {
      // Unix socket with a full listen backlog: retry until the deadline.
      if (Clock::now() >= deadline) {
        fail("timed out connecting to " + description + " (backlog full)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    failErrno("connect to " + description, err);
  }
  return guard.release();
}

}  // namespace

// ---- construction -------------------------------------------------------------------------

MilterClient::MilterClient(int fd, std::chrono::milliseconds timeout)
    : fd_(fd), timeout_(timeout) {}

MilterClient::MilterClient(MilterClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      timeout_(other.timeout_),
      negotiated_(std::move(other.negotiated_)),
      isNegotiated_(other.isNegotiated_),
      eof_(other.eof_),
      sendBroken_(other.sendBroken_),
      received_(std::move(other.received_)),
      inbuf_(std::move(other.inbuf_)),
      inpos_(std::exchange(other.inpos_, 0)),
      outbuf_(std::move(other.outbuf_)),
      queuedCommands_(std::move(other.queuedCommands_)) {}

MilterClient& MilterClient::operator=(MilterClient&& other) noexcept {
  if (this != &other) {
    flushQuietly();
    closeFd();
    fd_ = std::exchange(other.fd_, -1);
    timeout_ = other.timeout_;
    negotiated_ = std::move(other.negotiated_);
    isNegotiated_ = other.isNegotiated_;
    eof_ = other.eof_;
    sendBroken_ = other.sendBroken_;
    received_ = std::move(other.received_);
    inbuf_ = std::move(other.inbuf_);
    inpos_ = std::exchange(other.inpos_, 0);
    outbuf_ = std::move(other.outbuf_);
    queuedCommands_ = std::move(other.queuedCommands_);
  }
  return *this;
}

MilterClient::~MilterClient() {
  flushQuietly();
  closeFd();
}

void MilterClient::flushQuietly() noexcept {
  // Best effort, never blocking: hand still-queued packets (e.g. 'A') to the kernel.
  if (fd_ >= 0 && !outbuf_.empty()) {
    (void)::send(fd_, outbuf_.data(), outbuf_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  outbuf_.clear();
  queuedCommands_.clear();
}

void MilterClient::closeFd() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

MilterClient MilterClient::connectUnix(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    fail("invalid unix socket path '" + path + "'");
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  int fd = connectSocket(AF_UNIX, reinterpret_cast<const sockaddr*>(&address), sizeof(address),
                         timeout, "unix:" + path);
  return MilterClient(fd, timeout);
}

MilterClient MilterClient::connectTcp(const std::string& host, uint16_t port,
                                      std::chrono::milliseconds timeout) {
  const std::string description = "inet:" + host + ":" + std::to_string(port);
  // Nagle deliberately stays enabled (no TCP_NODELAY), matching Postfix's milter client.
  sockaddr_in v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    int fd = connectSocket(AF_INET, reinterpret_cast<const sockaddr*>(&v4), sizeof(v4), timeout,
                           description);
    return MilterClient(fd, timeout);
  }
  sockaddr_in6 v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    int fd = connectSocket(AF_INET6, reinterpret_cast<const sockaddr*>(&v6), sizeof(v6), timeout,
                           description);
    return MilterClient(fd, timeout);
  }
  fail("'" + host + "' is not a numeric IPv4/IPv6 address");
}

// ---- raw I/O ------------------------------------------------------------------------------

std::string MilterClient::describeQueue() const {
  std::string what = queuedCommands_.size() == 1 ? "command " : "commands ";
  for (std::size_t i = 0; i < queuedCommands_.size(); ++i) {
    if (i == 8) {
      what += ", ...";
      break;
    }
    what += (i ? ", " : "") + describeCommand(queuedCommands_[i]);
  }
  return what;
}

void MilterClient::writeQueue() {
  if (fd_ < 0) fail("cannot send " + describeQueue() + ": connection is closed");
  const auto deadline = Clock::now() + timeout_;
  std::string_view bytes = outbuf_;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      waitFor(fd_, POLLOUT, deadline, "sending " + describeQueue() + " (milter not reading)");
      continue;
    }
    if (err == EPIPE || err == ECONNRESET) {
      sendBroken_ = true;
      fail("milter closed the connection; sending " + describeQueue());
    }
    failErrno("send() of " + describeQueue(), err);
  }
}

void MilterClient::sendPacket(char command, std::string_view payload) {
  if (payload.size() >= UINT32_MAX) fail("packet too large");
  // Queue length + command + data; flush() sends everything queued with one send() if it can.
  putU32(outbuf_, static_cast<uint32_t>(payload.size() + 1));
  outbuf_.push_back(command);
  outbuf_.append(payload);
  queuedCommands_.push_back(command);
  if (outbuf_.size() >= kFlushThreshold) flush();
}

void MilterClient::sendRaw(std::string_view bytes) {
  outbuf_.append(bytes);
  queuedCommands_.push_back('?');
  flush();
}

void MilterClient::shutdownWrite() {
  flush();
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void MilterClient::flush() {
  if (outbuf_.empty()) return;
  try {
    writeQueue();
  } catch (...) {
    // The queue is dropped either way: after a send error the connection is unusable.
    outbuf_.clear();
    queuedCommands_.clear();
    throw;
  }
  outbuf_.clear();
  queuedCommands_.clear();
}

void MilterClient::fillBuffer(Clock::time_point deadline, const std::string& what) {
  if (fd_ < 0) fail("cannot read " + what + ": connection is closed");
  // Drop consumed bytes before growing the buffer.
  if (inpos_ > 0) {
    inbuf_.erase(0, inpos_);
    inpos_ = 0;
  }
  for (;;) {
    char chunk[kReadSize];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    int err = errno;
    if (n > 0) {
      inbuf_.append(chunk, static_cast<std::size_t>(n));
      received_.append(chunk, static_cast<std::size_t>(n));
      return;
    }
    if (n == 0) {
      eof_ = true;
      return;
    }
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      waitFor(fd_, POLLIN, deadline, "waiting for " + what);
      continue;
    }
    if (err == ECONNRESET) {
      eof_ = true;
      return;
    }
    failErrno("recv() while waiting for " + what, err);
  }
}

std::pair<char, std::string> MilterClient::readPacket(Clock::time_point deadline,
                                                      const std::string& what) {
  for (;;) {
    std::string_view avail(inbuf_.data() + inpos_, inbuf_.size() - inpos_);
    if (avail.size() >= 4) {
      uint32_t length = decodeU32(avail.data());
      if (length == 0) fail("zero-length packet received while waiting for " + what);
      if (length > kMaxIncomingPacket) {
        fail("implausible packet length " + std::to_string(length) + " while waiting for " + what);
      }
      if (avail.size() - 4 >= length) {
        char command = avail[4];
        std::string data(avail.substr(5, length - 1));
        inpos_ += 4 + length;
        if (inpos_ == inbuf_.size()) {
          inbuf_.clear();
          inpos_ = 0;
        }
        return {command, std::move(data)};
      }
    }
    if (eof_) {
      fail("milter closed the connection while waiting for " + what +
           (avail.empty() ? "" : " (inside a partial packet)"));
    }
    fillBuffer(deadline, what);
  }
}

bool MilterClient::peerClosed(std::chrono::milliseconds wait) {
  if (eof_) return true;
  if (fd_ < 0) return true;
  try {
    flush();
  } catch (const std::runtime_error&) {
    // EPIPE/ECONNRESET while sending means the milter is gone; a timeout is a real error.
    if (!sendBroken_) throw;
    return true;
  }
  const auto deadline = Clock::now() + wait;
  for (;;) {
    pollfd pfd{fd_, POLLIN | POLLRDHUP, 0};
    int rc = ::poll(&pfd, 1, pollTimeout(deadline));
    if (rc < 0) {
      if (errno == EINTR) continue;
      failErrno("poll() in peerClosed", errno);
    }
    if (rc == 0) return false;
    // Readable: consume what is there into inbuf_ (kept for later reads); a read of 0 or a
    // reset means closed. A spurious wakeup may make fillBuffer time out: not closed then.
    try {
      fillBuffer(deadline, "connection close");
    } catch (const std::runtime_error&) {
      return false;
    }
    if (eof_) return true;
  }
}

// ---- negotiation ---------------------------------------------------------------------------

Negotiated MilterClient::negotiate(uint32_t actions, uint32_t protocol) {
  std::string payload;
  putU32(payload, kProtocolVersion);
  putU32(payload, actions);
  putU32(payload, protocol);
  sendPacket(SMFIC_OPTNEG, payload);
  flush();

  auto [command, data] = readPacket(Clock::now() + timeout_, "option negotiation reply");
  if (command != SMFIC_OPTNEG) {
    fail("expected option negotiation reply 'O', got " + describeCommand(command));
  }
  PayloadReader in(data, "option negotiation reply");
  Negotiated result;
  result.version = in.u32();
  result.actions = in.u32();
  result.protocol = in.u32();
  if (result.version < kOldestVersion || result.version > kProtocolVersion) {
    fail("milter answered unsupported protocol version " + std::to_string(result.version));
  }
  char hex[128];
  if ((result.actions & ~actions) != 0) {
    std::snprintf(hex, sizeof(hex), "milter requested actions 0x%x not offered (offered 0x%x)",
                  result.actions & ~actions, actions);
    fail(hex);
  }
  if ((result.protocol & ~protocol) != 0) {
    std::snprintf(hex, sizeof(hex),
                  "milter requested protocol flags 0x%x not offered (offered 0x%x)",
                  result.protocol & ~protocol, protocol);
    fail(hex);
  }
  // Optional symbol lists: repeated (uint32 stage, NUL-terminated space separated names).
  while (!in.atEnd()) {
    uint32_t stage = in.u32();
    if (stage > static_cast<uint32_t>(kLastMacroStage)) {
      fail("option negotiation reply: invalid macro stage " + std::to_string(stage));
    }
    if ((result.actions & kActSetSymList) == 0) {
      fail("option negotiation reply: symbol list sent without the SMFIF_SETSYMLIST action");
    }
    result.macroLists[static_cast<int>(stage)] = in.string();
  }
  negotiated_ = std::move(result);
  isNegotiated_ = true;
  return negotiated_;
}

// ---- replies -------------------------------------------------------------------------------

Response MilterClient::readResponse(bool endOfMessage) {
  return awaitReply("raw command", endOfMessage, /*bodyChunk=*/true);
}

Response MilterClient::awaitReply(const char* stage, bool endOfMessage, bool bodyChunk) {
  flush();
  const std::string what = std::string("reply to ") + stage;
  const auto deadline = Clock::now() + timeout_;  // progress packets don't extend it
  Response response;
  for (;;) {
    const auto packet = readPacket(deadline, what);
    const char command = packet.first;  // plain variable: lambdas below capture it
    PayloadReader in(packet.second, what + " " + describeCommand(command));

    // Modifications are only legal at end of message, and only if the action was negotiated.
    auto requireModification = [&](uint32_t actionFlag) {
      if (!endOfMessage) fail("modification " + describeCommand(command) + " received as " + what);
      if (isNegotiated_ && (negotiated_.actions & actionFlag) == 0) {
        fail("modification " + describeCommand(command) + " without having negotiated that action");
      }
    };

    switch (command) {
      case SMFIR_PROGRESS:
        in.expectEnd();
        continue;
      case SMFIR_CONTINUE:
      case SMFIR_ACCEPT:
      case SMFIR_REJECT:
      case SMFIR_TEMPFAIL:
      case SMFIR_DISCARD:
        in.expectEnd();
        response.action = command;
        return response;
      case SMFIR_SKIP:
        // Only valid for body chunks, and only if the MTA said it understands it.
        if (!bodyChunk || (isNegotiated_ && (negotiated_.protocol & SMFIP_SKIP) == 0)) {
          fail("skip 's' received as " + what + " (only allowed for body chunks with SMFIP_SKIP)");
        }
        in.expectEnd();
        response.action = command;
        return response;
      case SMFIR_REPLYCODE: {
        response.reply = in.string();
        in.expectEnd();
        // Same shape Postfix insists on: "4xx"/"5xx", ' ' or '-', enhanced code of the same class.
        const std::string& r = response.reply;
        auto digit = [&r](std::size_t i) {
          return std::isdigit(static_cast<unsigned char>(r[i])) != 0;
        };
        bool valid = r.size() >= 5 && (r[0] == '4' || r[0] == '5') && digit(1) && digit(2) &&
                     (r[3] == ' ' || r[3] == '-') && r[4] == r[0];
        if (!valid) {
          fail("malformed reply code '" + r + "' in " + what + " (want e.g. \"550 5.7.1 text\")");
        }
        response.action = command;
        return response;
      }
      case SMFIR_ADDHEADER: {
        requireModification(kActAddHeaders);
        HeaderChange change{command, 0, in.string(), ""};
        change.value = in.string();
        in.expectEnd();
        response.headers.push_back(std::move(change));
        continue;
      }
      case SMFIR_INSHEADER:
      case SMFIR_CHGHEADER: {
        requireModification(command == SMFIR_INSHEADER ? kActAddHeaders : kActChangeHeaders);
        HeaderChange change{command, in.u32(), "", ""};
        change.name = in.string();
        change.value = in.string();
        in.expectEnd();
        response.headers.push_back(std::move(change));
        continue;
      }
      case SMFIR_QUARANTINE:
        requireModification(kActQuarantine);
        response.quarantine = in.string();
        in.expectEnd();
        continue;
      case SMFIR_ADDRCPT:
        requireModification(kActAddRcpt);
        response.others.push_back(command);
        continue;
      case SMFIR_DELRCPT:
        requireModification(kActDeleteRcpt);
        response.others.push_back(command);
        continue;
      case SMFIR_ADDRCPT_PAR:
        requireModification(kActAddRcptPar);
        response.others.push_back(command);
        continue;
      case SMFIR_CHGFROM:
        requireModification(kActChangeFrom);
        response.others.push_back(command);
        continue;
      case SMFIR_REPLBODY:
        requireModification(kActChangeBody);
        response.others.push_back(command);
        continue;
      default:
        fail("unexpected " + describeCommand(command) + " received as " + what);
    }
  }
}

// ---- SMTP stages ---------------------------------------------------------------------------

Response MilterClient::step(char command, uint32_t noSendFlag, uint32_t noReplyFlag,
                            std::string_view payload, const char* stage) {
  if ((negotiated_.protocol & noSendFlag) != 0) return {};  // milter asked not to get this step
  sendPacket(command, payload);
  if ((negotiated_.protocol & noReplyFlag) != 0) return {};
  return awaitReply(stage, false, command == SMFIC_BODY);
}

void MilterClient::macros(char forCommand,
                          const std::vector<std::pair<std::string, std::string>>& nameValues) {
  if (nameValues.empty()) return;
  std::string payload(1, forCommand);
  for (const auto& [name, value] : nameValues) {
    putString(payload, name, "macro name");
    putString(payload, value, "macro value");
  }
  sendPacket(SMFIC_MACRO, payload);
}

Response MilterClient::connect(const std::string& hostname, char family, uint16_t port,
                               const std::string& address) {
  std::string payload;
  putString(payload, hostname, "connect hostname");
  payload.push_back(family);
  switch (family) {
    case SMFIA_INET:
    case SMFIA_INET6:
    case SMFIA_UNIX:
      putU16(payload, port);  // network byte order
      putString(payload, address, "connect address");
      break;
    case SMFIA_UNKNOWN:
      break;  // family 'U' carries no port or address
    default:
      fail("connect family must be '4', '6', 'L' or 'U', got " + describeCommand(family));
  }
  return step(SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN, payload, "connect");
}

Response MilterClient::helo(const std::string& name) {
  std::string payload;
  putString(payload, name, "HELO name");
  return step(SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO, payload, "HELO");
}

Response MilterClient::mailFrom(const std::vector<std::string>& args) {
  if (args.empty()) fail("mailFrom() needs at least the sender address");
  std::string payload;
  for (const auto& arg : args) putString(payload, arg, "MAIL FROM argument");
  return step(SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, payload, "MAIL FROM");
}

Response MilterClient::rcpt(const std::vector<std::string>& args) {
  if (args.empty()) fail("rcpt() needs at least the recipient address");
  std::string payload;
  for (const auto& arg : args) putString(payload, arg, "RCPT TO argument");
  return step(SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, payload, "RCPT TO");
}

Response MilterClient::data() { return step(SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA, {}, "DATA"); }

Response MilterClient::header(const std::string& name, const std::string& value) {
  std::string payload;
  putString(payload, name, "header name");
  putString(payload, value, "header value");
  return step(SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR, payload, "header");
}

Response MilterClient::endOfHeaders() {
  return step(SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, {}, "end of headers");
}

Response MilterClient::body(std::string_view chunk) {
  return step(SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY, chunk, "body chunk");
}

Response MilterClient::endOfMessage() {
  sendPacket(SMFIC_BODYEOB, {});
  return awaitReply("end of message", true, false);
}

void MilterClient::abort() { sendPacket(SMFIC_ABORT, {}); }

void MilterClient::quit() {
  sendPacket(SMFIC_QUIT, {});
  flush();  // nothing follows a quit, so don't leave it queued
}

Response MilterClient::sendMessage(
    const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& macrosBeforeEachHeader) {
  // A reply that is neither "none expected" nor continue ends the message early.
  auto stops = [](const Response& r) { return r.action != 0 && r.action != SMFIR_CONTINUE; };

  const bool sendHeaders = (negotiated_.protocol & SMFIP_NOHDRS) == 0;
  for (const auto& [name, value] : headers) {
    if (sendHeaders) macros(SMFIC_HEADER, macrosBeforeEachHeader);  // no macros for a skipped step
    Response r = header(name, value);
    if (stops(r)) return r;
  }
  if (Response r = endOfHeaders(); stops(r)) return r;
  while (!body.empty()) {
    std::string_view chunk = body.substr(0, kMaxBodyChunk);
    body.remove_prefix(chunk.size());
    Response r = this->body(chunk);
    if (r.action == SMFIR_SKIP) break;  // milter has seen enough of the body
    if (stops(r)) return r;
  }
  return endOfMessage();
}

}  // namespace authmilter::testsupport
