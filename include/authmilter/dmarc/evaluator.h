// DMARC evaluation of one message (RFC 9989 §5.3; RFC 7489 §6.6 with Standard::Rfc7489):
// policy discovery, Organizational Domains, identifier alignment, the policy that applies
// (p, sp or np) and the disposition it asks for. DNS goes through the shared resolver (and
// its cache); one Evaluator per configuration, thread-safe, no state per message.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/dmarc/dmarc.h"
#include "authmilter/dns/resolver.h"

struct psl_ctx_st;

namespace authmilter::dmarc {

// The Public Suffix List for RFC 7489 (libpsl): a file, or Debian's publicsuffix data
// (whichever of it and libpsl's built-in list is newer) when `file` is empty. Throws
// std::runtime_error naming the file when it cannot be loaded.
class PublicSuffixList {
 public:
  explicit PublicSuffixList(const std::string& file);
  ~PublicSuffixList();
  PublicSuffixList(const PublicSuffixList&) = delete;
  PublicSuffixList& operator=(const PublicSuffixList&) = delete;
  // The registrable domain (public suffix + one label) of a lower-case A-label name; the
  // name itself when it is a public suffix or has no registrable part.
  std::string organizationalDomain(std::string_view domain) const;

 private:
  psl_ctx_st* psl_;
};

struct EvaluatorOptions {
  Standard standard = Standard::Rfc9989;
  std::shared_ptr<const PublicSuffixList> psl;  // required for Rfc7489
  // RFC 7489 pct sampling: a number 0-99 per message; empty = uniformly random.
  std::function<unsigned()> random;
};

struct Input {
  std::string authorDomain;  // lower-case A-label (authorDomain() in from.h)
  SpfInput spf;
  std::vector<DkimInput> dkim;
};

// At most this many DMARC queries per tree walk (RFC 9989 §4.10).
inline constexpr size_t kMaxTreeWalkQueries = 8;

class Evaluator {
 public:
  Evaluator(std::shared_ptr<dns::Resolver> resolver, EvaluatorOptions options);
  Outcome evaluate(const Input& input) const;
  const EvaluatorOptions& options() const { return options_; }

 private:
  std::shared_ptr<dns::Resolver> resolver_;
  EvaluatorOptions options_;
};

// The names a DNS tree walk from `domain` asks for, in order, without the "_dmarc." prefix
// (RFC 9989 §4.10 steps 3-7): the domain, then its parent, or its last 7 labels when it
// has 8 or more, then one label less each time. At most kMaxTreeWalkQueries names.
std::vector<std::string> treeWalkNames(std::string_view domain);

}  // namespace authmilter::dmarc
