// What each stage needs to know, and nothing more. The runtime (runtime/runtime.cc) builds
// these from the settings; the sets they point at live in the settings object the runtime
// keeps alive as long as the stages. No stage sees the whole configuration.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "authmilter/arc/arc.h"
#include "authmilter/dkim/signer.h"
#include "authmilter/dkim/signing_table.h"
#include "authmilter/dkim/verifier.h"
#include "authmilter/dmarc/evaluator.h"
#include "authmilter/net/cidr_set.h"
#include "authmilter/policy/domain_set.h"
#include "authmilter/policy/host_list.h"
#include "authmilter/policy/sender_login_map.h"

namespace authmilter::stages {

// What the sender-authentication checks (SPF, DKIM verification, DMARC) share. (Which
// messages they leave alone is the message's trust fact, decided once by the Transaction.)
struct CheckPolicy {
  bool tempfailOnDnsError = false;  // DNSErrorAction tempfail: temperror -> 451 4.4.3
};

struct RelayOptions {
  const policy::DomainSet* localDomains = nullptr;
  const net::CidrSet* trustedNetworks = nullptr;
  const policy::HostList* ignoreHosts = nullptr;
  std::vector<std::string> submissionDaemons;              // {daemon_name}s that require AUTH
  const policy::SenderLoginMap* senderLoginMap = nullptr;  // nullptr: no SenderLoginMap
};

struct SpfOptions {
  CheckPolicy check;
  std::string authservId;       // %{r} and the Received-SPF receiver
  bool addHeader = true;        // SPFAddHeader
  bool rejectFail = false;      // SPFRejectFail
  bool explanation = false;     // SPFExplanation
  std::chrono::milliseconds timeout{20'000};  // SPFTimeout
};

struct DkimVerifyOptions {
  CheckPolicy check;
  dkim::VerifyOptions verify;
  bool lBodyAccept = false;  // LBodyPolicy accept
};

struct DmarcOptions {
  CheckPolicy check;
  dmarc::EvaluatorOptions evaluator;
  bool rejectFailures = true;       // RejectFailures
  bool quarantineByHeader = false;  // QuarantineAction header
  bool rejectMalformedFrom = true;  // RejectMalformedFrom
  // ARCTrustedSealers: a failing message whose ARC chain passes, sealed by these domains
  // (every sealer from the newest set down to the oldest-pass one), gets disposition none.
  const policy::DomainSet* arcTrustedSealers = nullptr;
};

struct ArcOptions {
  CheckPolicy check;
  bool verify = true;                 // ARCVerify
  bool sealInbound = false;           // ARCSealing inbound|all: mail the checks ran on
  bool sealOutbound = false;          // ARCSealing outbound|all: our own senders' mail
  const arc::SealKey* sealKey = nullptr;  // ARCSealKey
  std::vector<std::string> signHeaders;   // what our ARC-Message-Signature covers (SignHeaders)
  std::string authservId;
  arc::VerifyOptions verifyOptions;   // MinimumKeyBits
  size_t maxHeaderBytes = 1 << 20;    // DKIMMaxHeaderBytes
};

struct DkimSignOptions {
  std::shared_ptr<const dkim::Signer> signer;
  const dkim::SigningTable* signingTable = nullptr;
  std::vector<std::string> signingDaemons;                 // SigningDaemons
  const policy::SenderLoginMap* senderLoginMap = nullptr;  // nullptr: no SenderLoginMap
  size_t maxHeaderBytes = 1 << 20;                         // DKIMMaxHeaderBytes
};

}  // namespace authmilter::stages
