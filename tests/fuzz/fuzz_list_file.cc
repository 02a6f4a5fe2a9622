// Fuzz target: list files (config::readListFile, stripComment) and what each entry becomes:
// a LocalDomains domain (policy::DomainSet, normalizeDomain), a TrustedNetworks network
// (net::Cidr), an IgnoreHosts entry (policy::HostList), a SenderLoginMap line. The input is
// the file. Invariants: no crash; entries are trimmed, non-empty, without comments and line
// breaks, in line order; normalizing a domain twice changes nothing and an added domain is
// found; a network written back (Cidr::toString) parses to itself and contains its address.
#include <fstream>
#include <string>

#include "authmilter/config/list_file.h"
#include "authmilter/net/cidr_set.h"
#include "authmilter/policy/domain_set.h"
#include "authmilter/policy/host_list.h"
#include "authmilter/policy/sender_login_map.h"
#include "authmilter/util/strings.h"
#include "fuzz_support.h"
#include "temp_dir.h"

namespace {

using namespace authmilter;

void checkEntry(const std::string& e) {
  std::string why;
  policy::DomainSet domains;
  if (domains.add(e, &why)) {
    const bool suffix = e.front() == '.';
    const auto once = policy::normalizeDomain(suffix ? std::string_view(e).substr(1) : e);
    FUZZ_CHECK(once.has_value());
    FUZZ_CHECK(policy::normalizeDomain(*once) == once);
    if (!suffix) FUZZ_CHECK(domains.contains(*once));
    if (suffix) FUZZ_CHECK(domains.contains("a." + *once) && !domains.contains(*once));
  } else {
    FUZZ_CHECK(!why.empty());
  }
  if (const auto cidr = net::Cidr::parse(e, &why)) {
    FUZZ_CHECK(cidr->prefix <= (cidr->network.family() == net::IpAddress::Family::V4 ? 32u : 128u));
    FUZZ_CHECK(cidr->contains(cidr->network));
    const auto back = net::Cidr::parse(cidr->toString(), &why);
    FUZZ_CHECK(back && back->prefix == cidr->prefix && back->network == cidr->network);
  }
  policy::HostList hosts;
  if (hosts.add(e, &why)) FUZZ_CHECK(!hosts.empty());
  const auto split = e.find_first_of(" \t");
  std::string login = e.substr(0, split);
  if (!login.empty() && login.back() == ':') login.pop_back();
  policy::SenderLoginMap logins;
  if (!login.empty()) (void)logins.add(login, util::splitList(split == std::string::npos ? "" : e.substr(split)), &why);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const testsupport::TempDir dir;
  const std::string path = dir.write("list", std::string(fuzz::asText(data, size)));
  std::vector<config::ConfigError> errors;
  const auto lines = config::readListFile(path, "fuzz.conf", 1, errors);
  FUZZ_CHECK(errors.empty());
  int previous = 0;
  for (const auto& l : lines) {
    FUZZ_CHECK(l.line > previous);
    previous = l.line;
    FUZZ_CHECK(!l.text.empty() && l.text == util::trim(l.text));
    FUZZ_CHECK(l.text.find('\n') == std::string::npos);
    FUZZ_CHECK(config::stripComment(l.text) == l.text);
    checkEntry(l.text);
  }
  return 0;
}
