// Relay policy: only authenticated ({auth_authen}) or trusted (TrustedNetworks) clients
// may send to domains outside LocalDomains; unauthenticated clients of a submission
// daemon are refused at MAIL FROM; SenderLoginMap binds logins to envelope senders.
// Also records connection facts later stages read: trusted network, IgnoreHosts.
// Missing information (no client address, no macros) always means "not trusted".
#pragma once

#include "authmilter/pipeline/stage.h"
#include "authmilter/stages/stage_options.h"

namespace authmilter::stages {

// How a recipient looks to the relay check (exposed for tests).
enum class RecipientClass {
  Local,          // a LocalDomains domain, or bare "postmaster" (RFC 5321 §4.5.1)
  Remote,         // any other domain
  Routing,        // source route, or '@' '%' '!' in the local part: sender-specified routing
  NoDomain,       // bare local part: the MTA would complete it with a domain we can't see
  Invalid,        // unparseable, or the null address
};
RecipientClass classifyRecipient(const mail::MailAddress& rcpt, const policy::DomainSet& localDomains);

class RelayStageFactory : public pipeline::StageFactory {
 public:
  explicit RelayStageFactory(RelayOptions options) : options_(std::move(options)) {}
  std::string_view name() const override { return "relay"; }
  uint32_t hooks() const override { return pipeline::kHookConnect | pipeline::kHookMail | pipeline::kHookRcpt; }
  std::unique_ptr<pipeline::Stage> create() const override;

 private:
  RelayOptions options_;
};

}  // namespace authmilter::stages
