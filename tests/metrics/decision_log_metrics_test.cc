// The decision log's metrics: each family reads its DecisionLog::Stats()
// field at scrape time, and the exposition of all of them passes promtool.
#include "server/metrics/decision_log_metrics.h"

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "tests/decisionlog/decision_log_fixture.h"
#include "tests/metrics/families.h"
#include "tests/testing/run_command.h"

namespace importgate::decisionlog {
namespace {

using ::importgate::metrics::DecisionLogMetrics;
using ::importgate::metrics::testing::Value;

TEST_F(DecisionLogTest, MetricsReadEveryStatAtScrapeTime) {
  DecisionLogOptions options = Options();
  options.record.allow_fraction = 0.0;
  auto log = Open(options);
  ASSERT_NE(log, nullptr);
  DecisionLogMetrics metrics(log.get());
  EXPECT_EQ(Value(metrics.Collect(), "importgate_decision_log_records_total"),
            0);
  Write(*log, 0, 5);
  for (int i = 0; i < 2; ++i) log->SampleAllow(View(log->ids().Next(kNow)));
  log->Close();
  const DecisionLogStats stats = log->Stats();
  const auto families = metrics.Collect();
  const std::vector<std::pair<const char*, uint64_t>> expected = {
      {"importgate_decision_log_records_total", 5},
      {"importgate_decision_log_dropped_total", 0},
      {"importgate_decision_log_sampled_out_total", 2},
      {"importgate_decision_log_lost_total", 0},
      {"importgate_decision_log_write_errors_total", 0},
      {"importgate_decision_log_queue_bytes", 0},
      {"importgate_decision_log_queue_limit_bytes", 1 << 20},
      {"importgate_decision_log_disk_bytes",
       std::filesystem::file_size(Segments().back())},
      {"importgate_decision_log_segments_removed_total", 0},
      // STARTED, 5 records, STOPPED.
      {"importgate_decision_log_last_sequence", 7},
      {"importgate_decision_log_held", 0},
  };
  EXPECT_EQ(families.size(), expected.size());
  for (const auto& [name, value] : expected) {
    EXPECT_EQ(Value(families, name), static_cast<double>(value)) << name;
  }
  EXPECT_EQ(stats.last_sequence, 7u);

  // Debian's promtool accepts the exposition, lint included.
  const std::string text = prometheus::TextSerializer().Serialize(families);
  const std::string path = dir_ + "-scrape.txt";
  std::ofstream(path) << text;
  auto [status, output] =
      ::importgate::testing::RunCommand("promtool check metrics <" + path);
  EXPECT_EQ(status, 0) << output << text;
  EXPECT_EQ(output, "") << text;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace importgate::decisionlog
