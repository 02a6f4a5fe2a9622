// libspf2 resolves through our dns::Resolver (and so through the shared cache and the
// configured nameservers) instead of its own res_query layer: a custom SPF_dns_server_t
// whose lookup() calls dns::Resolver::lookup. Pass server() to SPF_server_new_dns(). libspf2
// never frees it (its destroy is null); this object must outlive every SPF_server_t made
// with it. No libspf2 cache layer goes on top: ours is the cache.
#pragma once

#include <memory>

#include "authmilter/dns/resolver.h"

struct SPF_dns_server_struct;

namespace authmilter::testsupport {

class SpfDnsBridge {
 public:
  explicit SpfDnsBridge(std::shared_ptr<dns::Resolver> resolver);
  ~SpfDnsBridge();
  SpfDnsBridge(const SpfDnsBridge&) = delete;
  SpfDnsBridge& operator=(const SpfDnsBridge&) = delete;

  SPF_dns_server_struct* server() { return server_.get(); }

 private:
  std::shared_ptr<dns::Resolver> resolver_;
  std::unique_ptr<SPF_dns_server_struct> server_;
};

}  // namespace authmilter::testsupport
