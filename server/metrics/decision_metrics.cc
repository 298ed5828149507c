#include "server/metrics/decision_metrics.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string_view>
#include <utility>

namespace importgate::metrics {
namespace {

constexpr const char* kMethodNames[] = {"IsImportAllowed",
                                        "BatchIsImportAllowed"};
constexpr const char* kEffectNames[] = {"UNSPECIFIED", "ALLOW", "DENY"};
constexpr size_t kMaxShards = 64;

size_t EffectIndex(importgate::v1::Effect effect) {
  switch (effect) {
    case importgate::v1::EFFECT_ALLOW:
      return 1;
    case importgate::v1::EFFECT_DENY:
      return 2;
    default:
      return 0;
  }
}

size_t DefaultShardCount() {
  const long cpus = sysconf(_SC_NPROCESSORS_CONF);
  return std::clamp<size_t>(cpus > 0 ? static_cast<size_t>(cpus) : 1, 1,
                            kMaxShards);
}

uint64_t Load(const std::atomic<uint64_t>& count) {
  return count.load(std::memory_order_relaxed);
}

void Add(std::atomic<uint64_t>& count, uint64_t n = 1) {
  count.fetch_add(n, std::memory_order_relaxed);
}

// Index of the first bound >= value, or bounds.size() for +Inf.
template <typename T, size_t N>
size_t BucketOf(const std::array<T, N>& bounds, T value) {
  size_t i = 0;
  while (i < N && value > bounds[i]) ++i;
  return i;
}

prometheus::ClientMetric::Label Label(const char* name, std::string value) {
  return {name, std::move(value)};
}

// A histogram sample from per-bucket (not cumulative) counts.
template <size_t N>
prometheus::ClientMetric Histogram(const std::array<double, N>& bounds,
                                   const std::array<uint64_t, N + 1>& counts,
                                   double sum) {
  prometheus::ClientMetric metric;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= N; ++i) {
    cumulative += counts[i];
    metric.histogram.bucket.push_back(
        {cumulative,
         i < N ? bounds[i] : std::numeric_limits<double>::infinity()});
  }
  metric.histogram.sample_count = cumulative;
  metric.histogram.sample_sum = sum;
  return metric;
}

}  // namespace

DecisionMetrics::DecisionMetrics(size_t shards)
    : shard_count_(shards == 0 ? DefaultShardCount()
                               : std::min(shards, kMaxShards)),
      shards_(std::make_unique<Shard[]>(shard_count_)),
      table_(std::make_unique<std::atomic<const ReasonEntry*>[]>(kTableSize)) {
  for (size_t i = 0; i < duration_bounds_ns_.size(); ++i) {
    duration_bounds_ns_[i] =
        std::llround(kDurationBucketsSeconds[i] * 1e9);  // exact: >= 1 µs
  }
  for (size_t i = 0; i < kTableSize; ++i) table_[i].store(nullptr);
}

DecisionMetrics::~DecisionMetrics() = default;

DecisionMetrics::Shard& DecisionMetrics::ThisShard() {
  const int cpu = sched_getcpu();  // glibc reads it from rseq: no syscall
  return shards_[cpu < 0 ? 0 : static_cast<size_t>(cpu) % shard_count_];
}

const DecisionMetrics::ReasonEntry* DecisionMetrics::FindReason(
    absl::string_view code, size_t hash) const {
  for (size_t i = 0; i < kTableSize; ++i) {
    const ReasonEntry* entry =
        table_[(hash + i) & (kTableSize - 1)].load(std::memory_order_acquire);
    if (entry == nullptr) return nullptr;
    if (entry->code == code) return entry;
  }
  return nullptr;
}

uint32_t DecisionMetrics::ReasonSlot(absl::string_view code) {
  const size_t hash =
      std::hash<std::string_view>()(std::string_view(code.data(), code.size()));
  if (const ReasonEntry* entry = FindReason(code, hash)) return entry->slot;
  if (reasons_full_.load(std::memory_order_relaxed)) return kMaxReasonCodes;
  std::lock_guard<std::mutex> lock(mu_);
  if (const ReasonEntry* entry = FindReason(code, hash)) return entry->slot;
  if (reasons_.size() == kMaxReasonCodes) {
    reasons_full_.store(true, std::memory_order_relaxed);
    return kMaxReasonCodes;
  }
  auto entry = std::make_unique<ReasonEntry>(
      ReasonEntry{std::string(code), static_cast<uint32_t>(reasons_.size())});
  // The table is at most a quarter full, so a free slot is near.
  size_t i = hash & (kTableSize - 1);
  while (table_[i].load(std::memory_order_relaxed) != nullptr) {
    i = (i + 1) & (kTableSize - 1);
  }
  table_[i].store(entry.get(), std::memory_order_release);
  reasons_.push_back(std::move(entry));
  return reasons_.back()->slot;
}

void DecisionMetrics::RecordDecision(DecisionMethod method,
                                     importgate::v1::Effect effect,
                                     absl::string_view reason_code) {
  const uint32_t slot = ReasonSlot(reason_code);
  Add(ThisShard()
          .decisions[static_cast<size_t>(method)][EffectIndex(effect)][slot]);
}

void DecisionMetrics::RecordError(DecisionMethod method,
                                  absl::StatusCode code) {
  size_t index = static_cast<size_t>(code);
  if (index == 0) return;
  if (index >= kCodes) index = static_cast<size_t>(absl::StatusCode::kUnknown);
  Add(ThisShard().errors[static_cast<size_t>(method)][index]);
}

void DecisionMetrics::RecordDuration(DecisionMethod method,
                                     absl::Duration duration) {
  const int64_t ns = std::max<int64_t>(0, absl::ToInt64Nanoseconds(duration));
  Shard& shard = ThisShard();
  const size_t m = static_cast<size_t>(method);
  Add(shard.duration_counts[m][BucketOf(duration_bounds_ns_, ns)]);
  Add(shard.duration_sum_ns[m], static_cast<uint64_t>(ns));
}

void DecisionMetrics::RecordBatchItems(int items) {
  const double n = std::max(0, items);
  Shard& shard = ThisShard();
  Add(shard.batch_counts[BucketOf(kBatchItemsBuckets, n)]);
  Add(shard.batch_sum, static_cast<uint64_t>(n));
}

std::vector<prometheus::MetricFamily> DecisionMetrics::Collect() const {
  std::vector<std::string> reason_names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : reasons_) reason_names.push_back(entry->code);
  }
  reason_names.push_back(kOtherReasonCode);

  prometheus::MetricFamily decisions{
      "importgate_decisions_total",
      "Decisions answered (a unary call or one batch item), by method, "
      "effect and the bundle's reason code.",
      prometheus::MetricType::Counter,
      {}};
  prometheus::MetricFamily errors{
      "importgate_decision_errors_total",
      "Decision calls and batch items answered with an error, by method and "
      "gRPC status code.",
      prometheus::MetricType::Counter,
      {}};
  prometheus::MetricFamily durations{
      "importgate_request_duration_seconds",
      "Time in the decision handler per call, from its first line to the "
      "answer handed to gRPC.",
      prometheus::MetricType::Histogram,
      {}};
  prometheus::MetricFamily batches{
      "importgate_batch_items",
      "Items per accepted BatchIsImportAllowed call.",
      prometheus::MetricType::Histogram,
      {}};

  for (size_t m = 0; m < kMethods; ++m) {
    for (size_t e = 0; e < kEffects; ++e) {
      for (size_t r = 0; r < kReasonSlots; ++r) {
        // Slots past the codes read above may have filled since; they are
        // reported at the next scrape.
        const size_t name = r == kMaxReasonCodes ? reason_names.size() - 1 : r;
        if (r != kMaxReasonCodes && r + 1 >= reason_names.size()) continue;
        uint64_t total = 0;
        for (size_t s = 0; s < shard_count_; ++s) {
          total += Load(shards_[s].decisions[m][e][r]);
        }
        if (total == 0) continue;
        prometheus::ClientMetric metric;
        metric.label = {Label("effect", kEffectNames[e]),
                        Label("method", kMethodNames[m]),
                        Label("reason_code", reason_names[name])};
        metric.counter.value = static_cast<double>(total);
        decisions.metric.push_back(std::move(metric));
      }
    }
    for (size_t c = 1; c < kCodes; ++c) {
      uint64_t total = 0;
      for (size_t s = 0; s < shard_count_; ++s) {
        total += Load(shards_[s].errors[m][c]);
      }
      if (total == 0) continue;
      prometheus::ClientMetric metric;
      metric.label = {Label("code", absl::StatusCodeToString(
                                        static_cast<absl::StatusCode>(c))),
                      Label("method", kMethodNames[m])};
      metric.counter.value = static_cast<double>(total);
      errors.metric.push_back(std::move(metric));
    }
    std::array<uint64_t, kDurationBucketsSeconds.size() + 1> counts{};
    uint64_t sum_ns = 0;
    for (size_t s = 0; s < shard_count_; ++s) {
      for (size_t b = 0; b < counts.size(); ++b) {
        counts[b] += Load(shards_[s].duration_counts[m][b]);
      }
      sum_ns += Load(shards_[s].duration_sum_ns[m]);
    }
    prometheus::ClientMetric metric = Histogram(
        kDurationBucketsSeconds, counts, static_cast<double>(sum_ns) / 1e9);
    metric.label = {Label("method", kMethodNames[m])};
    durations.metric.push_back(std::move(metric));
  }
  std::array<uint64_t, kBatchItemsBuckets.size() + 1> counts{};
  uint64_t sum = 0;
  for (size_t s = 0; s < shard_count_; ++s) {
    for (size_t b = 0; b < counts.size(); ++b) {
      counts[b] += Load(shards_[s].batch_counts[b]);
    }
    sum += Load(shards_[s].batch_sum);
  }
  batches.metric.push_back(
      Histogram(kBatchItemsBuckets, counts, static_cast<double>(sum)));

  std::vector<prometheus::MetricFamily> families;
  families.push_back(std::move(decisions));
  families.push_back(std::move(errors));
  families.push_back(std::move(durations));
  families.push_back(std::move(batches));
  return families;
}

}  // namespace importgate::metrics
