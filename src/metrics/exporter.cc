// Exporter: metrics::collect() served by prometheus-cpp's Exposer.
#include "authmilter/metrics/exporter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <stdexcept>
#include <string>

namespace authmilter::metrics {

class Exporter::Collectable : public prometheus::Collectable {
 public:
  explicit Collectable(QueueDepthSource depths) : depths_(std::move(depths)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return collect(depths_); }

 private:
  QueueDepthSource depths_;
};

namespace {

// civetweb only says that it could not listen: try it ourselves first, for errno's word.
// Binding without listening leaves nothing behind once closed.
void probe(const config::SocketSpec& address) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(address.text + ": socket: " + std::strerror(errno));
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(address.port));
  const int ok = inet_pton(AF_INET, address.host.c_str(), &sa.sin_addr);
  const int rc = ok == 1 ? bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) : -1;
  const int saved = errno;
  close(fd);
  if (ok != 1) throw std::runtime_error(address.text + ": not a numeric IPv4 address: " + address.host);
  if (rc != 0) throw std::runtime_error(address.text + ": " + std::strerror(saved));
}

}  // namespace

Exporter::Exporter(const config::SocketSpec& address, QueueDepthSource depths)
    : collectable_(std::make_shared<Collectable>(std::move(depths))) {
  probe(address);
  const std::string where = address.host + ":" + std::to_string(address.port);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", where, "num_threads", "2", "request_timeout_ms", "10000"});
  } catch (const std::exception& e) {
    throw std::runtime_error(address.text + ": cannot serve metrics: " + e.what());
  }
  exposer_->RegisterCollectable(collectable_);
  const auto ports = exposer_->GetListeningPorts();
  port_ = ports.empty() ? address.port : static_cast<unsigned>(ports.front());
}

Exporter::~Exporter() = default;

}  // namespace authmilter::metrics
