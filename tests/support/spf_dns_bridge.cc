// The libspf2 DNS layer on our Resolver. libspf2 reads the outcome from the h_errno
// values of res_query: HOST_NOT_FOUND (NXDOMAIN), NO_DATA, TRY_AGAIN (temporary), and
// the records from a union per type (struct in_addr, struct in6_addr, or a C string).
#include "spf_dns_bridge.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
}

namespace authmilter::testsupport {

using dns::DnsAnswer;
using dns::DnsRecord;
using dns::DnsStatus;
using dns::Resolver;
using dns::RrType;

namespace {

SPF_dns_stat_t herrnoOf(DnsStatus status) {
  switch (status) {
    case DnsStatus::Ok: return NETDB_SUCCESS;
    case DnsStatus::NxDomain: return HOST_NOT_FOUND;
    case DnsStatus::NoData: return NO_DATA;
    case DnsStatus::ServFail:
    case DnsStatus::Timeout: return TRY_AGAIN;
  }
  return TRY_AGAIN;
}

// Copies one record into slot `index` of `rr`; false when libspf2 cannot take it.
bool put(SPF_dns_rr_t* rr, int index, ns_type type, const DnsRecord& record) {
  switch (type) {
    case ns_t_a: {
      in_addr address{};
      if (inet_pton(AF_INET, record.text.c_str(), &address) != 1) return false;
      if (SPF_dns_rr_buf_realloc(rr, index, sizeof address) != SPF_E_SUCCESS) return false;
      rr->rr[index]->a = address;
      return true;
    }
    case ns_t_aaaa: {
      in6_addr address{};
      if (inet_pton(AF_INET6, record.text.c_str(), &address) != 1) return false;
      if (SPF_dns_rr_buf_realloc(rr, index, sizeof address) != SPF_E_SUCCESS) return false;
      rr->rr[index]->aaaa = address;
      return true;
    }
    default: {  // TXT, SPF, MX, PTR: a NUL-terminated string
      if (SPF_dns_rr_buf_realloc(rr, index, record.text.size() + 1) != SPF_E_SUCCESS) return false;
      std::memcpy(rr->rr[index]->txt, record.text.c_str(), record.text.size() + 1);
      return true;
    }
  }
}

SPF_dns_rr_t* lookup(SPF_dns_server_t* server, const char* domain, ns_type type, int /*should_cache*/) {
  auto* resolver = static_cast<Resolver*>(server->hook);
  DnsAnswer answer;
  try {
    answer = resolver->lookup(domain ? domain : "", static_cast<RrType>(type));
  } catch (const std::exception&) {
    answer.status = DnsStatus::ServFail;  // never let an exception into C
  }
  SPF_dns_rr_t* rr = SPF_dns_rr_new_init(server, domain, type, static_cast<int>(answer.ttl), herrnoOf(answer.status));
  if (rr == nullptr || answer.status != DnsStatus::Ok) return rr;
  int count = 0;
  for (const auto& record : answer.records) {
    if (put(rr, count, type, record)) ++count;
  }
  rr->num_rr = count;
  if (count == 0) rr->herrno = NO_DATA;
  return rr;
}

}  // namespace

SpfDnsBridge::SpfDnsBridge(std::shared_ptr<Resolver> resolver)
    : resolver_(std::move(resolver)), server_(std::make_unique<SPF_dns_server_struct>()) {
  std::memset(server_.get(), 0, sizeof *server_);
  server_->destroy = nullptr;  // shared: libspf2 must not free it
  server_->lookup = lookup;
  server_->get_spf = nullptr;  // libspf2 then looks the record up with lookup()
  server_->get_exp = nullptr;
  server_->add_cache = nullptr;
  server_->layer_below = nullptr;
  server_->name = "authmilter";
  server_->hook = resolver_.get();
}

SpfDnsBridge::~SpfDnsBridge() = default;

}  // namespace authmilter::testsupport
