// What both milter engines (libmilter's and our own, src/milter/native_*.cc) say to the MTA
// in the same way: the actions and protocol steps asked for at negotiation, the macros
// wanted at each stage, the text of a reply line, and the draining flag of a graceful stop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "authmilter/milter/protocol.h"

namespace authmilter::milter {

// Header edits (the Authentication-Results, signatures, ARC sets), their removal, quarantine,
// and our own macro lists.
inline constexpr uint32_t kActions = protocol::action::kAddHeaders | protocol::action::kChangeHeaders |
                                     protocol::action::kQuarantine | protocol::action::kSetMacroList;

// Macros each stage of the SMTP dialogue needs (SMFIR_OPTNEG macro lists). Postfix and
// sendmail send these when asked; see README "Macros" for MTA versions that need configuration.
struct MacroList {
  uint32_t stage;
  const char* names;
};
inline constexpr MacroList kMacroLists[] = {
    {protocol::stage::kConnect, "{daemon_name} {client_addr} {client_name}"},
    {protocol::stage::kHelo, "{tls_version} {cipher}"},
    {protocol::stage::kMail, "i {auth_authen} {auth_type} {mail_addr}"},
    {protocol::stage::kRcpt, "{rcpt_addr}"},
    {protocol::stage::kEndOfMessage, "i"},
};

// The protocol bits authmilter asks the MTA for, given what it offers and which events the
// configured stages use (pipeline::Hook bits).
uint32_t requestedProtocol(uint32_t offered, unsigned hooks);

// Logs once per connection that no Authentication-Results can be written when the MTA
// does not let the milter add and change headers.
void checkOfferedActions(uint32_t offered);

// The text of a reply line as the MTA may take it: no control characters (CR/LF would break
// the reply), '%' doubled (sendmail formats the text).
std::string replyText(std::string_view text);

// While draining (graceful stop), MAIL FROM gets "451 4.3.2" so that no new message
// starts; messages already in progress finish normally.
void setDraining(bool draining);
bool draining();

}  // namespace authmilter::milter
