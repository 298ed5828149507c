// The decision API's calls as the metrics count them, over a real channel:
// every answer the client saw is counted once, under the effect and reason
// code the answer carried, and every failure under its status code.
#include <map>
#include <memory>
#include <tuple>

#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/app/server.h"
#include "server/metrics/decision_metrics.h"
#include "tests/metrics/families.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/tee_request.h"
#include "tests/testing/test_bundles.h"

namespace importgate::app {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;
using ::importgate::metrics::testing::FindSample;
using ::importgate::metrics::testing::Value;

class MetricsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.decision_metrics = &metrics_;
    auto server = ImportgateServer::Start(options, &store_, &clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials());
    stub_ = v1::ImportPolicyService::NewStub(channel);
  }

  void ActivateDefaultBundle() {
    auto bundle = it::LoadDefaultBundle();
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    ASSERT_TRUE(store_.Activate(*bundle).ok());
  }

  static std::string EffectLabel(v1::Effect effect) {
    return effect == v1::EFFECT_ALLOW ? "ALLOW" : "DENY";
  }

  // Calls IsImportAllowed and tallies what the client saw.
  void Unary(const v1::IsImportAllowedRequest& request) {
    grpc::ClientContext context;
    v1::IsImportAllowedResponse response;
    grpc::Status s = stub_->IsImportAllowed(&context, request, &response);
    ++calls_["IsImportAllowed"];
    if (s.ok()) {
      ++decisions_[{"IsImportAllowed",
                    EffectLabel(response.decision().effect()),
                    response.decision().reason_code()}];
    } else {
      ++errors_[{"IsImportAllowed",
                 absl::StatusCodeToString(
                     static_cast<absl::StatusCode>(s.error_code()))}];
    }
  }

  void Batch(const v1::BatchIsImportAllowedRequest& request) {
    grpc::ClientContext context;
    v1::BatchIsImportAllowedResponse response;
    grpc::Status s = stub_->BatchIsImportAllowed(&context, request, &response);
    ++calls_["BatchIsImportAllowed"];
    if (!s.ok()) {
      ++errors_[{"BatchIsImportAllowed",
                 absl::StatusCodeToString(
                     static_cast<absl::StatusCode>(s.error_code()))}];
      return;
    }
    ++batch_sizes_[request.requests_size()];
    for (const auto& result : response.results()) {
      if (result.has_error()) {
        ++errors_[{"BatchIsImportAllowed",
                   absl::StatusCodeToString(
                       static_cast<absl::StatusCode>(result.error().code()))}];
      } else {
        const auto& d = result.response().decision();
        ++decisions_[{"BatchIsImportAllowed", EffectLabel(d.effect()),
                      d.reason_code()}];
      }
    }
  }

  it::FakeClock clock_{absl::FromUnixSeconds(1'705'000'000)};
  bundle::PolicyStore store_{&clock_};
  metrics::DecisionMetrics metrics_;
  std::unique_ptr<ImportgateServer> server_;
  std::unique_ptr<v1::ImportPolicyService::Stub> stub_;
  std::map<std::tuple<std::string, std::string, std::string>, int> decisions_;
  std::map<std::pair<std::string, std::string>, int> errors_;
  std::map<std::string, int> calls_;
  std::map<int, int> batch_sizes_;
};

TEST_F(MetricsServiceTest, EveryAnswerAndErrorIsCountedAsTheClientSawIt) {
  v1::IsImportAllowedRequest tee = it::TeeRequest(v1::SELLER_KIND_CROSS_BORDER);
  tee.mutable_evaluation_time()->set_seconds(1'705'000'000);
  Unary(tee);  // no bundle yet: UNAVAILABLE
  ActivateDefaultBundle();
  v1::IsImportAllowedRequest domestic = tee;
  domestic.mutable_seller()->set_kind(v1::SELLER_KIND_DOMESTIC);
  v1::IsImportAllowedRequest no_price = tee;
  no_price.mutable_item()->clear_unit_price();
  no_price.mutable_item()->set_hs_code("8517.13");  // a price decides
  v1::IsImportAllowedRequest too_new = tee;
  too_new.set_min_bundle_revision(99);  // FAILED_PRECONDITION
  for (int i = 0; i < 3; ++i) Unary(tee);
  Unary(domestic);
  Unary(no_price);
  Unary(too_new);

  v1::BatchIsImportAllowedRequest batch;
  *batch.add_requests() = tee;
  *batch.add_requests() = domestic;
  *batch.add_requests() = no_price;  // an item error
  Batch(batch);
  Batch(batch);
  Batch(v1::BatchIsImportAllowedRequest());  // empty: INVALID_ARGUMENT

  // The tally holds at least two effects and both kinds of error.
  ASSERT_GE(decisions_.size(), 4u);
  ASSERT_GE(errors_.size(), 4u);

  const auto families = metrics_.Collect();
  int decision_series = 0;
  for (const auto& [key, count] : decisions_) {
    const auto& [method, effect, reason] = key;
    EXPECT_EQ(
        Value(
            families, "importgate_decisions_total",
            {{"method", method}, {"effect", effect}, {"reason_code", reason}}),
        count)
        << method << " " << effect << " " << reason;
    ++decision_series;
  }
  EXPECT_EQ(::importgate::metrics::testing::FindFamily(
                families, "importgate_decisions_total")
                ->metric.size(),
            static_cast<size_t>(decision_series));
  for (const auto& [key, count] : errors_) {
    EXPECT_EQ(Value(families, "importgate_decision_errors_total",
                    {{"method", key.first}, {"code", key.second}}),
              count)
        << key.first << " " << key.second;
  }
  EXPECT_EQ(::importgate::metrics::testing::FindFamily(
                families, "importgate_decision_errors_total")
                ->metric.size(),
            errors_.size());
  for (const auto& [method, count] : calls_) {
    const auto* sample = FindSample(
        families, "importgate_request_duration_seconds", {{"method", method}});
    ASSERT_NE(sample, nullptr) << method;
    EXPECT_EQ(sample->histogram.sample_count, static_cast<uint64_t>(count))
        << method;
    EXPECT_GT(sample->histogram.sample_sum, 0) << method;
  }
  const auto* batches = FindSample(families, "importgate_batch_items");
  ASSERT_NE(batches, nullptr);
  EXPECT_EQ(batches->histogram.sample_count, 2u);  // the empty one is refused
  EXPECT_EQ(batches->histogram.sample_sum, 6);
}

}  // namespace
}  // namespace importgate::app
