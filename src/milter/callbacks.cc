// libmilter glue. Each callback: find the connection's state, call the Session, map the
// Verdict to an sfsistat (and smfi_setreply). Nothing unwinds into C: an exception
// becomes "451 4.3.0" at the next step that can answer. Steps negotiated as no-reply
// return SMFIS_NOREPLY, as libmilter requires.
#include "authmilter/milter/callbacks.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "authmilter/log/logger.h"
#include "authmilter/milter/config_store.h"
#include "authmilter/milter/dialogue.h"
#include "authmilter/milter/libmilter_context.h"
#include "authmilter/milter/session.h"
#include "authmilter/pipeline/stage.h"

namespace authmilter::milter {

namespace {

using pipeline::Disposition;
using pipeline::Verdict;

static_assert(kActions == (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST));

struct ConnectionState {
  std::shared_ptr<const runtime::Runtime> runtime;
  unsigned long protocol = 0;  // negotiated SMFIP_* bits
  LibmilterContext context;
  std::unique_ptr<Session> session;
  bool failed = false;  // an internal error happened in a no-reply step

  ConnectionState(std::shared_ptr<const runtime::Runtime> r, SMFICTX* ctx) : runtime(std::move(r)), context(ctx) {}
};

// The protocol negotiated on each libmilter context: after SMFIC_QUIT_NC (xxfi_close, then
// the next session on the same connection, without a new negotiation) the next session's
// state starts from it. libmilter tells us nothing when a connection ends, so an entry is
// only ever replaced, at the next negotiation on a context at that address; the map holds
// one entry per address libmilter has used for a context, about the most connections ever
// open at once. (A thread_local was wrong: libmilter's worker pool may go on with a
// connection on another thread.)
class NegotiatedProtocols {
 public:
  void set(SMFICTX* ctx, unsigned long protocol) {
    std::lock_guard lock(mutex_);
    protocols_[ctx] = protocol;
  }
  unsigned long get(SMFICTX* ctx) {
    std::lock_guard lock(mutex_);
    const auto it = protocols_.find(ctx);
    return it == protocols_.end() ? 0 : it->second;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<SMFICTX*, unsigned long> protocols_;
};

NegotiatedProtocols& negotiatedProtocols() {
  static auto* protocols = new NegotiatedProtocols;  // never destroyed: sessions may outlive main
  return *protocols;
}

ConnectionState* stateOf(SMFICTX* ctx) { return static_cast<ConnectionState*>(smfi_getpriv(ctx)); }

ConnectionState* ensureState(SMFICTX* ctx) {
  ConnectionState* state = stateOf(ctx);
  if (state == nullptr) {
    state = new ConnectionState(currentRuntime(), ctx);
    state->protocol = negotiatedProtocols().get(ctx);
    smfi_setpriv(ctx, state);
  }
  return state;
}

sfsistat toStatus(SMFICTX* ctx, const Verdict& v) {
  switch (v.disposition) {
    case Disposition::Continue:
    case Disposition::Quarantine:
      return SMFIS_CONTINUE;
    case Disposition::Discard:
      return SMFIS_DISCARD;
    case Disposition::Reject:
    case Disposition::Tempfail:
      if (!v.reply.empty()) {
        std::string text = replyText(v.reply.text);
        smfi_setreply(ctx, const_cast<char*>(v.reply.code.c_str()),
                      v.reply.enhanced.empty() ? nullptr : const_cast<char*>(v.reply.enhanced.c_str()),
                      const_cast<char*>(text.c_str()));
      }
      return v.disposition == Disposition::Reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
  }
  return SMFIS_CONTINUE;
}

sfsistat internalError(SMFICTX* ctx) {
  smfi_setreply(ctx, const_cast<char*>("451"), const_cast<char*>("4.3.0"),
                const_cast<char*>("Internal error in authmilter, try again later"));
  return SMFIS_TEMPFAIL;
}

// Runs `fn` on the session. `noReplyBit`: the SMFIP_NR_* bit of this step (0 if the step
// always replies). A step without a session (no connect seen) passes.
template <typename Fn>
sfsistat guarded(SMFICTX* ctx, unsigned long noReplyBit, const char* step, Fn fn) {
  ConnectionState* state = stateOf(ctx);
  const bool noReply = state != nullptr && (state->protocol & noReplyBit) != 0;
  if (state == nullptr || !state->session) return noReply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
  try {
    if (state->failed && !noReply) return internalError(ctx);
    const Verdict v = fn(*state->session);
    return noReply ? SMFIS_NOREPLY : toStatus(ctx, v);
  } catch (const std::exception& e) {
    log::error(std::string("internal error at ") + step + ": " + e.what());
  } catch (...) {
    log::error(std::string("internal error at ") + step);
  }
  state->failed = true;
  return noReply ? SMFIS_NOREPLY : internalError(ctx);
}

std::vector<std::string> args(char** argv) {
  std::vector<std::string> out;
  for (; argv != nullptr && *argv != nullptr; ++argv) out.emplace_back(*argv);
  return out;
}

std::optional<net::IpAddress> addressOf(const struct sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    std::array<uint8_t, 4> b{};
    std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return net::IpAddress::fromV4(b);
  }
  if (sa->sa_family == AF_INET6) {
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    return net::IpAddress::fromV6(b);
  }
  return std::nullopt;
}

extern "C" {

sfsistat onNegotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                     unsigned long* pf0, unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
  ConnectionState* state = ensureState(ctx);
  *pf0 = kActions & f0;
  *pf1 = requestedProtocol(static_cast<uint32_t>(f1), state->runtime->hooks);
  *pf2 = 0;
  *pf3 = 0;
  state->protocol = *pf1;
  negotiatedProtocols().set(ctx, *pf1);
  checkOfferedActions(static_cast<uint32_t>(f0));
  if (f0 & SMFIF_SETSYMLIST) {
    for (const auto& [stage, macros] : kMacroLists) {
      smfi_setsymlist(ctx, static_cast<int>(stage), const_cast<char*>(macros));
    }
  }
  return SMFIS_CONTINUE;
}

sfsistat onConnect(SMFICTX* ctx, char* hostname, struct sockaddr* address) {
  ConnectionState* state = ensureState(ctx);
  try {
    state->session = std::make_unique<Session>(state->runtime, state->context,
                                               (state->protocol & SMFIP_HDR_LEADSPC) != 0);
  } catch (const std::exception& e) {
    log::error(std::string("cannot start session: ") + e.what());
    return (state->protocol & SMFIP_NR_CONN) ? SMFIS_NOREPLY : SMFIS_TEMPFAIL;
  }
  return guarded(ctx, SMFIP_NR_CONN, "connect", [&](Session& s) {
    return s.connect(hostname ? hostname : "", addressOf(address));
  });
}

sfsistat onHelo(SMFICTX* ctx, char* name) {
  return guarded(ctx, SMFIP_NR_HELO, "helo", [&](Session& s) {
    s.helo(name ? name : "");
    return Verdict{};
  });
}

sfsistat onMailFrom(SMFICTX* ctx, char** argv) {
  return guarded(ctx, SMFIP_NR_MAIL, "mail", [&](Session& s) {
    if (draining()) {
      return Verdict::tempfail("451", "4.3.2", "Mail filter restarting, try again later", "draining");
    }
    return s.mailFrom(args(argv));
  });
}

sfsistat onRcpt(SMFICTX* ctx, char** argv) {
  return guarded(ctx, SMFIP_NR_RCPT, "rcpt", [&](Session& s) { return s.rcpt(args(argv)); });
}

sfsistat onHeader(SMFICTX* ctx, char* name, char* value) {
  return guarded(ctx, SMFIP_NR_HDR, "header",
                 [&](Session& s) { return s.header(name ? name : "", value ? value : ""); });
}

sfsistat onEndOfHeaders(SMFICTX* ctx) {
  return guarded(ctx, SMFIP_NR_EOH, "eoh", [&](Session& s) { return s.endOfHeaders(); });
}

sfsistat onBody(SMFICTX* ctx, unsigned char* chunk, size_t length) {
  return guarded(ctx, SMFIP_NR_BODY, "body", [&](Session& s) {
    return s.body(std::string_view(reinterpret_cast<const char*>(chunk), length));
  });
}

sfsistat onEndOfMessage(SMFICTX* ctx) {
  ConnectionState* state = stateOf(ctx);
  if (state != nullptr && state->failed && state->session) {
    state->failed = false;  // the next message gets a fresh chance
    state->session->abort();
    return internalError(ctx);
  }
  return guarded(ctx, 0, "eom", [&](Session& s) { return s.endOfMessage(); });
}

sfsistat onAbort(SMFICTX* ctx) {
  ConnectionState* state = stateOf(ctx);
  if (state != nullptr) state->failed = false;
  guarded(ctx, 0, "abort", [&](Session& s) {
    s.abort();
    return Verdict{};
  });
  return SMFIS_CONTINUE;
}

sfsistat onClose(SMFICTX* ctx) {
  ConnectionState* state = stateOf(ctx);
  if (state != nullptr) {
    try {
      if (state->session) state->session->close();
    } catch (...) {
      log::error("internal error at close");
    }
    delete state;
    smfi_setpriv(ctx, nullptr);
  }
  return SMFIS_CONTINUE;
}

}  // extern "C"

}  // namespace

bool registerCallbacks() {
  // libmilter reads one milter packet (a header field, a body chunk) of at most 64 KB by
  // default and drops the connection on a longer header field, which the MTA answers with
  // milter_default_action (tempfail) on every retry until the message bounces days later.
  // Postfix sends a header field whole, as long as its header_size_limit lets it be, without
  // negotiating a size; so we read up to 16 MiB, more than Postfix's default
  // message_size_limit (10 MB): any header field a default Postfix passes is read, and what we
  // keep of the headers stays bounded by DKIMMaxHeaderBytes (past it DKIM says permerror).
  // sendmail sends more than 64 KB only with SMFIP_MDS_256K/1M negotiated, which Debian's
  // libmilter (built without _FFR_MDS_NEGOTIATE; SMFI_INTERNAL masks a milter's own request)
  // cannot do: sendmail refuses such a header field itself (see README).
  constexpr size_t kMaxPacket = 16 * 1024 * 1024;
  smfi_setmaxdatasize(kMaxPacket);
  struct smfiDesc desc {};
  desc.xxfi_name = const_cast<char*>("authmilter");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = kActions;
  desc.xxfi_connect = onConnect;
  desc.xxfi_helo = onHelo;
  desc.xxfi_envfrom = onMailFrom;
  desc.xxfi_envrcpt = onRcpt;
  desc.xxfi_header = onHeader;
  desc.xxfi_eoh = onEndOfHeaders;
  desc.xxfi_body = onBody;
  desc.xxfi_eom = onEndOfMessage;
  desc.xxfi_abort = onAbort;
  desc.xxfi_close = onClose;
  desc.xxfi_negotiate = onNegotiate;
  return smfi_register(desc) == MI_SUCCESS;
}

}  // namespace authmilter::milter
