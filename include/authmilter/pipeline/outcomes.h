// What each check found for one message, as typed records: the stages fill them, and one
// writer each turns them into the Authentication-Results header (report/auth_results) and
// the log line (report/log_line); DMARC reads SPF's and DKIM's, and reports will read all.
// Results are RFC 8601 §2.7's words, as an enum.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/dmarc/dmarc.h"

namespace authmilter::pipeline {

// RFC 8601 §2.7 results (SPF uses softfail; DKIM policy).
enum class AuthStatus { None, Pass, Fail, SoftFail, Neutral, Policy, TempError, PermError };
std::string_view toString(AuthStatus status);  // "none", "pass", ...

// Why the sender-authentication checks (SPF, DKIM verification, DMARC) leave a message alone.
enum class Skip {
  None,             // check it
  Authenticated,    // SMTP AUTH (unless IgnoreAuthenticatedClients no): its mail is ours
  Trusted,          // TrustedNetworks
  Ignored,          // IgnoreHosts
  NoClientAddress,  // the MTA took it in locally (e.g. Postfix's non_smtpd_milters)
};
std::string_view toString(Skip skip);  // "", "authenticated", "trusted", "ignored", "no client address"

// Who the client is, decided once per message at MAIL FROM.
struct Trust {
  bool trustedNetwork = false;  // in TrustedNetworks
  bool ignored = false;         // in IgnoreHosts
  Skip checks = Skip::None;     // why the checks leave this message alone, if they do
};

// One SPF identity checked (RFC 7208 §2.3/§2.4).
struct SpfCheck {
  AuthStatus result = AuthStatus::None;
  std::string property;     // "smtp.mailfrom", or "smtp.helo" (HELO identity, null sender)
  std::string value;        // the identity as the A-R property shows it
  std::string domain;       // the <domain> checked (what DMARC aligns)
  std::string mechanism;    // what decided: "-all", "include:x", "default"
  std::string problem;      // temperror/permerror: why
  std::string explanation;  // a fail's exp= text, when fetched
};

struct SpfOutcome {
  Skip skipped = Skip::None;     // not checked (then nothing below is set)
  SpfCheck mailFrom;             // the MAIL FROM identity (for <>: the HELO identity)
  std::optional<SpfCheck> helo;  // the HELO identity, beside a non-null MAIL FROM
};

struct DkimSignatureOutcome {
  AuthStatus result = AuthStatus::None;
  std::string reason;  // why, in words; empty for a plain pass
  std::string domain, identity, selector, algorithm, bPrefix;  // d=, i=, s=, a=, b= (8 chars)
  bool countsForDmarc = false;  // a pass DMARC may align (LBodyPolicy decides for l=)
  bool testing = false;         // key flag t=y
};

struct DkimOutcome {
  Skip skipped = Skip::None;
  std::vector<DkimSignatureOutcome> signatures;  // empty: not signed (dkim=none)
  size_t unchecked = 0;                          // past MaximumSignatures
};

// One ARC set as the chain states it, and what checking it found.
struct ArcSetOutcome {
  unsigned instance = 0;
  std::string domain, selector, cv;  // the sealer (ARC-Seal d=, s=) and the cv= it stated
  std::string ams, seal;             // "pass", "fail", "temperror", "-" (not checked)
  std::string problem;               // what failed in this set
};

// The ARC chain the message arrived with (RFC 8617 §5.2). Authentication-Results and the log
// line show it (arc=) only when the message carries ARC header fields.
struct ArcOutcome {
  Skip skipped = Skip::None;
  AuthStatus result = AuthStatus::None;  // none, pass, fail, temperror
  std::string reason;                    // fail/temperror: why
  unsigned sets = 0;
  unsigned oldestPass = 0;               // pass: 0 = every ARC-Message-Signature validates
  bool carried = false;                  // the message has ARC header fields
  std::string remoteIp;                  // smtp.remote-ip
  std::vector<ArcSetOutcome> chain;      // by instance
};

// Our own ARC set (ARCSealing).
struct ArcSealOutcome {
  enum class Kind { Sealed, NotSealed, Failed } kind = Kind::NotSealed;
  unsigned instance = 0;
  std::string cv, domain, selector;  // Sealed
  std::string why;                   // NotSealed, Failed
};

// A DMARC failure we did not act on because of local policy, and why (RFC 9990 <reason>).
struct PolicyOverride {
  std::string type;     // "trusted_forwarder"
  std::string comment;  // "arc=pass as[1].d=lists.example"
};

struct DmarcOutcome {
  Skip skipped = Skip::None;
  std::optional<PolicyOverride> override;     // ARCTrustedSealers made the disposition none
  std::string malformedFrom;                 // the From header could not be read: why (permerror)
  std::optional<dmarc::Outcome> evaluation;  // the evaluation, when there was one
  dmarc::Policy applied = dmarc::Policy::None;  // what we did about it (RejectFailures no: none)
};

struct SignatureMade {
  std::string domain, selector, algorithm;
};

struct SignOutcome {
  enum class Kind { Signed, NotSigned, Failed } kind = Kind::NotSigned;
  std::vector<SignatureMade> signatures;  // Signed
  std::string why;                        // NotSigned, Failed
};

}  // namespace authmilter::pipeline
