#include "server/metrics/decision_log_metrics.h"

#include <string>
#include <utility>

namespace importgate::metrics {

std::vector<prometheus::MetricFamily> DecisionLogMetrics::Collect() const {
  const decisionlog::DecisionLogStats stats = log_->Stats();
  std::vector<prometheus::MetricFamily> families;
  auto add = [&](std::string name, std::string help,
                 prometheus::MetricType type, uint64_t value) {
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = static_cast<double>(value);
    } else {
      metric.gauge.value = static_cast<double>(value);
    }
    families.push_back({std::move(name), std::move(help), type, {metric}});
  };
  using prometheus::MetricType;
  add("importgate_decision_log_records_total",
      "Decision records written to the decision log's segment files.",
      MetricType::Counter, stats.records_written);
  add("importgate_decision_log_dropped_total",
      "Decision records dropped: refused by a full queue "
      "(--decision_log_queue_policy=drop), or not made from a call's bytes.",
      MetricType::Counter, stats.dropped);
  add("importgate_decision_log_sampled_out_total",
      "ALLOW decisions left out of the log by --decision_log_allow_fraction.",
      MetricType::Counter, stats.sampled_out);
  add("importgate_decision_log_lost_total",
      "Decision records accepted, then lost to writes still failing at exit.",
      MetricType::Counter, stats.lost);
  add("importgate_decision_log_write_errors_total",
      "Failed writes to the decision log (each retried every second).",
      MetricType::Counter, stats.write_errors);
  add("importgate_decision_log_queue_bytes",
      "Bytes of decision records queued or being written.", MetricType::Gauge,
      stats.queue_bytes);
  add("importgate_decision_log_queue_limit_bytes",
      "The decision log queue's bound (--decision_log_queue_mib), in bytes.",
      MetricType::Gauge, stats.max_queue_bytes);
  add("importgate_decision_log_disk_bytes",
      "Bytes the decision log's segment files take.", MetricType::Gauge,
      stats.disk_bytes);
  add("importgate_decision_log_segments_removed_total",
      "Decision log segments removed by retention (--decision_log_max_mib).",
      MetricType::Counter, stats.segments_removed);
  add("importgate_decision_log_last_sequence",
      "Sequence number of the last decision log entry written.",
      MetricType::Gauge, stats.last_sequence);
  add("importgate_decision_log_held",
      "1 while the decision log holds records: at its cap, waiting for the "
      "Kafka sink to ship.",
      MetricType::Gauge, stats.held ? 1 : 0);
  if (sink_ == nullptr) return families;
  const decisionlog::KafkaSinkStats sink = sink_->Stats();
  add("importgate_decision_log_sink_shipped_sequence",
      "Every decision log entry up to this sequence is acknowledged by "
      "Kafka.",
      MetricType::Gauge, sink.last_shipped);
  add("importgate_decision_log_sink_lag_entries",
      "Decision log entries written but not yet acknowledged by Kafka.",
      MetricType::Gauge,
      stats.last_sequence > sink.last_shipped
          ? stats.last_sequence - sink.last_shipped
          : 0);
  add("importgate_decision_log_sink_in_flight_entries",
      "Decision log entries handed to Kafka, not yet acknowledged.",
      MetricType::Gauge, sink.in_flight);
  add("importgate_decision_log_sink_shipped_total",
      "Decision log entries acknowledged by Kafka since the server started.",
      MetricType::Counter, sink.shipped);
  add("importgate_decision_log_sink_errors_total",
      "Failed Kafka deliveries (the sink sends again from its checkpoint).",
      MetricType::Counter, sink.delivery_errors);
  add("importgate_decision_log_sink_stopped",
      "1 when the Kafka sink stopped for good (see the server log).",
      MetricType::Gauge, sink.stopped ? 1 : 0);
  return families;
}

}  // namespace importgate::metrics
