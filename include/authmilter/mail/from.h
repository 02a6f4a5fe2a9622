// The RFC5322.From domain (the DMARC Author Domain, RFC 9989 §5.3.1): the From header
// fields of a message parsed as RFC 5322 §3.4 address lists (groups included, as RFC 6854
// allows in From; with the obsolete forms of §4.4 and the UTF-8 of RFC 6532), strictly:
// whatever is left over, unbalanced or stray makes the header malformed, because the forms
// other filters read leniently are the ones forged mail uses to slip a second domain past them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace authmilter::mail {

// A header name that means From: "From", any case, blanks allowed before the colon
// (RFC 5322 §4.5.2 obs-from, "From :"), so the name may end in blanks.
bool isFromHeader(std::string_view name);

// One mailbox of an address list.
struct Mailbox {
  std::string localPart;  // as written, quotes removed
  std::string domain;     // as written (no comments or blanks); empty: there was no '@'
  bool literal = false;   // the domain is a domain-literal "[192.0.2.1]"
};

// Parses one From header value (leading blanks and CRLF/LF folding allowed) as an
// address-list: mailboxes (addr-spec or name-addr), groups ("name: a@x, b@y;" yields a@x
// and b@y). A lone word without '@' ("user") is a Mailbox with an empty domain; an empty or
// CFWS-only value, or an empty group, gives an empty vector. nullopt with *error set (short,
// printable, fit for an SMTP reply, quoting at most 60 bytes of the value) when it is not an
// address list. Linear in the size of the value.
std::optional<std::vector<Mailbox>> parseAddressList(std::string_view value, std::string* error);

struct AuthorDomain {
  std::string domain;     // A-label, lower case (policy::normalizeDomain); empty on error
  std::string localPart;  // of the first mailbox (what signing keys are chosen by); empty on error
  std::string error;   // empty: ok. Otherwise what is wrong, printable, for the SMTP reply
  bool ok() const { return error.empty(); }
};

// The Author Domain from the values of every From header field of a message, in order.
// Errors: no From header; more than one; a malformed one; no mailbox; a mailbox without a
// domain or with an address literal or an invalid domain; mailboxes in more than one
// domain. Several mailboxes all in one domain are fine (RFC 9989 §5.3.1 counts domains).
AuthorDomain authorDomain(const std::vector<std::string>& fromValues);

}  // namespace authmilter::mail
