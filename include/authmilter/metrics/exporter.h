// Serves metrics::collect() over HTTP for Prometheus (MetricsSocket), with prometheus-cpp's
// pull exporter (civetweb): GET /metrics on its own threads, which only read the counters.
// Made after daemonize()'s fork and after UserID took effect; gone with the daemon.
#pragma once

#include <memory>

#include "authmilter/config/config.h"
#include "authmilter/metrics/metrics.h"

namespace prometheus {
class Exposer;
}

namespace authmilter::metrics {

class Exporter {
 public:
  // Listens on `address` (inet, numeric host; port 0: the kernel chooses). Throws
  // std::runtime_error saying why when it cannot ("inet:9487@127.0.0.1: Address already in use").
  Exporter(const config::SocketSpec& address, QueueDepthSource depths);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  unsigned port() const { return port_; }  // the port it listens on

 private:
  class Collectable;
  std::shared_ptr<Collectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  unsigned port_ = 0;
};

}  // namespace authmilter::metrics
