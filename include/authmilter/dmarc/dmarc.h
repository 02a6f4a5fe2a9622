// DMARC (RFC 9989, DMARCbis; RFC 7489 as an option): the policy record, and the outcome of
// evaluating one message, which is also what an aggregate report (RFC 9990) needs to know
// about it. Plain data and the record parser; evaluator.h does the DNS work.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace authmilter::dmarc {

// Which specification decides how records are found and Organizational Domains are made:
// RFC 9989 (DNS tree walk, psd, np, t; pct ignored) or RFC 7489 (Public Suffix List, pct).
enum class Standard { Rfc9989, Rfc7489 };

enum class Policy { Unset, None, Quarantine, Reject };
std::string_view toString(Policy policy);  // "" for Unset

// RFC 8601 §2.7.1 dmarc results.
enum class Result { None, Pass, Fail, TempError, PermError };
std::string_view toString(Result result);

// A DMARC policy record (RFC 9989 §4.7). Values that are not valid are recorded in
// `problems`; adkim/aspf/t/psd/pct then keep their defaults (§4.8), an invalid p/sp/np
// makes policyInvalid() true (§4.10.1 decides what that means).
struct Record {
  std::string text;                 // as published
  Policy p = Policy::Unset;
  Policy sp = Policy::Unset;
  Policy np = Policy::Unset;
  bool pInvalid = false, spInvalid = false, npInvalid = false;
  bool strictDkim = false;          // adkim=s
  bool strictSpf = false;           // aspf=s
  bool testing = false;             // t=y
  char psd = 'u';                   // 'y', 'n' or 'u'
  int pct = 100;                    // RFC 7489 only
  bool ruaValid = false;            // rua= has at least one syntactically valid URI
  std::vector<std::string> rua;     // as published, for aggregate reports
  std::vector<std::string> ruf;     // as published, for failure reports (RFC 9991)
  std::string fo = "0";             // failure reporting options: '0', '1', 'd', 's' (RFC 9991 §3.2)
  std::vector<std::string> problems;

  bool policyInvalid() const { return pInvalid || spInvalid || npInvalid; }
};

// nullopt when `text` is not a DMARC record at all: its first tag is not v=DMARC1
// (RFC 9989 §4.7: such a TXT record is discarded).
std::optional<Record> parseRecord(std::string_view text);

// One underlying result as DMARC sees it.
struct SpfInput {
  std::string result;  // RFC 8601 spf result: "pass", "fail", ...; empty: no SPF check
  std::string domain;  // the RFC5321.MailFrom domain (the HELO name for the null sender)
};
struct DkimInput {
  std::string result;  // "pass", "fail", ...
  std::string domain;  // d=
  std::string selector;
  bool counts = false;  // a pass that may align (not an l= signature set aside by LBodyPolicy)
};

// What evaluating one message found, and why. Everything an aggregate report's <record>
// needs is here: source IP, author domain, published policy, disposition, the SPF and DKIM
// results with their domains, and which of them aligned.
struct Outcome {
  Result result = Result::None;
  std::string reason;            // none/temperror/permerror: why, in words
  std::string sourceIp;          // filled by the caller
  std::string authorDomain;      // header.from
  std::string orgDomain;         // Organizational Domain of the author domain, when it was needed
  std::string policyDomain;      // where the record that applies is published
  std::optional<Record> record;  // that record (the published policy)
  Policy policy = Policy::Unset;  // the policy for this message: p, sp or np of the record
  std::string policyTag;          // "p", "sp" or "np"
  // What the Domain Owner asks for this message: None unless it failed; after t=y (RFC
  // 9989) or pct sampling (RFC 7489) lowered it by one step.
  Policy disposition = Policy::None;
  std::string lowered;            // why disposition is below policy: "t=y", "pct=50"
  bool spfAligned = false;
  std::vector<std::string> dkimAligned;  // d= of each aligned passing signature
  SpfInput spf;
  std::vector<DkimInput> dkim;
  std::vector<std::string> lookups;  // every DMARC-related DNS question and its answer, in order
};

}  // namespace authmilter::dmarc
