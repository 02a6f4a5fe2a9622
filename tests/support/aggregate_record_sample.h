// One DMARC aggregate-report record for the report tests: a p=reject domain's failing
// message from `ip` on `day`, SPF passing for another domain; each test changes what it needs.
#pragma once

#include <string>

#include "authmilter/report/aggregate_record.h"

namespace authmilter::testsupport {

inline report::AggregateRecord sampleRecord(const std::string& ip = "192.0.2.7", const std::string& day = "2026-12-05",
                                            const std::string& domain = "example.com") {
  report::AggregateRecord r;
  r.policyDomain = domain;
  r.rua = "mailto:dmarc@" + domain;
  r.day = day;
  r.p = "reject";
  r.adkim = "r";
  r.aspf = "r";
  r.testing = "n";
  r.psd = "u";
  r.discovery = "treewalk";
  r.sourceIp = ip;
  r.disposition = "reject";
  r.dkimAligned = "fail";
  r.spfAligned = "fail";
  r.headerFrom = domain;
  r.envelopeFrom = "bounce.example";
  r.spfDomain = "bounce.example";
  r.spfScope = "mfrom";
  r.spfResult = "pass";
  r.dkim = {{"example.net", "s1", "pass"}};
  return r;
}

}  // namespace authmilter::testsupport
