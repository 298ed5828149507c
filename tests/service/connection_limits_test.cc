// Per-connection limits (app::ConnectionLimits, the --max_connection_age_*,
// --keepalive_min_ping_seconds and --max_concurrent_streams flags) over
// real sockets: connections are recycled by age with no failed call, a
// connection's calls beyond its stream limit wait for a free stream, a
// client that pings too often is disconnected, and bad limits are refused.
// Long-lived calls are grpc.health.v1.Health/Watch streams.
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/server_interceptor.h"
#include "gtest/gtest.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/app/server.h"
#include "server/bundle/loader.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/tee_request.h"
#include "tests/testing/test_bundles.h"

namespace importgate::app {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;

// The client addresses ("ipv4:127.0.0.1:PORT") the server saw calls from.
class Peers {
 public:
  void Add(std::string peer) {
    std::lock_guard<std::mutex> lock(mu_);
    peers_.insert(std::move(peer));
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return peers_.size();
  }

 private:
  std::mutex mu_;
  std::set<std::string> peers_;
};

class PeerRecorder final : public grpc::experimental::Interceptor {
 public:
  PeerRecorder(grpc::experimental::ServerRpcInfo* info, Peers* peers)
      : info_(info), peers_(peers) {}
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                POST_RECV_INITIAL_METADATA)) {
      peers_->Add(info_->server_context()->peer());
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  Peers* peers_;
};

class PeerRecorderFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit PeerRecorderFactory(Peers* peers) : peers_(peers) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new PeerRecorder(info, peers_);
  }

 private:
  Peers* peers_;
};

class ConnectionLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bundle = it::LoadDefaultBundle();
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    ASSERT_TRUE(store_.Activate(*bundle).ok());
  }

  void Start(ConnectionLimits limits) {
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.limits = limits;
    options.interceptor_factories = [this] {
      std::vector<std::unique_ptr<
          grpc::experimental::ServerInterceptorFactoryInterface>>
          factories;
      factories.push_back(std::make_unique<PeerRecorderFactory>(&peers_));
      return factories;
    };
    auto server = ImportgateServer::Start(options, &store_, &clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::shared_ptr<grpc::Channel> Channel(grpc::ChannelArguments args = {}) {
    return grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server_->port()),
        grpc::InsecureChannelCredentials(), args);
  }

  static grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    context.set_wait_for_ready(true);
    v1::IsImportAllowedResponse response;
    return v1::ImportPolicyService::NewStub(channel)->IsImportAllowed(
        &context, it::TeeRequest(), &response);
  }

  // An open health Watch stream on `channel`, once its first answer came.
  struct Watch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<grpc::health::v1::HealthCheckResponse>>
        reader;
  };
  static std::unique_ptr<Watch> OpenWatch(
      const std::shared_ptr<grpc::Channel>& channel,
      absl::Duration deadline = absl::Seconds(30)) {
    auto watch = std::make_unique<Watch>();
    watch->context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    watch->reader = grpc::health::v1::Health::NewStub(channel)->Watch(
        &watch->context, grpc::health::v1::HealthCheckRequest());
    grpc::health::v1::HealthCheckResponse first;
    EXPECT_TRUE(watch->reader->Read(&first));
    return watch;
  }

  Peers peers_;
  it::FakeClock clock_{absl::FromUnixSeconds(1'705'000'000)};
  bundle::PolicyStore store_{&clock_};
  std::unique_ptr<ImportgateServer> server_;
};

TEST_F(ConnectionLimitsTest, ConnectionsAreRecycledByAgeWithNoFailedCall) {
  ConnectionLimits limits;
  limits.max_connection_age = absl::Milliseconds(300);
  limits.max_connection_age_grace = absl::Milliseconds(300);
  Start(limits);
  std::shared_ptr<grpc::Channel> channel = Channel();
  int calls = 0;
  for (absl::Time end = absl::Now() + absl::Seconds(2); absl::Now() < end;
       absl::SleepFor(absl::Milliseconds(10))) {
    grpc::Status s = Call(channel);
    ASSERT_TRUE(s.ok()) << "call " << calls << ": " << s.error_message();
    ++calls;
  }
  EXPECT_GT(calls, 50);
  // One channel, several connections: the client reconnected after each
  // GOAWAY.
  EXPECT_GE(peers_.size(), 3u);
}

TEST_F(ConnectionLimitsTest, WithoutAnAgeOneConnectionServesEveryCall) {
  Start(ConnectionLimits{});  // the defaults: 10 minutes
  std::shared_ptr<grpc::Channel> channel = Channel();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Call(channel).ok());
  EXPECT_EQ(peers_.size(), 1u);
}

// With two streams per connection, two open Watch calls fill the
// connection: a third call waits (here past its deadline) until one ends.
TEST_F(ConnectionLimitsTest, CallsBeyondTheStreamLimitWaitForAFreeStream) {
  for (int max_streams : {2, 128}) {
    ConnectionLimits limits;
    limits.max_concurrent_streams = max_streams;
    Start(limits);
    const size_t peers_before = peers_.size();
    std::shared_ptr<grpc::Channel> channel = Channel();
    std::unique_ptr<Watch> first = OpenWatch(channel);
    std::unique_ptr<Watch> second = OpenWatch(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(500));
    v1::IsImportAllowedResponse response;
    grpc::Status third =
        v1::ImportPolicyService::NewStub(channel)->IsImportAllowed(
            &context, it::TeeRequest(), &response);
    if (max_streams == 2) {
      EXPECT_EQ(third.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
          << third.error_message();
      first->context.TryCancel();
      EXPECT_EQ(first->reader->Finish().error_code(),
                grpc::StatusCode::CANCELLED);
      EXPECT_TRUE(Call(channel).ok());  // a stream is free again
    } else {
      EXPECT_TRUE(third.ok()) << third.error_message();
      first->context.TryCancel();
      first->reader->Finish();
    }
    second->context.TryCancel();
    second->reader->Finish();
    EXPECT_EQ(peers_.size(), peers_before + 1);  // all on one connection
  }
}

// A client that sends keepalive pings as often as gRPC lets it (once a
// second during a quiet call): with --keepalive_min_ping_seconds at 10 the
// server closes the connection after the third strike (GOAWAY
// ENHANCE_YOUR_CALM "too_many_pings") and the call fails; with a 10 ms
// minimum the call lasts until its deadline.
TEST_F(ConnectionLimitsTest, AClientPingingTooOftenIsDisconnected) {
  for (absl::Duration min_ping : {absl::Seconds(10), absl::Milliseconds(10)}) {
    ConnectionLimits limits;
    limits.min_ping_interval = min_ping;
    Start(limits);
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 100);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    args.SetInt(GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS, 0);
    std::unique_ptr<Watch> watch =
        OpenWatch(Channel(args), /*deadline=*/absl::Seconds(6));
    grpc::health::v1::HealthCheckResponse next;
    while (watch->reader->Read(&next)) {
    }
    const grpc::Status status = watch->reader->Finish();
    if (min_ping == absl::Seconds(10)) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
          << status.error_message();
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
          << status.error_message();
    }
  }
}

TEST_F(ConnectionLimitsTest, BadLimitsAreRefused) {
  for (auto mutate : std::vector<void (*)(ConnectionLimits*)>{
           [](ConnectionLimits* l) { l->max_concurrent_streams = 0; },
           [](ConnectionLimits* l) {
             l->max_connection_age = absl::ZeroDuration();
           },
           [](ConnectionLimits* l) {
             l->min_ping_interval = -absl::Seconds(1);
           },
           [](ConnectionLimits* l) {
             l->max_connection_age_grace = -absl::Seconds(1);
           }}) {
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    mutate(&options.limits);
    EXPECT_EQ(
        ImportgateServer::Start(options, &store_, &clock_).status().code(),
        absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace importgate::app
