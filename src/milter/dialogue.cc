// What both engines say alike (see dialogue.h).
#include "authmilter/milter/dialogue.h"

#include <atomic>

#include "authmilter/log/logger.h"
#include "authmilter/pipeline/stage.h"

namespace authmilter::milter {

namespace {
std::atomic<bool> g_draining{false};
}  // namespace

uint32_t requestedProtocol(uint32_t offered, unsigned hooks) {
  using namespace protocol::flag;
  // No reply wanted at connect, HELO, headers, end of headers, body: verdicts from those are
  // given at MAIL FROM or end of message. MAIL and RCPT keep their replies (relay policy).
  uint32_t wanted = kNoReplyConnect | kNoReplyHelo | kNoReplyHeader | kNoReplyEndOfHeaders | kNoReplyBody |
                    kNoUnknown | kNoData | kHeaderLeadingSpace;
  if (!(hooks & pipeline::kHookBody)) wanted |= kNoBody;
  if (!(hooks & pipeline::kHookEndOfHeaders)) wanted |= kNoEndOfHeaders;
  return wanted & offered;
}

void checkOfferedActions(uint32_t offered) {
  constexpr uint32_t kEdit = protocol::action::kAddHeaders | protocol::action::kChangeHeaders;
  if ((offered & kEdit) != kEdit) {
    log::warning("MTA does not allow adding/changing headers: no Authentication-Results will be written");
  }
}

std::string replyText(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20) continue;
    if (c == '%') out.push_back('%');
    out.push_back(c);
  }
  return out;
}

void setDraining(bool draining) { g_draining.store(draining); }
bool draining() { return g_draining.load(); }

}  // namespace authmilter::milter
