// Fuzz target: the DMARC policy record parser (dmarc::parseRecord). Invariants: no crash;
// a record exists only when the text starts with v=DMARC1; every value is within its grammar
// (policies, psd, pct 0-100, fo letters); problems are printable; and the record written
// back as a canonical tag list parses to the same values with no problems.
#include <string>
#include <string_view>

#include "authmilter/dmarc/dmarc.h"
#include "fuzz_support.h"

namespace {

using authmilter::dmarc::Policy;
using authmilter::dmarc::Record;

bool validPolicy(Policy p) {
  return p == Policy::Unset || p == Policy::None || p == Policy::Quarantine || p == Policy::Reject;
}

bool noControls(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// A list item that survives being written back between separators as it is.
bool plainItem(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.front() == '\t' || s.back() == ' ' || s.back() == '\t') return false;
  return s.find_first_of(";,") == std::string_view::npos;
}

void appendPolicy(std::string& out, const char* tag, Policy p, bool invalid) {
  if (p != Policy::Unset && !invalid) out += std::string("; ") + tag + "=" + std::string(authmilter::dmarc::toString(p));
}

void appendList(std::string& out, const char* tag, const std::vector<std::string>& uris) {
  if (uris.empty()) return;
  out += std::string("; ") + tag + "=";
  for (size_t i = 0; i < uris.size(); ++i) out += (i ? "," : "") + uris[i];
}

// The record as a canonical tag list (only values it holds as valid), or "" when some list
// item could not be written back unchanged.
std::string canonical(const Record& r) {
  std::string out = "v=DMARC1";
  appendPolicy(out, "p", r.p, r.pInvalid);
  appendPolicy(out, "sp", r.sp, r.spInvalid);
  appendPolicy(out, "np", r.np, r.npInvalid);
  out += std::string("; adkim=") + (r.strictDkim ? "s" : "r") + "; aspf=" + (r.strictSpf ? "s" : "r");
  out += std::string("; t=") + (r.testing ? "y" : "n") + "; psd=" + r.psd + "; pct=" + std::to_string(r.pct);
  out += "; fo=";
  for (size_t i = 0; i < r.fo.size(); ++i) out += (i ? ":" : "") + std::string(1, r.fo[i]);
  for (const auto* list : {&r.rua, &r.ruf}) {
    for (const auto& uri : *list) {
      if (!plainItem(uri)) return {};
    }
  }
  appendList(out, "rua", r.rua);
  appendList(out, "ruf", r.ruf);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = authmilter::fuzz::asText(data, size);
  const auto r = authmilter::dmarc::parseRecord(text);
  if (!r) return 0;
  FUZZ_CHECK(r->text == text);
  FUZZ_CHECK(text.find("DMARC1") != std::string_view::npos);
  FUZZ_CHECK(validPolicy(r->p) && validPolicy(r->sp) && validPolicy(r->np));
  FUZZ_CHECK(r->psd == 'y' || r->psd == 'n' || r->psd == 'u');
  FUZZ_CHECK(r->pct >= 0 && r->pct <= 100);
  FUZZ_CHECK(!r->fo.empty() && r->fo.find_first_not_of("01ds") == std::string::npos);
  if (r->policyInvalid()) FUZZ_CHECK(!r->problems.empty());
  for (const auto& p : r->problems) FUZZ_CHECK(noControls(p));
  for (const auto& uri : r->rua) FUZZ_CHECK(!uri.empty());
  if (r->ruaValid) FUZZ_CHECK(!r->rua.empty());

  const std::string again = canonical(*r);
  if (again.empty()) return 0;
  const auto back = authmilter::dmarc::parseRecord(again);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(back->problems.empty());
  FUZZ_CHECK(back->p == (r->pInvalid ? Policy::Unset : r->p));
  FUZZ_CHECK(back->sp == (r->spInvalid ? Policy::Unset : r->sp));
  FUZZ_CHECK(back->np == (r->npInvalid ? Policy::Unset : r->np));
  FUZZ_CHECK(back->strictDkim == r->strictDkim && back->strictSpf == r->strictSpf);
  FUZZ_CHECK(back->testing == r->testing && back->psd == r->psd && back->pct == r->pct);
  FUZZ_CHECK(back->fo == r->fo && back->rua == r->rua && back->ruf == r->ruf && back->ruaValid == r->ruaValid);
  return 0;
}
