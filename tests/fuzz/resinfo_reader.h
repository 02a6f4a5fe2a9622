// A strict reader of Authentication-Results values (RFC 8601 §2.2 ABNF, with RFC 5322
// CFWS and quoted-strings; folds may be CRLF or the bare LF milters hand over), for the
// fuzzers' round trip: what report::formatAuthResults writes must read back to the results
// it was given. Stricter than a receiver needs to be: anything outside the grammar is
// refused. Only for tests; nothing in the daemon reads A-R this way.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace authmilter::fuzz {

struct ReadResult {
  std::string method, result;
  std::string comment;  // the first comment after the result ("" when none)
  std::optional<std::string> reason;
  std::vector<std::pair<std::string, std::string>> properties;  // {"smtp.mailfrom", value}
};

struct ReadAuthResults {
  std::string authservId;
  bool none = false;  // "; none"
  std::vector<ReadResult> results;
};

// nullopt with *error (where and what) when `value` is not an authres-payload.
std::optional<ReadAuthResults> readAuthResults(std::string_view value, std::string* error);

}  // namespace authmilter::fuzz
