// The settings table: every conf option with its kind, default and limits, and the
// documentation the sample conf and authmilter.conf(5) are generated from
// (settings_docs.cc; a test fails when conf/authmilter.conf or contrib/authmilter.conf.5
// differ from what this table generates: `build/authmilter-confgen conf|man` rewrites them).
#include "authmilter/config/settings.h"

#include "authmilter/config/config.h"
#include "authmilter/util/strings.h"

namespace authmilter::config {

namespace {

constexpr std::string_view kIntro = R"(authmilter.conf -- sample configuration; every option, with its default.

Syntax (as in opendkim.conf and opendmarc.conf): one "Key value" a line, keys are
case-insensitive, '#' starts a comment (at the start of a line or after a blank).
An unknown key or a bad value stops authmilter with "file:line: message";
`authmilter -n -c FILE` checks a file and every list it names without starting.
Relative file names are relative to the directory of this file.
SIGHUP re-reads this file and every list file; a broken new configuration is refused
(logged) and the running one stays in force. Socket, UMask, UserID, PidFile,
MetricsSocket, ReportStore and ReportQueueSize changes need a restart.)";

constexpr SettingSection kSections[] = {
    {"Daemon", ""},
    {"Logging",
     R"(One line per message, e.g.
  4XyZ1abc: client=mail.example.net[192.0.2.7] helo=mail.example.net auth=- daemon=MTA
    from=<a@example.net> rcpts=1 action=accept
plus start, stop, reload and every configuration or runtime error.)"},
    {"Authentication-Results", ""},
    {"Relay policy",
     R"(Only authenticated clients ({auth_authen} set by SMTP AUTH) and TrustedNetworks may send
to domains outside LocalDomains; others get "550 5.7.1 <rcpt>: Relay access denied" for
that recipient. Source routes and '%', '!' or '@' in a local part are refused from them
too, whatever the domain (Postfix's allow_untrusted_routing = no).)"},
    {"DNS",
     R"(One resolver and one cache serve SPF, DKIM and DMARC for every session. A lookup that
gets no answer (timeout, SERVFAIL) is a temporary error (temperror), never "no record".
To see what the checks see for a name: authmilter-dns -c THIS-FILE NAME TYPE
SIGHUP empties the cache.)"},
    {"SPF",
     R"(RFC 7208, evaluated by authmilter's own code on the DNS layer above (not libspf2).
At MAIL FROM, the MAIL FROM identity (with the null sender <>: postmaster@HELO) and the
HELO identity are checked. Results: none, neutral, pass, fail, softfail, temperror,
permerror; they go to Authentication-Results ("spf=pass smtp.mailfrom=..." and
"spf=... smtp.helo=..."), to the log line (spf=, spf_helo=, spf_why= what decided it or
what went wrong, spf_exp= the explanation when fetched) and to a Received-SPF header.
Authenticated clients, TrustedNetworks, IgnoreHosts and mail without a client address
are not checked (the log line says spf=skipped spf_skip=why).
To see how a result came about: authmilter-check spf -c THIS-FILE --ip IP --helo NAME --from ADDR)"},
    {"DKIM verification",
     R"(Every DKIM-Signature (RFC 6376) is verified by libopendkim while the message streams
past, keys resolved through the DNS layer above: rsa-sha256 and ed25519-sha256 (RFC 8463),
simple and relaxed canonicalization. Each signature gets pass, fail, policy, neutral,
temperror or permerror in Authentication-Results ("dkim=pass header.d=example.com
header.i=@example.com header.s=sel header.a=rsa-sha256 header.b=AbCdEfGh"), with a reason
unless it passed; the log line says dkim=pass:example.com fail:example.net and dkim_why=.
  fail       the signature or body hash does not verify
  policy     rsa-sha1, or an RSA key shorter than MinimumKeyBits, verifying or not
             (RFC 8301): never a pass
  permerror  expired (x=), dated in the future (t=), revoked key (empty p=), no key
             (NXDOMAIN or NODATA), malformed signature or key record, From not signed
  temperror  the key lookup failed (SERVFAIL, REFUSED, timeout, truncated with TCP
             failing): DNSErrorAction decides
  neutral    a failing signature made with a testing key (t=y)
README's "DKIM results" table lists every condition with the RFC section behind it.
Authenticated, TrustedNetworks and IgnoreHosts clients, and mail without a client
address, are not verified (their mail is signed, not checked): dkim=skipped dkim_skip=why.
To see one message's verdicts: authmilter-check dkim -c THIS-FILE MESSAGE.eml)"},
    {"DMARC",
     R"(DMARC (RFC 9989, DMARCbis) decides what happens to mail whose From domain is not
authenticated: the author domain comes from the From header, its policy record from
_dmarc.DOMAIN (or, by the DNS tree walk, from its Organizational Domain: at most 8
queries), and the message passes when SPF passed for an aligned MAIL FROM domain or a
DKIM signature of an aligned d= domain verified (aspf/adkim: r = same Organizational
Domain, s = the same name). A failing message gets the record's p= (the domain itself),
sp= (an existing subdomain) or np= (a subdomain with no A, AAAA or MX); t=y lowers it one
step (reject -> quarantine -> none). Authentication-Results says
  dmarc=fail (p=reject sp=quarantine dis=reject) header.from=example.com
(dis= is what authmilter did), the log line dmarc=, dmarc_from=, dmarc_record=,
dmarc_align= (spf, dkim:DOMAIN or none), dmarc_policy=, dmarc_dis= and dmarc_why=.
  pass       an aligned identifier passed
  fail       none did; the policy applies
  none       no DMARC record (or several at one name, which count as none)
  temperror  a DMARC lookup failed (timeout, SERVFAIL): DNSErrorAction decides
  permerror  the record's p=, sp= or np= is invalid and it has no valid rua= (with a
             valid rua= it counts as p=none), or the From header is malformed
Authenticated (see IgnoreAuthenticatedClients), TrustedNetworks and IgnoreHosts clients,
and mail without a client address (local submission through non_smtpd_milters), are not
checked: dmarc=skipped dmarc_skip=why in the log, no dmarc= in the header.
To see one message's evaluation step by step:
  authmilter-check dmarc -c THIS-FILE MESSAGE.eml --ip IP --helo NAME --from ADDR)"},
    {"DKIM signing",
     R"(Mail from our own senders is signed: authenticated clients ({auth_authen}), clients in
TrustedNetworks (OpenDKIM's InternalHosts), connections to a daemon in SigningDaemons, and mail
without a client address (local submission through Postfix's non_smtpd_milters). Mail
merely relayed inbound is never signed. The address in the From header chooses the keys
(one table entry may name an RSA and an Ed25519 key: every message then gets both
signatures, made in one pass). With SenderLoginMap, an authenticated user's mail is signed
only for a From address the login owns. The log line names each signature made,
  dkim_sign="d=example.com s=rsa2026 a=rsa-sha256, d=example.com s=ed2026 a=ed25519-sha256"
or, for our own mail that is not signed, dkim_sign=none and dkim_sign_why= (no key for
the From address, a malformed From, a From the login does not own). Our own signatures
get no Authentication-Results entry. If a key fails to sign, the message is
refused with 451 4.3.0 (the client retries) rather than sent unsigned. Signing is off
while neither Domain/Selector/KeyFile nor KeyTable/SigningTable is set.

Keys: PEM (PKCS#8 or PKCS#1) RSA keys of at least 1024 bits (2048 recommended), and
Ed25519 keys (RFC 8463) as PEM or as the raw 32-byte seed in base64. Make them with
  authmilter-keygen -a rsa -d example.com -s rsa2026 -D /etc/authmilter/keys -u authmilter
  authmilter-keygen -a ed25519 -d example.com -s ed2026 -D /etc/authmilter/keys -u authmilter
which also print the TXT records to publish. Keys are read at start (before UserID takes
effect) and on SIGHUP (as UserID: give the key files to that user, mode 0600). A key that
cannot be read on SIGHUP keeps the running configuration, old keys included, in force.
Key material is never logged.)"},
    {"ARC",
     R"(ARC (RFC 8617) lets a list or forwarder vouch for the results it saw before it changed
a message. Every ARC set a message from another host carries is checked by authmilter's own
code (at most 50 sets; rsa-sha256 and ed25519-sha256, keys through the DNS layer above,
RSA keys under MinimumKeyBits fail): instance numbering, cv= (none on the first set, pass
on the rest), the newest ARC-Message-Signature, then every ARC-Seal. Authentication-Results
shows "arc=pass header.oldest-pass=0 smtp.remote-ip=192.0.2.7" (fail and temperror with a
reason) and the log line arc= and arc_chain= (each set: instance, sealer, cv=, and what its
signatures gave) when the message carries ARC header fields; mail without them gets neither.
To see one message's chain: authmilter-check arc -c THIS-FILE MESSAGE.eml)"},
    {"DMARC reports",
     R"(RFC 9990 aggregate reports. With ReportStore set, the daemon records each DMARC
evaluation of a domain whose record has rua= (counted by identical result; never in the
way of mail). authmilter-report, run once a day after 00:00 UTC (contrib/ has a systemd
timer and a cron line), makes one report per policy domain and UTC day, keeps it, and
sends it, gzipped XML in a DKIM-signed message from ReportEmail, to each mailto: rua
address; an address outside the policy domain's Organizational Domain gets it only if
<policy-domain>._report._dmarc.<its domain> has a "v=DMARC1" TXT record. A failed
send is retried on the next run with the same report. authmilter-report --dry-run
--out DIR writes the files instead; see authmilter-report(8).)"},
    {"DMARC failure reports",
     R"(RFC 9991 failure reports: with FailureReports yes, a message that fails DMARC under a
record with ruf= (and an fo= that selects the failure: 0, the default, when DMARC fails; 1
when any mechanism gave no aligned pass; d a DKIM signature failed; s SPF failed) is reported
to each ruf= mailto: address as an ARF message (RFC 5965, RFC 6591 Auth-Failure, RFC 9991
Identity-Alignment, DKIM-Domain/-Identity/-Selector, SPF-DNS) with its header section,
DKIM-signed with ReportEmail's key and piped to ReportCommand by a thread of the daemon: a
message never waits for it. Records with psd=y never get one. Destinations are checked as for
aggregate reports (ReportSuppress, external verification; a DNS failure there drops the
report). Each report, refusal and rate limit is logged ("DMARC failure report for ...").)"},
};

constexpr SettingDef kSettings[] = {
    {.name = "Socket",
     .kind = SettingKind::Socket,
     .defaultValue = "unix:/run/authmilter/authmilter.sock",
     .section = "Daemon",
     .syntax = "SPEC",
     .help = R"(where the MTA connects, in libmilter syntax:
  unix:/path (or local:/path)   a unix socket; a stale socket file is removed, the
                                directory is created if missing
  inet:PORT@HOST                TCP on an IPv4 address (HOST may be a name)
  inet6:PORT@HOST               TCP on an IPv6 address
Prefer a unix socket when the MTA runs on the same host. Port 0 lets the kernel choose
(the daemon logs the port it got; for tests).
Default: unix:/run/authmilter/authmilter.sock)",
     .sample = "Socket unix:/run/authmilter/authmilter.sock"},
    {.name = "UMask",
     .kind = SettingKind::Octal,
     .defaultValue = "007",
     .section = "Daemon",
     .syntax = "OCTAL",
     .help = R"(umask applied while the unix socket is created (007: owner and group may
connect). Default: 007)",
     .sample = "UMask 007"},
    {.name = "UserID",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "Daemon",
     .syntax = "USER[:GROUP]",
     .help = R"(after opening the socket (and reading keys), switch to this user
(and group; default: the user's primary group). The unix socket and its directory are
given to this user. Default: unset (keep the starting user).)",
     .sample = "# UserID authmilter:authmilter"},
    {.name = "PidFile",
     .kind = SettingKind::File,
     .defaultValue = "",
     .section = "Daemon",
     .syntax = "PATH",
     .help = R"(write the daemon's process id here. Default: unset.)",
     .sample = "# PidFile /run/authmilter/authmilter.pid"},
    {.name = "ShutdownTimeout",
     .kind = SettingKind::Integer,
     .defaultValue = "30",
     .min = 0,
     .max = 3600,
     .section = "Daemon",
     .syntax = "SECONDS",
     .help = R"(on SIGTERM/SIGINT, stop accepting connections and wait at most
this long for messages in progress to finish (0-3600). Default: 30)",
     .sample = "ShutdownTimeout 30",
     .bind = {.number = [](Config& c, long v) { c.shutdownTimeout = static_cast<unsigned>(v); }}},
    {.name = "MilterEngine",
     .kind = SettingKind::Enum,
     .defaultValue = "native",
     .choices = "libmilter|native",
     .section = "Daemon",
     .syntax = "libmilter|native",
     .help = R"(what speaks the milter protocol with the MTA. native: authmilter's own
engine (protocol version 6, as Postfix and sendmail speak it): MilterWorkers threads share
one event loop, read every command the MTA has sent in one read and answer them in one
write; a slow DNS answer holds up only its own session. About half the CPU a message of
libmilter (README, Benchmark). libmilter: the sendmail library, a thread per connection
while it is busy. Both give the MTA the same bytes (tested side by side). A change takes
effect at restart. Default: native)",
     .sample = "MilterEngine native",
     .bind = {.choice = [](Config& c, std::string_view v) {
       c.milterEngine = v == "native" ? Config::MilterEngine::Native : Config::MilterEngine::Libmilter;
     }}},
    {.name = "MilterWorkers",
     .kind = SettingKind::Integer,
     .defaultValue = "32",
     .min = 1,
     .max = 1024,
     .section = "Daemon",
     .syntax = "N",
     .help = R"(MilterEngine native: the threads that read, check and answer sessions
(1-1024). A session waiting on DNS holds one; when all are busy, other sessions wait for
one to be free (the MTA's milter_command_timeout still applies): raise it if more SMTP
sessions than this may wait on slow DNS at once. More workers than busy sessions cost
CPU on a small machine (README, Milter engine). Default: 32)",
     .sample = "MilterWorkers 32",
     .bind = {.number = [](Config& c, long v) { c.milterWorkers = static_cast<unsigned>(v); }}},
    {.name = "MilterTimeout",
     .kind = SettingKind::Integer,
     .defaultValue = "7210",
     .min = 1,
     .max = 86400,
     .section = "Daemon",
     .syntax = "SECONDS",
     .help = R"(MilterEngine native: a milter connection on which the MTA sends
nothing for this long is closed, with a log line (1-86400; libmilter's own default).
MilterEngine libmilter: handed to libmilter as its timeout, which bounds its reads and
writes with it but does not close a connection left idle. Default: 7210)",
     .sample = "MilterTimeout 7210",
     .bind = {.number = [](Config& c, long v) { c.milterTimeout = static_cast<unsigned>(v); }}},
    {.name = "MetricsSocket",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "Daemon",
     .syntax = "inet:PORT@ADDRESS",
     .help = R"(serve Prometheus metrics over HTTP, at
http://ADDRESS:PORT/metrics: messages by action, SPF, DKIM, DMARC and ARC results, DMARC
dispositions and overrides, relay refusals, DNS lookups, report queues, sessions, the time
each milter step takes. ADDRESS is a numeric IPv4 address, and required (Debian's
civetweb, which serves the metrics, has no IPv6): a loopback address, unless Prometheus
scrapes from another host (anyone who reaches the port reads the figures; there is no
authentication). The port is opened after UserID takes effect: use one above 1023. A
change takes effect at restart. contrib/grafana-authmilter.json is a dashboard for them.
Default: unset (none served))",
     .sample = "# MetricsSocket inet:9487@127.0.0.1"},
    {.name = "Syslog",
     .kind = SettingKind::Bool,
     .defaultValue = "yes",
     .section = "Logging",
     .syntax = "yes|no",
     .help = R"(log through syslog(3). Default: yes)",
     .sample = "Syslog yes",
     .bind = {.flag = [](Config& c, bool v) { c.log.syslog = v; }}},
    {.name = "SyslogFacility",
     .kind = SettingKind::Enum,
     .defaultValue = "mail",
     .min = 0,
     .max = 0,
     .choices = "mail|daemon|user|local0|local1|local2|local3|local4|local5|local6|local7",
     .section = "Logging",
     .syntax = "NAME",
     .help = R"(mail, daemon, user or local0..local7. Default: mail)",
     .sample = "SyslogFacility mail",
     .bind = {.choice = [](Config& c, std::string_view v) { c.log.facility = *log::parseSyslogFacility(v); }}},
    {.name = "LogLevel",
     .kind = SettingKind::Enum,
     .defaultValue = "info",
     .min = 0,
     .max = 0,
     .choices = "error|warning|notice|info|debug",
     .section = "Logging",
     .syntax = "LEVEL",
     .help = R"(error, warning, notice, info (one line per message) or debug
(also every refused recipient). Default: info)",
     .sample = "LogLevel info",
     .bind = {.choice = [](Config& c, std::string_view v) { c.log.level = *log::parseLogLevel(v); }}},
    {.name = "LogFile",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "Logging",
     .syntax = "PATH|stderr",
     .help = R"(also write log lines to this file (appended; reopened on SIGHUP,
so logrotate can use a postrotate "kill -HUP") or to standard error. For foreground
runs, containers and hosts without a syslog daemon. With -f at a terminal and no LogFile,
authmilter logs to stderr too. Default: unset.)",
     .sample = "# LogFile /var/log/authmilter.log"},
    {.name = "AuthservID",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "Authentication-Results",
     .syntax = "NAME",
     .help = R"(the authserv-id of our Authentication-Results header (RFC 8601).
Incoming Authentication-Results headers that carry this id are removed as forgeries.
Use one name for all your MX hosts if downstream filters should trust them alike.
Default: this host's name (gethostname).)",
     .sample = "# AuthservID mx.example.org"},
    {.name = "LocalDomains",
     .kind = SettingKind::File,
     .defaultValue = "",
     .section = "Relay policy",
     .syntax = "FILE",
     .help = R"(domains we receive mail for (like sendmail's local-host-names or
Postfix's mydestination + relay_domains). One a line: "example.org" is that domain only,
".example.org" every domain below it, "[192.0.2.1]" an address literal. IDN domains may
be written in UTF-8 or punycode. Default: unset (no local domains: only "postmaster").)",
     .sample = "LocalDomains local-domains"},
    {.name = "TrustedNetworks",
     .kind = SettingKind::File,
     .defaultValue = "",
     .section = "Relay policy",
     .syntax = "FILE",
     .help = R"(clients that may relay without authentication (like Postfix's
mynetworks or OpenDKIM's InternalHosts). One IPv4/IPv6 address or CIDR network a line;
IPv4-mapped IPv6 clients (::ffff:192.0.2.1) match IPv4 entries.
Default: 127.0.0.0/8 and ::1 (when set, only the file's entries).)",
     .sample = "TrustedNetworks trusted-networks"},
    {.name = "IgnoreHosts",
     .kind = SettingKind::File,
     .defaultValue = "",
     .section = "Relay policy",
     .syntax = "FILE",
     .help = R"(clients whose mail later checks (SPF, DKIM, DMARC) skip, as
OpenDMARC's IgnoreHosts. One a line: address, CIDR, host name, or ".domain" for every host
name below it (names are the client names the MTA reports; addresses are safer).
The relay policy still applies to them. Default: unset.)",
     .sample = "# IgnoreHosts ignore-hosts"},
    {.name = "SubmissionDaemons",
     .kind = SettingKind::Words,
     .defaultValue = "",
     .section = "Relay policy",
     .syntax = "NAME[,NAME...]",
     .help = R"({daemon_name} values of submission listeners
(sendmail: DAEMON_OPTIONS(`Port=submission, Name=MSA, M=Ea'); Postfix master.cf:
-o milter_macro_daemon_name=ORIGINATING). Unauthenticated MAIL FROM on them gets
"530 5.7.0 Authentication required", from any client. Default: unset.)",
     .sample = "SubmissionDaemons MSA, ORIGINATING"},
    {.name = "SenderLoginMap",
     .kind = SettingKind::File,
     .defaultValue = "",
     .section = "Relay policy",
     .syntax = "FILE",
     .help = R"(which envelope senders each SASL login may use (Postfix's
reject_sender_login_mismatch). One login a line, then its addresses and @domains:
  alice   alice@example.org, @alice.example.org
An authenticated client whose MAIL FROM its login does not own gets
"553 5.7.1 <addr>: Sender address rejected: not owned by user LOGIN"; a login missing
from the file owns nothing. The null sender <> is allowed. Logins are matched as the MTA
passes them in {auth_authen}: Postfix and sendmail both pass what the client typed
("alice", or "alice@example.org" with a SASL realm), so list each form your users use.
Default: unset (no check).)",
     .sample = "# SenderLoginMap sender-logins"},
    {.name = "Nameservers",
     .kind = SettingKind::Words,
     .defaultValue = "",
     .section = "DNS",
     .syntax = "ADDR[:PORT][,...]",
     .help = R"(recursive resolvers to ask, in order (the next one on a
timeout or failure): 192.0.2.53, 192.0.2.53:5353, 2001:db8::53, [2001:db8::53]:5353.
Numeric addresses only. Use a validating resolver on this host or your network; the
queries are recursive (RD). Default: the nameserver lines of /etc/resolv.conf
(127.0.0.1 if it has none).)",
     .sample = "# Nameservers 127.0.0.1"},
    {.name = "DNSTimeout",
     .kind = SettingKind::Duration,
     .defaultValue = "5s",
     .min = 10,
     .max = 60'000,
     .section = "DNS",
     .syntax = "DURATION",
     .help = R"(how long one try waits for a reply: 5 or 5s, 500ms (10ms-60s).
A lookup blocks a message at most DNSTimeout x DNSRetries. Default: 5s)",
     .sample = "DNSTimeout 5s",
     .bind = {.duration = [](Config& c, std::chrono::milliseconds v) { c.dns.timeout = v; }}},
    {.name = "DNSRetries",
     .kind = SettingKind::Integer,
     .defaultValue = "2",
     .min = 1,
     .max = 10,
     .section = "DNS",
     .syntax = "N",
     .help = R"(tries in all per lookup (1-10), each to the next nameserver in the list.
A reply cut short (TC) is asked again over TCP within the same try. Default: 2)",
     .sample = "DNSRetries 2",
     .bind = {.number = [](Config& c, long v) { c.dns.tries = static_cast<unsigned>(v); }}},
    {.name = "DNSCacheSize",
     .kind = SettingKind::Integer,
     .defaultValue = "10000",
     .min = 0,
     .max = 10'000'000,
     .section = "DNS",
     .syntax = "N",
     .help = R"(answers kept in the shared cache (0-10000000; 0 turns caching off); when
full, the least recently used goes. Negative answers (NXDOMAIN, no such record) are kept
for the SOA's negative TTL (RFC 2308); failures and timeouts are never kept. Default: 10000)",
     .sample = "DNSCacheSize 10000",
     .bind = {.number = [](Config& c, long v) { c.dnsCache.maxEntries = static_cast<size_t>(v); }}},
    {.name = "DNSCacheMaxTTL",
     .kind = SettingKind::Integer,
     .defaultValue = "3600",
     .min = 0,
     .max = 604'800,
     .section = "DNS",
     .syntax = "SECONDS",
     .help = R"(keep no answer longer than this, whatever its TTL (0-604800).
Default: 3600)",
     .sample = "DNSCacheMaxTTL 3600",
     .bind = {.number = [](Config& c, long v) { c.dnsCache.maxTtl = static_cast<uint32_t>(v); }}},
    {.name = "DNSErrorAction",
     .kind = SettingKind::Enum,
     .defaultValue = "accept",
     .min = 0,
     .max = 0,
     .choices = "accept|tempfail",
     .section = "DNS",
     .syntax = "accept|tempfail",
     .help = R"(what a check that could not get its DNS answers
(temperror: SERVFAIL, REFUSED, timeout, a truncated answer whose TCP retry failed) does
to the message. accept: deliver it and record the temperror in Authentication-Results
and the log; tempfail: answer "451 4.4.3" so the sending server tries again later
(nothing is lost, but a long DNS outage here delays all mail from the affected domains).
Applies to SPF (at MAIL FROM), DKIM (when no signature passed) and DMARC (at end of
message). Default: accept)",
     .sample = "DNSErrorAction accept",
     .bind = {.choice = [](Config& c, std::string_view v) {
       c.dnsErrorAction = v == "tempfail" ? Config::DnsErrorAction::Tempfail
                                          : Config::DnsErrorAction::Accept;
     }}},
    {.name = "SPFCheck",
     .kind = SettingKind::Bool,
     .defaultValue = "yes",
     .section = "SPF",
     .syntax = "yes|no",
     .help = R"(run the SPF checks at all. Default: yes)",
     .sample = "SPFCheck yes",
     .bind = {.flag = [](Config& c, bool v) { c.spfCheck = v; }}},
    {.name = "SPFAddHeader",
     .kind = SettingKind::Bool,
     .defaultValue = "yes",
     .section = "SPF",
     .syntax = "yes|no",
     .help = R"(add a Received-SPF header (RFC 7208 §9.1) for the MAIL FROM
identity, on top of the message. Default: yes)",
     .sample = "SPFAddHeader yes",
     .bind = {.flag = [](Config& c, bool v) { c.spfAddHeader = v; }}},
    {.name = "SPFRejectFail",
     .kind = SettingKind::Bool,
     .defaultValue = "no",
     .section = "SPF",
     .syntax = "yes|no",
     .help = R"(reject MAIL FROM when its SPF result is fail, with
"550 5.7.23" and the domain's explanation (SPFExplanation) or a standard text. With no,
a fail is only recorded and DMARC decides (a forwarded message may still pass DMARC
with its DKIM signature). softfail, neutral and permerror are never rejected by SPF.
Default: no)",
     .sample = "SPFRejectFail no",
     .bind = {.flag = [](Config& c, bool v) { c.spfRejectFail = v; }}},
    {.name = "SPFExplanation",
     .kind = SettingKind::Bool,
     .defaultValue = "no",
     .section = "SPF",
     .syntax = "yes|no",
     .help = R"(on a fail, fetch the domain's exp= explanation (one more DNS
lookup, text chosen by the sender's domain) for the SPFRejectFail rejection message.
authmilter-check always fetches it. Default: no)",
     .sample = "SPFExplanation no",
     .bind = {.flag = [](Config& c, bool v) { c.spfExplanation = v; }}},
    {.name = "SPFTimeout",
     .kind = SettingKind::Duration,
     .defaultValue = "20s",
     .min = 100,
     .max = 60'000,
     .section = "SPF",
     .syntax = "DURATION",
     .help = R"(at most this long for the SPF checks of one message (MAIL FROM and
HELO, all DNS lookups together; 100ms-60s); past it the result is temperror. RFC 7208
§4.6.4 asks for at least 20s. No lookup is started after it, but one already started may
add DNSTimeout x DNSRetries: 20s + 5s x 2 = 30s at MAIL FROM at worst, which is Postfix's
milter_command_timeout default, so set that to 45s (contrib/postfix-main.cf). Default: 20s)",
     .sample = "SPFTimeout 20s",
     .bind = {.duration = [](Config& c, std::chrono::milliseconds v) { c.spfTimeout = v; }}},
    {.name = "DKIMVerify",
     .kind = SettingKind::Bool,
     .defaultValue = "yes",
     .section = "DKIM verification",
     .syntax = "yes|no",
     .help = R"(verify DKIM signatures at all. Default: yes)",
     .sample = "DKIMVerify yes",
     .bind = {.flag = [](Config& c, bool v) { c.dkimVerify = v; }}},
    {.name = "MaximumSignatures",
     .kind = SettingKind::Integer,
     .defaultValue = "5",
     .min = 1,
     .max = 100,
     .section = "DKIM verification",
     .syntax = "N",
     .help = R"(verify at most this many signatures of a message (1-100), in
header order; the rest are not checked (dkim_unchecked=N in the log). Bounds the key
lookups and hashing a message with hundreds of signatures can cause. Default: 5)",
     .sample = "MaximumSignatures 5",
     .bind = {.number = [](Config& c, long v) { c.dkimOptions.maxSignatures = static_cast<unsigned>(v); }}},
    {.name = "MinimumKeyBits",
     .kind = SettingKind::Integer,
     .defaultValue = "1024",
     .min = 512,
     .max = 16384,
     .section = "DKIM verification",
     .syntax = "N",
     .help = R"(RSA keys shorter than this give "policy", not pass (512-16384).
RFC 8301 says 1024 at least. Default: 1024)",
     .sample = "MinimumKeyBits 1024",
     .bind = {.number = [](Config& c, long v) { c.dkimOptions.minKeyBits = static_cast<unsigned>(v); }}},
    {.name = "LBodyPolicy",
     .kind = SettingKind::Enum,
     .defaultValue = "ignore",
     .min = 0,
     .max = 0,
     .choices = "ignore|accept",
     .section = "DKIM verification",
     .syntax = "ignore|accept",
     .help = R"(a signature with l= that covers less than the body (content
was appended after signing, and is unsigned) still shows as pass, with the reason; ignore:
DMARC does not count it; accept: it does. Default: ignore)",
     .sample = "LBodyPolicy ignore",
     .bind = {.choice = [](Config& c, std::string_view v) { c.lBodyAccept = v == "accept"; }}},
    {.name = "DKIMMaxHeaderBytes",
     .kind = SettingKind::Integer,
     .defaultValue = "1048576",
     .min = 16384,
     .max = 67'108'864,
     .section = "DKIM verification",
     .syntax = "N",
     .help = R"(headers bigger than this in all (16384-67108864 bytes) are not
verified: every signature of such a message is a permerror. Default: 1048576)",
     .sample = "DKIMMaxHeaderBytes 1048576",
     .bind = {.number = [](Config& c, long v) { c.dkimOptions.maxHeaderBytes = static_cast<size_t>(v); }}},
    {.name = "DMARCCheck",
     .kind = SettingKind::Bool,
     .defaultValue = "yes",
     .section = "DMARC",
     .syntax = "yes|no",
     .help = R"(evaluate DMARC at all. Default: yes)",
     .sample = "DMARCCheck yes",
     .bind = {.flag = [](Config& c, bool v) { c.dmarcCheck = v; }}},
    {.name = "DMARCStandard",
     .kind = SettingKind::Enum,
     .defaultValue = "rfc9989",
     .min = 0,
     .max = 0,
     .choices = "rfc9989|rfc7489",
     .section = "DMARC",
     .syntax = "rfc9989|rfc7489",
     .help = R"(rfc9989: the DNS tree walk finds Organizational
Domains (psd=, np= and t= apply, pct= is ignored). rfc7489: the old way, Organizational
Domains from the Public Suffix List (see PublicSuffixList), pct= samples failing messages
(the rest get the next lower policy), np=, t= and psd= are ignored. Default: rfc9989)",
     .sample = "DMARCStandard rfc9989",
     .bind = {.choice = [](Config& c, std::string_view v) {
       c.dmarcOptions.standard = v == "rfc7489" ? dmarc::Standard::Rfc7489
                                                : dmarc::Standard::Rfc9989;
     }}},
    {.name = "PublicSuffixList",
     .kind = SettingKind::File,
     .defaultValue = "",
     .section = "DMARC",
     .syntax = "FILE",
     .help = R"(the list rfc7489 uses, in publicsuffix.org format. Empty: the
Debian package publicsuffix (/usr/share/publicsuffix), or libpsl's built-in list if that
is newer. Read at start and on SIGHUP. Default: unset.)",
     .sample = "# PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat"},
    {.name = "RejectFailures",
     .kind = SettingKind::Bool,
     .defaultValue = "yes",
     .section = "DMARC",
     .syntax = "yes|no",
     .help = R"(yes: do what a failing message's policy asks (reject: 550 5.7.1
"Rejected by DMARC policy for DOMAIN"; quarantine: see QuarantineAction). no: report
only, the verdict goes to Authentication-Results and the log line (dmarc_action=none).
Default: yes)",
     .sample = "RejectFailures yes",
     .bind = {.flag = [](Config& c, bool v) { c.rejectFailures = v; }}},
    {.name = "QuarantineAction",
     .kind = SettingKind::Enum,
     .defaultValue = "quarantine",
     .min = 0,
     .max = 0,
     .choices = "quarantine|header",
     .section = "DMARC",
     .syntax = "quarantine|header",
     .help = R"(what p=quarantine does. quarantine: the milter
quarantine action with a reason (sendmail's quarantine queue, Postfix's hold queue:
postqueue -j, postsuper -H to release). header: deliver, with
"X-Authmilter-Quarantine: DMARC quarantine policy of DOMAIN" added for the mail store's
filters (e.g. a sieve rule filing it as junk). Default: quarantine)",
     .sample = "QuarantineAction quarantine",
     .bind = {.choice = [](Config& c, std::string_view v) {
       c.quarantineAction = v == "header" ? Config::QuarantineAction::Header
                                          : Config::QuarantineAction::Quarantine;
     }}},
    {.name = "RejectMalformedFrom",
     .kind = SettingKind::Bool,
     .defaultValue = "yes",
     .section = "DMARC",
     .syntax = "yes|no",
     .help = R"(a message without exactly one From header, or whose From
has no address, an address without a domain, or addresses in more than one domain, cannot
be evaluated (and is what spoofers send to slip past filters). yes: 550 5.7.1 saying what
is wrong. no: deliver with dmarc=permerror and the reason. Default: yes)",
     .sample = "RejectMalformedFrom yes",
     .bind = {.flag = [](Config& c, bool v) { c.rejectMalformedFrom = v; }}},
    {.name = "IgnoreAuthenticatedClients",
     .kind = SettingKind::Bool,
     .defaultValue = "yes",
     .section = "DMARC",
     .syntax = "yes|no",
     .help = R"(yes: mail from clients that authenticated (SMTP
AUTH, {auth_authen}) is not checked by SPF, DKIM verify or DMARC: a user's own phone on
port 587 sends as the site's p=reject domain from anywhere. no: check it like any other
mail (it will fail DMARC unless it is already signed). Default: yes)",
     .sample = "IgnoreAuthenticatedClients yes",
     .bind = {.flag = [](Config& c, bool v) { c.ignoreAuthenticatedClients = v; }}},
    {.name = "Domain",
     .kind = SettingKind::Words,
     .defaultValue = "",
     .section = "DKIM signing",
     .syntax = "DOMAIN[,DOMAIN...]",
     .help = R"(the one-key form, for small sites: sign mail whose From
domain is one of these with KeyFile, as d=<that domain>, s=Selector. Give Domain,
Selector and KeyFile together, or use KeyTable and SigningTable instead. Default: unset.)",
     .sample = "# Domain example.com"},
    {.name = "Selector",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "DKIM signing",
     .syntax = "NAME",
     .help = R"(the selector (s=) of KeyFile. Default: unset.)",
     .sample = "# Selector rsa2026"},
    {.name = "KeyFile",
     .kind = SettingKind::File,
     .defaultValue = "",
     .section = "DKIM signing",
     .syntax = "PATH",
     .help = R"(the private key for Domain. Default: unset.)",
     .sample = "# KeyFile /etc/authmilter/keys/rsa2026.private"},
    {.name = "KeyTable",
     .kind = SettingKind::File,
     .defaultValue = "",
     .section = "DKIM signing",
     .syntax = "FILE",
     .help = R"(OpenDKIM's key table: "NAME DOMAIN:SELECTOR:/path/to/key" a line. Unlike
OpenDKIM, several lines may share one NAME: each is one signature (one RSA and one Ed25519
line -> two signatures). DOMAIN "%" stands for the From domain. Relative key paths are
relative to the directory of this file. Default: unset.)",
     .sample = "# KeyTable /etc/authmilter/key.table"},
    {.name = "SigningTable",
     .kind = SettingKind::String,
     .defaultValue = "",
     .section = "DKIM signing",
     .syntax = "[refile:]FILE",
     .help = R"(which KeyTable NAME signs a From address: "KEY NAME [SIGNER]"
a line. A plain file is looked up as OpenDKIM does, first match wins: user@host, host,
user@.parent for each parent domain, .parent likewise, user@*, *. With "refile:" KEY is a
pattern, '*' matching anything ("*@example.com", "*@*.example.com"), first match in file
order wins. SIGNER, if given, becomes i= ("%" = the From domain; left out unless it is in
d= or below it). Default: unset.)",
     .sample = "# SigningTable refile:/etc/authmilter/signing.table"},
    {.name = "RequireSafeKeys",
     .kind = SettingKind::Bool,
     .defaultValue = "yes",
     .section = "DKIM signing",
     .syntax = "yes|no",
     .help = R"(refuse a key file that group or others may read or write, or
that sits in (or below) a directory group or others may write without the sticky bit
(someone could swap the key). Default: yes)",
     .sample = "RequireSafeKeys yes"},
    {.name = "Canonicalization",
     .kind = SettingKind::String,
     .defaultValue = "relaxed/relaxed",
     .section = "DKIM signing",
     .syntax = "HEADER/BODY",
     .help = R"(simple or relaxed each (RFC 6376 3.4). One word is the
header canonicalization, with simple for the body (as in OpenDKIM). relaxed survives
the re-folding and re-spacing of headers that MTAs and lists do. Default: relaxed/relaxed)",
     .sample = "Canonicalization relaxed/relaxed"},
    {.name = "SignHeaders",
     .kind = SettingKind::Words,
     .defaultValue = "",
     .section = "DKIM signing",
     .syntax = "NAME[,NAME...]",
     .help = R"(the header fields signed, when present. Unset: RFC 6376
5.4.1's list (From, Reply-To, Subject, Date, To, Cc, Resent-Date, Resent-From, Resent-To,
Resent-Cc, In-Reply-To, References, List-Id, List-Help, List-Unsubscribe, List-Subscribe,
List-Post, List-Owner, List-Archive) plus Message-ID, MIME-Version, Content-Type. Must
include From; must not include Authentication-Results, Received-SPF,
X-Authmilter-Quarantine or DKIM-Signature (added after signing). Default: unset.)",
     .sample = "# SignHeaders From,To,Cc,Subject,Date,Message-ID,MIME-Version,Content-Type"},
    {.name = "OversignHeaders",
     .kind = SettingKind::Words,
     .defaultValue = "From,To,Subject,Date,Message-ID,Content-Type,MIME-Version",
     .section = "DKIM signing",
     .syntax = "NAME[,NAME...]|none",
     .help = R"(list each of these fields in h= once more than the
message has it, so that a copy added on the way (a second Subject or From) breaks the
signature (RFC 6376 8.15). none: no oversigning.
Default: From,To,Subject,Date,Message-ID,Content-Type,MIME-Version)",
     .sample = "OversignHeaders From,To,Subject,Date,Message-ID,Content-Type,MIME-Version"},
    {.name = "SignatureTTL",
     .kind = SettingKind::Integer,
     .defaultValue = "0",
     .min = 0,
     .max = 31'536'000,
     .section = "DKIM signing",
     .syntax = "SECONDS",
     .help = R"(give signatures an expiry (x=) this long after t= (0-31536000);
0: no x=. Default: 0)",
     .sample = "SignatureTTL 0"},
    {.name = "SigningDaemons",
     .kind = SettingKind::Words,
     .defaultValue = "",
     .section = "DKIM signing",
     .syntax = "NAME[,NAME...]",
     .help = R"({daemon_name}s whose mail is signed whoever the client
is (e.g. ORIGINATING, Postfix's submission service, when it authenticates by other means
than SASL). Default: unset.)",
     .sample = "# SigningDaemons ORIGINATING"},
};

}  // namespace

std::string_view settingsIntro() { return kIntro; }
std::span<const SettingSection> settingSections() { return kSections; }
std::span<const SettingDef> settingDefs() {
  static const std::vector<SettingDef> all = [] {
    std::vector<SettingDef> v(std::begin(kSettings), std::end(kSettings));
    const auto arc = arcSettingDefs();
    v.insert(v.end(), arc.begin(), arc.end());
    const auto reports = reportSettingDefs();
    v.insert(v.end(), reports.begin(), reports.end());
    return v;
  }();
  return all;
}

const SettingDef* findSetting(std::string_view name) {
  for (const auto& def : settingDefs()) {
    if (util::iequals(def.name, name)) return &def;
  }
  return nullptr;
}

bool isChoice(const SettingDef& def, std::string_view value) {
  std::string_view choices = def.choices;
  while (!choices.empty()) {
    const auto bar = choices.find('|');
    if (util::iequals(choices.substr(0, bar), value)) return true;
    choices = bar == std::string_view::npos ? std::string_view{} : choices.substr(bar + 1);
  }
  return false;
}

}  // namespace authmilter::config
