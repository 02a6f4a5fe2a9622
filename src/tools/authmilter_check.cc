// authmilter-check: runs one check the way the daemon does and shows how it got its result.
// What a postmaster runs when a sender complains.
//   authmilter-check spf --ip IP --helo NAME --from ADDR [-c FILE] [--nameserver ADDR[:PORT]]
//   authmilter-check dkim FILE.eml [-c FILE] [--nameserver ADDR[:PORT]]
//   authmilter-check arc FILE.eml [-c FILE] [--nameserver ADDR[:PORT]]
//   authmilter-check dmarc FILE.eml --ip IP --helo NAME --from ADDR [-c FILE] [--nameserver ADDR[:PORT]]
#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "authmilter/arc/arc.h"
#include "authmilter/config/config.h"
#include "authmilter/dkim/verifier.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/mail/message_text.h"
#include "authmilter/log/logger.h"
#include "authmilter/pipeline/transaction.h"
#include "authmilter/report/auth_results.h"
#include "authmilter/report/log_line.h"
#include "authmilter/spf/spf.h"
#include "authmilter/runtime/runtime.h"
#include "authmilter/util/strings.h"
#include "authmilter/version.h"

namespace {

using namespace authmilter;

constexpr int kExitResult = 0;     // a result (pass, fail, none, ... permerror)
constexpr int kExitTemporary = 1;  // temperror (any signature, for dkim)
constexpr int kExitUsage = 2;

void usage(std::ostream& out) {
  out << "usage: authmilter-check spf --ip IP --helo NAME --from ADDR [-c FILE] [--nameserver ADDR[:PORT]]...\n"
         "       authmilter-check dkim MESSAGE-FILE [-c FILE] [--nameserver ADDR[:PORT]]...\n"
         "       authmilter-check arc MESSAGE-FILE [-c FILE] [--nameserver ADDR[:PORT]]...\n"
         "       authmilter-check dmarc MESSAGE-FILE --ip IP --helo NAME --from ADDR [-c FILE]\n"
         "                              [--nameserver ADDR[:PORT]]...\n"
         "  Runs the SPF checks of a message from client IP that said HELO NAME and MAIL FROM:<ADDR>\n"
         "  (--from '' for the null sender) and prints each result, what decided it, the\n"
         "  explanation (exp=) and every DNS lookup made. -c takes Nameservers, DNSTimeout,\n"
         "  DNSRetries, SPFTimeout and AuthservID from a conf file (default: /etc/resolv.conf);\n"
         "  --nameserver overrides its servers. No cache: every lookup goes to the servers.\n"
         "  dkim verifies every DKIM-Signature of a message file (CRLF or bare LF line ends) and\n"
         "  prints each verdict and why; -c also takes MaximumSignatures and MinimumKeyBits.\n"
         "  arc validates the ARC chain of a message file (RFC 8617) and prints arc=pass|fail|none\n"
         "  (or temperror), then each ARC set: instance, sealer, cv= and what failed.\n"
         "  dmarc runs SPF, DKIM and DMARC on a message file as the milter does for an\n"
         "  unauthenticated client outside TrustedNetworks, prints every step and DMARC lookup,\n"
         "  the Authentication-Results header the milter would add and the action it would take;\n"
         "  -c also takes every SPF, DKIM and DMARC option.\n"
         "  Exit: 0 a result, 1 temperror, 2 usage error.\n";
}

void print(const spf::CheckResult& r) {
  std::cout << r.identity << ": " << spf::toString(r.result) << "  (domain " << util::sanitize(r.domain)
            << ", sender " << util::sanitize(r.sender) << ")\n";
  if (!r.mechanism.empty()) std::cout << "  decided by: " << util::sanitize(r.mechanism) << "\n";
  if (!r.problem.empty()) std::cout << "  problem: " << util::sanitize(r.problem) << "\n";
  if (r.result == spf::Result::Fail) std::cout << "  explanation: " << util::quoteEscaped(r.explanation) << "\n";
  std::cout << "  DNS lookups (" << r.dnsTerms << " of 10 DNS-querying terms, " << r.voidLookups
            << " of 2 void lookups):\n";
  for (const auto& l : r.lookups) {
    std::cout << "    " << util::sanitize(l.name) << " " << dns::rrTypeName(l.type) << ": " << dns::statusName(l.status);
    if (l.status == dns::DnsStatus::Ok) std::cout << ", " << l.records << (l.records == 1 ? " record" : " records");
    std::cout << "\n";
  }
}

// Options shared by the checks: -c FILE, --nameserver (repeatable), and the check's own.
struct Args {
  std::map<std::string, std::string> values;
  std::vector<std::string> positional;
  std::vector<dns::Nameserver> nameservers;
  std::shared_ptr<const config::Config> config;  // -c
};

bool parseArgs(int argc, char** argv, const std::vector<std::string>& valueOptions, Args& out) {
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool takesValue = arg == "-c" || arg == "--nameserver" ||
                            std::find(valueOptions.begin(), valueOptions.end(), arg) != valueOptions.end();
    if (!takesValue) {
      if (!arg.empty() && arg[0] == '-') {
        std::cerr << "authmilter-check: unexpected argument '" << arg << "'\n";
        return false;
      }
      out.positional.push_back(arg);
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "authmilter-check: " << arg << " needs a value\n";
      return false;
    }
    const std::string value = argv[++i];
    if (arg == "--nameserver") {
      std::string why;
      const auto ns = dns::parseNameserver(value, &why);
      if (!ns) {
        std::cerr << "authmilter-check: --nameserver: " << why << "\n";
        return false;
      }
      out.nameservers.push_back(*ns);
    } else {
      out.values[arg] = value;
    }
  }
  if (out.values.contains("-c")) {
    try {
      out.config = config::loadConfig(out.values["-c"]);
    } catch (const config::ConfigErrors& errors) {
      for (const auto& e : errors.errors()) std::cerr << e.toString() << "\n";
      return false;
    }
  }
  return true;
}

dns::ResolverOptions resolverOptions(const Args& args) {
  dns::ResolverOptions options;
  if (args.config) {
    options = args.config->dns;
  } else {
    options.nameservers = dns::systemNameservers();
  }
  if (!args.nameservers.empty()) options.nameservers = args.nameservers;
  return options;
}

std::string serverList(const dns::ResolverOptions& options) {
  std::string servers;
  for (const auto& ns : options.nameservers) servers += (servers.empty() ? "" : ", ") + ns.text();
  return servers;
}

// The SMTP envelope a check runs for: --ip, --helo, --from ('' or <> for the null sender).
struct Envelope {
  net::IpAddress ip;
  std::string helo;
  std::string from;  // without angle brackets
};

// The envelope options and `files` message files; nullopt (after saying why) otherwise.
std::optional<Envelope> envelopeArgs(Args& args, const std::string& check, size_t files) {
  if (!args.values.contains("--ip") || !args.values.contains("--helo") || !args.values.contains("--from") ||
      args.positional.size() != files) {
    std::cerr << "authmilter-check: " << check << " needs " << (files ? "one message file, " : "")
              << "--ip, --helo and --from\n";
    usage(std::cerr);
    return std::nullopt;
  }
  const auto ip = net::IpAddress::parse(args.values["--ip"]);
  if (!ip) {
    std::cerr << "authmilter-check: --ip: '" << args.values["--ip"] << "' is not an IPv4 or IPv6 address\n";
    return std::nullopt;
  }
  std::string from = args.values["--from"];
  if (from.size() >= 2 && from.front() == '<' && from.back() == '>') from = from.substr(1, from.size() - 2);
  return Envelope{*ip, args.values["--helo"], from};
}

int checkSpf(Args& args) {
  const auto envelope = envelopeArgs(args, "spf", 0);
  if (!envelope) return kExitUsage;
  const net::IpAddress& ip = envelope->ip;
  const std::string& helo = envelope->helo;
  const std::string& from = envelope->from;

  spf::CheckOptions options;
  options.fetchExplanation = true;
  if (args.config) {
    options.timeout = args.config->spfTimeout;
    options.receiver = args.config->authservId;
  }
  const auto dnsOptions = resolverOptions(args);
  std::cout << ";; SPF for client " << ip.toString() << ", HELO " << util::sanitize(helo) << ", MAIL FROM:<"
            << util::sanitize(from) << "> via " << serverList(dnsOptions) << "\n";

  const spf::Checker checker(std::make_shared<dns::LdnsResolver>(dnsOptions), options);
  const auto mailFrom = checker.checkMailFrom(ip, helo, from);
  print(mailFrom);
  if (!from.empty()) print(checker.checkHelo(ip, helo));
  std::cout << "Received-SPF: " << spf::formatReceivedSpf(mailFrom, ip, helo, from, options.receiver) << "\n";
  return mailFrom.result == spf::Result::TempError ? kExitTemporary : kExitResult;
}

// Reads the message file named by the one positional argument.
bool readMessage(const Args& args, std::string* message) {
  std::ifstream in(args.positional[0], std::ios::binary);
  if (!in) {
    std::cerr << "authmilter-check: cannot read " << args.positional[0] << "\n";
    return false;
  }
  message->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// The one message file a check takes; false (after saying why) when there is not exactly one
// or it cannot be read.
bool readOneMessage(const Args& args, const char* check, std::string* message) {
  if (args.positional.size() != 1) {
    std::cerr << "authmilter-check: " << check << " needs one message file\n";
    usage(std::cerr);
    return false;
  }
  return readMessage(args, message);
}

int checkDkim(Args& args) {
  std::string message;
  if (!readOneMessage(args, "dkim", &message)) return kExitUsage;
  dkim::VerifyOptions options;
  if (args.config) options = args.config->dkimOptions;
  const auto dnsOptions = resolverOptions(args);
  std::cout << ";; DKIM for " << args.positional[0] << " (" << message.size() << " bytes) via "
            << serverList(dnsOptions) << "\n";
  const dkim::Verifier verifier(std::make_shared<dns::LdnsResolver>(dnsOptions), options);
  size_t unchecked = 0;
  const auto results = dkim::verifyMessage(verifier, message, &unchecked);
  if (results.empty()) std::cout << "dkim=none (the message has no DKIM-Signature)\n";
  bool temporary = false;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    std::cout << "signature " << i + 1 << ": dkim=" << dkim::toString(r.result) << "  d=" << r.domain
              << " s=" << r.selector << " a=" << r.algorithm << " i=" << r.identity << " b=" << r.bPrefix << "\n";
    if (!r.reason.empty()) std::cout << "  why: " << r.reason << "\n";
    if (r.partialBody) std::cout << "  l= leaves part of the body unsigned (LBodyPolicy decides for DMARC)\n";
    temporary = temporary || r.result == dkim::Result::TempError;
  }
  if (unchecked > 0) std::cout << unchecked << " more signatures not checked (MaximumSignatures)\n";
  return temporary ? kExitTemporary : kExitResult;
}

int checkArc(Args& args) {
  std::string message;
  if (!readOneMessage(args, "arc", &message)) return kExitUsage;
  arc::VerifyOptions options;
  if (args.config) options.minKeyBits = args.config->dkimOptions.minKeyBits;
  const auto dnsOptions = resolverOptions(args);
  dns::LdnsResolver resolver(dnsOptions);
  const auto chain = arc::validateMessage(message, resolver, options);
  std::cout << "arc=" << arc::toString(chain.result);
  if (chain.result == arc::Result::Pass) std::cout << " header.oldest-pass=" << chain.oldestPass;
  std::cout << "  (" << chain.sets << (chain.sets == 1 ? " set" : " sets") << ", " << args.positional[0] << " via "
            << serverList(dnsOptions) << ")\n";
  if (!chain.reason.empty()) std::cout << "  why: " << chain.reason << "\n";
  for (auto it = chain.details.rbegin(); it != chain.details.rend(); ++it) {
    std::cout << "set i=" << it->instance << ": d=" << it->domain << " s=" << it->selector << " cv=" << it->cv
              << "  ams=" << arc::toString(it->ams) << " as=" << arc::toString(it->seal) << "\n";
    if (!it->problem.empty()) std::cout << "  failed: " << it->problem << "\n";
  }
  return chain.result == arc::Result::TempError ? kExitTemporary : kExitResult;
}

int checkDmarc(Args& args) {
  const auto envelope = envelopeArgs(args, "dmarc", 1);
  if (!envelope) return kExitUsage;
  const net::IpAddress& ip = envelope->ip;
  std::string raw;
  if (!readMessage(args, &raw)) return kExitUsage;

  // The daemon's own runtime and stages, with a resolver of our own (no cache: every lookup
  // is shown as it happens).
  std::shared_ptr<const config::Config> settings = args.config;
  if (!settings) {
    auto defaults = std::make_shared<config::Config>();
    defaults->authservId = "localhost";
    settings = std::move(defaults);
  }
  const auto dnsOptions = resolverOptions(args);
  const auto runtime = runtime::buildRuntime(settings, std::make_shared<dns::LdnsResolver>(dnsOptions));
  const config::Config& config = *settings;
  // The daemon's own transaction driver, as a session from `ip` would run it; the log line
  // it writes is printed as steps below instead.
  struct Quiet : log::Logger {
    void write(log::LogLevel, std::string_view) override {}
  };
  log::setLogger(std::make_shared<Quiet>());
  pipeline::Transaction transaction(runtime->settings, runtime->stages);
  transaction.connect({"unknown", ip, "", true});
  transaction.helo(envelope->helo);
  const std::string& from = envelope->from;
  std::cout << ";; DMARC for " << args.positional[0] << " from client " << ip.toString() << ", HELO "
            << util::sanitize(transaction.connection().helo) << ", MAIL FROM:<" << util::sanitize(from) << "> via "
            << serverList(dnsOptions) << "\n";

  pipeline::Verdict verdict = transaction.mailFrom({"<" + from + ">", "", "", "check"});
  pipeline::Transaction::End end;
  if (!verdict.stops()) {
    const mail::MessageText text = mail::splitMessageText(raw);
    for (const auto& [name, value] : text.headers) transaction.header(name, value);
    transaction.endOfHeaders();
    if (!text.body.empty()) transaction.body(text.body);
    end = transaction.endOfMessage("check");
    verdict = end.verdict;
  }
  const pipeline::Message& message = end.message;

  std::cout << "steps (as in the log line):\n";
  for (const auto& [key, value] : report::logFieldsOf(message)) {
    std::cout << "  " << key << "=" << util::sanitize(value) << "\n";
  }
  bool temporary = false;
  if (message.dmarc && message.dmarc->evaluation) {
    const dmarc::Outcome& o = *message.dmarc->evaluation;
    std::cout << "DMARC lookups:\n";
    for (const auto& l : o.lookups) std::cout << "  " << util::sanitize(l) << "\n";
    if (!o.orgDomain.empty()) std::cout << "Organizational Domain of " << o.authorDomain << ": " << o.orgDomain << "\n";
    temporary = o.result == dmarc::Result::TempError;
  }
  // Our own header values, folded as the milter hands them over (DNS text in them is escaped).
  for (const auto& edit : message.headerEdits) std::cout << edit.name << ": " << edit.value << "\n";
  std::cout << report::kAuthResultsHeader << ": " << report::authResultsHeader(config.authservId, message)
            << "\n";
  std::string action(pipeline::toString(verdict.disposition));
  if (!verdict.reply.empty()) action += ": " + verdict.reply.toString();
  if (verdict.disposition == pipeline::Disposition::Quarantine) action += ": " + verdict.reason;
  std::cout << "action: " << action << "\n";
  return temporary ? kExitTemporary : kExitResult;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc >= 2 ? argv[1] : "";
  if (command == "-h" || command == "--help") {
    usage(std::cout);
    return kExitResult;
  }
  if (command == "-V") {
    std::cout << "authmilter-check " << kVersion << "\n";
    return kExitResult;
  }
  Args args;
  if (command == "spf") {
    if (!parseArgs(argc, argv, {"--ip", "--helo", "--from"}, args)) return kExitUsage;
    return checkSpf(args);
  }
  if (command == "dkim") {
    if (!parseArgs(argc, argv, {}, args)) return kExitUsage;
    return checkDkim(args);
  }
  if (command == "arc") {
    if (!parseArgs(argc, argv, {}, args)) return kExitUsage;
    return checkArc(args);
  }
  if (command == "dmarc") {
    if (!parseArgs(argc, argv, {"--ip", "--helo", "--from"}, args)) return kExitUsage;
    return checkDmarc(args);
  }
  usage(std::cerr);
  return kExitUsage;
}
