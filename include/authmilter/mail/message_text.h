// A message file (RFC 5322 text, CRLF or bare LF line ends) taken apart the way an MTA
// hands it to a milter: header fields one by one (value after the colon, leading space
// kept, folded lines joined with CRLF), then the body in CRLF. For the tools and tests
// that replay .eml files through the checks.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace authmilter::mail {

struct MessageText {
  std::vector<std::pair<std::string, std::string>> headers;  // name, value
  std::string body;                                          // CRLF line ends
};

// Whether a header field's name is `wanted` (case-insensitive), allowing the blanks before
// the colon of RFC 5322 §4.5's obsolete syntax ("From :"): MTAs pass such a field on, and a
// reader sees the same field.
bool isHeaderNamed(std::string_view name, std::string_view wanted);

// Lines without a colon in the header section are skipped (they are not header fields).
MessageText splitMessageText(std::string_view raw);

// Writes "name:value" into `out` as the field stood on the wire, for libopendkim: Postfix
// joins folded lines with a bare LF, the signer saw (and the verifier must hash) CRLF.
void wireHeaderField(std::string_view name, std::string_view value, std::string& out);

// Line ends in a body streamed in chunks. `crBefore`: the body before `chunk` ended in CR.
// True if every LF in `chunk` follows a CR and every CR is followed by LF (a CR that ends the
// chunk counts as followed: the next chunk decides).
bool isCrlfOnly(std::string_view chunk, bool crBefore);
// Writes `chunk` to `out` with each bare LF and each bare CR turned into CRLF (a CR ending the
// body before `chunk` that is not followed by LF gets its LF here, at the start of `out`).
void mendLineEnds(std::string_view chunk, bool crBefore, std::string& out);

}  // namespace authmilter::mail
