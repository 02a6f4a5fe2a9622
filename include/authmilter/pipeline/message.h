// What the stages see: the SMTP connection and the message in progress, both plain C++
// filled by the milter Session from libmilter callbacks and macros. Stages never see
// libmilter types. Stages record results here ("record, don't write"); the Session alone
// turns them into the Authentication-Results header, the log line and the MTA's reply.
#pragma once

#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "authmilter/dmarc/dmarc.h"
#include "authmilter/mail/address.h"
#include "authmilter/net/ip_address.h"

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

// One verified DKIM signature, as DMARC needs it.
struct DkimSignature {
  std::string result;  // RFC 8601 result: "pass", "fail", ...
  std::string domain;  // d=
  std::string selector;
  bool countsForDmarc = false;  // pass, and not an l= signature that LBodyPolicy sets aside
  bool testing = false;         // key flag t=y (RFC 6376 §3.6.1)
};

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
  std::vector<AuthResult> results;              // for Authentication-Results
  std::vector<std::pair<std::string, std::string>> logFields;  // for the log line, in order
  std::vector<HeaderEdit> headerEdits;
  std::vector<DkimSignature> dkim;              // filled at end of message by DKIM verify
  dmarc::SpfInput spf;                          // the MAIL FROM check, filled by SPF for DMARC
  std::optional<dmarc::Outcome> dmarc;          // filled at end of message by DMARC

  bool authenticated() const { return !authLogin.empty(); }
};

// Why the sender-authentication checks (SPF, DKIM verify, DMARC) leave a message alone:
// "authenticated" (unless IgnoreAuthenticatedClients is off), "trusted" (TrustedNetworks),
// "ignored" (IgnoreHosts), "no client address" (mail the MTA took in locally, e.g. through
// Postfix's non_smtpd_milters: SPF has nothing to check, and it is not foreign mail);
// empty: check it.
inline std::string_view uncheckedBecause(const Connection& connection, const Message& message,
                                         bool ignoreAuthenticated) {
  if (message.authenticated() && ignoreAuthenticated) return "authenticated";
  if (connection.trustedNetwork) return "trusted";
  if (connection.ignored) return "ignored";
  if (!connection.address) return "no client address";
  return {};
}

}  // namespace authmilter::pipeline
