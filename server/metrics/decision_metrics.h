// DecisionMetrics: what the decision API did, for Prometheus: decisions by
// method, effect and reason code, errors by method and status code, the
// handlers' own time, and batch sizes.
//
// Why not prometheus-cpp's Counter and Histogram: in prometheus-cpp 1.0,
// Histogram::Observe takes a mutex and Family::Add a lock, and one shared
// atomic per counter would bounce a cache line between cores on every
// call. Here every count lives in per-CPU shards of relaxed atomics (a
// thread adds to the shard of the CPU it runs on, so threads rarely share
// a line), and Collect() sums the shards into prometheus::MetricFamily
// values at scrape time: the library's exposer still does the exposition
// format, naming and HTTP.
//
// Exposed (all label sets bounded; a revision, SKU, seller or rule id is
// never a label):
//   importgate_decisions_total{method,effect,reason_code}        counter
//   importgate_decision_errors_total{method,code}                counter
//   importgate_request_duration_seconds{method}                  histogram
//   importgate_batch_items                                       histogram
// method: IsImportAllowed | BatchIsImportAllowed. effect: ALLOW | DENY.
// reason_code: as the bundle writes it ([A-Z0-9_]); the first
// kMaxReasonCodes distinct codes seen in the process's life get their own
// series, later ones are counted under "other" (lower case, so no bundle's
// code can collide with it). code: the gRPC status code name, e.g.
// INVALID_ARGUMENT. A decision or error series appears once its count is
// above zero.
//
// Thread safety: every Record* is safe from any thread and wait-free,
// except that the first sighting of a new reason code takes a mutex once.
// Collect() is safe concurrently with them; each count it reports is one
// the counter held at some instant during the scrape.
#ifndef IMPORTGATE_SERVER_METRICS_DECISION_METRICS_H_
#define IMPORTGATE_SERVER_METRICS_DECISION_METRICS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "importgate/v1/import_policy.pb.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace importgate::metrics {

// The decision API's methods, as the `method` label names them.
enum class DecisionMethod { kIsImportAllowed = 0, kBatchIsImportAllowed = 1 };

// Distinct reason codes with their own series; see the top of this file.
inline constexpr size_t kMaxReasonCodes = 255;
// The reason_code label of every code past kMaxReasonCodes.
inline constexpr char kOtherReasonCode[] = "other";

// Upper bounds of importgate_request_duration_seconds's buckets, in
// seconds (then +Inf): 5 µs to 1 s, dense where a handler's time lies.
inline constexpr std::array<double, 16> kDurationBucketsSeconds = {
    5e-6,   1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4, 5e-4, 1e-3,
    2.5e-3, 5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,    0.25, 1.0};
// Upper bounds of importgate_batch_items's buckets (then +Inf).
inline constexpr std::array<double, 13> kBatchItemsBuckets = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

class DecisionMetrics final : public prometheus::Collectable {
 public:
  // `shards`: how many per-CPU shards; 0: one per configured CPU (at most
  // 64). Tests pass a small number to make threads share shards.
  explicit DecisionMetrics(size_t shards = 0);
  ~DecisionMetrics() override;
  DecisionMetrics(const DecisionMetrics&) = delete;
  DecisionMetrics& operator=(const DecisionMetrics&) = delete;

  // One decision (a unary answer or one batch item). An effect other than
  // ALLOW and DENY is counted as effect="UNSPECIFIED".
  void RecordDecision(DecisionMethod method, importgate::v1::Effect effect,
                      absl::string_view reason_code);
  // One error: a failed unary call or batch call (once), or one batch
  // item's error. `code` OK is ignored.
  void RecordError(DecisionMethod method, absl::StatusCode code);
  // The handler's own time for one call, from its first line to the
  // answer handed to gRPC. Negative durations count as zero.
  void RecordDuration(DecisionMethod method, absl::Duration duration);
  // The number of items in one accepted batch.
  void RecordBatchItems(int items);

  // The four families above, summed over the shards.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  static constexpr size_t kMethods = 2;
  static constexpr size_t kEffects = 3;  // UNSPECIFIED, ALLOW, DENY
  static constexpr size_t kReasonSlots = kMaxReasonCodes + 1;  // + other
  static constexpr size_t kCodes = 17;  // OK .. UNAUTHENTICATED

  struct alignas(64) Shard {
    std::atomic<uint64_t> decisions[kMethods][kEffects][kReasonSlots];
    std::atomic<uint64_t> errors[kMethods][kCodes];
    // Per bucket, not cumulative; the last one is +Inf.
    std::atomic<uint64_t> duration_counts[kMethods]
                                         [kDurationBucketsSeconds.size() + 1];
    std::atomic<uint64_t> duration_sum_ns[kMethods];
    std::atomic<uint64_t> batch_counts[kBatchItemsBuckets.size() + 1];
    std::atomic<uint64_t> batch_sum;
  };

  // Reason code -> slot: a fixed open-addressing table, read without a
  // lock; a new code is added under mu_ and published with a release
  // store. Entries are never removed.
  struct ReasonEntry {
    std::string code;
    uint32_t slot;
  };
  static constexpr size_t kTableSize = 1024;  // > 4 * kMaxReasonCodes
  uint32_t ReasonSlot(absl::string_view code);
  const ReasonEntry* FindReason(absl::string_view code, size_t hash) const;

  Shard& ThisShard();

  const size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
  std::array<int64_t, kDurationBucketsSeconds.size()> duration_bounds_ns_;

  std::unique_ptr<std::atomic<const ReasonEntry*>[]> table_;
  std::atomic<bool> reasons_full_{false};
  mutable std::mutex mu_;
  // By slot.
  std::vector<std::unique_ptr<ReasonEntry>> reasons_ ABSL_GUARDED_BY(mu_);
};

}  // namespace importgate::metrics

#endif  // IMPORTGATE_SERVER_METRICS_DECISION_METRICS_H_
