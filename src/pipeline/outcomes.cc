// Names of the typed outcomes, and the trust fact (see outcomes.h and message.h).
#include "authmilter/pipeline/outcomes.h"

#include "authmilter/pipeline/message.h"

namespace authmilter::pipeline {

std::string_view toString(AuthStatus status) {
  switch (status) {
    case AuthStatus::None: return "none";
    case AuthStatus::Pass: return "pass";
    case AuthStatus::Fail: return "fail";
    case AuthStatus::SoftFail: return "softfail";
    case AuthStatus::Neutral: return "neutral";
    case AuthStatus::Policy: return "policy";
    case AuthStatus::TempError: return "temperror";
    case AuthStatus::PermError: return "permerror";
  }
  return "none";
}

std::string_view toString(Skip skip) {
  switch (skip) {
    case Skip::None: return "";
    case Skip::Authenticated: return "authenticated";
    case Skip::Trusted: return "trusted";
    case Skip::Ignored: return "ignored";
    case Skip::NoClientAddress: return "no client address";
  }
  return "";
}

Trust trustOf(const Connection& connection, const Message& message, bool ignoreAuthenticated) {
  Trust t;
  t.trustedNetwork = connection.trustedNetwork;
  t.ignored = connection.ignored;
  if (message.authenticated() && ignoreAuthenticated) {
    t.checks = Skip::Authenticated;
  } else if (connection.trustedNetwork) {
    t.checks = Skip::Trusted;
  } else if (connection.ignored) {
    t.checks = Skip::Ignored;
  } else if (!connection.address) {
    // No client address: SPF has nothing to check, and it is not foreign mail.
    t.checks = Skip::NoClientAddress;
  }
  return t;
}

}  // namespace authmilter::pipeline
