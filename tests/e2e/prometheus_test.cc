// The server's metrics as an SRE team would read them: importgate-server
// with --metrics_listen, scraped by a real Prometheus (Debian's prometheus
// package) started here on loopback, and read back through Prometheus's
// HTTP query API after some calls. promtool checks the scrape too.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "tests/testing/http_get.h"
#include "tests/testing/run_command.h"
#include "tests/testing/server_process.h"
#include "tests/testing/tee_request.h"

namespace importgate {
namespace {

namespace v1 = ::importgate::v1;
namespace it = ::importgate::testing;
using ::importgate::testing::ServerProcess;
using ::importgate::testing::UnusedPort;
using ::testing::HasSubstr;

// A port nothing listens on right now (the kernel's pick, released).
int PortOf(const std::string& line) {
  int port = 0;
  const std::string tail = line.substr(line.rfind(':') + 1);
  EXPECT_TRUE(absl::SimpleAtoi(tail.substr(0, tail.find('/')), &port)) << line;
  return port;
}

// The value of the one sample `query` returns from Prometheus at
// `prometheus_port`, or nullopt while it returns none.
std::optional<double> Query(int prometheus_port, const std::string& query) {
  std::string escaped;
  for (char c : query) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      escaped += c;
    } else {
      absl::StrAppend(&escaped, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  auto body = it::HttpGet(absl::StrCat("http://127.0.0.1:", prometheus_port,
                                       "/api/v1/query?query=", escaped));
  if (!body.ok()) return std::nullopt;
  google::protobuf::Struct reply;
  if (!google::protobuf::util::JsonStringToMessage(*body, &reply).ok()) {
    return std::nullopt;
  }
  const auto& result =
      reply.fields().at("data").struct_value().fields().at("result");
  if (result.list_value().values_size() != 1) return std::nullopt;
  // "value": [ <unix time>, "<value>" ]
  const auto& value = result.list_value()
                          .values(0)
                          .struct_value()
                          .fields()
                          .at("value")
                          .list_value()
                          .values(1)
                          .string_value();
  double out = 0;
  if (!absl::SimpleAtod(value, &out)) return std::nullopt;
  return out;
}

TEST(PrometheusTest, RealPrometheusScrapesTheDecisionCounts) {
  ServerProcess server({"--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                        "--shutdown_grace_seconds=1"});
  const std::string metrics_line = server.WaitForLine("metrics on http://");
  ASSERT_FALSE(metrics_line.empty()) << server.output();
  const int metrics_port = PortOf(metrics_line);
  const std::string serving = server.WaitForLine("serving on ");
  ASSERT_FALSE(serving.empty()) << server.output();
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", PortOf(serving)),
                          grpc::InsecureChannelCredentials());
  auto stub = v1::ImportPolicyService::NewStub(channel);

  // 7 DENY (cross-border T-shirts, closed since 2021) and 5 ALLOW
  // (domestic), USD priced, so no exchange rate is needed.
  int denied = 0;
  int allowed = 0;
  for (int i = 0; i < 12; ++i) {
    v1::IsImportAllowedRequest request = it::TeeRequest(
        i < 7 ? v1::SELLER_KIND_CROSS_BORDER : v1::SELLER_KIND_DOMESTIC);
    request.mutable_item()->mutable_unit_price()->set_currency_code("USD");
    request.mutable_item()->mutable_unit_price()->set_units(150);
    grpc::ClientContext context;
    v1::IsImportAllowedResponse response;
    ASSERT_TRUE(stub->IsImportAllowed(&context, request, &response).ok());
    (response.decision().allowed() ? allowed : denied) += 1;
  }
  ASSERT_EQ(denied, 7);
  ASSERT_EQ(allowed, 5);

  // The scrape itself passes promtool's checks.
  auto scrape =
      it::HttpGet(absl::StrCat("http://127.0.0.1:", metrics_port, "/metrics"));
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_THAT(*scrape, HasSubstr("importgate_bundle_revision{bundle="));
  EXPECT_THAT(*scrape, HasSubstr("importgate_bundle_stale 0"));
  EXPECT_THAT(*scrape, HasSubstr("process_resident_memory_bytes "));
  const std::string dir =
      absl::StrCat(::testing::TempDir(), "/prometheus-", getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/scrape.txt") << *scrape;
  const auto [check, check_output] = it::RunCommand(
      absl::StrCat("promtool check metrics <", dir, "/scrape.txt"));
  EXPECT_EQ(check, 0) << check_output;
  EXPECT_EQ(check_output, "");

  // A real Prometheus, scraping every second.
  std::ofstream(dir + "/prometheus.yml") << absl::StrCat(
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "scrape_configs:\n  - job_name: importgate\n    static_configs:\n"
      "      - targets: ['127.0.0.1:",
      metrics_port, "']\n");
  const int prometheus_port = UnusedPort();
  ServerProcess prometheus(
      {absl::StrCat("--config.file=", dir, "/prometheus.yml"),
       absl::StrCat("--storage.tsdb.path=", dir, "/data"),
       absl::StrCat("--web.listen-address=127.0.0.1:", prometheus_port)},
      "/usr/bin/prometheus");
  ASSERT_FALSE(
      prometheus.WaitForLine("Server is ready to receive web requests").empty())
      << prometheus.output();

  std::optional<double> deny, allow, up;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    deny = Query(prometheus_port,
                 "sum(importgate_decisions_total{method=\"IsImportAllowed\","
                 "effect=\"DENY\"})");
    allow = Query(prometheus_port,
                  "sum(importgate_decisions_total{effect=\"ALLOW\"})");
    up = Query(prometheus_port, "up{job=\"importgate\"}");
    if (deny.has_value() && allow.has_value()) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_EQ(deny, 7) << prometheus.output();
  EXPECT_EQ(allow, 5);
  EXPECT_EQ(up, 1);
  EXPECT_EQ(Query(prometheus_port,
                  "importgate_request_duration_seconds_count{method="
                  "\"IsImportAllowed\"}"),
            12);
  EXPECT_EQ(Query(prometheus_port, "importgate_bundle_stale"), 0);
  EXPECT_EQ(Query(prometheus_port,
                  "importgate_bundle_loads_total{outcome=\"activated\"}"),
            1);
  EXPECT_EQ(prometheus.Stop(SIGTERM), 0) << prometheus.output();
  EXPECT_EQ(server.Stop(SIGTERM), 0) << server.output();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace importgate
