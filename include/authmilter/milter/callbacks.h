// The libmilter C callbacks (thin: each one becomes a call on the connection's Session)
// and their registration.
#pragma once

namespace authmilter::milter {

// smfi_register with every callback and action later stages need. False on failure.
bool registerCallbacks();

// The protocol bits authmilter asks the MTA for, given what it offers and which events the
// configured stages use (pipeline::Hook bits). Exposed for tests.
unsigned long requestedProtocol(unsigned long offered, unsigned hooks);

}  // namespace authmilter::milter
