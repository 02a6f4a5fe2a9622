// One MTA connection as the native engine sees it, without I/O: packets in (from a
// protocol::Reader), reply bytes out (into a protocol::Writer), a Session per SMTP session
// in between. The engine (native_engine.cc) feeds it what each read brought and writes what
// it answered in one write; tests and the fuzzer feed it directly. It answers as the
// libmilter engine does, byte for byte (tests/integration/engine_differential_test.cc).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "authmilter/milter/milter_context.h"
#include "authmilter/milter/protocol.h"
#include "authmilter/milter/session.h"
#include "authmilter/runtime/runtime.h"

namespace authmilter::milter {

class NativeConnection final : public MilterContext {
 public:
  // `peer`: who connected, for log lines ("unix", "127.0.0.1:45678").
  explicit NativeConnection(std::string peer);
  ~NativeConnection() override;
  NativeConnection(const NativeConnection&) = delete;
  NativeConnection& operator=(const NativeConnection&) = delete;

  enum class Next { Continue, Close };
  // One packet; its reply and edits (if any) are appended to `out`. Close: the MTA said
  // QUIT, or broke the protocol (logged); the connection must be closed.
  Next handle(const protocol::Packet& packet, protocol::Writer& out);
  const std::string& peer() const { return peer_; }
  // The connection is gone (QUIT, EOF, error, timeout, stop): ends the session. Idempotent.
  void end();

  // MilterContext, for the Session.
  std::optional<std::string> macro(std::string_view name) override;
  bool insertHeader(size_t index, const std::string& name, const std::string& value) override;
  bool addHeader(const std::string& name, const std::string& value) override;
  bool deleteHeader(const std::string& name, size_t index) override;
  bool quarantine(const std::string& reason) override;

 private:
  Next negotiate(std::string_view data, protocol::Writer& out);
  Next connect(std::string_view data, protocol::Writer& out);
  Next endOfMessage(std::string_view data, protocol::Writer& out);
  // Runs `fn` on the session and answers its verdict unless `silent`.
  template <typename Fn>
  void step(bool silent, const char* name, protocol::Writer& out, Fn fn);
  bool noReply(uint32_t flag) const { return (protocol_ & flag) != 0; }
  void answer(const pipeline::Verdict& verdict, protocol::Writer& out);
  void internalError(protocol::Writer& out);
  Next protocolError(const std::string& what);
  void clearMacrosFrom(uint32_t stage);
  bool allowed(uint32_t action) const { return (actions_ & action) != 0; }

  std::string peer_;
  std::shared_ptr<const runtime::Runtime> runtime_;
  bool negotiated_ = false;
  uint32_t actions_ = 0;   // negotiated SMFIF_* bits
  uint32_t protocol_ = 0;  // negotiated SMFIP_* bits
  std::array<std::vector<std::pair<std::string, std::string>>, protocol::stage::kCount> macros_;
  std::unique_ptr<Session> session_;
  bool failed_ = false;  // an internal error happened in a no-reply step
  protocol::Writer* out_ = nullptr;  // where the Session's edits go, during endOfMessage()
};

}  // namespace authmilter::milter
