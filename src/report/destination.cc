// Report destinations (see the header).
#include "authmilter/report/destination.h"

#include "authmilter/dmarc/evaluator.h"
#include "authmilter/report/aggregate_report.h"
#include "authmilter/util/strings.h"

namespace authmilter::report {

DestinationVerdict checkDestination(const config::Config& config, dns::Resolver& resolver,
                                    const std::string& policyDomain, const std::string& uri) {
  using Kind = DestinationVerdict::Kind;
  const auto address = ruaAddress(uri);
  if (!address) return {Kind::Refuse, "", "not a mailto: URI this reporter sends to"};
  const std::string domain = util::toLower(address->substr(address->rfind('@') + 1));
  for (const auto& s : config.reports.suppress) {
    if (s == util::toLower(*address) || s == domain || s == policyDomain) {
      return {Kind::Refuse, *address, "suppressed by ReportSuppress " + s};
    }
  }
  if (config.reports.suppressLocalDomains && config.localDomains.contains(policyDomain)) {
    return {Kind::Refuse, *address, "suppressed: " + policyDomain + " is in LocalDomains"};
  }
  static const dmarc::PublicSuffixList psl("");
  if (util::isSelfOrBelow(domain, policyDomain) ||
      psl.organizationalDomain(domain) == psl.organizationalDomain(policyDomain)) {
    return {Kind::Send, *address, ""};
  }
  const std::string name = policyDomain + "._report._dmarc." + domain;
  const auto answer = resolver.lookup(name, dns::RrType::TXT);
  if (dns::isTemporary(answer.status)) {
    return {Kind::Later, *address, "DNS " + std::string(dns::statusName(answer.status)) + " for " + name};
  }
  for (const auto& r : answer.records) {
    if (util::istartsWith(util::trim(r.text), "v=DMARC1")) return {Kind::Send, *address, ""};
  }
  return {Kind::Refuse, *address, "external destination not verified: no \"v=DMARC1\" TXT at " + name};
}

}  // namespace authmilter::report
