// The byte budgets of service/limits.h: every documented limit can be
// reached at once. The largest valid request and the longest answer fit
// their per-item budgets; a full batch of each passes through a real
// server; a request over its budget is INVALID_ARGUMENT naming it.
#include "server/service/limits.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/app/server.h"
#include "server/bundle/loader.h"
#include "server/bundle/policy_store.h"
#include "server/eval/evaluator.h"
#include "server/service/response_encoder.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/largest_messages.h"
#include "tests/testing/test_bundles.h"
#include "tests/testing/wire_audit.h"

namespace importgate::service {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;
using ::testing::HasSubstr;

TEST(LimitsTest, LargestValidRequestFitsItsBudget) {
  const v1::IsImportAllowedRequest request = it::LargestRequest();
  eval::DecisionInput input;
  ASSERT_TRUE(eval::NormalizeRequest(request, *it::RealIsoCodes(),
                                     absl::UnixEpoch(), &input)
                  .ok());
  EXPECT_LE(request.ByteSizeLong(), kMaxItemRequestBytes);
  // In a batch, with its framing.
  v1::BatchIsImportAllowedRequest batch;
  for (int i = 0; i < 3; ++i) *batch.add_requests() = request;
  EXPECT_LE(batch.ByteSizeLong(), BatchRequestBudget(3));
}

// Every decision id has this length (decisionlog/decision_id.h).
constexpr char kLongestDecisionId[] = "019ad3f2-6c41-7a3e-9b1c-2f0d00000001";

TEST(LimitsTest, LongestAnswerFitsItsBudget) {
  auto parsed = policy::ParseBundle(it::LongestAnswerFiles());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto snapshot = compiler::Compile(*parsed, it::RealIsoCodes());
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  v1::IsImportAllowedRequest request = it::LargestRequest(0);
  eval::Verdict verdict;
  ASSERT_TRUE(
      eval::DecideRequest(**snapshot, request, absl::UnixEpoch(), &verdict)
          .ok());
  ASSERT_TRUE(verdict.matched_truncated);
  ASSERT_TRUE(verdict.conversion.period != nullptr);
  ASSERT_EQ(verdict.conversion.period->table->source.size(),
            compiler::kMaxRateSourceBytes);
  const std::string name(64, 'n'), digest = "sha256:" + std::string(64, 'f');
  const BundleRefFields ref{name, ~uint64_t{0}, digest};
  WireBuffer unary(64);
  AppendResponse(**snapshot, verdict, ref, request.item().sku(),
                 kLongestDecisionId, &unary);
  EXPECT_LE(unary.view().size(), kMaxItemResponseBytes);
  WireBuffer batch(64);
  for (int i = 0; i < 3; ++i) {
    AppendBatchResponse(**snapshot, verdict, ref, request.item().sku(),
                        kLongestDecisionId, &batch);
  }
  AppendBatchBundle(ref, &batch);
  EXPECT_LE(batch.view().size(), BatchResponseBudget(3));
}

// A server with the default cap (1000 items) over the longest-answer rules.
class LimitsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bundle =
        bundle::LoadBundle("mem", it::LongestAnswerFiles(), it::RealIsoCodes());
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    ASSERT_TRUE(store_.Activate(*bundle).ok());
    app::ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.interceptor_factories = it::WireAudit::Factories;
    auto server = app::ImportgateServer::Start(options, &store_, &clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    // The caller side with the same budgets, as the SDK configures them.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(
        static_cast<int>(BatchResponseBudget(options.max_batch_items)));
    args.SetMaxSendMessageSize(-1);  // to send what the server must refuse
    auto channel =
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                  grpc::InsecureChannelCredentials(), args);
    stub_ = v1::ImportPolicyService::NewStub(channel);
  }

  grpc::Status Batch(const v1::BatchIsImportAllowedRequest& batch,
                     v1::BatchIsImportAllowedResponse* response) {
    grpc::ClientContext context;
    return stub_->BatchIsImportAllowed(&context, batch, response);
  }

  it::FakeClock clock_{absl::FromUnixSeconds(1'705'000'000)};
  bundle::PolicyStore store_{&clock_};
  std::unique_ptr<app::ImportgateServer> server_;
  std::unique_ptr<v1::ImportPolicyService::Stub> stub_;
};

// The two inputs: 1000 items of 16 attributes each, and a full
// batch of the longest denials; and with them every other limit at once.
TEST_F(LimitsServerTest, FullBatchesOfTheLargestRequestsAndAnswersPass) {
  for (int attributes : {16, policy::kMaxAttributes}) {
    SCOPED_TRACE(attributes);
    v1::BatchIsImportAllowedRequest batch;
    for (int i = 0; i < 1000; ++i) {
      *batch.add_requests() = it::LargestRequest(attributes);
      batch.mutable_requests(i)->set_min_bundle_revision(0);
    }
    v1::BatchIsImportAllowedResponse response;
    grpc::Status s = Batch(batch, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(response.results_size(), 1000);
    const v1::Decision& last = response.results(999).response().decision();
    EXPECT_EQ(last.effect(), v1::EFFECT_DENY);
    EXPECT_EQ(last.legal_basis().size(), compiler::kMaxLegalBasisBytes);
    EXPECT_EQ(last.matched_rule_ids_size(),
              static_cast<int>(eval::kMaxMatchedRuleIds));
    EXPECT_TRUE(last.matched_rule_ids_truncated());
    EXPECT_GT(response.ByteSizeLong(), size_t{4} << 20);  // gRPC's default
  }
}

TEST_F(LimitsServerTest, RequestsOverTheBudgetAreInvalidArgumentNamingIt) {
  // One request: a sku far over its limit makes it over the budget too.
  v1::IsImportAllowedRequest request = it::LargestRequest(0);
  request.mutable_item()->set_sku(std::string(kMaxItemRequestBytes, 's'));
  grpc::ClientContext context;
  v1::IsImportAllowedResponse response;
  grpc::Status s = stub_->IsImportAllowed(&context, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr(absl::StrCat("over the request budget of one request (",
                                     kMaxItemRequestBytes, " bytes)")));
  // A batch over its budget, under gRPC's own limit.
  v1::BatchIsImportAllowedRequest batch;
  while (batch.ByteSizeLong() <= BatchRequestBudget(1000)) {
    *batch.add_requests() = request;
  }
  ASSERT_LE(batch.ByteSizeLong(), TransportReceiveLimit(1000));
  v1::BatchIsImportAllowedResponse batch_response;
  s = Batch(batch, &batch_response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(),
              HasSubstr("over the request budget of a batch of up to 1000"));
  // Beyond gRPC's limit, gRPC itself refuses (documented).
  while (batch.ByteSizeLong() <= TransportReceiveLimit(1000)) {
    *batch.add_requests() = request;
  }
  s = Batch(batch, &batch_response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace importgate::service
