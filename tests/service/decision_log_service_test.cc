// The decision API with the decision log on, over a real channel: every
// answer's decision_id, a batch item error's and a refused call's (in the
// trailing metadata) name a record that holds what the caller sent and got,
// its traceparent and its address.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "importgate/decisionlog/v1/decision_log.pb.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/app/server.h"
#include "server/decisionlog/decision_id.h"
#include "server/decisionlog/decision_log.h"
#include "server/decisionlog/segment.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/tee_request.h"
#include "tests/testing/test_bundles.h"

namespace importgate::app {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;
namespace lv1 = ::importgate::decisionlog::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kTraceparent[] =
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

TEST(DecisionLogServiceTest, EveryIdTheCallerGetsNamesItsRecord) {
  const std::string dir =
      absl::StrCat(::testing::TempDir(), "/dlog-service-", getpid());
  std::filesystem::remove_all(dir);
  it::FakeClock clock(absl::FromUnixSeconds(1'705'000'000));
  bundle::PolicyStore store(&clock);
  auto bundle = it::LoadDefaultBundle();
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  ASSERT_TRUE(store.Activate(*bundle).ok());
  decisionlog::DecisionLogOptions log_options;
  log_options.dir = dir;
  auto log = decisionlog::DecisionLog::Open(log_options, &clock);
  ASSERT_TRUE(log.ok()) << log.status();
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.decision_log = log->get();
  auto server = ImportgateServer::Start(options, &store, &clock);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::ImportPolicyService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                          grpc::InsecureChannelCredentials()));

  // id -> what the caller sent and got.
  std::map<std::string, v1::IsImportAllowedRequest> sent;
  std::map<std::string, v1::IsImportAllowedResponse> got;
  std::map<std::string, int> refused;
  std::string traced;  // the call that sent a traceparent

  const v1::IsImportAllowedRequest tee = it::TeeRequest();
  {
    grpc::ClientContext context;
    context.AddMetadata("traceparent", kTraceparent);
    v1::IsImportAllowedResponse response;
    ASSERT_TRUE(stub->IsImportAllowed(&context, tee, &response).ok());
    ASSERT_TRUE(
        decisionlog::DecisionIdGenerator::IsValid(response.decision_id()));
    sent[response.decision_id()] = tee;
    got[response.decision_id()] = response;
    traced = response.decision_id();
  }
  v1::IsImportAllowedRequest bad = tee;
  bad.clear_destination_country();
  {
    grpc::ClientContext context;
    v1::IsImportAllowedResponse response;
    grpc::Status status = stub->IsImportAllowed(&context, bad, &response);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    auto id =
        context.GetServerTrailingMetadata().find("importgate-decision-id");
    ASSERT_NE(id, context.GetServerTrailingMetadata().end());
    const std::string text(id->second.data(), id->second.size());
    ASSERT_TRUE(decisionlog::DecisionIdGenerator::IsValid(text)) << text;
    sent[text] = bad;
    refused[text] = 3;
  }
  {
    v1::BatchIsImportAllowedRequest batch;
    *batch.add_requests() = tee;
    *batch.add_requests() = bad;
    grpc::ClientContext context;
    v1::BatchIsImportAllowedResponse response;
    ASSERT_TRUE(stub->BatchIsImportAllowed(&context, batch, &response).ok());
    ASSERT_EQ(response.results_size(), 2);
    const std::string ok_id = response.results(0).response().decision_id();
    const std::string error_id = response.results(1).error().decision_id();
    ASSERT_TRUE(decisionlog::DecisionIdGenerator::IsValid(ok_id));
    ASSERT_TRUE(decisionlog::DecisionIdGenerator::IsValid(error_id));
    sent[ok_id] = tee;
    got[ok_id] = response.results(0).response();
    sent[error_id] = bad;
    refused[error_id] = 3;
  }
  (*server)->Shutdown(absl::Seconds(1));
  (*log)->Close();

  std::map<std::string, lv1::DecisionRecord> records;
  auto segments = decisionlog::ListSegments(dir);
  ASSERT_TRUE(segments.ok());
  lv1::LogEntry entry;
  for (const auto& segment : *segments) {
    ASSERT_TRUE(
        decisionlog::ScanSegment(segment.second, [&](const decisionlog::Frame&
                                                         frame) {
          ASSERT_TRUE(entry.ParseFromArray(
              frame.entry.data(), static_cast<int>(frame.entry.size())));
          if (entry.has_decision()) {
            records[entry.decision().decision_id()] = entry.decision();
          }
        }).ok());
  }
  ASSERT_EQ(records.size(), sent.size());
  for (const auto& [id, request] : sent) {
    SCOPED_TRACE(id);
    ASSERT_EQ(records.count(id), 1u);
    const lv1::DecisionRecord& r = records[id];
    EXPECT_TRUE(MessageDifferencer::Equals(r.request(), request));
    EXPECT_THAT(r.peer(), StartsWith("ipv4:127.0.0.1:"));
    if (refused.count(id)) {
      EXPECT_EQ(r.error().code(), refused[id]);
      EXPECT_THAT(r.error().message(), HasSubstr("destination_country"));
      EXPECT_FALSE(r.has_response());
    } else {
      // As sent, less the rule's text (--decision_log_rule_text=omit).
      v1::IsImportAllowedResponse sent_answer = got[id];
      sent_answer.mutable_decision()->clear_message();
      sent_answer.mutable_decision()->clear_legal_basis();
      EXPECT_TRUE(MessageDifferencer::Equals(r.response(), sent_answer));
      EXPECT_FALSE(got[id].decision().message().empty());
    }
    // The decision's instant: the server's (fake) clock.
    EXPECT_EQ(r.evaluation_time().seconds(), 1'705'000'000);
    EXPECT_EQ(r.traceparent(), id == traced ? kTraceparent : "");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace importgate::app
