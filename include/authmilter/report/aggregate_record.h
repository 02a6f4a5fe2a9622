// One row of a DMARC aggregate report (RFC 9990 <record>) before it is counted: the report
// it belongs to (policy domain, rua=, UTC day, the policy published) and the result tuple
// (source IP, identifiers, what was evaluated and applied, the SPF and DKIM results).
// Records equal in every field are stored once with a count (see report_store.h).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/pipeline/message.h"

namespace authmilter::report {

struct DkimAuthResult {
  std::string domain, selector, result;
  bool operator==(const DkimAuthResult&) const = default;
};

struct AggregateRecord {
  // The report it belongs to.
  std::string policyDomain;  // where the policy record was found
  std::string rua;           // that record's rua= URIs, as published (comma-separated)
  std::string day;           // UTC date of the evaluation, "YYYY-MM-DD"
  // <policy_published>
  std::string p, sp, np;     // "none", "quarantine", "reject", or "" when not published
  std::string adkim, aspf;   // "r" or "s"
  std::string testing;       // "y" or "n" (t=)
  std::string psd;           // "y", "n" or "u"
  std::string discovery;     // "treewalk" (RFC 9989) or "psl" (RFC 7489)
  // <row>
  std::string sourceIp;
  std::string disposition;   // what we applied: "none", "quarantine", "reject"
  std::string dkimAligned;   // "pass" or "fail"
  std::string spfAligned;    // "pass" or "fail"
  std::string override;      // the reason we applied less than the policy asked, if any
  std::string overrideComment;  // its <comment>: "arc=pass as[1].d=lists.example"
  // <identifiers>
  std::string headerFrom, envelopeFrom;
  // <auth_results>
  std::string spfDomain, spfScope, spfResult;  // scope "mfrom" or "helo"
  std::vector<DkimAuthResult> dkim;

  // Every field, escaped and joined: the identity records are counted by.
  std::string key() const;
  static std::optional<AggregateRecord> fromKey(std::string_view key);
  bool operator==(const AggregateRecord&) const = default;
};

// The record of a message whose DMARC evaluation found a policy record asking for aggregate
// reports (rua=); nullopt otherwise. `discovery`: "treewalk" or "psl".
std::optional<AggregateRecord> aggregateRecordOf(const pipeline::Message& message, std::string_view discovery,
                                                 std::chrono::system_clock::time_point when);

}  // namespace authmilter::report
