// The libmilter C callbacks (thin: each one becomes a call on the connection's Session)
// and their registration.
#pragma once

namespace authmilter::milter {

// While draining (graceful stop), MAIL FROM gets "451 4.3.2" so that no new message
// starts; messages already in progress finish normally.
void setDraining(bool draining);

// smfi_register with every callback and action later stages need. False on failure.
bool registerCallbacks();

// The protocol bits authmilter asks the MTA for, given what it offers and which events the
// configured stages use (pipeline::Hook bits). Exposed for tests.
unsigned long requestedProtocol(unsigned long offered, unsigned hooks);

}  // namespace authmilter::milter
