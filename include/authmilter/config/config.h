// One immutable configuration snapshot: the conf file's settings and every list file it
// names, parsed into lookup sets, and the signing keys (read at load, before privileges
// are dropped). Plain data: the runtime (runtime/runtime.h) builds the resolver and the
// stages from it. Sessions hold the snapshot they started with; a reload swaps in a new one.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "authmilter/config/config_error.h"
#include "authmilter/arc/arc.h"
#include "authmilter/dkim/signer.h"
#include "authmilter/dkim/signing_table.h"
#include "authmilter/dkim/verifier.h"
#include "authmilter/dmarc/evaluator.h"
#include "authmilter/dns/caching_resolver.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/log/logger.h"
#include "authmilter/net/cidr_set.h"
#include "authmilter/policy/domain_set.h"
#include "authmilter/policy/host_list.h"
#include "authmilter/policy/sender_login_map.h"

namespace authmilter::config {

struct SocketSpec {
  enum class Kind { Unix, Inet, Inet6 } kind = Kind::Unix;
  std::string path;  // Unix
  std::string host;  // Inet/Inet6; empty = any address
  unsigned port = 0;
  std::string text;  // as libmilter wants it: "unix:/path", "inet:25@127.0.0.1"
};
// libmilter syntax: unix:/path, local:/path, inet:PORT[@HOST], inet6:PORT[@HOST].
std::optional<SocketSpec> parseSocketSpec(std::string_view text, std::string* error);

struct Config {
  std::string file;  // the conf file this came from

  // Daemon
  SocketSpec socket;
  unsigned umask = 007;
  std::string userId;  // "user" or "user:group"; empty = keep the starting user
  std::string pidFile;
  unsigned shutdownTimeout = 30;
  // Who speaks the milter protocol: libmilter, or our own engine (epoll, a worker pool).
  enum class MilterEngine { Libmilter, Native } milterEngine = MilterEngine::Native;
  unsigned milterWorkers = 32;   // native engine: threads that do the message work
  unsigned milterTimeout = 7210;  // seconds of MTA silence that end a milter connection
  std::optional<SocketSpec> metricsSocket;  // MetricsSocket: inet or inet6, with an address

  // Logging
  log::LogOptions log;

  std::string authservId;

  // Relay policy
  policy::DomainSet localDomains;
  net::CidrSet trustedNetworks;
  policy::HostList ignoreHosts;
  std::vector<std::string> submissionDaemons;
  std::optional<policy::SenderLoginMap> senderLoginMap;

  // DNS: the runtime builds one resolver and cache from these for every stage and session
  // of this snapshot (a reload builds a new one, so SIGHUP also empties the cache).
  dns::ResolverOptions dns;
  dns::CacheOptions dnsCache;
  // A check that could not get its DNS answers (temperror): accept and record it, or
  // answer 451 4.4.3 so the sender tries again. Shared by SPF, DKIM and DMARC.
  enum class DnsErrorAction { Accept, Tempfail } dnsErrorAction = DnsErrorAction::Accept;

  // SPF
  bool spfCheck = true;
  bool spfAddHeader = true;       // Received-SPF
  bool spfRejectFail = false;     // 550 5.7.23 at MAIL FROM; else DMARC decides
  bool spfExplanation = false;    // fetch exp= on a fail
  std::chrono::milliseconds spfTimeout{20'000};

  // DKIM verification
  bool dkimVerify = true;
  dkim::VerifyOptions dkimOptions;
  bool lBodyAccept = false;  // LBodyPolicy accept: an l= signature counts for DMARC

  // DMARC
  bool dmarcCheck = true;
  dmarc::EvaluatorOptions dmarcOptions;  // standard and (RFC 7489) the Public Suffix List
  bool rejectFailures = true;            // no: report only (A-R and log)
  enum class QuarantineAction { Quarantine, Header } quarantineAction = QuarantineAction::Quarantine;
  bool rejectMalformedFrom = true;       // no: dmarc=permerror and deliver
  // Authenticated clients skip SPF, DKIM verify and DMARC (their mail is ours to sign).
  bool ignoreAuthenticatedClients = true;

  // DKIM signing: the keys (read at load, before privileges are dropped at start) and which
  // From addresses they sign; no signer when neither KeyTable/SigningTable nor
  // Domain/Selector/KeyFile is set. TrustedNetworks is OpenDKIM's InternalHosts.
  dkim::SigningTable signingTable;
  std::shared_ptr<const dkim::Signer> signer;
  std::vector<std::string> signingDaemons;     // SigningDaemons: {daemon_name}s whose mail is signed
  std::vector<std::string> signHeaders;        // SignHeaders (also what our ARC sets sign)

  // ARC (RFC 8617): validate chains; seal mail from other hosts (inbound) and/or from our
  // own senders (outbound) with sealKey; trustedSealers may lift a DMARC failure.
  bool arcVerify = true;
  bool arcSealInbound = false, arcSealOutbound = false;
  std::optional<arc::SealKey> arcSealKey;
  policy::DomainSet arcTrustedSealers;
  bool hasArcTrustedSealers = false;

  // DMARC reports: the daemon records into reportStore (empty: nothing is recorded);
  // authmilter-report reads the rest.
  struct Reports {
    std::string store;         // "sqlite:PATH" or "postgresql://..."
    size_t queueSize = 100'000;
    std::string command = "/usr/sbin/sendmail -t -oi";
    std::string orgName;       // empty: AuthservID
    std::string email;         // From: of the reports and <email>
    std::vector<std::string> suppress;  // addresses and domains reports are not sent to
    bool suppressLocalDomains = false;  // nor for policy domains in LocalDomains
    unsigned keepDays = 14;
  } reports;

  // DMARC failure reports (RFC 9991): off unless enabled; sent by the daemon's own thread.
  struct FailureReports {
    bool enabled = false;       // FailureReports
    bool body = false;          // FailureReportBody: the original's body too, not only its headers
    unsigned perDestination = 5, total = 100;  // FailureReportRate: per address and in all, an hour
    std::string bcc;            // FailureReportsBcc: a copy of each to this address
    size_t queueSize = 1000;    // incidents waiting for the thread; more are dropped and counted
    size_t bodyLimit = 65536;   // bytes of body a report carries
  } failureReports;
};

// Reads and validates `path` and every file it names. Relative file names are taken
// relative to the conf file's directory. Throws ConfigErrors listing every problem.
std::shared_ptr<const Config> loadConfig(const std::string& path);

}  // namespace authmilter::config
