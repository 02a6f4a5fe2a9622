// check_host() (RFC 7208 §4-§6) on the shared DNS layer.
#include "authmilter/spf/spf.h"

#include <arpa/inet.h>

#include <algorithm>
#include <ctime>
#include <optional>

#include "authmilter/spf/macro.h"
#include "authmilter/spf/record.h"
#include "authmilter/util/strings.h"

namespace authmilter::spf {

std::string_view toString(Result result) {
  switch (result) {
    case Result::None: return "none";
    case Result::Neutral: return "neutral";
    case Result::Pass: return "pass";
    case Result::Fail: return "fail";
    case Result::SoftFail: return "softfail";
    case Result::TempError: return "temperror";
    case Result::PermError: return "permerror";
  }
  return "none";
}

namespace {

using Clock = std::chrono::steady_clock;
using dns::DnsAnswer;
using dns::DnsStatus;
using dns::RrType;
using net::IpAddress;

// §4.3: a name check_host() can look up: at least two labels, each 1-63 characters, at
// most 253 in all (a final dot allowed); not an address literal ("[192.0.2.1]") or a bare
// address (an all-numeric top label, RFC 3696 §2), which HELO may carry (§2.3).
bool isValidDomain(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  if (name.empty() || name.size() > 253 || name.find('.') == std::string_view::npos) return false;
  if (name.front() == '[') return false;
  const std::string_view top = name.substr(name.rfind('.') + 1);
  if (std::all_of(top.begin(), top.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const size_t len = dot - start;
    if (len == 0 || len > 63) return false;
    start = dot + 1;
  }
  return true;
}

Result qualifierResult(char q) {
  switch (q) {
    case '-': return Result::Fail;
    case '~': return Result::SoftFail;
    case '?': return Result::Neutral;
    default: return Result::Pass;
  }
}

bool inNetwork(const IpAddress& ip, const uint8_t* network, unsigned bits) {
  const uint8_t* a = ip.bytes();
  for (unsigned i = 0; bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - take));
    if ((a[i] & mask) != (network[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

bool sameDomainOrBelow(std::string_view name, std::string_view domain) {
  const std::string n = dns::canonicalName(name);
  const std::string d = dns::canonicalName(domain);
  return n == d || (n.size() > d.size() && n.ends_with(d) && n[n.size() - d.size() - 1] == '.');
}

// What one check_host() level concluded.
struct Outcome {
  Result result = Result::None;
  std::string mechanism;
  std::string problem;
  std::optional<std::string> expSpec;  // the exp= of the record that gave a fail
  std::string expDomain;               // the <domain> of that record

  static Outcome error(Result r, std::string mechanism, std::string problem) {
    Outcome o;
    o.result = r;
    o.mechanism = std::move(mechanism);
    o.problem = std::move(problem);
    return o;
  }
};

// A mechanism's evaluation: matched, did not, or ended the check with an error.
struct Match {
  enum class Kind { No, Yes, Error } kind = Kind::No;
  Result error = Result::PermError;
  std::string problem;
  static Match no() { return {}; }
  static Match yes() { return {Kind::Yes, Result::Pass, {}}; }
  static Match fail(Result r, std::string why) { return {Kind::Error, r, std::move(why)}; }
};

class Evaluation {
 public:
  Evaluation(dns::Resolver& resolver, const CheckOptions& options, const IpAddress& ip, std::string sender,
             std::string helo, Clock::time_point deadline, CheckResult& out)
      : resolver_(resolver), options_(options), ip_(ip), helo_(std::move(helo)), out_(out), deadline_(deadline) {
    macros_.sender = std::move(sender);
    const size_t at = macros_.sender.rfind('@');
    macros_.localPart = macros_.sender.substr(0, at);
    macros_.senderDomain = macros_.sender.substr(at + 1);
    macros_.ip = ip_;
    macros_.helo = helo_;
    macros_.receiver = options.receiver;
    macros_.now = static_cast<long long>(std::time(nullptr));
    macros_.validatedName = [this] { return validatedName(); };
  }

  Outcome run(const std::string& domain) {
    Outcome o = checkHost(domain);
    if (o.result == Result::Fail && options_.fetchExplanation && o.expSpec) {
      out_.explanation = explanation(*o.expSpec, o.expDomain);
    }
    return o;
  }

 private:
  std::optional<DnsAnswer> lookup(const std::string& name, RrType type, std::string* problem) {
    if (Clock::now() >= deadline_) {
      *problem = "SPF checks took longer than SPFTimeout (" + std::to_string(options_.timeout.count()) + "ms)";
      return std::nullopt;
    }
    DnsAnswer a = resolver_.lookup(name, type);
    out_.lookups.push_back({dns::canonicalName(name), type, a.status, a.records.size(), a.fromCache});
    return a;
  }

  static std::string dnsProblem(const std::string& name, RrType type, const DnsAnswer& a) {
    return "DNS " + std::string(dns::statusName(a.status)) + " for " + name + " " + dns::rrTypeName(type);
  }

  // §4.6.4: one more term that queries DNS.
  bool countTerm(std::string* problem) {
    if (++out_.dnsTerms > options_.limits.dnsTerms) {
      *problem = "more than " + std::to_string(options_.limits.dnsTerms) + " DNS-querying terms (RFC 7208 4.6.4)";
      return false;
    }
    return true;
  }

  // §4.6.4: a lookup answered NXDOMAIN or with no records.
  bool countVoid(std::string* problem) {
    if (++out_.voidLookups > options_.limits.voidLookups) {
      *problem = "more than " + std::to_string(options_.limits.voidLookups) + " void DNS lookups (RFC 7208 4.6.4)";
      return false;
    }
    return true;
  }

  // The target of a mechanism or modifier: the expanded domain-spec, or the current domain.
  std::string target(const std::string& spec, const std::string& domain) {
    if (spec.empty()) return domain;
    macros_.domain = domain;
    auto expanded = expandMacros(spec, macros_, false);
    return expanded ? truncateDomain(std::move(*expanded)) : std::string();
  }

  Outcome checkHost(const std::string& domain) {
    Outcome o;
    if (!isValidDomain(domain)) {
      o.problem = "'" + util::sanitize(domain) + "' is not a valid domain name";
      return o;  // none (§4.3)
    }
    std::string problem;
    auto answer = lookup(domain, RrType::TXT, &problem);
    if (!answer) return Outcome::error(Result::TempError, "", problem);
    if (dns::isTemporary(answer->status)) return Outcome::error(Result::TempError, "", dnsProblem(domain, RrType::TXT, *answer));
    const std::string* text = nullptr;
    size_t count = 0;
    for (const auto& r : answer->records) {
      if (isSpfRecord(r.text)) {
        text = &r.text;
        ++count;
      }
    }
    if (count == 0) {
      o.problem = "no SPF record at " + domain;
      return o;  // none (§4.5)
    }
    if (count > 1) return Outcome::error(Result::PermError, "", "more than one SPF record at " + domain);
    auto record = parseRecord(*text, &problem);
    if (!record) return Outcome::error(Result::PermError, "", "syntax error in SPF record of " + domain + ": " + problem);

    for (const auto& m : record->mechanisms) {
      const Match match = evaluate(m, domain);
      if (match.kind == Match::Kind::Error) return Outcome::error(match.error, m.text, match.problem);
      if (match.kind == Match::Kind::Yes) {
        o.result = qualifierResult(m.qualifier);
        o.mechanism = m.text;
        if (o.result == Result::Fail) {
          o.expSpec = record->explanation;
          o.expDomain = domain;
        }
        return o;
      }
    }
    if (record->redirect) {
      // §6.1: used only when no mechanism matched; its result is the result, except that a
      // target without a record is a permerror.
      const std::string redirect = "redirect=" + *record->redirect;
      if (!countTerm(&problem)) return Outcome::error(Result::PermError, redirect, problem);
      const std::string name = target(*record->redirect, domain);
      Outcome sub = checkHost(name);
      if (sub.result == Result::None) {
        return Outcome::error(Result::PermError, redirect, "redirect target " + util::sanitize(name) + " has no SPF record");
      }
      if (sub.mechanism.empty()) sub.mechanism = redirect;
      return sub;
    }
    o.result = Result::Neutral;
    o.mechanism = "default";
    return o;
  }

  Match evaluate(const Mechanism& m, const std::string& domain) {
    std::string problem;
    switch (m.kind) {
      case MechanismKind::All: return Match::yes();
      case MechanismKind::Ip4:
        return ip_.family() == IpAddress::Family::V4 && inNetwork(ip_, m.network.data(), m.cidr4) ? Match::yes()
                                                                                                   : Match::no();
      case MechanismKind::Ip6:
        return ip_.family() == IpAddress::Family::V6 && inNetwork(ip_, m.network.data(), m.cidr6) ? Match::yes()
                                                                                                   : Match::no();
      case MechanismKind::Include: {
        if (!countTerm(&problem)) return Match::fail(Result::PermError, problem);
        const std::string name = target(m.domainSpec, domain);
        const Outcome sub = checkHost(name);
        switch (sub.result) {
          case Result::Pass: return Match::yes();
          case Result::Fail:
          case Result::SoftFail:
          case Result::Neutral: return Match::no();
          case Result::None:
            return Match::fail(Result::PermError, "include target " + util::sanitize(name) + " has no SPF record");
          default: return Match::fail(sub.result, sub.problem);
        }
      }
      case MechanismKind::A: {
        if (!countTerm(&problem)) return Match::fail(Result::PermError, problem);
        return matchAddresses(target(m.domainSpec, domain), m, true);
      }
      case MechanismKind::Mx: return matchMx(m, domain);
      case MechanismKind::Ptr: return matchPtr(m, domain);
      case MechanismKind::Exists: {
        if (!countTerm(&problem)) return Match::fail(Result::PermError, problem);
        const std::string name = target(m.domainSpec, domain);
        auto a = lookup(name, RrType::A, &problem);  // A even for IPv6 clients (§5.7)
        if (!a) return Match::fail(Result::TempError, problem);
        if (dns::isTemporary(a->status)) return Match::fail(Result::TempError, dnsProblem(name, RrType::A, *a));
        if (a->status != DnsStatus::Ok) {
          return countVoid(&problem) ? Match::no() : Match::fail(Result::PermError, problem);
        }
        return Match::yes();
      }
    }
    return Match::no();
  }

  // a (and each MX host): does `name` have an address in the client's family within the CIDR?
  // `countVoids`: the a mechanism's own lookup counts toward the void limit; an MX host's doesn't.
  Match matchAddresses(const std::string& name, const Mechanism& m, bool countVoids) {
    std::string problem;
    const bool v4 = ip_.family() == IpAddress::Family::V4;
    const RrType type = v4 ? RrType::A : RrType::AAAA;
    auto a = lookup(name, type, &problem);
    if (!a) return Match::fail(Result::TempError, problem);
    if (dns::isTemporary(a->status)) return Match::fail(Result::TempError, dnsProblem(name, type, *a));
    if (a->status != DnsStatus::Ok) {
      if (countVoids && !countVoid(&problem)) return Match::fail(Result::PermError, problem);
      return Match::no();  // §5.3: no address, or no such name: no match
    }
    for (const auto& r : a->records) {
      auto address = IpAddress::parse(r.text);
      if (address && address->family() == ip_.family() &&
          inNetwork(ip_, address->bytes(), v4 ? m.cidr4 : m.cidr6)) {
        return Match::yes();
      }
    }
    return Match::no();
  }

  Match matchMx(const Mechanism& m, const std::string& domain) {
    std::string problem;
    if (!countTerm(&problem)) return Match::fail(Result::PermError, problem);
    const std::string name = target(m.domainSpec, domain);
    auto mx = lookup(name, RrType::MX, &problem);
    if (!mx) return Match::fail(Result::TempError, problem);
    if (dns::isTemporary(mx->status)) return Match::fail(Result::TempError, dnsProblem(name, RrType::MX, *mx));
    if (mx->status != DnsStatus::Ok) {
      return countVoid(&problem) ? Match::no() : Match::fail(Result::PermError, problem);
    }
    if (mx->records.size() > options_.limits.mxNames) {
      return Match::fail(Result::PermError, name + " has more than " + std::to_string(options_.limits.mxNames) +
                                                " MX records (RFC 7208 4.6.4)");
    }
    for (const auto& r : mx->records) {
      if (r.text.empty() || r.text == ".") continue;  // null MX (RFC 7505)
      const Match match = matchAddresses(r.text, m, false);
      if (match.kind != Match::Kind::No) return match;
    }
    return Match::no();
  }

  // The client's PTR names (at most ptrNames, §4.6.4) whose forward lookup gives the client
  // address back (§5.5). `wanted`: only names equal to or below it are worth validating.
  // `outOfTime`: set when SPFTimeout passed before a lookup (that is §4.6.4's temperror, not
  // the DNS error §5.5 turns into "no match").
  std::vector<std::string> validatedNames(const std::string& wanted, bool stopAtFirst, std::string* problem,
                                          bool* voidLimit, bool* outOfTime = nullptr) {
    std::vector<std::string> names;
    // The reverse-lookup name is what %{ir}.%{v}.arpa spells (RFC 7208 §7.3).
    auto ptr = lookup(*expandMacros("%{ir}.%{v}.arpa", macros_, false), RrType::PTR, problem);
    if (!ptr && outOfTime) *outOfTime = true;
    if (!ptr || dns::isTemporary(ptr->status)) return names;  // §5.5: a DNS error is no match
    if (ptr->status != DnsStatus::Ok) {
      if (voidLimit && !countVoid(problem)) *voidLimit = true;
      return names;
    }
    const RrType type = ip_.family() == IpAddress::Family::V4 ? RrType::A : RrType::AAAA;
    size_t tried = 0;
    for (const auto& r : ptr->records) {
      if (tried++ >= options_.limits.ptrNames) break;
      if (!wanted.empty() && !sameDomainOrBelow(r.text, wanted)) continue;
      auto a = lookup(r.text, type, problem);
      if (!a && outOfTime) {
        *outOfTime = true;
        return {};
      }
      if (!a || a->status != DnsStatus::Ok) continue;  // errors: try the next name
      for (const auto& address : a->records) {
        if (IpAddress::parse(address.text) == ip_) {
          names.push_back(r.text);
          break;
        }
      }
      if (stopAtFirst && !names.empty()) break;
    }
    return names;
  }

  Match matchPtr(const Mechanism& m, const std::string& domain) {
    std::string problem;
    if (!countTerm(&problem)) return Match::fail(Result::PermError, problem);
    const std::string name = target(m.domainSpec, domain);
    bool voidLimit = false, outOfTime = false;
    const auto names = validatedNames(name, true, &problem, &voidLimit, &outOfTime);
    if (outOfTime) return Match::fail(Result::TempError, problem);
    if (voidLimit) return Match::fail(Result::PermError, problem);
    return names.empty() ? Match::no() : Match::yes();
  }

  // %{p} (§7.3): a validated name of the client, preferring one at or below %{d}.
  std::string validatedName() {
    std::string problem;
    auto names = validatedNames(macros_.domain, true, &problem, nullptr);
    if (names.empty()) names = validatedNames("", true, &problem, nullptr);
    return names.empty() ? "unknown" : names.front();
  }

  // §6.2: the explanation string, or empty when it cannot be had.
  std::string explanation(const std::string& spec, const std::string& domain) {
    const std::string name = target(spec, domain);
    if (!isValidDomain(name)) return {};
    std::string problem;
    auto txt = lookup(name, RrType::TXT, &problem);
    if (!txt || txt->status != DnsStatus::Ok || txt->records.size() != 1) return {};
    macros_.domain = domain;
    auto text = expandMacros(txt->records.front().text, macros_, true);
    return text ? *text : std::string();
  }

  dns::Resolver& resolver_;
  const CheckOptions& options_;
  const IpAddress ip_;
  const std::string helo_;
  CheckResult& out_;
  const Clock::time_point deadline_;
  MacroContext macros_;
};

}  // namespace

Checker::Checker(std::shared_ptr<dns::Resolver> resolver, CheckOptions options)
    : resolver_(std::move(resolver)), options_(std::move(options)) {}

CheckResult Checker::checkHost(const IpAddress& ip, std::string_view domain, std::string_view sender,
                               std::string_view helo, Deadline deadline) const {
  if (deadline == Deadline{}) deadline = Clock::now() + options_.timeout;
  CheckResult out;
  out.domain = std::string(domain);
  out.sender = std::string(sender);
  Evaluation evaluation(*resolver_, options_, ip, out.sender, std::string(helo), deadline, out);
  Outcome o = evaluation.run(out.domain);
  out.result = o.result;
  out.mechanism = std::move(o.mechanism);
  out.problem = std::move(o.problem);
  if (out.result != Result::PermError && out.result != Result::TempError && out.result != Result::None) {
    out.problem.clear();
  }
  return out;
}

CheckResult Checker::checkMailFrom(const IpAddress& ip, std::string_view helo, std::string_view mailFrom,
                                   Deadline deadline) const {
  if (mailFrom.empty()) return checkHelo(ip, helo, deadline);
  const size_t at = mailFrom.rfind('@');
  std::string domain(at == std::string_view::npos ? mailFrom : mailFrom.substr(at + 1));
  std::string local(at == std::string_view::npos || at == 0 ? "postmaster" : mailFrom.substr(0, at));
  if (at == std::string_view::npos) domain = std::string(mailFrom);
  CheckResult out = checkHost(ip, domain, local + "@" + domain, helo, deadline);
  out.identity = "mailfrom";
  return out;
}

CheckResult Checker::checkHelo(const IpAddress& ip, std::string_view helo, Deadline deadline) const {
  CheckResult out = checkHost(ip, helo, "postmaster@" + std::string(helo), helo, deadline);
  out.identity = "helo";
  return out;
}

}  // namespace authmilter::spf
