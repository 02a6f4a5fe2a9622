// The zone data of the test DNS server (test_dns_server.h), private to it: zone text parsed
// with ldns into records by owner name, plus the directives that make the server misbehave,
// and the answer to a question from that data. The parser and the lookup are in
// test_dns_zone.cc; sockets, threads and replies in test_dns_server.cc.
#pragma once

// Before ldns: without it, ldns/common.h defines `false` and `true` as macros.
#include <stdbool.h>
#include <ldns/ldns.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace authmilter::testsupport::testdns {

struct RrFree {
  void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
struct RdfFree {
  void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
};
struct PktFree {
  void operator()(ldns_pkt* pkt) const { ldns_pkt_free(pkt); }
};
using RrPtr = std::unique_ptr<ldns_rr, RrFree>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;

// ASCII upper case: control keywords, and type names as a test writes them.
std::string toUpper(std::string s);

// A domain name as a lookup key: ldns's presentation form, ASCII-lowercased, with the final
// dot ("." for the root).
std::string canonicalName(const ldns_rdf* dname);

enum class Action { Drop, Servfail, Refused, Truncate, TcpFail, Delay };

struct Directive {
  Action action;
  std::string name;                  // canonical
  std::optional<ldns_rr_type> type;  // none: every type
  int delayMs = 0;
};

struct Zone {
  std::map<std::string, std::vector<RrPtr>> records;  // by canonical owner name
  std::set<std::string> names;  // every name that exists: owners and all their ancestors
  std::vector<Directive> directives;

  const Directive* directive(Action action, const std::string& name, ldns_rr_type type) const {
    for (const auto& d : directives) {
      if (d.action == action && d.name == name && (!d.type || *d.type == type)) return &d;
    }
    return nullptr;
  }

  // The SOA whose owner is the longest suffix of `name`, if any.
  const ldns_rr* closestSoa(const ldns_rdf* name) const {
    RdfPtr owned;
    const ldns_rdf* current = name;
    while (current != nullptr) {
      const auto it = records.find(canonicalName(current));
      if (it != records.end()) {
        for (const auto& rr : it->second) {
          if (ldns_rr_get_type(rr.get()) == LDNS_RR_TYPE_SOA) return rr.get();
        }
      }
      if (ldns_dname_label_count(current) == 0) break;
      ldns_rdf* parent = ldns_dname_left_chop(current);
      owned.reset(parent);
      current = parent;
    }
    return nullptr;
  }
};

// Zone text as TestDnsServer takes it (records, $ORIGIN, $TTL, directives). Throws
// std::runtime_error naming the line on a syntax error.
std::shared_ptr<const Zone> parseZone(const std::string& text);

// Fills the answer (and for negative answers the authority) from the zone data.
void resolve(const Zone& zone, const ldns_rdf* qname, ldns_rr_type qtype, ldns_pkt* reply);

}  // namespace authmilter::testsupport::testdns
