// ARC stage (see the header).
#include "authmilter/stages/arc_stage.h"

#include <ctime>

#include "authmilter/mail/message_text.h"
#include "authmilter/report/auth_results.h"
#include "authmilter/util/strings.h"

namespace authmilter::stages {

using pipeline::Connection;
using pipeline::Message;
using pipeline::Skip;
using pipeline::Verdict;

namespace {

pipeline::AuthStatus statusOf(arc::Result r) {
  switch (r) {
    case arc::Result::None: return pipeline::AuthStatus::None;
    case arc::Result::Pass: return pipeline::AuthStatus::Pass;
    case arc::Result::Fail: return pipeline::AuthStatus::Fail;
    case arc::Result::TempError: return pipeline::AuthStatus::TempError;
  }
  return pipeline::AuthStatus::None;
}

pipeline::ArcOutcome outcomeOf(const arc::ChainResult& chain, const Connection& connection, bool carried) {
  pipeline::ArcOutcome out;
  out.result = statusOf(chain.result);
  out.reason = util::sanitize(chain.reason);
  out.sets = chain.sets;
  out.oldestPass = chain.oldestPass;
  out.carried = carried;
  if (connection.address) out.remoteIp = connection.address->toString();
  for (const auto& set : chain.details) {
    out.chain.push_back({set.instance, set.domain, set.selector, set.cv, std::string(arc::toString(set.ams)),
                         std::string(arc::toString(set.seal)), util::sanitize(set.problem)});
  }
  return out;
}

// Our own senders whose Authentication-Results from our inbound pass may be copied: a list
// manager on this host or in TrustedNetworks re-sending what we checked on the way in.
bool mayCarryResults(Skip why) { return why == Skip::Trusted || why == Skip::NoClientAddress; }

// A value we may copy into a field of our own: no control characters but folds (a line
// break, CRLF or LF, always followed by a blank), so the copy cannot start a new header line.
bool wellFolded(std::string_view v) {
  for (size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c == '\r' && (i + 1 >= v.size() || v[i + 1] != '\n')) return false;
    if (c == '\n' && (i + 1 >= v.size() || (v[i + 1] != ' ' && v[i + 1] != '\t'))) return false;
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) return false;
  }
  return true;
}

class ArcStage : public pipeline::Stage {
 public:
  ArcStage(const ArcOptions& options, dns::Resolver& resolver, arc::KeyCache& keys)
      : options_(options), resolver_(resolver), keys_(keys) {}

  Verdict onHeader(const Connection& connection, Message& message, std::string_view name,
                   std::string_view value) override {
    if (!started_) start(message);
    if (!collector_) return {};
    if (carried_.empty() && mail::isHeaderNamed(name, report::kAuthResultsHeader) &&
        report::claimOf(value, options_.authservId) == report::AuthservIdClaim::Ours &&
        wellFolded(util::trim(value))) {
      carried_.assign(util::trim(value));
    }
    collector_->header(name, pipeline::valueAfterColon(connection, value, spaced_));
    return {};
  }

  Verdict onEndOfHeaders(const Connection&, Message& message) override {
    if (!started_) start(message);
    if (!collector_) return {};
    if (!seal_ && !collector_->hasArcHeaders()) {
      collector_.reset();  // nothing to check or seal: keep no headers, hash no body
      return {};
    }
    collector_->endOfHeaders(seal_);
    return {};
  }

  Verdict onBody(const Connection&, Message&, std::string_view chunk) override {
    if (collector_) collector_->body(chunk);
    return {};
  }

  Verdict onEndOfMessage(const Connection& connection, Message& message) override {
    if (!started_) start(message);
    const Skip why = message.trust.checks;
    if (collector_) {
      collector_->endOfBody();
      chain_ = arc::validate(*collector_, resolver_, options_.verifyOptions, &keys_);
    }
    if (!options_.verify) return {};
    if (why != Skip::None) {
      message.arc.emplace().skipped = why;
      return {};
    }
    message.arc = outcomeOf(chain_, connection, collector_ && collector_->hasArcHeaders());
    return {};
  }

  Verdict onFinish(const Connection& connection, Message& message) override {
    if (!seal_ || !collector_) return {};
    auto& out = message.arcSeal.emplace();
    if (collector_->overflow()) {
      out.why = "the header section is larger than DKIMMaxHeaderBytes";
      return {};
    }
    // What we say about the chain: our inbound pass's verdict for a list re-sending through
    // us, else what we found now.
    std::optional<arc::ChainStatus> cv;
    std::string results;
    if (mayCarryResults(message.trust.checks) && !carried_.empty()) {
      cv = arc::arcResultIn(carried_);
      if (!cv && chain_.sets == 0) cv = arc::ChainStatus::None;  // it saw no chain and wrote no arc=
      if (cv) results = carried_;
    }
    if (!cv) {
      if (chain_.result == arc::Result::TempError) {
        out.why = "the ARC chain could not be checked (" + util::sanitize(chain_.reason) + ")";
        return {};
      }
      cv = chain_.nextCv();
      results = ourResults(connection, message);
    }
    if (chain_.terminated || chain_.sets >= arc::kMaxSets) {
      out.why = chain_.terminated ? "the chain ended with cv=fail" : "the chain has 50 sets";
      return {};
    }
    if (*cv != arc::ChainStatus::Fail && chain_.fields.size() != chain_.sets) cv = arc::ChainStatus::Fail;
    arc::SealRequest request{options_.sealKey, *cv, results, options_.signHeaders,
                             static_cast<long long>(std::time(nullptr))};
    std::string error;
    const auto set = arc::seal(*collector_, chain_, request, &error);
    if (!set) {
      out.kind = pipeline::ArcSealOutcome::Kind::Failed;
      out.why = error;
      return {};
    }
    // Inserted at the top one after another: the ARC-Seal ends up first.
    message.headerEdits.push_back({pipeline::HeaderEdit::Kind::Insert, 0, std::string(arc::kAuthResultsHeader),
                                   set->authResults});
    message.headerEdits.push_back({pipeline::HeaderEdit::Kind::Insert, 0,
                                   std::string(arc::kMessageSignatureHeader), set->messageSignature});
    message.headerEdits.push_back({pipeline::HeaderEdit::Kind::Insert, 0, std::string(arc::kSealHeader), set->seal});
    out.kind = pipeline::ArcSealOutcome::Kind::Sealed;
    out.instance = set->instance;
    out.cv = std::string(arc::toString(*cv));
    out.domain = options_.sealKey->domain;
    out.selector = options_.sealKey->selector;
    return {};
  }

  void onMessageEnd(Message&) override {
    started_ = false;
    seal_ = false;
    collector_.reset();
    chain_ = {};
    carried_.clear();
  }

 private:
  void start(const Message& message) {
    started_ = true;
    const Skip why = message.trust.checks;
    const bool inbound = why == Skip::None;
    const bool ours = why == Skip::Authenticated || why == Skip::Trusted || why == Skip::NoClientAddress;
    seal_ = options_.sealKey != nullptr && ((inbound && options_.sealInbound) || (ours && options_.sealOutbound));
    if (seal_ || (options_.verify && inbound)) collector_.emplace(options_.maxHeaderBytes);
  }

  // The AAR payload for mail we checked now: our Authentication-Results, with arc= always.
  std::string ourResults(const Connection& connection, const Message& message) const {
    auto results = report::authResultsOf(message);
    bool hasArc = false;
    for (const auto& r : results) hasArc = hasArc || r.method == "arc";
    if (!hasArc) {
      pipeline::ArcOutcome none = outcomeOf(chain_, connection, true);
      results.push_back(report::arcAuthResult(none));
    }
    return report::formatAuthResults(options_.authservId, results);
  }

  const ArcOptions& options_;
  dns::Resolver& resolver_;
  arc::KeyCache& keys_;
  bool started_ = false;
  bool seal_ = false;
  std::optional<arc::Collector> collector_;
  arc::ChainResult chain_;
  std::string carried_;  // the first Authentication-Results claiming our authserv-id
  std::string spaced_;   // scratch for valueAfterColon
};

}  // namespace

std::unique_ptr<pipeline::Stage> ArcStageFactory::create() const {
  return std::make_unique<ArcStage>(options_, *resolver_, keys_);
}

}  // namespace authmilter::stages
