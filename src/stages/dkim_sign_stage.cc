// DKIM sign stage (see the header).
#include "authmilter/stages/dkim_sign_stage.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "authmilter/mail/from.h"
#include "authmilter/util/strings.h"

namespace authmilter::stages {

using pipeline::Connection;
using pipeline::Message;
using pipeline::Verdict;

namespace {

// Why a message is ours to sign; empty: it is not (inbound mail).
std::string_view signableBecause(const DkimSignOptions& options, const Connection& connection,
                                 const Message& message) {
  if (message.authenticated()) return "authenticated";
  if (!connection.address) return "local";  // no client address: the MTA took it in locally
  if (connection.trustedNetwork) return "trusted";
  if (util::listed(options.signingDaemons, connection.daemonName)) return "daemon";
  return {};
}

// The signer folds with CRLF; milter header values fold with a bare LF (the MTA writes the
// line ends), as our Authentication-Results does.
std::string milterFolding(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
    out.push_back(value[i]);
  }
  return out;
}

class DkimSignStage : public pipeline::Stage {
 public:
  explicit DkimSignStage(const DkimSignOptions& options) : options_(options) {}

  Verdict onMailFrom(const Connection& connection, Message& message) override {
    because_ = signableBecause(options_, connection, message);
    return {};
  }

  Verdict onHeader(const Connection& connection, Message&, std::string_view name, std::string_view value) override {
    if (because_.empty() || decided_) return {};
    headerBytes_ += name.size() + value.size() + 3;
    if (headerBytes_ > options_.maxHeaderBytes) {
      overflow_ = true;
      headers_.clear();
      return {};
    }
    std::string v = connection.headerLeadingSpace ? std::string(value) : " " + std::string(value);
    headers_.emplace_back(std::string(name), std::move(v));
    return {};
  }

  Verdict onEndOfHeaders(const Connection&, Message& message) override {
    if (!because_.empty() && !decided_) start(message);
    return {};
  }

  Verdict onBody(const Connection&, Message&, std::string_view chunk) override {
    if (signing_) signing_->body(chunk);
    return {};
  }

  Verdict onEndOfMessage(const Connection&, Message& message) override {
    if (because_.empty()) return {};
    if (!decided_) start(message);  // the MTA sent no end-of-headers event
    if (!signing_) return {};
    std::vector<dkim::MadeSignature> made;
    std::string error;
    const bool ok = signing_->finish(&made, &error);
    signing_.reset();
    if (!ok) {
      message.signing = pipeline::SignOutcome{pipeline::SignOutcome::Kind::Failed, {}, error};
      return Verdict::tempfail("451", "4.3.0", "DKIM signing failed, try again later", "DKIM signing failed: " + error);
    }
    // Each is inserted at the top, so the last one inserted ends up first: insert in reverse
    // to keep the KeyTable's order.
    for (auto it = made.rbegin(); it != made.rend(); ++it) {
      message.headerEdits.push_back({pipeline::HeaderEdit::Kind::Insert, 0, "DKIM-Signature", milterFolding(it->value)});
    }
    auto& out = message.signing.emplace();
    out.kind = pipeline::SignOutcome::Kind::Signed;
    for (const auto& m : made) out.signatures.push_back({m.domain, m.selector, m.algorithm});
    return {};
  }

  void onMessageEnd(Message&) override {
    because_ = {};
    decided_ = false;
    overflow_ = false;
    headerBytes_ = 0;
    headers_.clear();
    signing_.reset();
  }

 private:
  // The From address decides the keys; no keys, no signature, and the log says why.
  void start(Message& message) {
    decided_ = true;
    const auto notSigned = [&](const std::string& why) {
      message.signing = pipeline::SignOutcome{pipeline::SignOutcome::Kind::NotSigned, {}, why};
      headers_.clear();
    };
    if (overflow_) return notSigned("headers exceed DKIMMaxHeaderBytes");
    const mail::AuthorDomain& author = *message.from;  // read by the Transaction
    if (!author.ok()) return notSigned(author.error);
    const std::string& localPart = author.localPart;
    const std::string address = localPart + "@" + author.domain;
    if (message.authenticated() && options_.senderLoginMap &&
        !options_.senderLoginMap->owns(message.authLogin, mail::parseMailAddress("<" + address + ">"))) {
      return notSigned("From <" + util::sanitize(address) + "> not owned by user " + util::sanitize(message.authLogin));
    }
    auto specs = options_.signingTable->select(localPart, author.domain);
    if (specs.empty()) return notSigned("no signing key for <" + util::sanitize(address) + ">");
    signing_.emplace(*options_.signer, std::move(specs), message.queueId);
    for (auto& [name, value] : headers_) signing_->header(std::move(name), std::move(value));
    signing_->endOfHeaders();
    headers_.clear();
    headers_.shrink_to_fit();
  }

  const DkimSignOptions& options_;
  std::string_view because_;  // why this message is signed (static text); empty: not ours
  bool decided_ = false;      // the keys were chosen (or refused) at end of headers
  bool overflow_ = false;
  size_t headerBytes_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;  // until end of headers
  std::optional<dkim::Signing> signing_;
};

}  // namespace

std::unique_ptr<pipeline::Stage> DkimSignStageFactory::create() const { return std::make_unique<DkimSignStage>(options_); }

}  // namespace authmilter::stages
