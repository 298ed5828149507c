// MetricsEndpoint: serves the Prometheus text format on HTTP GET /metrics,
// through prometheus-cpp's pull exposer (civetweb), from the collectables
// it is given, e.g. DecisionMetrics, BundleMetrics and ProcessMetrics. The
// exposer adds its own exposer_* metrics (scrapes, bytes, latency).
//
// Plain HTTP with no authentication, like every Prometheus exporter by
// default: bind it to loopback or a network only the scraper reaches.
//
// Thread safety: the exposer serves scrapes on its own threads; the object
// itself is used from one thread (made, port(), destroyed).
#ifndef IMPORTGATE_SERVER_METRICS_METRICS_ENDPOINT_H_
#define IMPORTGATE_SERVER_METRICS_METRICS_ENDPOINT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/collectable.h"

namespace prometheus {
class Exposer;
}

namespace importgate::metrics {

class MetricsEndpoint {
 public:
  // Listens on `address`, host:port (port 0 picks a free port; an IPv6
  // host in brackets), and serves `collectables` (kept alive by the
  // endpoint) at /metrics.
  // INVALID_ARGUMENT naming --metrics_listen when the address is not
  // host:port; UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      absl::string_view address,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables);
  ~MetricsEndpoint();

  // The port bound.
  int port() const { return port_; }

 private:
  MetricsEndpoint() = default;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace importgate::metrics

#endif  // IMPORTGATE_SERVER_METRICS_METRICS_ENDPOINT_H_
