#include "server/metrics/bundle_metrics.h"

#include <string>
#include <utility>

#include "absl/time/time.h"

namespace importgate::metrics {
namespace {

prometheus::MetricFamily Family(std::string name, std::string help,
                                prometheus::MetricType type) {
  return {std::move(name), std::move(help), type, {}};
}

prometheus::ClientMetric Gauge(
    double value, std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return metric;
}

double Seconds(absl::Time t) {
  return absl::ToDoubleSeconds(t - absl::UnixEpoch());
}

}  // namespace

std::vector<prometheus::MetricFamily> BundleMetrics::Collect() const {
  const bundle::StoreStatus status = store_->Status();
  const bundle::Freshness freshness = store_->FreshnessNow();
  using prometheus::MetricType;

  auto revision =
      Family("importgate_bundle_revision",
             "Revision of the active policy bundle.", MetricType::Gauge);
  auto activated_at = Family(
      "importgate_bundle_activation_timestamp_seconds",
      "When the active policy bundle was activated, in seconds since the Unix "
      "epoch.",
      MetricType::Gauge);
  auto rates_until = Family(
      "importgate_bundle_rates_in_force_until_timestamp_seconds",
      "When the active bundle's last exchange-rate table ends (decisions that "
      "need a rate fail after it), in seconds since the Unix epoch.",
      MetricType::Gauge);
  if (status.active.has_value()) {
    const bundle::LoadedBundle& active = *status.active->bundle;
    const std::vector<prometheus::ClientMetric::Label> labels = {
        {"bundle", active.snapshot->name}};
    revision.metric.push_back(
        Gauge(static_cast<double>(active.snapshot->revision), labels));
    activated_at.metric.push_back(
        Gauge(Seconds(status.active->loaded_at), labels));
    const auto& periods = active.snapshot->rate_periods;
    if (!periods.empty() && periods.back().until != absl::InfiniteFuture()) {
      rates_until.metric.push_back(
          Gauge(Seconds(periods.back().until), labels));
    }
  }

  auto loads = Family("importgate_bundle_loads_total",
                      "Bundle load attempts by outcome: activated, unchanged "
                      "(the source holds the active bundle), refused.",
                      MetricType::Counter);
  for (const auto& [outcome, count] :
       {std::pair<const char*, uint64_t>{"activated", status.loads.activated},
        {"unchanged", status.loads.unchanged},
        {"refused", status.loads.refused}}) {
    prometheus::ClientMetric metric;
    metric.label = {{"outcome", outcome}};
    metric.counter.value = static_cast<double>(count);
    loads.metric.push_back(std::move(metric));
  }

  auto last_success = Family(
      "importgate_bundle_source_last_success_timestamp_seconds",
      "When the bundle source was last read successfully (activated or found "
      "unchanged), in seconds since the Unix epoch.",
      MetricType::Gauge);
  if (status.last_source_success.has_value()) {
    last_success.metric.push_back(Gauge(Seconds(*status.last_source_success)));
  }
  auto stale = Family("importgate_bundle_stale",
                      "1 while the server answers from a bundle it reports "
                      "stale (see GetStatus stale_reason), else 0.",
                      MetricType::Gauge);
  stale.metric.push_back(Gauge(freshness.stale ? 1 : 0));

  std::vector<prometheus::MetricFamily> families;
  for (auto* family : {&revision, &activated_at, &rates_until, &loads,
                       &last_success, &stale}) {
    // A family with no sample yet (no bundle, no success) is left out.
    if (!family->metric.empty()) families.push_back(std::move(*family));
  }
  return families;
}

}  // namespace importgate::metrics
