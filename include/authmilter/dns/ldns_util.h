// Owning pointers for ldns objects and the packet-to-wire step, shared by the resolver
// (queries) and the libopendkim bridge in dkim/ (replies). Not for the stages.
#pragma once

#include <ldns/ldns.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

namespace authmilter::dns {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;

struct RdfDeleter {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
using RdfPtr = std::unique_ptr<ldns_rdf, RdfDeleter>;

// The packet in wire form; empty if ldns cannot render it.
inline std::vector<uint8_t> toWire(const ldns_pkt* packet) {
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, packet, &size) != LDNS_STATUS_OK || wire == nullptr) return {};
  std::vector<uint8_t> result(wire, wire + size);
  std::free(wire);
  return result;
}

}  // namespace authmilter::dns
