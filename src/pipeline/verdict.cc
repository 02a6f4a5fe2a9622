// Verdict precedence (see verdict.h for why the ladder is in this order).
#include "authmilter/pipeline/verdict.h"

namespace authmilter::pipeline {

std::string_view toString(Disposition d) {
  switch (d) {
    case Disposition::Continue: return "accept";
    case Disposition::Quarantine: return "quarantine";
    case Disposition::Discard: return "discard";
    case Disposition::Reject: return "reject";
    case Disposition::Tempfail: return "tempfail";
  }
  return "accept";
}

std::string SmtpReply::toString() const {
  if (code.empty()) return {};
  std::string out = code;
  if (!enhanced.empty()) out += " " + enhanced;
  if (!text.empty()) out += " " + text;
  return out;
}

Verdict Verdict::reject(std::string code, std::string enhanced, std::string text, std::string reason) {
  return {Disposition::Reject, {std::move(code), std::move(enhanced), std::move(text)}, std::move(reason)};
}

Verdict Verdict::tempfail(std::string code, std::string enhanced, std::string text, std::string reason) {
  return {Disposition::Tempfail, {std::move(code), std::move(enhanced), std::move(text)}, std::move(reason)};
}

Verdict Verdict::dnsTempfail(std::string_view check, std::string_view what, std::string_view why) {
  return tempfail("451", "4.4.3",
                  std::string(check) + ": temporary DNS error for " + std::string(what) + ", try again later",
                  std::string(check) + " temperror: " + std::string(why));
}

Verdict Verdict::quarantine(std::string reason) { return {Disposition::Quarantine, {}, std::move(reason)}; }

Verdict Verdict::discard(std::string reason) { return {Disposition::Discard, {}, std::move(reason)}; }

const Verdict& stronger(const Verdict& a, const Verdict& b) { return b.disposition > a.disposition ? b : a; }

}  // namespace authmilter::pipeline
