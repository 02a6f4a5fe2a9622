// The DMARC policy record (RFC 9989 §4.7, §4.8): a DKIM-style tag list whose first tag
// must be v=DMARC1. Tag names and values compare case-insensitively (ABNF literals are),
// except "DMARC1" (%s, case-sensitive). Unknown tags are ignored; a known tag with a value
// outside its grammar keeps the default and is noted in `problems`.
#include <algorithm>
#include <charconv>
#include <vector>

#include "authmilter/dmarc/dmarc.h"
#include "authmilter/util/strings.h"

namespace authmilter::dmarc {

std::string_view toString(Policy policy) {
  switch (policy) {
    case Policy::None: return "none";
    case Policy::Quarantine: return "quarantine";
    case Policy::Reject: return "reject";
    case Policy::Unset: break;
  }
  return "";
}

std::string_view toString(Result result) {
  switch (result) {
    case Result::Pass: return "pass";
    case Result::Fail: return "fail";
    case Result::TempError: return "temperror";
    case Result::PermError: return "permerror";
    case Result::None: break;
  }
  return "none";
}

namespace {

std::string_view trimWsp(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The items of a `separator`-separated list, each without the blanks around it; empty items
// are kept (callers decide what an empty one means).
std::vector<std::string_view> items(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const auto end = text.find(separator, start);
    out.push_back(trimWsp(text.substr(start, end == std::string_view::npos ? end : end - start)));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::optional<Policy> parsePolicy(std::string_view v) {
  if (util::iequals(v, "none")) return Policy::None;
  if (util::iequals(v, "quarantine")) return Policy::Quarantine;
  if (util::iequals(v, "reject")) return Policy::Reject;
  return std::nullopt;
}

// RFC 3986 URI, as far as "syntactically valid" needs: scheme ":" and a non-empty rest
// without blanks; an obsolete "!size" suffix (RFC 7489) is allowed.
bool validUri(std::string_view uri) {
  const auto bang = uri.rfind('!');
  if (bang != std::string_view::npos && uri.find(':') < bang) uri = uri.substr(0, bang);
  const auto colon = uri.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon + 1 == uri.size()) return false;
  for (size_t i = 0; i < colon; ++i) {
    const char c = uri[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))) return false;
  }
  for (char c : uri.substr(colon + 1)) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
  }
  return true;
}

void setPolicy(Record& r, std::string_view tag, std::string_view value, Policy& field, bool& invalid) {
  if (auto p = parsePolicy(value)) {
    field = *p;
  } else {
    invalid = true;
    r.problems.push_back(std::string(tag) + "=" + util::sanitize(value) + " is not none, quarantine or reject");
  }
}

// y/n (t), y/n/u (psd), r/s (adkim, aspf): one letter out of `allowed`.
std::optional<char> letter(std::string_view value, std::string_view allowed) {
  if (value.size() != 1) return std::nullopt;
  const char c = static_cast<char>(value[0] | 0x20);
  if (allowed.find(c) == std::string_view::npos) return std::nullopt;
  return c;
}

}  // namespace

std::optional<Record> parseRecord(std::string_view text) {
  Record r;
  r.text = std::string(text);
  bool first = true;
  std::vector<std::string> seen;
  for (const std::string_view item : items(text, ';')) {
    const auto eq = item.find('=');
    const std::string name = util::toLower(trimWsp(item.substr(0, eq)));
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : trimWsp(item.substr(eq + 1));
    if (first) {
      // v=DMARC1 first, exactly (RFC 9989 §4.7 "v"), or this is not a DMARC record.
      if (name != "v" || eq == std::string_view::npos || value != "DMARC1") return std::nullopt;
      first = false;
      continue;
    }
    if (item.empty()) continue;  // "; ;" or a final ';'
    if (eq == std::string_view::npos || name.empty()) {
      r.problems.push_back("'" + util::sanitize(item) + "' is not a tag=value pair");
      continue;
    }
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      // RFC 6376 §3.2 tag lists: a duplicate tag is an error; the first value stays.
      r.problems.push_back("duplicate tag " + util::sanitize(name) + "=");
      if (name == "p") r.pInvalid = true;
      if (name == "sp") r.spInvalid = true;
      if (name == "np") r.npInvalid = true;
      continue;
    }
    seen.push_back(name);
    if (name == "p") {
      setPolicy(r, name, value, r.p, r.pInvalid);
    } else if (name == "sp") {
      setPolicy(r, name, value, r.sp, r.spInvalid);
    } else if (name == "np") {
      setPolicy(r, name, value, r.np, r.npInvalid);
    } else if (name == "adkim" || name == "aspf") {
      const auto c = letter(value, "rs");
      if (!c) r.problems.push_back(name + "=" + util::sanitize(value) + " is not r or s (r used)");
      (name == "adkim" ? r.strictDkim : r.strictSpf) = c == 's';
    } else if (name == "t") {
      const auto c = letter(value, "yn");
      if (!c) r.problems.push_back("t=" + util::sanitize(value) + " is not y or n (n used)");
      r.testing = c == 'y';
    } else if (name == "psd") {
      const auto c = letter(value, "ynu");
      if (!c) r.problems.push_back("psd=" + util::sanitize(value) + " is not y, n or u (u used)");
      r.psd = c.value_or('u');
    } else if (name == "pct") {
      int pct = -1;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), pct);
      if (ec != std::errc() || ptr != value.data() + value.size() || pct < 0 || pct > 100) {
        r.problems.push_back("pct=" + util::sanitize(value) + " is not 0-100 (100 used)");
      } else {
        r.pct = pct;
      }
    } else if (name == "rua") {
      for (const std::string_view uri : items(value, ',')) {
        if (uri.empty()) continue;
        r.rua.emplace_back(uri);
        r.ruaValid = r.ruaValid || validUri(uri);
      }
    } else if (name == "ruf") {
      for (const std::string_view uri : items(value, ',')) {
        if (!uri.empty()) r.ruf.emplace_back(uri);
      }
    } else if (name == "fo") {
      // fo=0:1:d:s; letters other than these are ignored, none at all means 0.
      std::string fo;
      for (const std::string_view option : items(value, ':')) {
        if (option.size() == 1 && std::string_view("01ds").find(option[0]) != std::string_view::npos) {
          fo += option[0];
        } else {
          r.problems.push_back("fo=" + util::sanitize(value) + ": '" + util::sanitize(option) + "' is not 0, 1, d or s");
        }
      }
      r.fo = fo.empty() ? "0" : fo;
    }
    // rf, ri and unknown tags: nothing to decide here.
  }
  return r;
}

}  // namespace authmilter::dmarc
