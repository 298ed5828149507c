// DecisionLogMetrics: how the decision log (decisionlog/decision_log.h)
// fares, for Prometheus, read from DecisionLog::Stats() at each scrape:
//
//   importgate_decision_log_records_total            counter
//       decision records written to the segment files
//   importgate_decision_log_dropped_total            counter
//       records refused by a full queue (--decision_log_queue_policy=drop)
//       or whose bytes could not be made a record; alert on any
//   importgate_decision_log_sampled_out_total        counter
//       ALLOWs left out by --decision_log_allow_fraction
//   importgate_decision_log_lost_total               counter
//       records accepted, then lost to writes still failing at exit
//   importgate_decision_log_write_errors_total       counter
//       failed writes (each retried every second): a full or failing disk
//   importgate_decision_log_queue_bytes              gauge
//   importgate_decision_log_queue_limit_bytes        gauge
//   importgate_decision_log_disk_bytes               gauge
//       every segment file's size (retention keeps it under
//       --decision_log_max_mib, plus a segment)
//   importgate_decision_log_segments_removed_total   counter
//   importgate_decision_log_last_sequence            gauge
//       the sequence number of the last entry written
//   importgate_decision_log_held                     gauge, 0 or 1
//       1 while the writer holds records: the directory is at its cap and
//       the Kafka sink has not shipped its oldest segment
// With the Kafka sink (decisionlog/kafka_sink.h):
//   importgate_decision_log_sink_shipped_sequence    gauge
//       every entry up to it acknowledged by Kafka (the checkpoint)
//   importgate_decision_log_sink_lag_entries         gauge
//       last_sequence - shipped_sequence: what Kafka does not have yet
//   importgate_decision_log_sink_in_flight_entries   gauge
//   importgate_decision_log_sink_shipped_total       counter
//   importgate_decision_log_sink_errors_total        counter
//       failed deliveries (the sink sends again from its checkpoint)
//   importgate_decision_log_sink_stopped             gauge, 0 or 1
//       1 when the sink stopped for good (the log does not hold what the
//       checkpoint says): see the server log
//
// Thread safety: Collect() may run concurrently with anything the log does.
#ifndef IMPORTGATE_SERVER_METRICS_DECISION_LOG_METRICS_H_
#define IMPORTGATE_SERVER_METRICS_DECISION_LOG_METRICS_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/decisionlog/decision_log.h"
#include "server/decisionlog/kafka_sink.h"

namespace importgate::metrics {

class DecisionLogMetrics final : public prometheus::Collectable {
 public:
  // `log` and `sink` (null: none) must outlive this.
  explicit DecisionLogMetrics(const decisionlog::DecisionLog* log,
                              const decisionlog::KafkaSink* sink = nullptr)
      : log_(log), sink_(sink) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const decisionlog::DecisionLog* const log_;
  const decisionlog::KafkaSink* const sink_;
};

}  // namespace importgate::metrics

#endif  // IMPORTGATE_SERVER_METRICS_DECISION_LOG_METRICS_H_
