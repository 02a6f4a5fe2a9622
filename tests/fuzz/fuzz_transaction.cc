// Fuzz target: the whole transaction driver (pipeline::Transaction) with the real stages,
// built as the daemon builds them (runtime::buildRuntime) on a table resolver. The input is
// six lines and a message:
//   options  letters: 0-2 pick the configuration (0 checks, 1 report-only + ARC sealing +
//            SPFRejectFail + DNS tempfail, 2 signing + authenticated checked + RFC 7489);
//            'l' header values with their leading space; 'e' no end-of-headers event;
//            'a' abort after the headers and send the message again; a digit d: body chunks
//            of 2^d bytes
//   client IP ("" none), HELO, MAIL FROM argument, RCPT arguments (blank-separated),
//   SASL login ("" none); then the message (mail::splitMessageText) as header and body
//   events. Invariants: no crash and no exception; every verdict is a Disposition; the
//   header-edit plan exists only when the message is not stopped, its A-R reads back
//   (strict reader) with our id, no value starts a new header line, deletions are of A-R
//   fields that were there, last first; the SMTP reply and the log line are one line
//   without CR, LF or NUL.
#include <sys/stat.h>

#include <algorithm>
#include <string>

#include "authmilter/dkim/signing_key.h"
#include "authmilter/mail/message_text.h"
#include "authmilter/pipeline/transaction.h"
#include "authmilter/runtime/runtime.h"
#include "fuzz_support.h"
#include "resinfo_reader.h"
#include "temp_dir.h"

namespace {

using namespace authmilter;
using pipeline::Disposition;

constexpr std::string_view kOurId = "mx.test.example";

struct World {
  testsupport::TempDir dir;
  std::shared_ptr<fuzz::TableResolver> resolver = std::make_shared<fuzz::TableResolver>();
  std::shared_ptr<const runtime::Runtime> runtimes[3];

  World() {
    fuzz::quietLogs();
    dir.write("domains", "example.org\n");
    dir.write("trusted", "10.0.0.0/8\n");
    const auto ed = authmilter::dkim::generatePrivateKey(authmilter::dkim::KeyAlgorithm::Ed25519, 0);
    const auto rsa = authmilter::dkim::generatePrivateKey(authmilter::dkim::KeyAlgorithm::Rsa, 1024);
    chmod(dir.write("ed.pem", ed.pem).c_str(), 0600);
    chmod(dir.write("rsa.pem", rsa.pem).c_str(), 0600);
    using dns::RrType;
    resolver->setRecords("ed._domainkey.example.com", RrType::TXT, {authmilter::dkim::dnsRecord(ed)});
    resolver->setRecords("rsa._domainkey.example.com", RrType::TXT, {authmilter::dkim::dnsRecord(rsa)});
    resolver->setRecords("arc._domainkey.example.org", RrType::TXT, {authmilter::dkim::dnsRecord(rsa)});
    resolver->setRecords("_dmarc.example.com", RrType::TXT, {"v=DMARC1; p=reject; rua=mailto:d@example.com"});
    resolver->setRecords("_dmarc.example.net", RrType::TXT, {"v=DMARC1; p=quarantine; sp=none; t=y"});
    resolver->setRecords("example.com", RrType::TXT, {"v=spf1 ip4:192.0.2.0/24 include:example.net -all"});
    resolver->setRecords("example.net", RrType::TXT, {"v=spf1 a mx ptr exists:%{i}.x.example.net ~all"});
    resolver->setRecords("example.net", RrType::A, {"192.0.2.9"});
    resolver->setRecords("example.net", RrType::MX, {"mx.example.net"});
    resolver->setRecords("mx.example.net", RrType::A, {"198.51.100.1"});
    resolver->setStatus("timeout.example", RrType::TXT, dns::DnsStatus::ServFail);
    resolver->setStatus("_dmarc.timeout.example", RrType::TXT, dns::DnsStatus::Timeout);
    const std::string base = "AuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\n";
    const std::string confs[3] = {
        base,
        base + "RejectFailures no\nQuarantineAction header\nARCSealing all\nARCSealKey example.org:arc:rsa.pem\n"
               "SPFRejectFail yes\nDNSErrorAction tempfail\nLBodyPolicy accept\nARCTrustedSealers domains\n",
        base + "Domain example.org\nSelector ed\nKeyFile ed.pem\nIgnoreAuthenticatedClients no\n"
               "DMARCStandard rfc7489\nRejectMalformedFrom no\n",
    };
    for (int i = 0; i < 3; ++i) {
      runtimes[i] = runtime::buildRuntime(config::loadConfig(dir.write("c" + std::to_string(i), confs[i])), resolver);
    }
  }
};

World& world() {
  static World w;
  return w;
}

bool oneLine(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos; }

// A header value we hand the MTA: no NUL, and every line break continues the field.
bool foldedValue(std::string_view v) {
  if (v.find('\0') != std::string_view::npos) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\r' && (i + 1 >= v.size() || v[i + 1] != '\n')) return false;
    if (v[i] == '\n' && (i + 1 >= v.size() || (v[i + 1] != ' ' && v[i + 1] != '\t'))) return false;
  }
  return true;
}

void checkVerdict(const pipeline::Verdict& v) {
  FUZZ_CHECK(v.disposition <= Disposition::Tempfail);
  FUZZ_CHECK(oneLine(v.reply.toString()));
}

struct Options {
  int config = 0;
  bool leadingSpace = false, noEndOfHeaders = false, abortOnce = false;
  size_t chunk = 65536;
};

Options options(std::string_view s) {
  Options o;
  for (const char c : s) {
    if (c >= '0' && c <= '2') o.config = c - '0';
    if (c == 'l') o.leadingSpace = true;
    if (c == 'e') o.noEndOfHeaders = true;
    if (c == 'a') o.abortOnce = true;
    if (c >= '3' && c <= '9') o.chunk = size_t{1} << (c - '3');
  }
  return o;
}

// Header and body events of one message; returns false when a verdict stopped it.
bool sendMessage(pipeline::Transaction& t, const mail::MessageText& text, const Options& o, size_t* arFields) {
  for (const auto& [name, value] : text.headers) {
    if (mail::isHeaderNamed(name, report::kAuthResultsHeader)) ++*arFields;
    const std::string v = o.leadingSpace ? " " + value : value;
    const auto verdict = t.header(name, v);
    checkVerdict(verdict);
    if (verdict.stops()) return false;
  }
  if (!o.noEndOfHeaders) {
    const auto verdict = t.endOfHeaders();
    checkVerdict(verdict);
    if (verdict.stops()) return false;
  }
  for (size_t i = 0; i < text.body.size(); i += o.chunk) {
    const auto verdict = t.body(std::string_view(text.body).substr(i, o.chunk));
    checkVerdict(verdict);
    if (verdict.stops()) return false;
  }
  return true;
}

void checkEnd(const pipeline::Transaction::End& end, size_t arFields) {
  checkVerdict(end.verdict);
  FUZZ_CHECK(oneLine(end.logLine) && !end.logLine.empty());
  const auto& plan = end.edits;
  if (end.verdict.stops()) {
    FUZZ_CHECK(plan.authResults.empty() && plan.edits.empty() && plan.deleteAuthResults.empty() && !plan.quarantine);
    return;
  }
  std::string error;
  const auto read = fuzz::readAuthResults(plan.authResults, &error);
  if (!read) std::fprintf(stderr, "unreadable A-R (%s): %s\n", error.c_str(), plan.authResults.c_str());
  FUZZ_CHECK(read && read->authservId == kOurId);
  FUZZ_CHECK(foldedValue(plan.authResults));
  for (const auto& e : plan.edits) {
    FUZZ_CHECK(!e.name.empty() && oneLine(e.name) && e.name.find(':') == std::string::npos);
    if (!foldedValue(e.value)) std::fprintf(stderr, "bad %s value: %s\n", e.name.c_str(), e.value.c_str());
    FUZZ_CHECK(foldedValue(e.value));
  }
  for (size_t i = 0; i < plan.deleteAuthResults.size(); ++i) {
    FUZZ_CHECK(plan.deleteAuthResults[i] >= 1 && plan.deleteAuthResults[i] <= arFields);
    if (i > 0) FUZZ_CHECK(plan.deleteAuthResults[i] < plan.deleteAuthResults[i - 1]);
  }
  if (plan.quarantine) FUZZ_CHECK(end.verdict.disposition == Disposition::Quarantine && oneLine(*plan.quarantine));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  const auto fields = fuzz::splitFields(fuzz::asText(data, size), '\n', 7);
  if (fields.size() < 7) return 0;
  const Options o = options(fields[0]);
  const auto& rt = w.runtimes[o.config];
  pipeline::Transaction t(rt->settings, rt->stages);
  checkVerdict(t.connect({std::string(fields[2]), net::IpAddress::parse(fields[1]), "MTA", o.leadingSpace}));
  t.helo(std::string(fields[2]));
  const std::string login(fields[5]);
  const auto atMail = t.mailFrom({std::string(fields[3]), login, login.empty() ? "" : "PLAIN", "Q1"});
  checkVerdict(atMail);
  if (atMail.stops()) {
    t.close();
    return 0;
  }
  size_t accepted = 0;
  std::string_view rcpts = fields[4];
  for (const auto r : fuzz::splitFields(rcpts, ' ', 8)) {
    const auto verdict = t.rcpt(r);
    checkVerdict(verdict);
    if (!verdict.stops()) ++accepted;
  }
  const mail::MessageText text = mail::splitMessageText(fields[6]);
  size_t arFields = 0;
  if (o.abortOnce) {
    (void)sendMessage(t, text, o, &arFields);
    t.abort();
    const auto again = t.mailFrom({std::string(fields[3]), login, login.empty() ? "" : "PLAIN", ""});
    checkVerdict(again);
    if (again.stops()) {
      t.close();
      return 0;
    }
    for (const auto r : fuzz::splitFields(rcpts, ' ', 8)) checkVerdict(t.rcpt(r));
    arFields = 0;
  }
  if (accepted > 0 && sendMessage(t, text, o, &arFields)) checkEnd(t.endOfMessage("Q2"), arFields);
  t.close();
  return 0;
}
