#include "server/metrics/metrics_endpoint.h"

#include <exception>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/exposer.h"

namespace importgate::metrics {
namespace {

absl::Status CheckAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_listen: \"", address,
                     "\" is not host:port (e.g. 127.0.0.1:9464)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    absl::string_view address,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables) {
  if (absl::Status s = CheckAddress(address); !s.ok()) return s;
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  endpoint->collectables_ = std::move(collectables);
  try {
    // Two threads: a scrape at a time, and one to spare.
    endpoint->exposer_ =
        std::make_unique<prometheus::Exposer>(std::string(address), 2);
  } catch (const std::exception& e) {
    // civetweb throws when it cannot bind (in use, no such address).
    return absl::UnavailableError(absl::StrCat(
        "--metrics_listen: cannot listen on ", address, ": ", e.what()));
  }
  for (const auto& collectable : endpoint->collectables_) {
    endpoint->exposer_->RegisterCollectable(collectable);
  }
  const std::vector<int> ports = endpoint->exposer_->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(
        absl::StrCat("--metrics_listen: nothing listens on ", address));
  }
  endpoint->port_ = ports.front();
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() = default;

}  // namespace importgate::metrics
