// authmilter-dns: resolves one name through the same DNS layer the checks use (same
// nameservers, timeout, retries, TXT joining, CNAME following) and prints what a check
// would see. What a postmaster runs when a verdict says temperror.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "authmilter/config/config.h"
#include "authmilter/dns/caching_resolver.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/util/strings.h"
#include "authmilter/version.h"

namespace {

using namespace authmilter;

constexpr int kExitAnswer = 0;     // ok, nxdomain, nodata: the DNS said something definite
constexpr int kExitTemporary = 1;  // servfail, timeout: a check would say temperror
constexpr int kExitUsage = 2;

void usage(std::ostream& out) {
  out << "usage: authmilter-dns [-c FILE] [--nameserver ADDR[:PORT]]... NAME TYPE\n"
         "  Resolves NAME (TYPE: A, AAAA, MX, TXT, PTR, CNAME, ...) the way authmilter's checks do\n"
         "  and prints the outcome. -c takes Nameservers, DNSTimeout and DNSRetries from a conf\n"
         "  file (default: /etc/resolv.conf, 5s, 2 tries); --nameserver overrides its servers.\n"
         "  Exit: 0 an answer (ok, nxdomain, nodata), 1 servfail or timeout, 2 usage error.\n";
}

std::string_view meaning(dns::DnsStatus status) {
  switch (status) {
    case dns::DnsStatus::Ok: return "";
    case dns::DnsStatus::NxDomain: return " (the name does not exist)";
    case dns::DnsStatus::NoData: return " (the name exists, but has no record of this type)";
    case dns::DnsStatus::ServFail: return " (temporary: the servers failed; a check would say temperror)";
    case dns::DnsStatus::Timeout: return " (temporary: no reply in time; a check would say temperror)";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::string confFile;
  std::vector<dns::Nameserver> nameservers;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "-c" || arg == "--nameserver") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "-c") {
        confFile = value;
        continue;
      }
      std::string why;
      const auto ns = dns::parseNameserver(value, &why);
      if (!ns) {
        std::cerr << "authmilter-dns: --nameserver: " << why << "\n";
        return kExitUsage;
      }
      nameservers.push_back(*ns);
    } else if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return kExitAnswer;
    } else if (arg == "-V") {
      std::cout << "authmilter-dns " << kVersion << "\n";
      return kExitAnswer;
    } else if (!arg.empty() && arg[0] == '-') {
      usage(std::cerr);
      return kExitUsage;
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2) {
    usage(std::cerr);
    return kExitUsage;
  }
  const auto type = dns::parseRrType(positional[1]);
  if (!type) {
    std::cerr << "authmilter-dns: unknown record type '" << positional[1] << "'\n";
    return kExitUsage;
  }

  dns::ResolverOptions options;
  if (!confFile.empty()) {
    try {
      options = config::loadConfig(confFile)->dns;
    } catch (const config::ConfigErrors& errors) {
      for (const auto& e : errors.errors()) std::cerr << e.toString() << "\n";
      return kExitUsage;
    }
  } else if (nameservers.empty()) {
    options.nameservers = dns::systemNameservers();
  }
  if (!nameservers.empty()) options.nameservers = nameservers;

  std::string servers;
  for (const auto& ns : options.nameservers) servers += (servers.empty() ? "" : ", ") + ns.text();
  std::cout << ";; " << positional[0] << " " << dns::rrTypeName(*type) << " via " << servers << " (timeout "
            << options.timeout.count() << " ms x " << options.tries << " tries)\n";

  dns::LdnsResolver resolver(options);
  const auto answer = resolver.lookup(positional[0], *type);
  std::cout << "status: " << dns::statusName(answer.status) << meaning(answer.status) << "\n";
  if (!answer.detail.empty()) std::cout << (dns::isTemporary(answer.status) ? "why: " : "from: ") << answer.detail << "\n";
  if (!dns::isTemporary(answer.status)) {
    std::cout << (answer.status == dns::DnsStatus::Ok ? "ttl: " : "negative ttl: ") << answer.ttl
              << (answer.status != dns::DnsStatus::Ok && answer.ttl == 0 ? " (no SOA: not cached)" : "") << "\n";
  }
  if (dns::canonicalName(answer.canonicalName) != dns::canonicalName(positional[0])) {
    std::cout << "canonical name: " << answer.canonicalName << "\n";
  }
  for (const auto& record : answer.records) {
    if (*type == dns::RrType::TXT || *type == dns::RrType::SPF) {
      std::cout << dns::rrTypeName(*type) << " " << util::quoteEscaped(record.text) << "\n";
    } else if (*type == dns::RrType::MX) {
      std::cout << "MX " << record.preference << " " << record.text << "\n";
    } else {
      std::cout << dns::rrTypeName(*type) << " " << record.text << "\n";
    }
  }
  return dns::isTemporary(answer.status) ? kExitTemporary : kExitAnswer;
}
