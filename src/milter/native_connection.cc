// NativeConnection: the milter protocol's commands -> Session calls -> reply bytes. Answers
// as libmilter's engine (callbacks.cc over libmilter) does: a step negotiated as no-reply
// gets none, an internal error becomes "451 4.3.0" at the next step that answers, a step
// before CONNECT passes.
#include "authmilter/milter/native_connection.h"

#include <cctype>

#include "authmilter/log/logger.h"
#include "authmilter/milter/config_store.h"
#include "authmilter/milter/dialogue.h"

namespace authmilter::milter {

namespace cmd = protocol::command;
namespace flag = protocol::flag;
using pipeline::Disposition;
using pipeline::Verdict;

NativeConnection::NativeConnection(std::string peer) : peer_(std::move(peer)) {}

NativeConnection::~NativeConnection() { end(); }

void NativeConnection::end() {
  if (!session_) return;
  try {
    session_->close();
  } catch (...) {
    log::error("internal error at close");
  }
  session_.reset();
}

NativeConnection::Next NativeConnection::protocolError(const std::string& what) {
  log::warning("milter protocol error from " + peer_ + ": " + what + "; connection closed");
  return Next::Close;
}

void NativeConnection::clearMacrosFrom(uint32_t stage) {
  for (uint32_t i = stage; i < protocol::stage::kCount; ++i) macros_[i].clear();
}

std::optional<std::string> NativeConnection::macro(std::string_view name) {
  // As libmilter's smfi_getsymval: the latest stage first; "i" also finds "{i}" and back.
  std::string alternative;
  if (name.size() == 3 && name.front() == '{' && name.back() == '}') alternative = std::string(1, name[1]);
  if (name.size() == 1) alternative = "{" + std::string(name) + "}";
  for (auto list = macros_.rbegin(); list != macros_.rend(); ++list) {
    for (const auto& [key, value] : *list) {
      if (key == name || (!alternative.empty() && key == alternative)) return value;
    }
  }
  return std::nullopt;
}

bool NativeConnection::insertHeader(size_t index, const std::string& name, const std::string& value) {
  if (out_ == nullptr || !allowed(protocol::action::kAddHeaders)) return false;
  out_->insertHeader(static_cast<uint32_t>(index), name, value);
  return true;
}

bool NativeConnection::addHeader(const std::string& name, const std::string& value) {
  if (out_ == nullptr || !allowed(protocol::action::kAddHeaders)) return false;
  out_->addHeader(name, value);
  return true;
}

bool NativeConnection::deleteHeader(const std::string& name, size_t index) {
  if (out_ == nullptr || !allowed(protocol::action::kChangeHeaders)) return false;
  out_->changeHeader(static_cast<uint32_t>(index), name, "");
  return true;
}

bool NativeConnection::quarantine(const std::string& reason) {
  if (out_ == nullptr || !allowed(protocol::action::kQuarantine) || reason.empty()) return false;
  out_->quarantine(reason);
  return true;
}

void NativeConnection::answer(const Verdict& v, protocol::Writer& out) {
  switch (v.disposition) {
    case Disposition::Continue:
    case Disposition::Quarantine:
      out.simple(protocol::reply::kContinue);
      return;
    case Disposition::Discard:
      out.simple(protocol::reply::kDiscard);
      return;
    case Disposition::Reject:
    case Disposition::Tempfail: {
      const bool reject = v.disposition == Disposition::Reject;
      // As smfi_setreply + libmilter: a reply line only when its code is the verdict's kind.
      const std::string& code = v.reply.code;
      const bool valid = code.size() == 3 && code[0] == (reject ? '5' : '4') &&
                         std::isdigit(static_cast<unsigned char>(code[1])) &&
                         std::isdigit(static_cast<unsigned char>(code[2]));
      if (!valid) {
        out.simple(reject ? protocol::reply::kReject : protocol::reply::kTempfail);
        return;
      }
      std::string line = code;
      if (!v.reply.enhanced.empty()) line += " " + v.reply.enhanced;
      const std::string text = replyText(v.reply.text);
      if (!text.empty()) line += " " + text;
      out.replyCode(line);
      return;
    }
  }
}

void NativeConnection::internalError(protocol::Writer& out) {
  answer(Verdict::tempfail("451", "4.3.0", "Internal error in authmilter, try again later", "internal error"), out);
}

template <typename Fn>
void NativeConnection::step(bool silent, const char* name, protocol::Writer& out, Fn fn) {
  if (!session_) {
    if (!silent) out.simple(protocol::reply::kContinue);
    return;
  }
  try {
    if (failed_ && !silent) return internalError(out);
    const Verdict v = fn(*session_);
    if (!silent) answer(v, out);
    return;
  } catch (const std::exception& e) {
    log::error(std::string("internal error at ") + name + ": " + e.what());
  } catch (...) {
    log::error(std::string("internal error at ") + name);
  }
  failed_ = true;
  if (!silent) internalError(out);
}

NativeConnection::Next NativeConnection::negotiate(std::string_view data, protocol::Writer& out) {
  const auto offered = protocol::parseOptions(data);
  if (!offered) return protocolError("malformed option negotiation");
  if (offered->version < 2) return protocolError("protocol version " + std::to_string(offered->version));
  if (!runtime_) runtime_ = currentRuntime();
  actions_ = kActions & offered->actions;
  protocol_ = requestedProtocol(offered->protocol, runtime_->hooks);
  checkOfferedActions(offered->actions);
  std::vector<std::pair<uint32_t, std::string>> lists;
  if (offered->actions & protocol::action::kSetMacroList) {
    for (const auto& [stage, names] : kMacroLists) lists.emplace_back(stage, names);
  }
  out.options({protocol::kVersion, actions_, protocol_}, lists);
  negotiated_ = true;
  return Next::Continue;
}

NativeConnection::Next NativeConnection::connect(std::string_view data, protocol::Writer& out) {
  const auto info = protocol::parseConnect(data);
  if (!info) return protocolError("malformed CONNECT");
  std::optional<net::IpAddress> address;
  if (info->family == '4' || info->family == '6') {
    std::string_view text = info->address;
    if (text.size() > 5 && (text.substr(0, 5) == "IPv6:" || text.substr(0, 5) == "ipv6:")) text.remove_prefix(5);
    address = net::IpAddress::parse(text);
    if (!address) return protocolError("CONNECT with address '" + info->address + "'");
  }
  end();  // a CONNECT without QUIT_NC before it: the earlier session is over
  failed_ = false;
  try {
    session_ = std::make_unique<Session>(runtime_, *this, (protocol_ & flag::kHeaderLeadingSpace) != 0);
  } catch (const std::exception& e) {
    log::error(std::string("cannot start session: ") + e.what());
    if (!noReply(flag::kNoReplyConnect)) out.simple(protocol::reply::kTempfail);
    return Next::Continue;
  }
  step(noReply(flag::kNoReplyConnect), "connect", out, [&](Session& s) { return s.connect(info->hostname, address); });
  return Next::Continue;
}

NativeConnection::Next NativeConnection::endOfMessage(std::string_view data, protocol::Writer& out) {
  if (!data.empty()) {  // the last body chunk may come with the end of message
    step(true, "body", out, [&](Session& s) { return s.body(data); });
  }
  if (failed_ && session_) {
    failed_ = false;  // the next message gets a fresh chance
    session_->abort();
    internalError(out);
  } else {
    out_ = &out;
    step(false, "eom", out, [&](Session& s) { return s.endOfMessage(); });
    out_ = nullptr;
  }
  clearMacrosFrom(protocol::stage::kMail);
  return Next::Continue;
}

NativeConnection::Next NativeConnection::handle(const protocol::Packet& packet, protocol::Writer& out) {
  if (packet.command == cmd::kOptions) return negotiate(packet.data, out);
  if (!negotiated_) {
    return protocolError(std::string("command '") + packet.command + "' before option negotiation");
  }
  switch (packet.command) {
    case cmd::kMacro: {
      const auto macros = protocol::parseMacros(packet.data);
      if (!macros) return protocolError("malformed macro list");
      const uint32_t stage = protocol::stageOf(macros->first);
      if (stage < protocol::stage::kCount) macros_[stage] = std::move(macros->second);
      return Next::Continue;
    }
    case cmd::kConnect:
      return connect(packet.data, out);
    case cmd::kHelo: {
      const auto args = protocol::parseStrings(packet.data);
      if (!args || args->empty()) return protocolError("malformed HELO");
      step(noReply(flag::kNoReplyHelo), "helo", out, [&](Session& s) {
        s.helo(args->front());
        return Verdict{};
      });
      return Next::Continue;
    }
    case cmd::kMail:
    case cmd::kRcpt: {
      const auto args = protocol::parseStrings(packet.data);
      if (!args) return protocolError("malformed MAIL/RCPT");
      if (packet.command == cmd::kMail) {
        step(noReply(flag::kNoReplyMail), "mail", out, [&](Session& s) {
          if (draining()) {
            return Verdict::tempfail("451", "4.3.2", "Mail filter restarting, try again later", "draining");
          }
          return s.mailFrom(*args);
        });
      } else {
        step(noReply(flag::kNoReplyRcpt), "rcpt", out, [&](Session& s) { return s.rcpt(*args); });
      }
      return Next::Continue;
    }
    case cmd::kHeader: {
      const auto header = protocol::parseHeader(packet.data);
      if (!header) return protocolError("malformed header");
      step(noReply(flag::kNoReplyHeader), "header", out, [&](Session& s) { return s.header(header->first, header->second); });
      return Next::Continue;
    }
    case cmd::kEndOfHeaders:
      step(noReply(flag::kNoReplyEndOfHeaders), "eoh", out, [&](Session& s) { return s.endOfHeaders(); });
      return Next::Continue;
    case cmd::kBody:
      step(noReply(flag::kNoReplyBody), "body", out, [&](Session& s) { return s.body(packet.data); });
      return Next::Continue;
    case cmd::kEndOfMessage:
      return endOfMessage(packet.data, out);
    case cmd::kAbort:
      failed_ = false;
      if (session_) {
        try {
          session_->abort();
        } catch (...) {
          log::error("internal error at abort");
        }
      }
      clearMacrosFrom(protocol::stage::kMail);
      return Next::Continue;
    case cmd::kData:
      if (!noReply(flag::kNoReplyData)) out.simple(protocol::reply::kContinue);
      return Next::Continue;
    case cmd::kUnknown:
      if (!noReply(flag::kNoReplyUnknown)) out.simple(protocol::reply::kContinue);
      return Next::Continue;
    case cmd::kQuitNewConnection:
      end();
      clearMacrosFrom(protocol::stage::kConnect);
      return Next::Continue;
    case cmd::kQuit:
      end();
      return Next::Close;
    default:
      return protocolError(std::string("unknown command 0x") + "0123456789abcdef"[(packet.command >> 4) & 0xf] +
                           "0123456789abcdef"[packet.command & 0xf]);
  }
}

}  // namespace authmilter::milter
