// What the stages see: the SMTP connection and the message in progress, both plain C++
// filled by the Transaction from the MTA's events. Stages never see libmilter types. Stages
// record typed outcomes here ("record, don't write"); one writer turns them into the
// Authentication-Results header (report/auth_results), one into the log line
// (report/log_line).
#pragma once

#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "authmilter/mail/address.h"
#include "authmilter/mail/from.h"
#include "authmilter/net/ip_address.h"
#include "authmilter/pipeline/outcomes.h"

namespace authmilter::pipeline {

struct Connection {
  std::string hostname;                         // as the MTA reports it; "unknown" if unresolved
  std::optional<net::IpAddress> address;     // nullopt: unknown (never "trusted")
  std::string helo;
  std::string daemonName;                       // {daemon_name}
  std::string tlsVersion;                       // {tls_version}
  std::string cipher;                           // {cipher}
  // Facts recorded by the relay policy stage at connect time.
  bool trustedNetwork = false;                  // client in TrustedNetworks
  bool ignored = false;                         // client in IgnoreHosts: later stages skip their checks
  // The MTA hands header values on with the space after the colon (SMFIP_HDR_LEADSPC).
  bool headerLeadingSpace = false;
};

// A header value as it stood after the colon, space included: `value` itself when the MTA
// hands the space on (SMFIP_HDR_LEADSPC), else " " + value, made in `scratch`.
inline std::string_view valueAfterColon(const Connection& connection, std::string_view value, std::string& scratch) {
  if (connection.headerLeadingSpace) return value;
  scratch.assign(" ").append(value);
  return scratch;
}

// One method result for Authentication-Results (RFC 8601 §2.2):
// method=result (reason) ptype.property=value ...
struct AuthResult {
  std::string method;  // "auth", "spf", "dkim", "dmarc"
  std::string result;  // "pass", "fail", ...
  std::string reason;  // optional reason= text
  std::vector<std::pair<std::string, std::string>> properties;  // {"smtp.auth", "alice"}
  std::string comment = {};  // optional (comment) after the result, e.g. DMARC's "p=reject dis=reject"
};

// A header edit a stage asks for (e.g. DKIM-Signature); applied at end of message after
// the Authentication-Results edits.
struct HeaderEdit {
  enum class Kind { Add, Insert } kind = Kind::Add;
  size_t index = 0;  // for Insert
  std::string name;
  std::string value;
};

struct Message {
  std::string queueId;                          // {i}; empty until the MTA sends it
  std::string authLogin;                        // {auth_authen}; empty = not authenticated
  std::string authType;                         // {auth_type}
  mail::MailAddress sender;
  std::vector<std::string> recipients;          // accepted recipients, as given
  size_t rejectedRecipients = 0;
  Trust trust;                                  // decided at MAIL FROM, before the stages run
  // The From header field(s), read once by the Transaction at end of headers (or at end of
  // message when the MTA sends no end-of-headers event): DMARC's author domain and the first
  // local part the signing keys are chosen by, or why there is none.
  std::optional<mail::AuthorDomain> from;
  // What the checks found (nullopt: that check is switched off or never got to run).
  std::optional<SpfOutcome> spf;                // at MAIL FROM
  std::optional<DkimOutcome> dkim;              // at end of message
  std::optional<ArcOutcome> arc;                // at end of message (ARCVerify)
  std::optional<DmarcOutcome> dmarc;            // at end of message
  std::optional<SignOutcome> signing;           // at end of message, for mail that is ours
  std::optional<ArcSealOutcome> arcSeal;        // after end of message (ARCSealing)
  std::vector<HeaderEdit> headerEdits;
  // Forged Authentication-Results the transaction removes (for the log line).
  size_t removedAuthResults = 0;
  size_t removedLookalikes = 0;

  bool authenticated() const { return !authLogin.empty(); }
};

// The trust fact: whether the checks leave the message alone, and why. `ignoreAuthenticated`:
// IgnoreAuthenticatedClients.
Trust trustOf(const Connection& connection, const Message& message, bool ignoreAuthenticated);

}  // namespace authmilter::pipeline
