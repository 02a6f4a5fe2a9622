// Whether a DMARC report may go to a reporting URI of a policy domain's record (rua= or
// ruf=), shared by aggregate and failure reports: only mailto: URIs; ReportSuppress and
// ReportSuppressLocalDomains; and an address outside the policy domain's organization only
// when <policy-domain>._report._dmarc.<its domain> has a "v=DMARC1" TXT record (RFC 9990
// §3, RFC 9991 §4). A DNS failure there means "not now", never "no".
#pragma once

#include <string>

#include "authmilter/config/config.h"
#include "authmilter/dns/resolver.h"

namespace authmilter::report {

struct DestinationVerdict {
  enum class Kind { Send, Refuse, Later } kind;
  std::string address;  // the mailto: address (empty when the URI is not one)
  std::string why;      // Refuse, Later
};

DestinationVerdict checkDestination(const config::Config& config, dns::Resolver& resolver,
                                    const std::string& policyDomain, const std::string& uri);

}  // namespace authmilter::report
