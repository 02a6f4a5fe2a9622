// Fuzz target: Authentication-Results (RFC 8601), both ways. The input is read twice:
// (1) as an incoming A-R value: the forged-A-R recogniser (report::authservIdOf, claimOf,
// ForgedAuthResults) and ARC's arcResultIn must not crash, and an id read from a value
// claims that value as ours; (2) as the choices for a Message's typed outcomes
// (FuzzedDataProvider): the header authmilter writes for it (report::authResultsHeader) must
// read back with the strict reader (resinfo_reader.h) to exactly the results it was made
// from (text the formatter drops — control characters, parentheses in comments — dropped
// from the expectation too), claim our id, and state the same arc= result.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>
#include <vector>

#include "authmilter/arc/arc.h"
#include "authmilter/report/auth_results.h"
#include "fuzz_support.h"
#include "resinfo_reader.h"

namespace {

using namespace authmilter;
using pipeline::AuthStatus;

constexpr std::string_view kOurId = "mx.test.example";

void recognise(std::string_view value) {
  if (const auto id = report::authservIdOf(value)) {
    FUZZ_CHECK(!id->empty());
    FUZZ_CHECK(report::claimOf(value, *id) == report::AuthservIdClaim::Ours);
  }
  report::ForgedAuthResults forged{std::string(kOurId)};
  forged.header("Authentication-Results", value);
  forged.header("X-Other", value);
  const bool claimed = report::claimOf(value, kOurId) != report::AuthservIdClaim::NotOurs;
  FUZZ_CHECK(forged.indexes().size() == (claimed ? 1u : 0u));
  FUZZ_CHECK(forged.lookalikes() <= forged.indexes().size());
  (void)arc::arcResultIn(value);
}

AuthStatus status(FuzzedDataProvider& p) {
  return p.PickValueInArray({AuthStatus::None, AuthStatus::Pass, AuthStatus::Fail, AuthStatus::SoftFail,
                             AuthStatus::Neutral, AuthStatus::Policy, AuthStatus::TempError, AuthStatus::PermError});
}

std::string text(FuzzedDataProvider& p) { return p.ConsumeRandomLengthString(80); }

pipeline::SpfCheck spfCheck(FuzzedDataProvider& p, bool helo) {
  pipeline::SpfCheck c;
  c.result = status(p);
  c.property = helo ? "smtp.helo" : "smtp.mailfrom";
  c.value = text(p);
  c.problem = text(p);
  return c;
}

dmarc::Policy policy(FuzzedDataProvider& p) {
  return p.PickValueInArray({dmarc::Policy::Unset, dmarc::Policy::None, dmarc::Policy::Quarantine, dmarc::Policy::Reject});
}

pipeline::Message message(FuzzedDataProvider& p) {
  pipeline::Message m;
  if (p.ConsumeBool()) m.authLogin = text(p);
  if (p.ConsumeBool()) {
    m.spf.emplace();
    m.spf->mailFrom = spfCheck(p, false);
    if (p.ConsumeBool()) m.spf->helo = spfCheck(p, true);
  }
  if (p.ConsumeBool()) {
    m.dkim.emplace();
    for (int n = p.ConsumeIntegralInRange(0, 3); n > 0; --n) {
      pipeline::DkimSignatureOutcome d;
      d.result = status(p);
      d.reason = text(p);
      d.domain = text(p);
      d.identity = text(p);
      d.selector = text(p);
      d.algorithm = text(p);
      d.bPrefix = text(p);
      m.dkim->signatures.push_back(std::move(d));
    }
  }
  if (p.ConsumeBool()) {
    m.arc.emplace();
    m.arc->carried = p.ConsumeBool();
    m.arc->result = p.PickValueInArray({AuthStatus::None, AuthStatus::Pass, AuthStatus::Fail, AuthStatus::TempError});
    m.arc->reason = text(p);
    m.arc->oldestPass = p.ConsumeIntegralInRange(0u, 50u);
    m.arc->remoteIp = text(p);
  }
  if (p.ConsumeBool()) {
    m.dmarc.emplace();
    if (p.ConsumeBool()) {
      m.dmarc->malformedFrom = text(p);
    } else if (p.ConsumeBool()) {
      dmarc::Outcome o;
      o.result = p.PickValueInArray({dmarc::Result::None, dmarc::Result::Pass, dmarc::Result::Fail,
                                     dmarc::Result::TempError, dmarc::Result::PermError});
      o.reason = text(p);
      o.authorDomain = text(p);
      if (p.ConsumeBool()) {
        o.record.emplace();
        o.record->p = policy(p);
        o.record->sp = policy(p);
        o.record->np = policy(p);
      }
      m.dmarc->evaluation = std::move(o);
      m.dmarc->applied = policy(p);
      if (p.ConsumeBool()) m.dmarc->override = pipeline::PolicyOverride{text(p), text(p)};
    }
  }
  return m;
}

// What the formatter keeps of a text: control characters go, and in a comment also the
// parentheses and backslashes.
std::string kept(std::string_view s, bool comment) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    if (comment && (c == '(' || c == ')' || c == '\\')) continue;
    out.push_back(c);
  }
  return out;
}

void roundTrip(FuzzedDataProvider& p) {
  const pipeline::Message m = message(p);
  const auto written = report::authResultsOf(m);
  const std::string header = report::authResultsHeader(kOurId, m);
  std::string error;
  const auto read = fuzz::readAuthResults(header, &error);
  if (!read) {
    std::fprintf(stderr, "unreadable A-R (%s): %s\n", error.c_str(), header.c_str());
    FUZZ_CHECK(read.has_value());
  }
  FUZZ_CHECK(read->authservId == kOurId);
  FUZZ_CHECK(read->none == written.empty());
  FUZZ_CHECK(read->results.size() == written.size());
  for (size_t i = 0; i < written.size(); ++i) {
    const auto& w = written[i];
    const auto& r = read->results[i];
    FUZZ_CHECK(r.method == w.method && r.result == w.result);
    FUZZ_CHECK(r.comment == kept(w.comment, true));
    FUZZ_CHECK(r.reason.has_value() == !w.reason.empty());
    if (r.reason) FUZZ_CHECK(*r.reason == kept(w.reason, false));
    FUZZ_CHECK(r.properties.size() == w.properties.size());
    for (size_t k = 0; k < w.properties.size(); ++k) {
      FUZZ_CHECK(r.properties[k].first == w.properties[k].first);
      FUZZ_CHECK(r.properties[k].second == kept(w.properties[k].second, false));
    }
  }
  FUZZ_CHECK(report::claimOf(header, kOurId) == report::AuthservIdClaim::Ours);
  std::optional<arc::ChainStatus> arcWritten;
  for (const auto& w : written) {
    if (w.method != "arc" || arcWritten) continue;
    if (w.result == "pass") arcWritten = arc::ChainStatus::Pass;
    if (w.result == "fail") arcWritten = arc::ChainStatus::Fail;
    if (w.result == "none") arcWritten = arc::ChainStatus::None;
  }
  FUZZ_CHECK(arc::arcResultIn(header) == arcWritten);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recognise(fuzz::asText(data, size));
  FuzzedDataProvider provider(data, size);
  roundTrip(provider);
  return 0;
}
