// The client SDK against servers on ephemeral ports: scripted fakes for
// failures, and the real importgate server where semantics matter.
#include "importgate/client/client.h"

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "client/internal/decision_cache.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "gtest/gtest.h"
#include "server/app/server.h"
#include "server/app/tls.h"
#include "server/bundle/loader.h"
#include "server/bundle/policy_store.h"
#include "server/eval/request.h"
#include "server/service/admin_access.h"
#include "server/service/limits.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_policy_server.h"
#include "tests/testing/largest_messages.h"
#include "tests/testing/self_signed.h"
#include "tests/testing/test_bundles.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/wire_audit.h"

namespace importgate::client {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;
using ::testing::HasSubstr;
using Source = DecisionResult::Source;

v1::IsImportAllowedRequest Request(const std::string& sku = "SKU-1",
                                   const std::string& hs = "6109.10") {
  v1::IsImportAllowedRequest r;
  r.mutable_item()->set_sku(sku);
  r.mutable_item()->set_hs_code(hs);
  r.mutable_seller()->set_kind(v1::SELLER_KIND_CROSS_BORDER);
  r.set_destination_country("ID");
  r.set_channel(v1::CHANNEL_CHECKOUT);
  return r;
}

// The client's copy of the server's id limit (client/internal), checked
// against the server's own here.
size_t DecisionCacheIdLimit() {
  static_assert(internal::DecisionCache::kMaxIdBytes == eval::kMaxIdBytes,
                "the client's cache and the server must agree on ids");
  return internal::DecisionCache::kMaxIdBytes;
}

ClientOptions Options(const std::string& target) {
  ClientOptions o;
  o.target = target;
  o.deadline = absl::Seconds(5);  // generous: tests assert outcomes, not time
  return o;
}

// A real importgate server over SmallBundle(revision), or over `files`.
struct RealServer {
  explicit RealServer(uint64_t revision,
                      std::vector<policy::SourceFile> files = {}) {
    auto bundle = bundle::LoadBundle(
        "mem", files.empty() ? it::SmallBundle(revision) : files,
        it::RealIsoCodes());
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    EXPECT_TRUE(store.Activate(*bundle).ok());
    app::ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.interceptor_factories = it::WireAudit::Factories;
    server = *app::ImportgateServer::Start(options, &store, &clock);
  }
  std::string address() const {
    return absl::StrCat("127.0.0.1:", server->port());
  }
  it::FakeClock clock{absl::FromUnixSeconds(1'705'000'000)};
  bundle::PolicyStore store{&clock};
  std::unique_ptr<app::ImportgateServer> server;
};

// --- Byte budgets ---------------------------------------------------------

// The client's copy of the server's budgets (service/limits.h).
static_assert(kMaxItemRequestBytes == service::kMaxItemRequestBytes);
static_assert(kMaxItemResponseBytes == service::kMaxItemResponseBytes);

TEST(ClientBudgetTest, BatchBudgetsAreTheServers) {
  for (int items : {1, 2, 100, 1000, 10000}) {
    EXPECT_EQ(BatchRequestBudget(items), service::BatchRequestBudget(items));
    EXPECT_EQ(BatchResponseBudget(items), service::BatchResponseBudget(items));
  }
}

// The issue's failure: a full batch of denials by a rule with a long legal
// basis overflowed gRPC's default 4 MiB receive limit, and a fail-open
// listing service got ALLOW for every item. With the budgets, the whole
// batch is decided.
TEST(ClientBudgetTest, FullBatchOfTheLongestAnswersIsDecided) {
  RealServer server(1, it::LongestAnswerFiles());
  ClientOptions o = Options(server.address());
  o.failure_mode = FailureMode::kFailOpen;
  o.deadline = absl::Seconds(30);
  auto client = Client::Create(o);
  ASSERT_TRUE(client.ok());
  std::vector<v1::IsImportAllowedRequest> batch(1000, it::LargestRequest(16));
  for (auto& r : batch) r.set_min_bundle_revision(0);
  auto results = client->BatchIsImportAllowed(batch);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 1000u);
  for (const auto& result : *results) {
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->source, Source::kServer) << result->fallback_cause;
    ASSERT_FALSE(result->allowed());
    ASSERT_TRUE(result->decision.has_price_conversion());
  }
}

// A request over the budget is refused before it is sent, naming the
// budget; a response over the client's limit is an error, never a
// fallback decision, whatever the failure mode.
TEST(ClientBudgetTest, OverBudgetIsAnErrorNeverAFallback) {
  it::FakePolicyServer fake(1);
  ClientOptions o = Options(fake.address());
  o.failure_mode = FailureMode::kFailOpen;
  auto client = Client::Create(o);
  v1::IsImportAllowedRequest big = Request();
  big.mutable_item()->set_sku(std::string(kMaxItemRequestBytes, 's'));
  auto unary = client->IsImportAllowed(big);
  EXPECT_EQ(unary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unary.status().message(),
              HasSubstr("over the request budget of one request"));
  auto batch = client->BatchIsImportAllowed(
      std::vector<v1::IsImportAllowedRequest>(1001, big));
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(batch.status().message(),
              HasSubstr("over the request budget of a batch of up to 1000"));
  EXPECT_EQ(fake.calls(), 0);

  // A client configured for batches of 1 receives at most one answer's
  // budget: two of the longest answers exceed it.
  RealServer server(1, it::LongestAnswerFiles());
  ClientOptions small = Options(server.address());
  small.failure_mode = FailureMode::kFailOpen;
  small.max_batch_items = 1;
  auto small_client = Client::Create(small);
  ASSERT_TRUE(small_client.ok());
  // Priced, since the longest answer also converts the price.
  v1::IsImportAllowedRequest priced = Request();
  priced.mutable_item()->mutable_unit_price()->set_currency_code("USD");
  priced.mutable_item()->mutable_unit_price()->set_units(1);
  auto two = small_client->BatchIsImportAllowed(
      std::vector<v1::IsImportAllowedRequest>(2, priced));
  EXPECT_EQ(two.status().code(), absl::StatusCode::kResourceExhausted)
      << two.status();
}

TEST(ClientOptionsTest, BadOptionsAreInvalidArgument) {
  ClientOptions o;
  o.target = "";
  EXPECT_EQ(Client::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = Options("127.0.0.1:1");
  o.max_attempts = 0;
  EXPECT_THAT(Client::Create(o).status().message(), HasSubstr("max_attempts"));
  o = Options("127.0.0.1:1");
  o.deadline = absl::ZeroDuration();
  EXPECT_THAT(Client::Create(o).status().message(), HasSubstr("deadline"));
  o = Options("");
  o.replicas = {"127.0.0.1"};
  EXPECT_THAT(Client::Create(o).status().message(), HasSubstr("replicas"));
}

TEST(ClientTest, DecidesAgainstTheRealServer) {
  RealServer server(4);
  auto client = Client::Create(Options(server.address()));
  ASSERT_TRUE(client.ok());
  auto deny = client->IsImportAllowed(Request());
  ASSERT_TRUE(deny.ok()) << deny.status();
  EXPECT_FALSE(deny->allowed());
  EXPECT_EQ(deny->decision.rule_id(), "deny-tees");
  EXPECT_EQ(deny->bundle.revision(), 4u);
  EXPECT_EQ(deny->source, Source::kServer);
  EXPECT_EQ(deny->sku, "SKU-1");
  EXPECT_EQ(client->highest_revision_seen(), 4u);
}

TEST(ClientTest, InvalidRequestIsAnErrorNeverAFallback) {
  RealServer server(1);
  auto client = Client::Create(Options(server.address()));
  v1::IsImportAllowedRequest bad = Request();
  bad.set_destination_country("XX");
  auto result = client->IsImportAllowed(bad);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("destination_country"));
}

TEST(ClientTest, NoServerListeningGivesTheFailureModesDecision) {
  // A port nothing listens on.
  it::FakePolicyServer gone(1);
  std::string address = gone.address();
  gone.Stop();
  auto client = Client::Create(Options(address));
  auto closed = client->IsImportAllowed(Request());
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->source, Source::kFallback);
  EXPECT_FALSE(closed->allowed());
  EXPECT_EQ(closed->decision.reason_code(), kFailClosedReason);
  EXPECT_THAT(closed->fallback_cause, HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(closed->sku, "SKU-1");

  CallOptions open;
  open.failure_mode = FailureMode::kFailOpen;
  auto allowed = client->IsImportAllowed(Request(), open);
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->source, Source::kFallback);
  EXPECT_TRUE(allowed->allowed());
  EXPECT_EQ(allowed->decision.reason_code(), kFailOpenReason);
}

TEST(ClientTest, DeadlineExceededFallsBack) {
  it::FakePolicyServer slow(1);
  slow.set_delay(absl::Milliseconds(500));
  ClientOptions o = Options(slow.address());
  o.deadline = absl::Milliseconds(50);
  auto client = Client::Create(o);
  auto result = client->IsImportAllowed(Request());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->source, Source::kFallback);
  EXPECT_THAT(result->fallback_cause, HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_EQ(slow.calls(), 1);  // a deadline is not retried
}

TEST(ClientTest, RetriesUnavailableThenSucceeds) {
  it::FakePolicyServer flaky(1);
  flaky.FailFirst(2, grpc::StatusCode::UNAVAILABLE);
  auto client = Client::Create(Options(flaky.address()));
  auto result = client->IsImportAllowed(Request());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->source, Source::kServer);
  EXPECT_EQ(flaky.calls(), 3);
}

TEST(ClientTest, RetriesStopAtMaxAttemptsAndDoNotRetryOtherErrors) {
  it::FakePolicyServer flaky(1);
  flaky.FailFirst(10, grpc::StatusCode::UNAVAILABLE);
  ClientOptions o = Options(flaky.address());
  o.max_attempts = 2;
  auto client = Client::Create(o);
  auto result = client->IsImportAllowed(Request());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->source, Source::kFallback);
  EXPECT_EQ(flaky.calls(), 2);

  it::FakePolicyServer broken(1);
  broken.FailFirst(10, grpc::StatusCode::INTERNAL);
  auto client2 = Client::Create(Options(broken.address()));
  auto r2 = client2->IsImportAllowed(Request());
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->source, Source::kFallback);
  EXPECT_EQ(broken.calls(), 1);
}

TEST(ClientCacheTest, HitsExpireAndFlushOnANewRevision) {
  it::FakePolicyServer server(1);
  server.set_ttl_seconds(30);
  it::FakeClock clock(absl::FromUnixSeconds(1'000'000));
  ClientOptions o = Options(server.address());
  o.cache_max_entries = 100;
  o.clock = [&clock] { return clock.Now(); };
  auto client = Client::Create(o);

  ASSERT_EQ(client->IsImportAllowed(Request("A")).value().source,
            Source::kServer);
  // Same item, another sku: a hit, with its own sku.
  auto hit = client->IsImportAllowed(Request("B"));
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(hit->source, Source::kCache);
  EXPECT_EQ(hit->sku, "B");
  EXPECT_EQ(server.calls(), 1);
  // Another item misses.
  EXPECT_EQ(client->IsImportAllowed(Request("C", "9405")).value().source,
            Source::kServer);
  // bypass_cache goes to the server.
  CallOptions bypass;
  bypass.bypass_cache = true;
  EXPECT_EQ(client->IsImportAllowed(Request("A"), bypass).value().source,
            Source::kServer);
  int calls = server.calls();

  clock.Set(clock.Now() + absl::Seconds(31));  // past the TTL
  EXPECT_EQ(client->IsImportAllowed(Request("A")).value().source,
            Source::kServer);
  EXPECT_EQ(server.calls(), calls + 1);
  EXPECT_EQ(client->IsImportAllowed(Request("A")).value().source,
            Source::kCache);

  // A response from a newer revision empties the cache.
  server.set_revision(2);
  EXPECT_EQ(client->IsImportAllowed(Request("C", "9405"), bypass)
                .value()
                .bundle.revision(),
            2u);
  auto after = client->IsImportAllowed(Request("A"));
  EXPECT_EQ(after->source, Source::kServer);
  EXPECT_EQ(after->bundle.revision(), 2u);
}

// The cache never answers what the server would refuse: for every variant
// of a cached request, a caching client answers as the server does
// uncached. Members of the class: HS codes that differ from a cached one
// only in dots (invalid and valid), and the fields the key leaves out at
// and past the server's limits.
TEST(ClientCacheTest, AnswersExactlyWhatTheServerWouldForEveryVariant) {
  RealServer server(1);
  ClientOptions cached_options = Options(server.address());
  cached_options.cache_max_entries = 100;
  auto cached = Client::Create(cached_options);
  auto uncached = Client::Create(Options(server.address()));
  // Warm the cache with the valid forms.
  for (const char* hs : {"6109", "6109.10", "610910"}) {
    ASSERT_TRUE(cached->IsImportAllowed(Request("warm", hs)).ok()) << hs;
  }
  std::vector<v1::IsImportAllowedRequest> variants;
  for (const char* hs :
       {"6109", "61..09", "6109.", ".6109", "61.09", "6109..10", "6109.10",
        "610910", "6109 ", "6109.1.0"}) {
    variants.push_back(Request("v", hs));
  }
  for (size_t n : {DecisionCacheIdLimit(), DecisionCacheIdLimit() + 1}) {
    v1::IsImportAllowedRequest long_sku = Request(std::string(n, 's'));
    variants.push_back(long_sku);
    v1::IsImportAllowedRequest long_seller = Request();
    long_seller.mutable_seller()->set_id(std::string(n, 'x'));
    variants.push_back(long_seller);
  }
  for (const auto& request : variants) {
    SCOPED_TRACE(absl::StrCat("hs \"", request.item().hs_code(), "\" sku ",
                              request.item().sku().size(), " bytes, seller ",
                              request.seller().id().size(), " bytes"));
    for (int pass = 0; pass < 2; ++pass) {  // the second may be a hit
      auto want = uncached->IsImportAllowed(request);
      auto got = cached->IsImportAllowed(request);
      ASSERT_EQ(got.ok(), want.ok()) << got.status() << " vs " << want.status();
      if (!want.ok()) {
        EXPECT_EQ(got.status(), want.status());
        continue;
      }
      EXPECT_EQ(got->decision.effect(), want->decision.effect());
      EXPECT_EQ(got->decision.rule_id(), want->decision.rule_id());
      EXPECT_EQ(got->sku, request.item().sku());
    }
  }
}

TEST(ClientCacheTest, ZeroTtlIsNotCachedAndFallbacksNeverAre) {
  it::FakePolicyServer server(1);
  server.set_ttl_seconds(0);
  ClientOptions o = Options(server.address());
  o.cache_max_entries = 100;
  auto client = Client::Create(o);
  client->IsImportAllowed(Request()).value();
  EXPECT_EQ(client->IsImportAllowed(Request()).value().source, Source::kServer);

  server.Stop();
  auto fallback = client->IsImportAllowed(Request());
  EXPECT_EQ(fallback->source, Source::kFallback);
  EXPECT_EQ(client->IsImportAllowed(Request())->source, Source::kFallback);
}

TEST(ClientTest, NeverMovesBackToAnOlderRevisionAcrossReplicas) {
  RealServer older(1), newer(2);
  ClientOptions o = Options("");
  o.replicas = {older.address(), newer.address()};
  o.max_attempts = 5;
  auto client = Client::Create(o);
  bool seen_newer = false;
  for (int i = 0; i < 40; ++i) {
    auto r = client->IsImportAllowed(Request());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->source, Source::kServer) << r->fallback_cause;
    if (seen_newer) {
      ASSERT_EQ(r->bundle.revision(), 2u);
    }
    seen_newer |= r->bundle.revision() == 2u;
  }
  EXPECT_TRUE(seen_newer);
  EXPECT_EQ(client->highest_revision_seen(), 2u);
}

TEST(ClientTest, RoundRobinSurvivesAReplicaKilledMidRun) {
  auto a = std::make_unique<it::FakePolicyServer>(1);
  it::FakePolicyServer b(1), c(1);
  ClientOptions o = Options("");
  o.replicas = {a->address(), b.address(), c.address()};
  auto client = Client::Create(o);
  for (int i = 0; i < 300; ++i) {
    if (i == 100) a.reset();  // killed mid-run
    auto r = client->IsImportAllowed(Request());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->source, Source::kServer)
        << "call " << i << ": " << r->fallback_cause;
  }
  // Every replica took a share before the kill.
  EXPECT_GT(b.calls(), 0);
  EXPECT_GT(c.calls(), 0);
}

TEST(ClientBatchTest, CachedItemsAreAnsweredLocallyAndErrorsStayPerItem) {
  it::FakePolicyServer server(3);
  ClientOptions o = Options(server.address());
  o.cache_max_entries = 100;
  auto client = Client::Create(o);
  client->IsImportAllowed(Request("cached", "4202")).value();
  std::vector<v1::IsImportAllowedRequest> cart = {
      Request("x1", "6109"), Request("cached-again", "4202"),
      Request("x2", "bad")};
  auto results = client->BatchIsImportAllowed(cart);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ((*results)[0]->source, Source::kServer);
  EXPECT_EQ((*results)[0]->sku, "x1");
  EXPECT_EQ((*results)[1]->source, Source::kCache);
  EXPECT_EQ((*results)[1]->sku, "cached-again");
  EXPECT_EQ((*results)[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.calls(), 2);  // one unary, one batch of two

  EXPECT_EQ(client->BatchIsImportAllowed({}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClientBatchTest, UnreachableServerFailsClosedPerItem) {
  it::FakePolicyServer gone(1);
  std::string address = gone.address();
  gone.Stop();
  auto client = Client::Create(Options(address));
  auto results = client->BatchIsImportAllowed({Request("a"), Request("b")});
  ASSERT_TRUE(results.ok());
  for (const auto& r : *results) {
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->source, Source::kFallback);
    EXPECT_FALSE(r->allowed());
  }
  EXPECT_EQ((*results)[1]->sku, "b");
}

TEST(ClientTlsTest, TlsAndMutualTls) {
  const it::PemPair pem = it::SelfSignedLocalhost();
  grpc::SslServerCredentialsOptions tls;
  tls.pem_key_cert_pairs.push_back({pem.key, pem.cert});
  it::FakePolicyServer server(1, grpc::SslServerCredentials(tls));
  ClientOptions o = Options(server.address());
  o.tls = TlsOptions{pem.cert, "", ""};
  auto result = Client::Create(o)->IsImportAllowed(Request());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->source, Source::kServer) << result->fallback_cause;

  // Mutual TLS: the server demands a client certificate it can verify.
  grpc::SslServerCredentialsOptions mtls(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  mtls.pem_root_certs = pem.cert;
  mtls.pem_key_cert_pairs.push_back({pem.key, pem.cert});
  it::FakePolicyServer strict(1, grpc::SslServerCredentials(mtls));
  o = Options(strict.address());
  o.tls = TlsOptions{pem.cert, pem.cert, pem.key};
  auto with_cert = Client::Create(o)->IsImportAllowed(Request());
  ASSERT_TRUE(with_cert.ok());
  EXPECT_EQ(with_cert->source, Source::kServer) << with_cert->fallback_cause;

  o.tls = TlsOptions{pem.cert, "", ""};  // no client certificate
  auto without = Client::Create(o)->IsImportAllowed(Request());
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(without->source, Source::kFallback);
  EXPECT_EQ(strict.calls(), 1);
}

// The SDK's TLS options against the real importgate server with mutual
// TLS (app/tls.h), certificates from the openssl tool as the README makes
// them: a client certificate gets a server decision; without one the
// handshake fails and the caller's failure mode answers.
TEST(ClientTlsTest, RealServerWithMutualTls) {
  it::TestPki pki("client-mtls");
  pki.Issue("server", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth");
  pki.Issue("checkout", "checkout", "URI:spiffe://example.org/checkout",
            "clientAuth");
  auto bundle =
      bundle::LoadBundle("mem", it::SmallBundle(1), it::RealIsoCodes());
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  it::FakeClock clock{absl::FromUnixSeconds(1'705'000'000)};
  bundle::PolicyStore store{&clock};
  ASSERT_TRUE(store.Activate(*bundle).ok());
  app::TlsFiles files;
  files.cert_file = pki.Path("server.crt");
  files.key_file = pki.Path("server.key");
  files.client_ca_file = pki.Path("ca.crt");
  files.client_auth = app::ClientAuth::kRequire;
  auto credentials = app::MakeServerCredentials(files);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  auto access = service::AdminAccess::Closed();
  app::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.credentials = *credentials;
  options.admin_access = access.get();
  auto server = app::ImportgateServer::Start(options, &store, &clock);
  ASSERT_TRUE(server.ok()) << server.status();

  ClientOptions o = Options(absl::StrCat("127.0.0.1:", (*server)->port()));
  o.failure_mode = FailureMode::kFailClosed;
  o.tls = TlsOptions{pki.Read("ca.crt"), pki.Read("checkout.crt"),
                     pki.Read("checkout.key")};
  auto with_cert = Client::Create(o)->IsImportAllowed(Request());
  ASSERT_TRUE(with_cert.ok()) << with_cert.status();
  EXPECT_EQ(with_cert->source, Source::kServer) << with_cert->fallback_cause;
  EXPECT_EQ(with_cert->bundle.revision(), 1u);

  o.tls = TlsOptions{pki.Read("ca.crt"), "", ""};
  o.max_attempts = 1;
  auto without = Client::Create(o)->IsImportAllowed(Request());
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(without->source, Source::kFallback);
  EXPECT_FALSE(without->allowed());  // fail closed
  (*server)->Shutdown(absl::ZeroDuration());
}

// The last Client copy dropped while an async call is in flight: the
// call's completion, on a gRPC thread, then releases the channel. With
// Debian's gRPC that freed a shared completion queue twice
// (AddressSanitizer, in client_test_asan); the client now releases it on a
// thread of its own.
TEST(ClientAsyncTest, LastClientDroppedWhileACallIsInFlight) {
  v1::IsImportAllowedRequest request = Request();
  for (int i = 0; i < 50; ++i) {
    ClientOptions o = Options("127.0.0.1:1");  // nothing listens
    o.max_attempts = 1;
    std::promise<Source> done;
    {
      auto client = Client::Create(o);
      ASSERT_TRUE(client.ok());
      client->IsImportAllowedAsync(
          request, [&done](absl::StatusOr<DecisionResult> result) {
            done.set_value(result.ok() ? result->source : Source::kServer);
          });
    }
    EXPECT_EQ(done.get_future().get(), Source::kFallback);
  }
}

TEST(ClientAsyncTest, ManyConcurrentCallsAllComplete) {
  RealServer server(1);
  ClientOptions o = Options(server.address());
  o.cache_max_entries = 1000;
  auto client = Client::Create(o);
  constexpr int kThreads = 8, kPerThread = 100;
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        client->IsImportAllowedAsync(
            Request(absl::StrCat(t, "-", i), i % 2 ? "6109" : "9405"),
            [&](absl::StatusOr<DecisionResult> r) {
              std::lock_guard<std::mutex> lock(mu);
              if (!r.ok() || r->source == Source::kFallback) ++failed;
              ++done;
              cv.notify_all();
            });
      }
    });
  }
  for (auto& t : threads) t.join();
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30),
                          [&] { return done == kThreads * kPerThread; }));
  EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace importgate::client
