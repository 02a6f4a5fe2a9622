// Relay policy stage. Postfix is the model (reject_unauth_destination with
// allow_untrusted_routing=no, smtpd_sender_login_maps); where an address form is
// ambiguous the stage refuses, because a wrong refusal is a bounce the sender sees and
// a wrong acceptance is an open relay.
#include "authmilter/stages/relay_stage.h"

#include "authmilter/metrics/metrics.h"


#include "authmilter/util/strings.h"

namespace authmilter::stages {

using pipeline::Connection;
using pipeline::Message;
using pipeline::Verdict;

RecipientClass classifyRecipient(const mail::MailAddress& rcpt, const policy::DomainSet& localDomains) {
  if (!rcpt.valid || rcpt.null) return RecipientClass::Invalid;
  if (rcpt.sourceRoute || rcpt.routingInLocalPart) return RecipientClass::Routing;
  if (!rcpt.hasDomain) {
    return util::iequals(rcpt.localPart, "postmaster") ? RecipientClass::Local : RecipientClass::NoDomain;
  }
  return localDomains.contains(rcpt.domain) ? RecipientClass::Local : RecipientClass::Remote;
}

namespace {

std::string_view className(RecipientClass c) {
  switch (c) {
    case RecipientClass::Local: return "local";
    case RecipientClass::Remote: return "remote";
    case RecipientClass::Routing: return "sender-specified routing";
    case RecipientClass::NoDomain: return "no domain";
    case RecipientClass::Invalid: return "invalid address";
  }
  return "?";
}

class RelayStage : public pipeline::Stage {
 public:
  explicit RelayStage(const RelayOptions& options) : options_(options) {}

  Verdict onConnect(Connection& connection) override {
    connection.trustedNetwork = connection.address && options_.trustedNetworks->contains(*connection.address);
    connection.ignored = options_.ignoreHosts->matches(connection.address, connection.hostname);
    return {};
  }

  Verdict onMailFrom(const Connection& connection, Message& message) override {
    if (!message.authenticated() && util::listed(options_.submissionDaemons, connection.daemonName)) {
      metrics::countRelayRefusal(metrics::RelayRefusal::UnauthenticatedSubmission);
      return Verdict::reject("530", "5.7.0", "Authentication required",
                             "unauthenticated submission on " + util::sanitize(connection.daemonName));
    }
    if (message.authenticated() && options_.senderLoginMap &&
        !options_.senderLoginMap->owns(message.authLogin, message.sender)) {
      const std::string login = util::sanitize(message.authLogin);
      metrics::countRelayRefusal(metrics::RelayRefusal::SenderNotOwned);
      return Verdict::reject("553", "5.7.1",
                             "<" + message.sender.text + ">: Sender address rejected: not owned by user " + login,
                             "sender <" + message.sender.text + "> not owned by " + login);
    }
    return {};
  }

  Verdict onRcpt(const Connection& connection, Message& message, const mail::MailAddress& rcpt) override {
    if (message.authenticated() || connection.trustedNetwork) return {};
    const RecipientClass c = classifyRecipient(rcpt, *options_.localDomains);
    if (c == RecipientClass::Local) return {};
    metrics::countRelayRefusal(metrics::RelayRefusal::RelayDenied);
    return Verdict::reject("550", "5.7.1", "<" + rcpt.text + ">: Relay access denied",
                           "relay denied for <" + rcpt.text + "> (" + std::string(className(c)) + ")");
  }

 private:
  const RelayOptions& options_;
};

}  // namespace

std::unique_ptr<pipeline::Stage> RelayStageFactory::create() const { return std::make_unique<RelayStage>(options_); }

}  // namespace authmilter::stages
