// The libmilter C callbacks (thin: each one becomes a call on the connection's Session)
// and their registration: the libmilter engine's half (libmilter_engine.cc has the rest).
#pragma once

namespace authmilter::milter {

// smfi_register with every callback and action later stages need. False on failure.
bool registerCallbacks();

}  // namespace authmilter::milter
