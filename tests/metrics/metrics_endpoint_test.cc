#include "server/metrics/metrics_endpoint.h"

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics/decision_metrics.h"
#include "server/metrics/process_metrics.h"
#include "tests/testing/http_get.h"
#include "tests/testing/run_command.h"

namespace importgate::metrics {
namespace {

using ::testing::HasSubstr;

// Runs `command` with `input` on stdin; its exit status and output.
std::pair<int, std::string> RunWithInput(const std::string& command,
                                         const std::string& input) {
  const std::string in = ::testing::TempDir() + "/promtool_input";
  FILE* f = std::fopen(in.c_str(), "w");
  std::fwrite(input.data(), 1, input.size(), f);
  std::fclose(f);
  return testing::RunCommand(command + " <" + in);
}

TEST(MetricsEndpointTest, ServesEveryCollectableThatPromtoolAccepts) {
  auto decisions = std::make_shared<DecisionMetrics>();
  decisions->RecordDecision(DecisionMethod::kIsImportAllowed,
                            importgate::v1::EFFECT_DENY, "CLOSED");
  decisions->RecordError(DecisionMethod::kBatchIsImportAllowed,
                         absl::StatusCode::kInvalidArgument);
  auto endpoint = MetricsEndpoint::Start(
      "127.0.0.1:0", {decisions, std::make_shared<ProcessMetrics>()});
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  ASSERT_GT((*endpoint)->port(), 0);
  auto scrape = testing::HttpGet(
      absl::StrCat("http://127.0.0.1:", (*endpoint)->port(), "/metrics"));
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_THAT(*scrape, HasSubstr("# TYPE importgate_decisions_total counter"));
  EXPECT_THAT(*scrape,
              HasSubstr("importgate_decisions_total{effect=\"DENY\",method="
                        "\"IsImportAllowed\",reason_code=\"CLOSED\"} 1"));
  EXPECT_THAT(*scrape,
              HasSubstr("importgate_decision_errors_total{code=\"INVALID_"
                        "ARGUMENT\",method=\"BatchIsImportAllowed\"} 1"));
  EXPECT_THAT(
      *scrape,
      HasSubstr("# TYPE importgate_request_duration_seconds histogram"));
  EXPECT_THAT(*scrape, HasSubstr("process_open_fds "));
  // Debian's prometheus package: the exposition is valid and lint-clean
  // (no output, exit 0).
  auto [status, output] = RunWithInput("promtool check metrics", *scrape);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << *scrape;
}

TEST(MetricsEndpointTest, BadAddressesNameTheFlag) {
  for (const char* address : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http",
                              ":9464", "127.0.0.1:65536", "127.0.0.1:-1"}) {
    auto endpoint = MetricsEndpoint::Start(address, {});
    ASSERT_FALSE(endpoint.ok()) << address;
    EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(endpoint.status().message(), HasSubstr("--metrics_listen"));
  }
}

TEST(MetricsEndpointTest, AnAddressInUseIsUnavailable) {
  auto first = MetricsEndpoint::Start("127.0.0.1:0", {});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second =
      MetricsEndpoint::Start(absl::StrCat("127.0.0.1:", (*first)->port()), {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("--metrics_listen"));
  auto unknown = MetricsEndpoint::Start("192.0.2.1:0", {});  // not ours
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace importgate::metrics
