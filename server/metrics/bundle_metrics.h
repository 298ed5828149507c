// BundleMetrics: what the policy store serves and how its source fares, for
// Prometheus, read from the store at each scrape (so it is never older than
// the scrape):
//
//   importgate_bundle_revision{bundle}                          gauge
//   importgate_bundle_activation_timestamp_seconds{bundle}      gauge
//   importgate_bundle_rates_in_force_until_timestamp_seconds{bundle}  gauge
//       when the active bundle's last exchange-rate table ends (absent
//       when its rates never end or it has none): alert well before it.
//   importgate_bundle_loads_total{outcome}                      counter
//       outcome: activated | unchanged | refused (always all three)
//   importgate_bundle_source_last_success_timestamp_seconds     gauge
//       absent until the source was first read successfully
//   importgate_bundle_stale                                     gauge, 0 or 1
//       PolicyStore::FreshnessNow(); the same as health name
//       importgate.bundle.fresh answering NOT_SERVING.
// The bundle label is the bundle's name (one per server), never its
// revision: a replica that lags shows as a different gauge value, not as a
// new series.
//
// Thread safety: Collect() may run concurrently with anything the store
// does.
#ifndef IMPORTGATE_SERVER_METRICS_BUNDLE_METRICS_H_
#define IMPORTGATE_SERVER_METRICS_BUNDLE_METRICS_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/bundle/policy_store.h"

namespace importgate::metrics {

class BundleMetrics final : public prometheus::Collectable {
 public:
  // `store` must outlive this.
  explicit BundleMetrics(const bundle::PolicyStore* store) : store_(store) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const bundle::PolicyStore* const store_;
};

}  // namespace importgate::metrics

#endif  // IMPORTGATE_SERVER_METRICS_BUNDLE_METRICS_H_
