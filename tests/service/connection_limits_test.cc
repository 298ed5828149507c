// Per-connection limits (app::ConnectionLimits, the --max_connection_age_*,
// --keepalive_min_ping_seconds and --max_concurrent_streams flags) over
// real sockets: connections are recycled by age with no failed call, and
// bad limits are refused. (The ping and stream limits are gRPC's own
// policing of the channel arguments set here; no test here provokes them.)
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
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
    auto bundle = bundle::LoadBundleDirectory(it::DefaultBundleDirectory(),
                                              it::RealIsoCodes());
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
