#include "server/metrics/decision_metrics.h"

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/metrics/families.h"

namespace importgate::metrics {
namespace {

using ::importgate::metrics::testing::FindSample;
using ::importgate::metrics::testing::Value;
using ::importgate::v1::EFFECT_ALLOW;
using ::importgate::v1::EFFECT_DENY;
using ::importgate::v1::EFFECT_UNSPECIFIED;

constexpr DecisionMethod kUnary = DecisionMethod::kIsImportAllowed;
constexpr DecisionMethod kBatch = DecisionMethod::kBatchIsImportAllowed;

std::optional<double> Decisions(const DecisionMetrics& m,
                                const std::string& method,
                                const std::string& effect,
                                const std::string& reason) {
  return Value(
      m.Collect(), "importgate_decisions_total",
      {{"method", method}, {"effect", effect}, {"reason_code", reason}});
}

TEST(DecisionMetricsTest, CountsDecisionsByMethodEffectAndReason) {
  DecisionMetrics m;
  m.RecordDecision(kUnary, EFFECT_DENY, "CROSS_BORDER_CATEGORY_CLOSED");
  m.RecordDecision(kUnary, EFFECT_DENY, "CROSS_BORDER_CATEGORY_CLOSED");
  m.RecordDecision(kUnary, EFFECT_ALLOW, "NO_RULE_MATCHED");
  m.RecordDecision(kBatch, EFFECT_DENY, "CROSS_BORDER_CATEGORY_CLOSED");
  m.RecordDecision(kBatch, EFFECT_UNSPECIFIED, "ODD");
  m.RecordDecision(kBatch, static_cast<importgate::v1::Effect>(7), "ODD");
  EXPECT_EQ(
      Decisions(m, "IsImportAllowed", "DENY", "CROSS_BORDER_CATEGORY_CLOSED"),
      2);
  EXPECT_EQ(Decisions(m, "IsImportAllowed", "ALLOW", "NO_RULE_MATCHED"), 1);
  EXPECT_EQ(Decisions(m, "BatchIsImportAllowed", "DENY",
                      "CROSS_BORDER_CATEGORY_CLOSED"),
            1);
  EXPECT_EQ(Decisions(m, "BatchIsImportAllowed", "UNSPECIFIED", "ODD"), 2);
  // A series appears once its count is above zero.
  EXPECT_EQ(Decisions(m, "BatchIsImportAllowed", "ALLOW", "NO_RULE_MATCHED"),
            std::nullopt);
  const auto families = m.Collect();
  const auto* family = ::importgate::metrics::testing::FindFamily(
      families, "importgate_decisions_total");
  ASSERT_NE(family, nullptr);
  EXPECT_EQ(family->type, prometheus::MetricType::Counter);
  EXPECT_EQ(family->metric.size(), 4u);
}

TEST(DecisionMetricsTest, ReasonCodesPastTheCapShareTheOtherSeries) {
  DecisionMetrics m;
  const size_t extra = 45;
  for (size_t i = 0; i < kMaxReasonCodes + extra; ++i) {
    m.RecordDecision(kUnary, EFFECT_DENY, absl::StrCat("CODE_", i));
  }
  // Later sightings of an early code keep their own series; of a late one,
  // the shared one.
  m.RecordDecision(kUnary, EFFECT_DENY, "CODE_0");
  m.RecordDecision(kUnary, EFFECT_DENY,
                   absl::StrCat("CODE_", kMaxReasonCodes + 1));
  EXPECT_EQ(Decisions(m, "IsImportAllowed", "DENY", "CODE_0"), 2);
  EXPECT_EQ(Decisions(m, "IsImportAllowed", "DENY",
                      absl::StrCat("CODE_", kMaxReasonCodes - 1)),
            1);
  EXPECT_EQ(Decisions(m, "IsImportAllowed", "DENY",
                      absl::StrCat("CODE_", kMaxReasonCodes)),
            std::nullopt);
  EXPECT_EQ(Decisions(m, "IsImportAllowed", "DENY", kOtherReasonCode),
            extra + 1);
  const auto families = m.Collect();
  EXPECT_EQ(::importgate::metrics::testing::FindFamily(
                families, "importgate_decisions_total")
                ->metric.size(),
            kMaxReasonCodes + 1);
}

TEST(DecisionMetricsTest, CountsErrorsByStatusCodeName) {
  DecisionMetrics m;
  m.RecordError(kUnary, absl::StatusCode::kInvalidArgument);
  m.RecordError(kUnary, absl::StatusCode::kInvalidArgument);
  m.RecordError(kBatch, absl::StatusCode::kFailedPrecondition);
  m.RecordError(kUnary, absl::StatusCode::kOk);  // not an error
  m.RecordError(kUnary, static_cast<absl::StatusCode>(99));
  const auto families = m.Collect();
  EXPECT_EQ(
      Value(families, "importgate_decision_errors_total",
            {{"method", "IsImportAllowed"}, {"code", "INVALID_ARGUMENT"}}),
      2);
  EXPECT_EQ(Value(families, "importgate_decision_errors_total",
                  {{"method", "BatchIsImportAllowed"},
                   {"code", "FAILED_PRECONDITION"}}),
            1);
  EXPECT_EQ(Value(families, "importgate_decision_errors_total",
                  {{"method", "IsImportAllowed"}, {"code", "UNKNOWN"}}),
            1);
  EXPECT_EQ(Value(families, "importgate_decision_errors_total",
                  {{"method", "IsImportAllowed"}, {"code", "OK"}}),
            std::nullopt);
}

// Bucket upper bound -> cumulative count.
std::vector<std::pair<double, uint64_t>> Buckets(
    const prometheus::ClientMetric& sample) {
  std::vector<std::pair<double, uint64_t>> out;
  for (const auto& b : sample.histogram.bucket) {
    out.emplace_back(b.upper_bound, b.cumulative_count);
  }
  return out;
}

TEST(DecisionMetricsTest,
     DurationHistogramBucketsAreCumulativeAndEdgesInclusive) {
  DecisionMetrics m;
  m.RecordDuration(kUnary, absl::Microseconds(3));    // first bucket
  m.RecordDuration(kUnary, absl::Microseconds(5));    // le=5e-06 (inclusive)
  m.RecordDuration(kUnary, absl::Nanoseconds(5001));  // next bucket
  m.RecordDuration(kUnary, absl::Seconds(2));         // only +Inf
  m.RecordDuration(kUnary, absl::Microseconds(-4));   // as zero
  m.RecordDuration(kBatch, absl::Milliseconds(1));
  const auto families = m.Collect();
  const auto* unary =
      FindSample(families, "importgate_request_duration_seconds",
                 {{"method", "IsImportAllowed"}});
  ASSERT_NE(unary, nullptr);
  const auto buckets = Buckets(*unary);
  ASSERT_EQ(buckets.size(), kDurationBucketsSeconds.size() + 1);
  EXPECT_EQ(buckets[0], std::make_pair(5e-6, uint64_t{3}));
  EXPECT_EQ(buckets[1], std::make_pair(1e-5, uint64_t{4}));
  EXPECT_EQ(buckets[buckets.size() - 2].second, 4u);  // le=1
  EXPECT_TRUE(std::isinf(buckets.back().first));
  EXPECT_EQ(buckets.back().second, 5u);
  EXPECT_EQ(unary->histogram.sample_count, 5u);
  EXPECT_NEAR(unary->histogram.sample_sum, 2.000013001, 1e-12);
  const auto* batch =
      FindSample(families, "importgate_request_duration_seconds",
                 {{"method", "BatchIsImportAllowed"}});
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->histogram.sample_count, 1u);
  EXPECT_EQ(Buckets(*batch)[6].second, 0u);  // le=5e-4
  EXPECT_EQ(Buckets(*batch)[7].second, 1u);  // le=1e-3
}

TEST(DecisionMetricsTest, BatchItemsHistogram) {
  DecisionMetrics m;
  for (int n : {1, 2, 100, 101, 20000}) m.RecordBatchItems(n);
  const auto families = m.Collect();
  const auto* sample = FindSample(families, "importgate_batch_items");
  ASSERT_NE(sample, nullptr);
  const auto buckets = Buckets(*sample);
  EXPECT_EQ(buckets[0], std::make_pair(1.0, uint64_t{1}));
  EXPECT_EQ(buckets[1], std::make_pair(2.0, uint64_t{2}));
  EXPECT_EQ(buckets[6], std::make_pair(100.0, uint64_t{3}));
  EXPECT_EQ(buckets[7], std::make_pair(250.0, uint64_t{4}));
  EXPECT_EQ(buckets[12], std::make_pair(10000.0, uint64_t{4}));
  EXPECT_EQ(buckets[13].second, 5u);
  EXPECT_EQ(sample->histogram.sample_sum, 20204);
}

// Many threads on few shards (so that they share them), with scrapes
// running meanwhile: no count is lost.
TEST(DecisionMetricsTest, ConcurrentRecordsAreAllCounted) {
  for (size_t shards : {1u, 2u, 0u}) {
    DecisionMetrics m(shards);
    constexpr int kThreads = 8;
    constexpr int kEach = 20000;
    std::vector<std::thread> threads;
    std::atomic<bool> done{false};
    std::thread scraper([&] {
      while (!done.load()) m.Collect();
    });
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&m, t] {
        for (int i = 0; i < kEach; ++i) {
          // New codes appear on every thread at once.
          m.RecordDecision(kUnary, i % 2 ? EFFECT_ALLOW : EFFECT_DENY,
                           absl::StrCat("R", i % 16));
          m.RecordDuration(kUnary, absl::Microseconds(t));
          m.RecordError(kBatch, absl::StatusCode::kInvalidArgument);
        }
      });
    }
    for (auto& t : threads) t.join();
    done = true;
    scraper.join();
    const auto families = m.Collect();
    double decisions = 0;
    for (const auto& sample : ::importgate::metrics::testing::FindFamily(
                                  families, "importgate_decisions_total")
                                  ->metric) {
      decisions += sample.counter.value;
    }
    EXPECT_EQ(decisions, kThreads * kEach) << shards << " shards";
    EXPECT_EQ(Decisions(m, "IsImportAllowed", "DENY", "R0"),
              kThreads * kEach / 16);
    EXPECT_EQ(FindSample(families, "importgate_request_duration_seconds",
                         {{"method", "IsImportAllowed"}})
                  ->histogram.sample_count,
              uint64_t{kThreads * kEach});
    EXPECT_EQ(Value(families, "importgate_decision_errors_total",
                    {{"method", "BatchIsImportAllowed"},
                     {"code", "INVALID_ARGUMENT"}}),
              kThreads * kEach);
  }
}

}  // namespace
}  // namespace importgate::metrics
