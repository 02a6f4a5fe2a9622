// The libopendkim query hooks on our Resolver. libopendkim calls start (we resolve at
// once, blocking, bounded by DNSTimeout x DNSRetries), then waitreply (the answer is
// already there), then cancel (frees the handle).
#include "authmilter/dkim/dns_bridge.h"

#include <ldns/ldns.h>
#include <sys/time.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "authmilter/dkim/opendkim.h"
#include "authmilter/dns/ldns_util.h"

namespace authmilter::dkim {

using dns::DnsAnswer;
using dns::DnsRecord;
using dns::DnsStatus;
using dns::PktPtr;
using dns::RdfPtr;
using dns::Resolver;
using dns::RrType;
using dns::isTemporary;
using dns::rrTypeName;
using dns::toWire;

namespace {

struct Query {
  int status = DKIM_DNS_SUCCESS;
  size_t bytes = 0;
};

ldns_rr* txtRecord(const std::string& owner, uint32_t ttl, RrType type, const std::string& text) {
  ldns_rr* rr = ldns_rr_new();
  ldns_rr_set_owner(rr, ldns_dname_new_frm_str(owner.c_str()));
  ldns_rr_set_type(rr, static_cast<ldns_rr_type>(type));
  ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl(rr, ttl);
  // Character-strings hold at most 255 octets; a joined string is cut back into pieces.
  size_t offset = 0;
  do {
    const size_t n = std::min<size_t>(255, text.size() - offset);
    std::vector<uint8_t> piece(n + 1);
    piece[0] = static_cast<uint8_t>(n);
    std::memcpy(piece.data() + 1, text.data() + offset, n);
    ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, piece.size(), piece.data()));
    offset += n;
  } while (offset < text.size());
  return rr;
}

ldns_rr* otherRecord(const std::string& owner, uint32_t ttl, RrType type, const DnsRecord& record) {
  std::string text = owner + " " + std::to_string(ttl) + " IN " + rrTypeName(type) + " ";
  if (type == RrType::MX) text += std::to_string(record.preference) + " ";
  text += record.text;
  if (type == RrType::MX || type == RrType::PTR || type == RrType::CNAME || type == RrType::NS) text += ".";
  ldns_rr* rr = nullptr;
  return ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) == LDNS_STATUS_OK ? rr : nullptr;
}

int start(void* service, int type, unsigned char* query, unsigned char* buf, size_t buflen, void** qh) {
  auto* resolver = static_cast<Resolver*>(service);
  auto handle = std::make_unique<Query>();
  try {
    const std::string name(reinterpret_cast<const char*>(query));
    const DnsAnswer answer = resolver->lookup(name, static_cast<RrType>(type));
    if (answer.status == DnsStatus::Timeout) {
      handle->status = DKIM_DNS_EXPIRED;
    } else if (isTemporary(answer.status)) {
      // SERVFAIL, REFUSED, a broken reply, truncation with TCP failing: libopendkim reads an
      // answer without records as "no key" (PERMFAIL), whatever its RCODE; an error status
      // makes it say "key unavailable", a TEMPFAIL (RFC 6376 6.1.2).
      handle->status = DKIM_DNS_ERROR;
    } else {
      const auto wire = answerToWire(name, static_cast<RrType>(type), answer);
      if (wire.empty() || wire.size() > buflen) return DKIM_DNS_ERROR;
      std::memcpy(buf, wire.data(), wire.size());
      handle->bytes = wire.size();
    }
  } catch (const std::exception&) {
    return DKIM_DNS_ERROR;  // never let an exception into C
  }
  *qh = handle.release();
  return DKIM_DNS_SUCCESS;
}

int cancel(void* /*service*/, void* qh) {
  delete static_cast<Query*>(qh);
  return DKIM_DNS_SUCCESS;
}

int waitReply(void* /*service*/, void* qh, struct timeval* /*timeout*/, size_t* bytes, int* error, int* dnssec) {
  const auto* q = static_cast<const Query*>(qh);
  if (bytes) *bytes = q->bytes;
  if (error) *error = 0;
  if (dnssec) *dnssec = DKIM_DNSSEC_UNKNOWN;
  return q->status;
}

// The resolver is ours: libopendkim must not initialise or close it.
int initNothing(void** /*service*/) { return 0; }
void closeNothing(void* /*service*/) {}

}  // namespace

std::vector<uint8_t> answerToWire(const std::string& name, RrType type, const DnsAnswer& answer) {
  std::string owner = name;
  if (owner.empty() || owner.back() != '.') owner += '.';
  PktPtr packet(ldns_pkt_new());
  RdfPtr qname(ldns_dname_new_frm_str(owner.c_str()));
  if (!packet || !qname) return {};
  ldns_pkt_set_qr(packet.get(), true);
  ldns_pkt_set_rd(packet.get(), true);
  ldns_pkt_set_ra(packet.get(), true);
  ldns_pkt_set_rcode(packet.get(), answer.status == DnsStatus::NxDomain   ? LDNS_RCODE_NXDOMAIN
                                   : isTemporary(answer.status)          ? LDNS_RCODE_SERVFAIL
                                                                         : LDNS_RCODE_NOERROR);
  ldns_rr* question = ldns_rr_new();
  ldns_rr_set_owner(question, qname.release());
  ldns_rr_set_type(question, static_cast<ldns_rr_type>(type));
  ldns_rr_set_class(question, LDNS_RR_CLASS_IN);
  ldns_rr_set_question(question, true);
  ldns_pkt_push_rr(packet.get(), LDNS_SECTION_QUESTION, question);
  if (answer.status == DnsStatus::Ok) {
    for (const auto& record : answer.records) {
      ldns_rr* rr = type == RrType::TXT || type == RrType::SPF ? txtRecord(owner, answer.ttl, type, record.text)
                                                              : otherRecord(owner, answer.ttl, type, record);
      if (rr) ldns_pkt_push_rr(packet.get(), LDNS_SECTION_ANSWER, rr);
    }
  }
  return toWire(packet.get());
}

void installDkimDns(dkim_lib* lib, Resolver& resolver) {
  dkim_dns_set_init(lib, initNothing);
  dkim_dns_set_close(lib, closeNothing);
  dkim_dns_set_query_service(lib, &resolver);
  dkim_dns_set_query_start(lib, start);
  dkim_dns_set_query_cancel(lib, cancel);
  dkim_dns_set_query_waitreply(lib, waitReply);
}

}  // namespace authmilter::dkim
