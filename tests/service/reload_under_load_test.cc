// Hot reload under load, over real gRPC: 8 client threads call the server
// without pause while revisions are published and bad candidates dropped
// in, into a packed file and into a ConfigMap volume. Zero failed RPCs; every
// answer names a revision that was really active; no thread sees its revision
// go backwards.
#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/app/server.h"
#include "server/bundle/manager.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/kubelet_volume.h"
#include "tests/testing/reload_driver.h"
#include "tests/testing/tee_request.h"
#include "tests/testing/test_bundles.h"
#include "tests/testing/wire_audit.h"

namespace importgate::app {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;

// Where the revisions are published: one packed file replaced atomically,
// or a Kubernetes ConfigMap volume (kubelet layout, "..data" swapped) of
// source files or of packed files.
enum class Layout { kPackedFile, kConfigMapSource, kConfigMapPacked };

class ReloadUnderLoadTest : public ::testing::TestWithParam<Layout> {};

INSTANTIATE_TEST_SUITE_P(Layouts, ReloadUnderLoadTest,
                         ::testing::Values(Layout::kPackedFile,
                                           Layout::kConfigMapSource,
                                           Layout::kConfigMapPacked),
                         [](const ::testing::TestParamInfo<Layout>& info) {
                           switch (info.param) {
                             case Layout::kPackedFile:
                               return "PackedFile";
                             case Layout::kConfigMapSource:
                               return "ConfigMapSource";
                             case Layout::kConfigMapPacked:
                               return "ConfigMapPacked";
                           }
                           return "Unknown";
                         });

TEST_P(ReloadUnderLoadTest, NoFailedCallsAndRevisionsOnlyMoveForward) {
  constexpr int kClients = 8;
  constexpr uint64_t kLastRevision = 10;
  std::string dir = it::WriteBundleDirectory({});
  std::string source = dir + "/bundle.igb";
  it::KubeletVolume volume(dir + "/configmap");
  it::PublishFunction publish;
  switch (GetParam()) {
    case Layout::kPackedFile:
      publish = [&source](const std::string& packed) {
        EXPECT_TRUE(bundle::WriteFileAtomically(source, packed).ok());
      };
      break;
    case Layout::kConfigMapSource:
      source = volume.mount();
      // The candidate's files as ConfigMap keys; a torn artifact stands
      // for a ConfigMap whose rules do not parse.
      publish = [&volume](const std::string& packed) {
        auto unpacked = bundle::UnpackArtifact(packed);
        volume.Publish(unpacked.ok()
                           ? unpacked->files
                           : it::BundleFiles(it::TestManifest(99), "rules {"));
      };
      break;
    case Layout::kConfigMapPacked:
      source = volume.mount();
      publish = [&volume](const std::string& packed) {
        volume.Publish({{"marketplace.igb", packed}});
      };
      break;
  }
  publish(it::PackedSmallBundle(1));
  it::FakeClock clock(absl::FromUnixSeconds(1'705'000'000));
  bundle::PolicyStore store(&clock);
  bundle::ManagerOptions options;
  options.source = source;
  options.source_options.iso_codes = it::RealIsoCodes();
  bundle::BundleManager manager(&store, &clock, options);
  ServerOptions server_options;
  server_options.listen_address = "127.0.0.1:0";
  server_options.interceptor_factories = it::WireAudit::Factories;
  auto server =
      ImportgateServer::Start(server_options, &store, &clock, &manager);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(manager.Start().ok());

  const v1::IsImportAllowedRequest request = it::TeeRequest();

  struct ClientLog {
    std::vector<uint64_t> revisions;
    std::vector<std::string> failures;
  };
  std::atomic<bool> stop{false};
  std::vector<ClientLog> logs(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      auto stub = v1::ImportPolicyService::NewStub(
          grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                              grpc::InsecureChannelCredentials()));
      ClientLog& log = logs[i];
      do {
        grpc::ClientContext context;
        v1::IsImportAllowedResponse response;
        grpc::Status s = stub->IsImportAllowed(&context, request, &response);
        if (!s.ok()) {
          log.failures.push_back(s.error_message());
        } else if (response.decision().rule_id() != "deny-tees") {
          log.failures.push_back("wrong decision");
        } else {
          log.revisions.push_back(response.bundle().revision());
        }
      } while (!stop.load(std::memory_order_relaxed));
    });
  }
  std::set<uint64_t> activated =
      it::PublishRevisions(&manager, publish, 1, kLastRevision);
  stop = true;
  for (auto& t : clients) t.join();

  size_t calls = 0;
  for (int i = 0; i < kClients; ++i) {
    SCOPED_TRACE(i);
    const ClientLog& log = logs[i];
    EXPECT_TRUE(log.failures.empty()) << log.failures.front();
    calls += log.revisions.size();
    for (size_t k = 0; k < log.revisions.size(); ++k) {
      EXPECT_TRUE(activated.count(log.revisions[k])) << log.revisions[k];
      if (k > 0) {
        ASSERT_GE(log.revisions[k], log.revisions[k - 1]);
      }
    }
  }
  EXPECT_GE(calls, static_cast<size_t>(kClients));
  (*server)->Shutdown(absl::Seconds(1));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace importgate::app
