// Authentication-Results (RFC 8601): formatting ours, and recognising incoming ones that
// claim to be ours so they can be removed (§5: an MTA MUST remove such forgeries).
// Pure functions; the Session applies the edits.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authmilter/pipeline/message.h"

namespace authmilter::report {

inline constexpr std::string_view kAuthResultsHeader = "Authentication-Results";

// "mx.example.org;\n\tauth=pass smtp.auth=alice" or "mx.example.org; none" (§2.2) when no
// method produced a result. Folded with "\n\t" between results, as milters hand headers over.
std::string formatAuthResults(std::string_view authservId, const std::vector<pipeline::AuthResult>& results);

// The results of `message`'s typed outcomes, in order: auth (SMTP AUTH), spf (MAIL FROM,
// then HELO), dkim (each signature, or none), arc (when the message carries ARC header
// fields), dmarc. A check that left the message alone,
// or did not run, has none.
std::vector<pipeline::AuthResult> authResultsOf(const pipeline::Message& message);
// arc=RESULT header.oldest-pass=N smtp.remote-ip=IP (RFC 8617 §10.1; oldest-pass on a pass).
pipeline::AuthResult arcAuthResult(const pipeline::ArcOutcome& arc);
// Our header value for `message`.
inline std::string authResultsHeader(std::string_view authservId, const pipeline::Message& message) {
  return formatAuthResults(authservId, authResultsOf(message));
}

// RFC 8601 §2.2 pvalue: as is when it is a plain token or local-part@domain, else a
// quoted-string; control characters are dropped (no header injection from a SASL login).
std::string formatPropertyValue(std::string_view value);

// The authserv-id an Authentication-Results value starts with (after CFWS), whether or not
// the rest parses; nullopt when there is none at all.
std::optional<std::string> authservIdOf(std::string_view headerValue);

// What an incoming Authentication-Results header claims about our authserv-id (§5: every
// one that claims it must go).
enum class AuthservIdClaim {
  NotOurs,     // another id, or none ("mx.example.org.evil", "xmx.example.org")
  Ours,        // our id compared as a domain name: any case, with or without a final dot
  Suspicious,  // our id once its non-ASCII bytes are dropped ("mx.example.org<U+00A0>"): not
               // ours by the grammar, but made to look ours to a reader; removed and logged
};
AuthservIdClaim claimOf(std::string_view headerValue, std::string_view ourId);

// The incoming Authentication-Results of one message that claim our id, counted as the MTAs
// count them when asked to delete one by its index: among the headers of that name,
// "Authentication-Results :" (a blank before the colon) included. Feed it every header;
// clear() between messages.
class ForgedAuthResults {
 public:
  explicit ForgedAuthResults(std::string ourId) : ourId_(std::move(ourId)) {}
  void header(std::string_view name, std::string_view value);
  void clear();
  // 1-based indexes among the Authentication-Results headers, in message order.
  const std::vector<size_t>& indexes() const { return forged_; }
  size_t lookalikes() const { return lookalikes_; }  // of those, Suspicious ones

 private:
  std::string ourId_;
  size_t seen_ = 0;
  std::vector<size_t> forged_;
  size_t lookalikes_ = 0;
};

}  // namespace authmilter::report
