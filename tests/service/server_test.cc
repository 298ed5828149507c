// The gRPC surface over a real channel: ImportgateServer on an ephemeral
// port, the same wiring main() uses, with an injected clock.
#include "server/app/server.h"

#include <filesystem>
#include <future>
#include <memory>

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "importgate/admin/v1/policy_admin.grpc.pb.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/bundle/manager.h"
#include "server/common/utf8.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/tee_request.h"
#include "tests/testing/test_bundles.h"
#include "tests/testing/wire_audit.h"

namespace importgate::app {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;
namespace adminv1 = ::importgate::admin::v1;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(ServerOptions{}); }

  void StartServer(ServerOptions options) {
    server_.reset();
    options.listen_address = "127.0.0.1:0";
    options.interceptor_factories = it::WireAudit::Factories;
    auto server = ImportgateServer::Start(options, &store_, &clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials());
    stub_ = v1::ImportPolicyService::NewStub(channel);
    generic_ = std::make_unique<grpc::GenericStub>(channel);
    admin_ = adminv1::PolicyAdmin::NewStub(channel);
    health_ = grpc::health::v1::Health::NewStub(channel);
  }

  void ActivateDefaultBundle() {
    auto bundle = it::LoadDefaultBundle();
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    ASSERT_TRUE(store_.Activate(*bundle).ok());
  }

  // A T-shirt at USD 12, under the 2023 minimum price too, on 2024-01-11.
  static v1::IsImportAllowedRequest Tee(v1::SellerKind kind) {
    v1::IsImportAllowedRequest r = it::TeeRequest(kind);
    r.mutable_item()->mutable_unit_price()->set_units(12);
    r.mutable_evaluation_time()->set_seconds(1'705'000'000);
    return r;
  }

  grpc::Status Call(const v1::IsImportAllowedRequest& request,
                    v1::IsImportAllowedResponse* response) {
    grpc::ClientContext context;
    return stub_->IsImportAllowed(&context, request, response);
  }

  HealthCheckResponse::ServingStatus Health(const std::string& service = "") {
    grpc::ClientContext context;
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status s = health_->Check(&context, request, &response);
    EXPECT_TRUE(s.ok()) << "service \"" << service
                        << "\": " << s.error_message();
    return response.status();
  }

  it::FakeClock clock_{absl::FromUnixSeconds(1'705'000'000)};
  bundle::PolicyStore store_{&clock_};
  std::unique_ptr<ImportgateServer> server_;
  std::unique_ptr<v1::ImportPolicyService::Stub> stub_;
  std::unique_ptr<grpc::GenericStub> generic_;  // for raw bytes
  std::unique_ptr<adminv1::PolicyAdmin::Stub> admin_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

TEST_F(ServerTest, NoBundleYetIsUnavailableAndNotServing) {
  EXPECT_EQ(Health(), HealthCheckResponse::NOT_SERVING);
  // Not ready, but alive: a liveness probe does not restart it.
  EXPECT_EQ(Health(kLiveHealthName), HealthCheckResponse::SERVING);
  v1::IsImportAllowedResponse response;
  grpc::Status s = Call(Tee(v1::SELLER_KIND_CROSS_BORDER), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  ActivateDefaultBundle();
  EXPECT_EQ(Health(), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(kLiveHealthName), HealthCheckResponse::SERVING);
}

// A probe configured with a service name (Kubernetes' grpc probe
// "service:", Envoy's health checks) asks for that name: every service the
// port serves answers, and flips with the overall status.
TEST_F(ServerTest, HealthAnswersForEveryServedServiceName) {
  const std::vector<std::string> names = {
      "",
      "importgate.v1.ImportPolicyService",
      "importgate.admin.v1.PolicyAdmin",
      "grpc.health.v1.Health",
      "grpc.reflection.v1alpha.ServerReflection",
  };
  for (const std::string& name : names) {
    EXPECT_EQ(Health(name), HealthCheckResponse::NOT_SERVING) << name;
  }
  ActivateDefaultBundle();
  for (const std::string& name : names) {
    EXPECT_EQ(Health(name), HealthCheckResponse::SERVING) << name;
  }
  // A name this server does not serve is still NOT_FOUND.
  grpc::ClientContext context;
  HealthCheckRequest request;
  request.set_service("importgate.v1.NoSuchService");
  HealthCheckResponse response;
  EXPECT_EQ(health_->Check(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, CrossBorderTeeDeniedWithRuleReasonAndBundle) {
  ActivateDefaultBundle();
  v1::IsImportAllowedResponse response;
  grpc::Status s = Call(Tee(v1::SELLER_KIND_CROSS_BORDER), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(response.decision().allowed());
  EXPECT_EQ(response.decision().effect(), v1::EFFECT_DENY);
  EXPECT_EQ(response.decision().rule_id(),
            "id-2021-cross-border-textiles-apparel");
  EXPECT_EQ(response.decision().reason_code(), "CROSS_BORDER_CATEGORY_CLOSED");
  EXPECT_FALSE(response.decision().legal_basis().empty());
  EXPECT_EQ(response.decision().matched_rule_ids(0),
            "id-2021-cross-border-textiles-apparel");
  EXPECT_GT(response.decision().cache_ttl().seconds(), 0);
  EXPECT_EQ(response.sku(), "TEE-1");
  EXPECT_EQ(response.bundle().name(), "marketplace-id");
  EXPECT_EQ(response.bundle().revision(), store_.Current()->snapshot->revision);
  EXPECT_EQ(response.bundle().digest(), store_.Current()->digest);
}

// Dated FX end to end: the same rupiah price from the same bundle is judged
// at the Minister of Finance's rate of its own week, and the answer says
// which rate and table decided (unary and batch, through the hand-written
// encoder that the WireAudit interceptor re-parses).
TEST_F(ServerTest, RupiahPriceConvertsAtTheRateOfItsDate) {
  ActivateDefaultBundle();
  auto speaker = [](int64_t seconds) {
    v1::IsImportAllowedRequest r;
    r.mutable_item()->set_sku("SPEAKER-1");
    r.mutable_item()->set_hs_code("8518.22");
    r.mutable_item()->set_origin_country("CN");
    r.mutable_item()->mutable_unit_price()->set_currency_code("IDR");
    r.mutable_item()->mutable_unit_price()->set_units(1'600'000);
    r.mutable_seller()->set_kind(v1::SELLER_KIND_CROSS_BORDER);
    r.set_destination_country("ID");
    r.set_channel(v1::CHANNEL_CHECKOUT);
    r.mutable_evaluation_time()->set_seconds(seconds);
    return r;
  };
  // 2023-11-10 10:00 WIB (KMK 4/KM.10/KF.4/2023, USD 15,879) and
  // 2025-10-10 10:00 WIB (KMK 19/MK/EF.2/2025, USD 16,655).
  const v1::IsImportAllowedRequest in_2023 = speaker(1'699'585'200);
  const v1::IsImportAllowedRequest in_2025 = speaker(1'760'065'200);
  struct Want {
    v1::Effect effect;
    std::string rate, source_prefix;
    int64_t units;
    int32_t nanos;
  };
  const Want want_2023{v1::EFFECT_ALLOW, "15879",
                       "KMK 4/KM.10/KF.4/2023, 8-14 November 2023", 100,
                       762012721};
  const Want want_2025{v1::EFFECT_DENY, "16655",
                       "KMK 19/MK/EF.2/2025, 8-14 October 2025", 96, 67247072};
  auto check = [](const v1::Decision& d, const Want& want) {
    EXPECT_EQ(d.effect(), want.effect);
    const v1::PriceConversion& c = d.price_conversion();
    EXPECT_EQ(c.converted_price().currency_code(), "USD");
    EXPECT_EQ(c.converted_price().units(), want.units);
    EXPECT_EQ(c.converted_price().nanos(), want.nanos);
    ASSERT_EQ(c.rates_size(), 1);
    EXPECT_EQ(c.rates(0).unit_currency(), "USD");
    EXPECT_EQ(c.rates(0).quote_currency(), "IDR");
    EXPECT_EQ(c.rates(0).rate(), want.rate);
    EXPECT_THAT(c.rate_source(), ::testing::StartsWith(want.source_prefix));
    EXPECT_TRUE(c.has_rates_effective_from());
    EXPECT_TRUE(c.has_rates_effective_until());
  };
  v1::IsImportAllowedResponse response;
  ASSERT_TRUE(Call(in_2023, &response).ok());
  check(response.decision(), want_2023);
  ASSERT_TRUE(Call(in_2025, &response).ok());
  check(response.decision(), want_2025);
  EXPECT_EQ(response.decision().rule_id(), "id-2023-cross-border-min-price");

  v1::BatchIsImportAllowedRequest batch;
  *batch.add_requests() = in_2023;
  *batch.add_requests() = in_2025;
  v1::BatchIsImportAllowedResponse results;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->BatchIsImportAllowed(&context, batch, &results).ok());
  ASSERT_EQ(results.results_size(), 2);
  check(results.results(0).response().decision(), want_2023);
  check(results.results(1).response().decision(), want_2025);
}

TEST_F(ServerTest, DomesticTeeAllowed) {
  ActivateDefaultBundle();
  v1::IsImportAllowedResponse response;
  ASSERT_TRUE(Call(Tee(v1::SELLER_KIND_DOMESTIC), &response).ok());
  EXPECT_TRUE(response.decision().allowed());
  EXPECT_EQ(response.decision().rule_id(), "");
  EXPECT_EQ(response.decision().reason_code(), "NO_RULE_MATCHED");
}

TEST_F(ServerTest, UnsetEvaluationTimeUsesTheServerClock) {
  ActivateDefaultBundle();
  v1::IsImportAllowedRequest request = Tee(v1::SELLER_KIND_CROSS_BORDER);
  request.clear_evaluation_time();
  clock_.Set(absl::FromUnixSeconds(1'600'000'000));  // 2020: before the closure
  v1::IsImportAllowedResponse before;
  ASSERT_TRUE(Call(request, &before).ok());
  EXPECT_TRUE(before.decision().allowed());
  clock_.Set(absl::FromUnixSeconds(1'705'000'000));
  v1::IsImportAllowedResponse after;
  ASSERT_TRUE(Call(request, &after).ok());
  EXPECT_FALSE(after.decision().allowed());
}

TEST_F(ServerTest, MalformedRequestsNameTheField) {
  ActivateDefaultBundle();
  struct Case {
    const char* field;
    void (*mutate)(v1::IsImportAllowedRequest*);
  } cases[] = {
      {"item.hs_code:",
       [](auto* r) { r->mutable_item()->set_hs_code("61x9"); }},
      {"destination_country:",
       [](auto* r) { r->set_destination_country("XX"); }},
      {"seller.kind:", [](auto* r) { r->mutable_seller()->clear_kind(); }},
      {"channel:", [](auto* r) { r->clear_channel(); }},
      {"item.unit_price.currency_code:",
       [](auto* r) {
         r->mutable_item()->mutable_unit_price()->set_currency_code("usd");
       }},
      {"item: one of item.hs_code or item.category",
       [](auto* r) { r->mutable_item()->clear_hs_code(); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    v1::IsImportAllowedRequest request = Tee(v1::SELLER_KIND_CROSS_BORDER);
    c.mutate(&request);
    v1::IsImportAllowedResponse response;
    grpc::Status s = Call(request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), ::testing::StartsWith(c.field));
  }
}

// The handlers parse requests themselves: bytes that are not the request
// message are the caller's error, and nothing else breaks.
TEST_F(ServerTest, UnparsableRequestBytesAreInvalidArgument) {
  ActivateDefaultBundle();
  const char kGarbage[] = "\x0a\xff\xff\xff\xff\x0f";  // truncated field 1
  for (const char* method : {"IsImportAllowed", "BatchIsImportAllowed"}) {
    SCOPED_TRACE(method);
    grpc::Slice slice(kGarbage, sizeof(kGarbage) - 1);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::ClientContext context;
    std::promise<grpc::Status> done;
    generic_->UnaryCall(
        &context, absl::StrCat("/importgate.v1.ImportPolicyService/", method),
        grpc::StubOptions(), &request, &response,
        [&done](grpc::Status s) { done.set_value(std::move(s)); });
    grpc::Status status = done.get_future().get();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("request: not a valid"));
  }
  v1::IsImportAllowedResponse response;
  EXPECT_TRUE(Call(Tee(v1::SELLER_KIND_DOMESTIC), &response).ok());
}

TEST_F(ServerTest, MinBundleRevisionNewerThanActiveIsFailedPrecondition) {
  ActivateDefaultBundle();
  const uint64_t active = store_.Current()->snapshot->revision;
  v1::IsImportAllowedRequest request = Tee(v1::SELLER_KIND_CROSS_BORDER);
  request.set_min_bundle_revision(active);
  v1::IsImportAllowedResponse response;
  EXPECT_TRUE(Call(request, &response).ok());
  request.set_min_bundle_revision(active + 1);
  grpc::Status s = Call(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("min_bundle_revision"));
}

TEST_F(ServerTest, BatchDecidesEachItemInOrderFromOneBundle) {
  ActivateDefaultBundle();
  v1::BatchIsImportAllowedRequest batch;
  *batch.add_requests() = Tee(v1::SELLER_KIND_CROSS_BORDER);
  *batch.add_requests() = Tee(v1::SELLER_KIND_DOMESTIC);
  v1::IsImportAllowedRequest bad = Tee(v1::SELLER_KIND_DOMESTIC);
  bad.set_destination_country("ZZ");
  *batch.add_requests() = bad;
  batch.mutable_requests(1)->mutable_item()->set_sku("TEE-2");
  grpc::ClientContext context;
  v1::BatchIsImportAllowedResponse response;
  grpc::Status s = stub_->BatchIsImportAllowed(&context, batch, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_FALSE(response.results(0).response().decision().allowed());
  EXPECT_TRUE(response.results(1).response().decision().allowed());
  EXPECT_EQ(response.results(1).response().sku(), "TEE-2");
  ASSERT_TRUE(response.results(2).has_error());
  EXPECT_EQ(response.results(2).error().code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(response.results(2).error().message(),
              ::testing::StartsWith("destination_country:"));
  EXPECT_EQ(response.bundle().digest(), store_.Current()->digest);
  EXPECT_EQ(response.results(0).response().bundle().digest(),
            response.bundle().digest());
}

// Error messages quote the offending value cut on a character boundary:
// a cut inside a character made the whole batch undecodable (protobuf
// rejects a response with invalid UTF-8 in any string). Members of the
// class: multi-byte values of every length in each quoted field.
TEST_F(ServerTest, ErrorsQuotingMultiByteValuesKeepTheBatchDecodable) {
  ActivateDefaultBundle();
  const std::string dress =  // the category path, 94 bytes
      "\u670d\u88c5/\u5973\u88c5/\u8fde\u8863\u88d9/\u590f\u5b63\u65b0"
      "\u6b3e/\u96ea\u7eba\u788e\u82b1\u957f\u88d9/\u6ce2\u897f\u7c73"
      "\u4e9a\u98ce\u683c";
  v1::BatchIsImportAllowedRequest batch;
  v1::IsImportAllowedRequest lamp = Tee(v1::SELLER_KIND_CROSS_BORDER);
  lamp.mutable_item()->set_hs_code("9405.21");
  lamp.mutable_item()->mutable_unit_price()->set_units(120);
  *batch.add_requests() = lamp;
  // Every cut position of a two-, three- and four-byte character.
  for (const std::string& unit : {std::string("\u00e9"), std::string("\u670d"),
                                  std::string("\U0001F600")}) {
    for (size_t pad = 0; pad < 4; ++pad) {
      std::string value(pad, 'a');
      while (value.size() < 80) value += unit;
      v1::IsImportAllowedRequest category = lamp;
      category.mutable_item()->set_category(value);
      *batch.add_requests() = category;
      v1::IsImportAllowedRequest hs = lamp;
      hs.mutable_item()->set_hs_code(value);
      *batch.add_requests() = hs;
      v1::IsImportAllowedRequest country = lamp;
      country.set_destination_country(value);
      *batch.add_requests() = country;
      v1::IsImportAllowedRequest currency = lamp;
      currency.mutable_item()->mutable_unit_price()->set_currency_code(value);
      *batch.add_requests() = currency;
      v1::IsImportAllowedRequest attribute = lamp;
      std::string key(pad, 'k');
      while (key.size() + unit.size() <= 64) key += unit;
      (*attribute.mutable_attributes())[key] = std::string(300, 'v');
      *batch.add_requests() = attribute;
    }
  }
  v1::IsImportAllowedRequest chinese = lamp;
  chinese.mutable_item()->set_category(dress);
  *batch.add_requests() = chinese;
  grpc::ClientContext context;
  v1::BatchIsImportAllowedResponse response;
  grpc::Status s = stub_->BatchIsImportAllowed(&context, batch, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();  // the response parsed
  ASSERT_EQ(response.results_size(), batch.requests_size());
  EXPECT_TRUE(response.results(0).response().decision().allowed());
  for (int i = 1; i < response.results_size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(response.results(i).has_error());
    EXPECT_TRUE(IsValidUtf8(response.results(i).error().message()));
  }
  EXPECT_THAT(response.results(response.results_size() - 1).error().message(),
              ::testing::StartsWith("item.category: \"\u670d\u88c5/"));
  // The unary call says the same in its status message.
  grpc::ClientContext unary_context;
  v1::IsImportAllowedResponse unary;
  s = stub_->IsImportAllowed(&unary_context, chinese, &unary);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(IsValidUtf8(s.error_message())) << s.error_message();
}

TEST_F(ServerTest, BatchSizeLimits) {
  ServerOptions options;
  options.max_batch_items = 3;
  StartServer(options);
  ActivateDefaultBundle();
  v1::BatchIsImportAllowedResponse response;
  {
    grpc::ClientContext context;
    grpc::Status s = stub_->BatchIsImportAllowed(
        &context, v1::BatchIsImportAllowedRequest(), &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("1 to 3"));
  }
  v1::BatchIsImportAllowedRequest batch;
  for (int i = 0; i < 4; ++i)
    *batch.add_requests() = Tee(v1::SELLER_KIND_DOMESTIC);
  {
    grpc::ClientContext context;
    grpc::Status s = stub_->BatchIsImportAllowed(&context, batch, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("cap"));
    EXPECT_THAT(s.error_message(), HasSubstr("got 4"));
  }
  batch.mutable_requests()->RemoveLast();
  grpc::ClientContext context;
  EXPECT_TRUE(stub_->BatchIsImportAllowed(&context, batch, &response).ok());
  EXPECT_EQ(response.results_size(), 3);
}

TEST_F(ServerTest, BatchHonoursTheLargestMinBundleRevision) {
  ActivateDefaultBundle();
  v1::BatchIsImportAllowedRequest batch;
  *batch.add_requests() = Tee(v1::SELLER_KIND_DOMESTIC);
  *batch.add_requests() = Tee(v1::SELLER_KIND_DOMESTIC);
  batch.mutable_requests(1)->set_min_bundle_revision(
      store_.Current()->snapshot->revision + 1);
  grpc::ClientContext context;
  v1::BatchIsImportAllowedResponse response;
  EXPECT_EQ(
      stub_->BatchIsImportAllowed(&context, batch, &response).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
}

// Honest freshness: when the source has been refused for longer than
// --max_bundle_staleness, the server keeps answering (the empty health name
// and the API stay SERVING) but "importgate.bundle.fresh" turns NOT_SERVING
// and status says why and since when; a good read makes it fresh again.
TEST_F(ServerTest, StaleBundleIsReportedWhileDecisionsContinue) {
  ServerOptions options;
  options.freshness_poll = absl::Milliseconds(20);
  StartServer(options);
  auto await_fresh = [this](HealthCheckResponse::ServingStatus want) {
    for (absl::Time end = absl::Now() + absl::Seconds(5); absl::Now() < end;
         absl::SleepFor(absl::Milliseconds(20))) {
      if (Health(kFreshHealthName) == want) return true;
    }
    return false;
  };
  EXPECT_EQ(Health(kFreshHealthName), HealthCheckResponse::NOT_SERVING);
  ActivateDefaultBundle();
  EXPECT_TRUE(await_fresh(HealthCheckResponse::SERVING));

  store_.SetMaxStaleness(absl::Minutes(1));
  const absl::Time since = clock_.Now();
  store_.RecordFailure("policies/default",
                       absl::NotFoundError("policies/default: gone"));
  clock_.Set(clock_.Now() + absl::Minutes(2));
  EXPECT_TRUE(await_fresh(HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(Health(), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health("importgate.v1.ImportPolicyService"),
            HealthCheckResponse::SERVING);
  v1::IsImportAllowedResponse response;
  EXPECT_TRUE(Call(Tee(v1::SELLER_KIND_CROSS_BORDER), &response).ok());
  grpc::ClientContext context;
  adminv1::GetStatusResponse status;
  ASSERT_TRUE(admin_->GetStatus(&context, {}, &status).ok());
  EXPECT_TRUE(status.stale());
  EXPECT_THAT(status.stale_reason(), HasSubstr("policies/default: gone"));
  EXPECT_EQ(status.stale_since().seconds(), absl::ToUnixSeconds(since));

  store_.RecordSourceRead();
  EXPECT_TRUE(await_fresh(HealthCheckResponse::SERVING));
  grpc::ClientContext again;
  ASSERT_TRUE(admin_->GetStatus(&again, {}, &status).ok());
  EXPECT_FALSE(status.stale());
}

TEST_F(ServerTest, AdminStatusShowsTheActiveBundle) {
  {
    grpc::ClientContext context;
    adminv1::GetStatusResponse status;
    ASSERT_TRUE(admin_->GetStatus(&context, {}, &status).ok());
    EXPECT_FALSE(status.serving());
    EXPECT_FALSE(status.has_active());
  }
  ActivateDefaultBundle();
  grpc::ClientContext context;
  adminv1::GetStatusResponse status;
  ASSERT_TRUE(admin_->GetStatus(&context, {}, &status).ok());
  EXPECT_TRUE(status.serving());
  EXPECT_EQ(status.active().ref().name(), "marketplace-id");
  EXPECT_EQ(status.active().ref().digest(), store_.Current()->digest);
  EXPECT_EQ(status.active().source(), it::DefaultBundleDirectory());
  EXPECT_EQ(status.active().loaded_at().seconds(), 1'705'000'000);
  EXPECT_GE(status.active().test_case_count(), 40);
  // The default bundle's last rate table ends on 2026-12-02 00:00 WIB.
  EXPECT_EQ(status.active().rates_in_force_until().seconds(), 1'796'144'400);
  EXPECT_TRUE(status.last_attempt().activated());
  EXPECT_EQ(status.history_size(), 1);
  EXPECT_EQ(status.server_version(), ServerVersion());
}

// Refusals quote what they refuse: a rule id, a file name and a long
// multi-byte category that are not all UTF-8 or cut anywhere. Reload's
// message and GetStatus's last attempt stay UTF-8 (the wire audit re-parses
// both answers too).
TEST(AdminRefusalTest, RefusalsQuotingOddTextAreValidUtf8) {
  it::FakeClock clock(absl::FromUnixSeconds(1'705'000'000));
  bundle::PolicyStore store(&clock);
  std::string long_category;
  for (int i = 0; i < 40; ++i) long_category += "\u670d\u88c5";
  const std::vector<std::vector<policy::SourceFile>> refused = {
      it::BundleFiles(it::TestManifest(2),
                      "rules { id: \"r\\351\" effect: EFFECT_DENY "
                      "reason_code: \"C\" message: \"caf\\351\" "
                      "match { hs_codes: [\"61\"] } }"),
      it::BundleFiles(it::TestManifest(2),
                      absl::StrCat("rules { id: \"r\" effect: EFFECT_DENY "
                                   "reason_code: \"C\" message: \"m\" "
                                   "match { categories: [\"",
                                   long_category, "\"] } }")),
      [] {
        auto files = it::SmallBundle(2);
        files.push_back({"rules/caf\xe9.textproto", "rules {}"});
        return files;
      }(),
  };
  for (size_t i = 0; i < refused.size(); ++i) {
    SCOPED_TRACE(i);
    const std::string dir = it::WriteBundleDirectory(refused[i]);
    bundle::ManagerOptions manager_options;
    manager_options.source = dir;
    manager_options.source_options.iso_codes = it::RealIsoCodes();
    bundle::BundleManager manager(&store, &clock, manager_options);
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.interceptor_factories = it::WireAudit::Factories;
    auto server = ImportgateServer::Start(options, &store, &clock, &manager);
    ASSERT_TRUE(server.ok()) << server.status();
    auto admin = adminv1::PolicyAdmin::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                            grpc::InsecureChannelCredentials()));
    grpc::ClientContext reload_context;
    adminv1::ReloadResponse reload;
    grpc::Status s = admin->Reload(&reload_context, {}, &reload);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(reload.outcome(), adminv1::RELOAD_OUTCOME_REFUSED);
    EXPECT_TRUE(IsValidUtf8(reload.message()));
    grpc::ClientContext status_context;
    adminv1::GetStatusResponse status;
    s = admin->GetStatus(&status_context, {}, &status);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(status.last_attempt().activated());
    EXPECT_FALSE(status.last_attempt().error().empty());
    EXPECT_TRUE(IsValidUtf8(status.last_attempt().error()));
    (*server)->Shutdown(absl::ZeroDuration());
    std::filesystem::remove_all(dir);
  }
}

TEST(ServerStartTest, RejectsBadOptions) {
  it::FakeClock clock(absl::UnixEpoch());
  bundle::PolicyStore store(&clock);
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.max_batch_items = 0;
  auto server = ImportgateServer::Start(options, &store, &clock);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("max_batch_items"));
  options.max_batch_items = 10;
  options.listen_address = "unix:/nonexistent-importgate-dir/socket";
  server = ImportgateServer::Start(options, &store, &clock);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(server.status().message(), HasSubstr("listen_address"));
}

}  // namespace
}  // namespace importgate::app

namespace importgate::app {
namespace {

namespace adminv1b = ::importgate::admin::v1;

TEST(IsLoopbackAddressTest, Table) {
  struct Case {
    const char* address;
    bool loopback;
  } cases[] = {
      {"127.0.0.1:50051", true}, {"127.0.0.2:1", true},
      {"[::1]:50051", true},     {"localhost:50051", true},
      {"unix:/tmp/s", true},     {"0.0.0.0:50051", false},
      {"[::]:50051", false},     {"10.0.0.5:50051", false},
      {"example.com:1", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsLoopbackAddress(c.address), c.loopback) << c.address;
  }
}

// With a non-loopback listen address the admin API is only served on its
// own (here loopback) address, never next to the decision API.
TEST(AdminListenTest, AdminMovesToItsOwnAddressWhenListenIsNotLoopback) {
  ::importgate::testing::FakeClock clock(absl::UnixEpoch());
  bundle::PolicyStore store(&clock);
  ServerOptions options;
  options.listen_address = "0.0.0.0:0";
  options.interceptor_factories = it::WireAudit::Factories;
  {
    auto server = ImportgateServer::Start(options, &store, &clock);
    ASSERT_TRUE(server.ok()) << server.status();
    EXPECT_EQ((*server)->admin_port(), 0);
    auto admin = adminv1b::PolicyAdmin::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                            grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    adminv1b::GetStatusResponse status;
    EXPECT_EQ(admin->GetStatus(&context, {}, &status).error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  options.admin_listen_address = "127.0.0.1:0";
  auto server = ImportgateServer::Start(options, &store, &clock);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_NE((*server)->admin_port(), 0);
  EXPECT_NE((*server)->admin_port(), (*server)->port());
  auto admin = adminv1b::PolicyAdmin::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->admin_port()),
                          grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  adminv1b::GetStatusResponse status;
  EXPECT_TRUE(admin->GetStatus(&context, {}, &status).ok());
  // Reload needs a manager; this server was started without one.
  grpc::ClientContext reload_context;
  adminv1b::ReloadResponse reload;
  EXPECT_EQ(admin->Reload(&reload_context, {}, &reload).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // The admin port's health answers for its services and follows the
  // store as the main port's does.
  auto admin_health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->admin_port()),
                          grpc::InsecureChannelCredentials()));
  auto check = [&](const std::string& service) {
    grpc::ClientContext health_context;
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status s = admin_health->Check(&health_context, request, &response);
    EXPECT_TRUE(s.ok()) << service << ": " << s.error_message();
    return response.status();
  };
  EXPECT_EQ(check(""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(check("importgate.admin.v1.PolicyAdmin"),
            HealthCheckResponse::NOT_SERVING);
  auto bundle = it::LoadDefaultBundle();
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  ASSERT_TRUE(store.Activate(*bundle).ok());
  EXPECT_EQ(check(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(check("importgate.admin.v1.PolicyAdmin"),
            HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace importgate::app
