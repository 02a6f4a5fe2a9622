// Fuzz target: SPF record syntax (spf::parseRecord, RFC 7208 §4.6, §5, §6, §12).
// Invariants: no crash; a parsed record's mechanisms are within their grammar (qualifier,
// CIDR lengths, domain-specs that isValidDomainSpec accepts); a parse failure says why; and
// the record written back from its terms ("v=spf1" + each term as written + redirect= and
// exp=) parses to the same mechanisms and modifiers.
#include <cstring>
#include <string>

#include "authmilter/spf/record.h"
#include "fuzz_support.h"

namespace {

using authmilter::spf::Mechanism;
using authmilter::spf::MechanismKind;

void checkMechanism(const Mechanism& m) {
  FUZZ_CHECK(std::strchr("+-~?", m.qualifier) != nullptr && m.qualifier != '\0');
  FUZZ_CHECK(m.cidr4 <= 32 && m.cidr6 <= 128);
  FUZZ_CHECK(!m.text.empty());
  if (!m.domainSpec.empty()) {
    std::string why;
    FUZZ_CHECK(authmilter::spf::isValidDomainSpec(m.domainSpec, &why));
  }
  if (m.kind == MechanismKind::Include || m.kind == MechanismKind::Exists) FUZZ_CHECK(!m.domainSpec.empty());
  if (m.kind == MechanismKind::All || m.kind == MechanismKind::Ip4 || m.kind == MechanismKind::Ip6) {
    FUZZ_CHECK(m.domainSpec.empty());
  }
}

bool sameMechanism(const Mechanism& a, const Mechanism& b) {
  return a.qualifier == b.qualifier && a.kind == b.kind && a.domainSpec == b.domainSpec && a.network == b.network &&
         a.cidr4 == b.cidr4 && a.cidr6 == b.cidr6 && a.text == b.text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = authmilter::fuzz::asText(data, size);
  std::string error;
  const auto record = authmilter::spf::parseRecord(text, &error);
  if (!record) {
    FUZZ_CHECK(!error.empty());
    return 0;
  }
  FUZZ_CHECK(authmilter::spf::isSpfRecord(text));
  for (const auto& m : record->mechanisms) checkMechanism(m);
  std::string again = "v=spf1";
  for (const auto& m : record->mechanisms) again += " " + m.text;
  if (record->redirect) again += " redirect=" + *record->redirect;
  if (record->explanation) again += " exp=" + *record->explanation;
  const auto back = authmilter::spf::parseRecord(again, &error);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(back->mechanisms.size() == record->mechanisms.size());
  for (size_t i = 0; i < back->mechanisms.size(); ++i) {
    FUZZ_CHECK(sameMechanism(back->mechanisms[i], record->mechanisms[i]));
  }
  FUZZ_CHECK(back->redirect == record->redirect && back->explanation == record->explanation);
  return 0;
}
