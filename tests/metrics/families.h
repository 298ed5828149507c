// Reading samples back from prometheus::MetricFamily values in tests.
#ifndef IMPORTGATE_TESTS_METRICS_FAMILIES_H_
#define IMPORTGATE_TESTS_METRICS_FAMILIES_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "prometheus/metric_family.h"

namespace importgate::metrics::testing {

using Labels = std::map<std::string, std::string>;

inline const prometheus::MetricFamily* FindFamily(
    const std::vector<prometheus::MetricFamily>& families,
    const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

// The sample of family `name` with exactly `labels`, if any.
inline const prometheus::ClientMetric* FindSample(
    const std::vector<prometheus::MetricFamily>& families,
    const std::string& name, const Labels& labels = {}) {
  const prometheus::MetricFamily* family = FindFamily(families, name);
  if (family == nullptr) return nullptr;
  for (const auto& metric : family->metric) {
    Labels have;
    for (const auto& label : metric.label) have[label.name] = label.value;
    if (have == labels) return &metric;
  }
  return nullptr;
}

// A counter's or gauge's value, or nullopt when there is no such sample.
inline std::optional<double> Value(
    const std::vector<prometheus::MetricFamily>& families,
    const std::string& name, const Labels& labels = {}) {
  const prometheus::MetricFamily* family = FindFamily(families, name);
  const prometheus::ClientMetric* sample = FindSample(families, name, labels);
  if (sample == nullptr) return std::nullopt;
  return family->type == prometheus::MetricType::Counter ? sample->counter.value
                                                         : sample->gauge.value;
}

}  // namespace importgate::metrics::testing

#endif  // IMPORTGATE_TESTS_METRICS_FAMILIES_H_
