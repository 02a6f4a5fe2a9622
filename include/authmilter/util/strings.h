// Small string helpers shared by the config loader, the policy sets and the pipeline.
// ASCII only: mail protocol keywords, domains (after IDNA) and conf keys are ASCII.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace authmilter::util {

std::string toLower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istartsWith(std::string_view s, std::string_view prefix);
std::string_view trim(std::string_view s);
// Whether `names` holds `name`, compared case-insensitively (a {daemon_name} against
// SubmissionDaemons or SigningDaemons); an empty name is in no list.
bool listed(const std::vector<std::string>& names, std::string_view name);
// Splits on runs of blanks and commas; empty fields are dropped.
std::vector<std::string> splitList(std::string_view s);
// Replaces control characters (CR, LF, NUL, ...) by '?': for values that come from the
// network and end up in a log line or a header.
std::string sanitize(std::string_view s);
// "text" in double quotes, '"' and '\\' escaped, bytes outside printable ASCII as \DDD (the
// zone-file form): DNS text shown printable and unambiguous.
std::string quoteEscaped(std::string_view s);
// Whether domain `name` is `parent` or below it ("a.example.com", "example.com"); both
// lower case, without a final dot.
bool isSelfOrBelow(std::string_view name, std::string_view parent);
// Bytes as lower-case hex digits, two a byte.
std::string hexLower(const unsigned char* bytes, size_t size);

}  // namespace authmilter::util
