// authmilter-check: runs one check the way the daemon does and shows how it got its result.
// What a postmaster runs when a sender complains.
//   authmilter-check spf --ip IP --helo NAME --from ADDR [-c FILE] [--nameserver ADDR[:PORT]]
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "authmilter/config/config.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/spf/spf.h"
#include "authmilter/util/strings.h"
#include "authmilter/version.h"

namespace {

using namespace authmilter;

constexpr int kExitResult = 0;     // a result (pass, fail, none, ... permerror)
constexpr int kExitTemporary = 1;  // temperror
constexpr int kExitUsage = 2;

void usage(std::ostream& out) {
  out << "usage: authmilter-check spf --ip IP --helo NAME --from ADDR [-c FILE] [--nameserver ADDR[:PORT]]...\n"
         "  Runs the SPF checks of a message from client IP that said HELO NAME and MAIL FROM:<ADDR>\n"
         "  (--from '' for the null sender) and prints each result, what decided it, the\n"
         "  explanation (exp=) and every DNS lookup made. -c takes Nameservers, DNSTimeout,\n"
         "  DNSRetries, SPFTimeout and AuthservID from a conf file (default: /etc/resolv.conf);\n"
         "  --nameserver overrides its servers. No cache: every lookup goes to the servers.\n"
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

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) {
    usage(std::cout);
    return kExitResult;
  }
  if (argc >= 2 && std::string(argv[1]) == "-V") {
    std::cout << "authmilter-check " << kVersion << "\n";
    return kExitResult;
  }
  if (argc < 2 || std::string(argv[1]) != "spf") {
    usage(std::cerr);
    return kExitUsage;
  }
  std::map<std::string, std::string> args;
  std::vector<dns::Nameserver> nameservers;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc || (arg != "--ip" && arg != "--helo" && arg != "--from" && arg != "-c" && arg != "--nameserver")) {
      std::cerr << "authmilter-check: unexpected argument '" << arg << "'\n";
      usage(std::cerr);
      return kExitUsage;
    }
    const std::string value = argv[++i];
    if (arg == "--nameserver") {
      std::string why;
      const auto ns = dns::parseNameserver(value, &why);
      if (!ns) {
        std::cerr << "authmilter-check: --nameserver: " << why << "\n";
        return kExitUsage;
      }
      nameservers.push_back(*ns);
    } else {
      args[arg] = value;
    }
  }
  if (!args.contains("--ip") || !args.contains("--helo") || !args.contains("--from")) {
    std::cerr << "authmilter-check: spf needs --ip, --helo and --from\n";
    usage(std::cerr);
    return kExitUsage;
  }
  const auto ip = policy::IpAddress::parse(args["--ip"]);
  if (!ip) {
    std::cerr << "authmilter-check: --ip: '" << args["--ip"] << "' is not an IPv4 or IPv6 address\n";
    return kExitUsage;
  }
  std::string from = args["--from"];
  if (from.size() >= 2 && from.front() == '<' && from.back() == '>') from = from.substr(1, from.size() - 2);

  dns::ResolverOptions resolverOptions;
  spf::CheckOptions options;
  options.fetchExplanation = true;
  if (args.contains("-c")) {
    try {
      const auto config = config::loadConfig(args["-c"]);
      resolverOptions = config->dns;
      options.timeout = config->spfTimeout;
      options.receiver = config->authservId;
    } catch (const config::ConfigErrors& errors) {
      for (const auto& e : errors.errors()) std::cerr << e.toString() << "\n";
      return kExitUsage;
    }
  } else {
    resolverOptions.nameservers = dns::systemNameservers();
  }
  if (!nameservers.empty()) resolverOptions.nameservers = nameservers;

  std::string servers;
  for (const auto& ns : resolverOptions.nameservers) servers += (servers.empty() ? "" : ", ") + ns.text();
  std::cout << ";; SPF for client " << ip->toString() << ", HELO " << util::sanitize(args["--helo"])
            << ", MAIL FROM:<" << util::sanitize(from) << "> via " << servers << "\n";

  const spf::Checker checker(std::make_shared<dns::LdnsResolver>(resolverOptions), options);
  const auto mailFrom = checker.checkMailFrom(*ip, args["--helo"], from);
  print(mailFrom);
  if (!from.empty()) print(checker.checkHelo(*ip, args["--helo"]));
  std::cout << "Received-SPF: " << spf::formatReceivedSpf(mailFrom, *ip, args["--helo"], from, options.receiver)
            << "\n";
  return mailFrom.result == spf::Result::TempError ? kExitTemporary : kExitResult;
}
