// DMARC evaluation (see the header). One Walk object per message remembers every _dmarc
// answer it got, so the policy discovery and the Organizational Domain walks of the
// author domain and of the authenticated identifiers never ask the same question twice.
#include "authmilter/dmarc/evaluator.h"

#include <libpsl.h>

#include <map>
#include <optional>
#include <random>
#include <stdexcept>

#include "authmilter/policy/domain_set.h"
#include "authmilter/util/strings.h"

namespace authmilter::dmarc {

PublicSuffixList::PublicSuffixList(const std::string& file)
    : psl_(file.empty() ? psl_latest(nullptr) : psl_load_file(file.c_str())) {
  if (psl_ == nullptr) {
    throw std::runtime_error(file.empty() ? "cannot load the Public Suffix List (libpsl)"
                                          : "cannot load the Public Suffix List from " + file);
  }
}

PublicSuffixList::~PublicSuffixList() { psl_free(psl_); }

std::string PublicSuffixList::organizationalDomain(std::string_view domain) const {
  const std::string name(domain);
  const char* registrable = psl_registrable_domain(psl_, name.c_str());
  return registrable ? std::string(registrable) : name;
}

namespace {

std::vector<std::string_view> labelsOf(std::string_view domain) {
  std::vector<std::string_view> labels;
  size_t start = 0;
  while (start <= domain.size()) {
    const auto dot = domain.find('.', start);
    labels.push_back(domain.substr(start, dot == std::string_view::npos ? dot : dot - start));
    start = dot == std::string_view::npos ? domain.size() + 1 : dot + 1;
  }
  return labels;
}

// The last `n` labels of `domain`.
std::string lastLabels(std::string_view domain, size_t n) {
  const auto labels = labelsOf(domain);
  if (n >= labels.size()) return std::string(domain);
  const auto first = labels[labels.size() - n];
  return std::string(domain.substr(static_cast<size_t>(first.data() - domain.data())));
}

std::string normalized(std::string_view domain) {
  if (auto d = policy::normalizeDomain(domain)) return *d;
  return dns::canonicalName(domain);
}

Policy lowerByOne(Policy p) {
  return p == Policy::Reject ? Policy::Quarantine : p == Policy::Quarantine ? Policy::None : p;
}

unsigned randomPercent() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return std::uniform_int_distribution<unsigned>(0, 99)(generator);
}

// The DMARC record at one name: exactly one, none, or unknown (a DNS failure).
struct Answer {
  bool temporary = false;
  std::optional<Record> record;
};

// One message's DMARC queries, remembered.
class Walk {
 public:
  Walk(dns::Resolver& resolver, Outcome& outcome) : resolver_(resolver), outcome_(outcome) {}

  const Answer& fetch(const std::string& domain) {
    if (const auto it = answers_.find(domain); it != answers_.end()) return it->second;
    const std::string name = "_dmarc." + domain;
    const dns::DnsAnswer dns = resolver_.lookup(name, dns::RrType::TXT);
    Answer a;
    std::string said;
    if (dns::isTemporary(dns.status)) {
      a.temporary = true;
      said = std::string(dns::statusName(dns.status)) + (dns.detail.empty() ? "" : " (" + dns.detail + ")");
    } else {
      // RFC 9989 §4.10 step 2: TXT records that are not DMARC records are discarded; more
      // than one DMARC record counts as none.
      std::vector<Record> records;
      for (const auto& r : dns.records) {
        if (auto record = parseRecord(r.text)) records.push_back(std::move(*record));
      }
      if (records.size() == 1) {
        said = util::quoteEscaped(records.front().text);
        a.record = std::move(records.front());
      } else if (records.size() > 1) {
        said = std::to_string(records.size()) + " DMARC records, so none";
      } else {
        said = dns.status == dns::DnsStatus::Ok ? "no DMARC record" : std::string(dns::statusName(dns.status));
      }
    }
    outcome_.lookups.push_back(name + " TXT: " + said);
    return answers_.emplace(domain, std::move(a)).first->second;
  }

  // RFC 9989 §4.10: the DMARC records found walking up from `domain` (longest name first),
  // stopping at a record with psd=y or psd=n. nullopt on a DNS failure.
  std::optional<std::vector<std::pair<std::string, Record>>> treeWalk(std::string_view domain) {
    std::vector<std::pair<std::string, Record>> found;
    for (const auto& name : treeWalkNames(domain)) {
      const Answer& a = fetch(name);
      if (a.temporary) return std::nullopt;
      if (!a.record) continue;
      found.emplace_back(name, *a.record);
      if (a.record->psd == 'y' || a.record->psd == 'n') break;
    }
    return found;
  }

  // RFC 9989 §4.10.2: the Organizational Domain of `domain` from its tree walk.
  static std::string organizationalDomain(std::string_view domain,
                                          const std::vector<std::pair<std::string, Record>>& found) {
    for (const auto& [name, record] : found) {
      if (record.psd == 'n') return name;
      if (record.psd == 'y' && name != domain) return lastLabels(domain, labelsOf(name).size() + 1);
    }
    return found.empty() ? std::string(domain) : found.back().first;
  }

 private:
  dns::Resolver& resolver_;
  Outcome& outcome_;
  std::map<std::string, Answer, std::less<>> answers_;
};

class Evaluation {
 public:
  Evaluation(dns::Resolver& resolver, const EvaluatorOptions& options, const Input& input, Outcome& outcome)
      : resolver_(resolver), options_(options), walk_(resolver, outcome), o_(outcome) {
    o_.authorDomain = input.authorDomain;
    o_.spf = input.spf;
    o_.dkim = input.dkim;
  }

  void run() {
    if (!discoverPolicy()) return;
    if (!checkRecord()) return;
    align();
    if (o_.result != Result::Fail) return;
    choosePolicy();
  }

 private:
  bool rfc9989() const { return options_.standard == Standard::Rfc9989; }

  void temperror(std::string why) {
    o_.result = Result::TempError;
    o_.reason = std::move(why);
  }

  // RFC 9989 §4.10.1 / RFC 7489 §6.6.3: the record that applies, and where it is published.
  bool discoverPolicy() {
    const std::string& author = o_.authorDomain;
    const Answer& own = walk_.fetch(author);
    if (own.temporary) {
      temperror("DNS error looking up _dmarc." + author);
      return false;
    }
    if (own.record) {
      o_.record = own.record;
      o_.policyDomain = author;
      return true;
    }
    std::optional<Record> record;
    if (rfc9989()) {
      const auto found = walk_.treeWalk(author);
      if (!found) {
        temperror("DNS error in the DMARC tree walk from " + author);
        return false;
      }
      orgDomain_ = Walk::organizationalDomain(author, *found);
      // The Organizational Domain's record, else the Public Suffix Domain's (psd=y).
      for (const auto& [name, r] : *found) {
        if (name == *orgDomain_ || (!record && r.psd == 'y')) {
          record = r;
          o_.policyDomain = name;
        }
      }
    } else {
      orgDomain_ = options_.psl->organizationalDomain(author);
      if (*orgDomain_ != author) {
        const Answer& org = walk_.fetch(*orgDomain_);
        if (org.temporary) {
          temperror("DNS error looking up _dmarc." + *orgDomain_);
          return false;
        }
        record = org.record;
        o_.policyDomain = *orgDomain_;
      }
    }
    o_.orgDomain = *orgDomain_;
    if (!record) {
      o_.result = Result::None;
      o_.reason = "no DMARC record for " + author;
      o_.policyDomain.clear();
      return false;
    }
    o_.record = std::move(record);
    return true;
  }

  // RFC 9989 §4.7 p and §4.10.1: a record without p= means p=none; an invalid p/sp/np
  // means p=none when rua= names a valid URI, and no DMARC processing otherwise.
  bool checkRecord() {
    Record& r = *o_.record;
    const bool pMissing = r.p == Policy::Unset && !r.pInvalid;
    if (r.policyInvalid() || (pMissing && !rfc9989())) {
      std::string problems = pMissing && !r.pInvalid ? "no p= tag" : "";
      for (const auto& p : r.problems) problems += (problems.empty() ? "" : "; ") + p;
      if (!r.ruaValid) {
        o_.result = Result::PermError;
        o_.reason = "invalid DMARC record at _dmarc." + o_.policyDomain + ": " + problems;
        return false;
      }
      policyNote_ = problems + "; treated as p=none (rua= present)";
      r.p = Policy::None;
      r.sp = r.np = Policy::Unset;
    } else if (pMissing) {
      policyNote_ = "no p= tag, treated as p=none";
      r.p = Policy::None;
    }
    return true;
  }

  // RFC 9989 §4.10.2 / RFC 7489 §3.2: the Organizational Domain of a name; nullopt on a
  // DNS failure.
  std::optional<std::string> organizationalDomain(const std::string& domain) {
    if (!rfc9989()) return options_.psl->organizationalDomain(domain);
    const auto found = walk_.treeWalk(domain);
    if (!found) return std::nullopt;
    return Walk::organizationalDomain(domain, *found);
  }

  // Identifier alignment (RFC 9989 §4.4): nullopt when DNS trouble left it open.
  std::optional<bool> aligned(const std::string& identifier, bool strict) {
    const std::string& author = o_.authorDomain;
    if (identifier == author) return true;
    if (strict) return false;
    if (!orgDomain_) {
      orgDomain_ = organizationalDomain(author);
      if (!orgDomain_) return std::nullopt;
      o_.orgDomain = *orgDomain_;
    }
    // An Organizational Domain is the name itself or one of its parents: an identifier
    // outside the author's Organizational Domain cannot share it (no walk needed).
    if (!util::isSelfOrBelow(identifier, *orgDomain_)) return false;
    const auto org = organizationalDomain(identifier);
    if (!org) return std::nullopt;
    return *org == *orgDomain_;
  }

  void align() {
    const Record& r = *o_.record;
    std::string unknown;
    if (o_.spf.result == "pass" && !o_.spf.domain.empty()) {
      const auto a = aligned(normalized(o_.spf.domain), r.strictSpf);
      o_.spfAligned = a.value_or(false);
      if (!a) unknown = o_.spf.domain;
    }
    for (const auto& d : o_.dkim) {
      if (!d.counts || d.domain.empty()) continue;
      const auto a = aligned(normalized(d.domain), r.strictDkim);
      if (a.value_or(false)) o_.dkimAligned.push_back(d.domain);
      if (!a && unknown.empty()) unknown = d.domain;
    }
    o_.reason = policyNote_;
    if (o_.spfAligned || !o_.dkimAligned.empty()) {
      o_.result = Result::Pass;
    } else if (!unknown.empty()) {
      temperror("DNS error finding the Organizational Domain of " + unknown);
    } else if (const auto open = undecidedByDns(r); !open.empty()) {
      temperror(open + " could not be checked (DNS error)");
    } else {
      o_.result = Result::Fail;
    }
  }

  // Nothing aligned, but an SPF or DKIM result that DNS trouble left open (temperror) names
  // a domain that would align: it might have passed, so the outcome is not known. A DNS
  // failure is never a verdict: temperror, not a fail that p=reject would refuse (the
  // author's own signature whose key lookup timed out). An unaligned one changes nothing.
  std::string undecidedByDns(const Record& r) {
    if (o_.spf.result == "temperror" && !o_.spf.domain.empty() &&
        aligned(normalized(o_.spf.domain), r.strictSpf).value_or(true)) {
      return "SPF for " + o_.spf.domain;
    }
    for (const auto& d : o_.dkim) {
      if (d.result == "temperror" && !d.domain.empty() && aligned(normalized(d.domain), r.strictDkim).value_or(true)) {
        return "the DKIM key of " + d.domain;
      }
    }
    return {};
  }

  // RFC 9989 §3.2.13: a name with NXDOMAIN or NODATA for A, AAAA and MX does not exist.
  std::optional<bool> exists(const std::string& domain) {
    for (const auto type : {dns::RrType::A, dns::RrType::AAAA, dns::RrType::MX}) {
      const auto a = resolver_.lookup(domain, type);
      o_.lookups.push_back(domain + " " + dns::rrTypeName(type) + ": " + std::string(dns::statusName(a.status)));
      if (dns::isTemporary(a.status)) return std::nullopt;
      if (a.status == dns::DnsStatus::Ok) return true;
      if (a.status == dns::DnsStatus::NxDomain) return false;  // nothing else exists there either
    }
    return false;
  }

  // The policy for a failing message: p at the author domain; else np for a non-existent
  // author domain (RFC 9989 only), sp, or p. Then t=y (RFC 9989) or pct (RFC 7489).
  void choosePolicy() {
    const Record& r = *o_.record;
    o_.policy = r.p;
    o_.policyTag = "p";
    if (o_.policyDomain != o_.authorDomain) {
      if (rfc9989() && r.np != Policy::Unset) {
        const auto there = exists(o_.authorDomain);
        if (!there) {
          temperror("DNS error checking whether " + o_.authorDomain + " exists");
          return;
        }
        if (!*there) {
          o_.policy = r.np;
          o_.policyTag = "np";
        }
      }
      if (o_.policyTag == "p" && r.sp != Policy::Unset) {
        o_.policy = r.sp;
        o_.policyTag = "sp";
      }
    }
    o_.disposition = o_.policy;
    if (rfc9989() && r.testing && lowerByOne(o_.policy) != o_.policy) {
      o_.disposition = lowerByOne(o_.policy);
      o_.lowered = "t=y";
    } else if (!rfc9989() && r.pct < 100) {
      const unsigned draw = options_.random ? options_.random() % 100 : randomPercent();
      if (draw >= static_cast<unsigned>(r.pct) && lowerByOne(o_.policy) != o_.policy) {
        o_.disposition = lowerByOne(o_.policy);
        o_.lowered = "pct=" + std::to_string(r.pct);
      }
    }
  }

  dns::Resolver& resolver_;
  const EvaluatorOptions& options_;
  Walk walk_;
  Outcome& o_;
  std::optional<std::string> orgDomain_;
  std::string policyNote_;
};

}  // namespace

std::vector<std::string> treeWalkNames(std::string_view domain) {
  const auto labels = labelsOf(domain);
  std::vector<std::string> names{std::string(domain)};
  size_t count = labels.size();
  if (count <= 1) return names;
  count = count < kMaxTreeWalkQueries ? count - 1 : kMaxTreeWalkQueries - 1;
  for (; count >= 1; --count) names.push_back(lastLabels(domain, count));
  return names;
}

Evaluator::Evaluator(std::shared_ptr<dns::Resolver> resolver, EvaluatorOptions options)
    : resolver_(std::move(resolver)), options_(std::move(options)) {
  if (options_.standard == Standard::Rfc7489 && !options_.psl) {
    throw std::invalid_argument("DMARC RFC 7489 evaluation needs a Public Suffix List");
  }
}

Outcome Evaluator::evaluate(const Input& input) const {
  Outcome outcome;
  Evaluation(*resolver_, options_, input, outcome).run();
  return outcome;
}

}  // namespace authmilter::dmarc
