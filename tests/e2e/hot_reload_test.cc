// Hot reload end to end, as the README tells an operator to do it: bundles
// built and signed with the `importgate` tool, published into a directory
// that a running importgate-server watches, under a running load; a bad
// bundle dropped in; SIGHUP and the admin Reload call; a restart whose
// source is broken; an explicit rollback.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "importgate/admin/v1/policy_admin.grpc.pb.h"
#include "importgate/client/client.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/policy/codes.h"
#include "tests/testing/kubelet_volume.h"
#include "tests/testing/nginx.h"
#include "tests/testing/registry.h"
#include "tests/testing/server_process.h"
#include "tests/testing/tee_request.h"
#include "tests/testing/test_pki.h"

namespace importgate {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::importgate::v1;
namespace adminv1 = ::importgate::admin::v1;
namespace it = ::importgate::testing;
using ::importgate::testing::RunTool;
using ::importgate::testing::ServerProcess;
using ::testing::HasSubstr;

class HotReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("importgate-reload-", getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "published");
    bundle_ = Path("published");
    ASSERT_EQ(RunTool({"key", "generate", "--private", Path("key.pem"),
                       "--public", Path("pub.pem")}),
              0);
    // Revision 1, signed, published before the server starts.
    PublishRevision(1);
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) const {
    return (dir_ / name).string();
  }

  // Builds policies/default at `revision` into FILE, signed unless told
  // not, with the manifest's not_before when given.
  std::string Build(uint64_t revision, bool sign = true,
                    const std::string& not_before = "") {
    fs::path src = dir_ / absl::StrCat("src-", revision);
    fs::remove_all(src);
    fs::copy(fs::path(IMPORTGATE_SOURCE_DIR) / "policies/default", src,
             fs::copy_options::recursive);
    std::ifstream in(src / "manifest.textproto");
    std::string manifest((std::istreambuf_iterator<char>(in)), {});
    manifest = std::regex_replace(manifest, std::regex("revision: 1\\b"),
                                  absl::StrCat("revision: ", revision));
    if (!not_before.empty()) {
      absl::StrAppend(&manifest, "not_before: \"", not_before, "\"\n");
    }
    std::ofstream(src / "manifest.textproto") << manifest;
    std::string file = Path(absl::StrCat("marketplace-id-", revision, ".igb"));
    std::string output;
    EXPECT_EQ(RunTool({"bundle", "build", src.string(), "-o", file}, &output),
              0)
        << output;
    if (sign) {
      EXPECT_EQ(
          RunTool({"bundle", "sign", file, "--key", Path("key.pem")}, &output),
          0)
          << output;
    }
    return file;
  }

  // The safe publish protocol: signature first, then the bundle, each
  // renamed into place in one step.
  void PublishFile(const std::string& file) {
    fs::path to = dir_ / "published" / fs::path(file).filename();
    if (fs::exists(file + ".sig")) {
      fs::copy_file(file + ".sig", Path("tmp.sig"),
                    fs::copy_options::overwrite_existing);
      fs::rename(Path("tmp.sig"), to.string() + ".sig");
    }
    fs::copy_file(file, Path("tmp.igb"), fs::copy_options::overwrite_existing);
    fs::rename(Path("tmp.igb"), to);
  }
  void PublishRevision(uint64_t revision) { PublishFile(Build(revision)); }

  // Publishes `file` (and its signature, or removes the one there) as
  // marketplace-id.igb in the directory nginx serves, each renamed into
  // place, a second apart from the last publication (nginx's ETag is the
  // modification time in seconds, and the size).
  void PublishOver(const fs::path& www, const std::string& file) {
    ++publication_;
    for (const std::string suffix : {".sig", ""}) {
      if (!fs::exists(file + suffix)) {
        fs::remove(www / ("marketplace-id.igb" + suffix));
        continue;
      }
      fs::copy_file(file + suffix, Path("tmp"),
                    fs::copy_options::overwrite_existing);
      fs::last_write_time(Path("tmp"), fs::file_time_type::clock::now() +
                                           std::chrono::seconds(publication_));
      fs::rename(Path("tmp"), www / ("marketplace-id.igb" + suffix));
    }
  }

  // A replica of a fleet: the server with `args`, and its port.
  std::pair<std::unique_ptr<ServerProcess>, int> StartReplica(
      const std::vector<std::string>& args) {
    auto replica = std::make_unique<ServerProcess>(args);
    const std::string line = replica->WaitForLine("serving on ");
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(line.substr(line.rfind(':') + 1), &port))
        << replica->output();
    return {std::move(replica), port};
  }

  void StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--listen=127.0.0.1:0",
                                     "--bundle=" + bundle_,
                                     "--state_dir=" + Path("state"),
                                     "--verify_key=" + Path("pub.pem"),
                                     "--poll_seconds=1",
                                     "--shutdown_grace_seconds=1"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServerProcess>(args);
    std::string line = server_->WaitForLine("serving on ");
    ASSERT_FALSE(line.empty()) << server_->output();
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(line.substr(line.rfind(':') + 1), &port));
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    stub_ = v1::ImportPolicyService::NewStub(channel);
    admin_ = adminv1::PolicyAdmin::NewStub(channel);
    port_ = port;
  }

  uint64_t AnsweringRevision() {
    grpc::ClientContext context;
    v1::IsImportAllowedResponse response;
    grpc::Status s =
        stub_->IsImportAllowed(&context, it::TeeRequest(), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.bundle().revision();
  }

  // Polls (a bounded number of times) until the server answers `revision`.
  bool WaitForRevision(uint64_t revision) {
    for (int i = 0; i < 400; ++i) {
      if (AnsweringRevision() == revision) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }

  adminv1::GetStatusResponse Status() {
    grpc::ClientContext context;
    adminv1::GetStatusResponse status;
    EXPECT_TRUE(admin_->GetStatus(&context, {}, &status).ok());
    return status;
  }

  fs::path dir_;
  std::string bundle_;  // --bundle
  int publication_ = 0;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::ImportPolicyService::Stub> stub_;
  std::unique_ptr<adminv1::PolicyAdmin::Stub> admin_;
  int port_ = 0;
};

TEST_F(HotReloadTest, PublishUnderLoadRefuseBadReloadRestartRollback) {
  StartServer();
  EXPECT_THAT(server_->output(), HasSubstr("signatures required"));
  EXPECT_EQ(AnsweringRevision(), 1u);

  // A running load: 8 threads without pause.
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, calls{0};
  std::vector<std::thread> load;
  for (int i = 0; i < 8; ++i) {
    load.emplace_back([&] {
      auto stub = v1::ImportPolicyService::NewStub(
          grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                              grpc::InsecureChannelCredentials()));
      while (!stop) {
        grpc::ClientContext context;
        v1::IsImportAllowedResponse response;
        if (!stub->IsImportAllowed(&context, it::TeeRequest(), &response).ok())
          ++failures;
        ++calls;
      }
    });
  }

  // Revision 2 appears in the watched directory: picked up, no restart.
  PublishRevision(2);
  EXPECT_TRUE(WaitForRevision(2)) << server_->output();

  // An unsigned revision 3 is refused and reported; 2 keeps answering.
  PublishFile(Build(3, /*sign=*/false));
  grpc::ClientContext reload_context;
  adminv1::ReloadResponse reload;
  ASSERT_TRUE(admin_->Reload(&reload_context, {}, &reload).ok());
  EXPECT_EQ(reload.outcome(), adminv1::RELOAD_OUTCOME_REFUSED);
  EXPECT_THAT(reload.message(), HasSubstr("not signed"));
  EXPECT_EQ(AnsweringRevision(), 2u);
  EXPECT_FALSE(Status().last_attempt().activated());

  // Signed, it goes through on SIGHUP (or the watcher, whichever is first).
  fs::remove(dir_ / "published" / "marketplace-id-3.igb");
  PublishRevision(3);
  server_->Signal(SIGHUP);
  EXPECT_TRUE(WaitForRevision(3)) << server_->output();

  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(calls.load(), 0);

  // Restart with a broken source: the persisted revision 3 still serves.
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  fs::remove_all(dir_ / "published");
  fs::create_directories(dir_ / "published");
  std::ofstream(dir_ / "published" / "marketplace-id-9.igb") << "torn";
  StartServer();
  EXPECT_EQ(AnsweringRevision(), 3u);
  adminv1::GetStatusResponse status = Status();
  EXPECT_THAT(status.active().source(), HasSubstr("/state/bundles/"));
  EXPECT_FALSE(status.last_attempt().activated());
  EXPECT_THAT(status.last_attempt().error(), HasSubstr("marketplace-id-9.igb"));
  EXPECT_THAT(server_->output(), HasSubstr("serving the last known good"));

  // An explicit rollback to revision 2, kept in the state directory.
  grpc::ClientContext rollback_context;
  adminv1::RollbackRequest rollback_request;
  rollback_request.set_revision(2);
  adminv1::RollbackResponse rollback;
  ASSERT_TRUE(
      admin_->Rollback(&rollback_context, rollback_request, &rollback).ok());
  EXPECT_EQ(rollback.outcome(), adminv1::RELOAD_OUTCOME_ACTIVATED)
      << rollback.message();
  EXPECT_EQ(AnsweringRevision(), 2u);
}

// A remote source: the server polls nginx for a signed bundle file and
// its signature, picks up a new revision within a poll, refuses an
// unsigned one, reports the source's failures, and restarts on its last
// known good revision while the server is down.
TEST_F(HotReloadTest, RemoteSourceOverHttp) {
  const fs::path www = dir_ / "www";
  fs::create_directories(www);
  auto publish = [&](const std::string& file) { PublishOver(www, file); };
  publish(Build(1));
  auto nginx = std::make_unique<it::Nginx>(Path("nginx"), www.string());
  ASSERT_NE(nginx->port(), 0);
  bundle_ = nginx->Url("/marketplace-id.igb");

  // Remote and unsigned: refused at start unless explicitly allowed.
  std::string output;
  ServerProcess unsigned_server(
      {"--listen=127.0.0.1:0", "--bundle=" + bundle_});
  EXPECT_EQ(unsigned_server.Stop(0), 1);
  EXPECT_THAT(unsigned_server.output(), HasSubstr("--verify_key"));

  StartServer();
  EXPECT_EQ(AnsweringRevision(), 1u);
  EXPECT_EQ(Status().active().source(), bundle_);

  publish(Build(2));
  EXPECT_TRUE(WaitForRevision(2)) << server_->output();

  // Unsigned (the signature removed): refused at every poll; 2 serves.
  // (Only revision 3 can be "not signed": revision 2's signature was
  // published with it.)
  publish(Build(3, /*sign=*/false));
  for (int i = 0; i < 200 && Status().last_attempt().error().find(
                                 "not signed") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_FALSE(Status().last_attempt().activated());
  EXPECT_THAT(Status().last_attempt().error(), HasSubstr("not signed"));
  EXPECT_EQ(AnsweringRevision(), 2u);

  // The server down: reported, and a restart comes back on revision 2.
  nginx.reset();
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  StartServer();
  EXPECT_EQ(AnsweringRevision(), 2u);
  EXPECT_THAT(Status().last_attempt().error(), HasSubstr(bundle_));
  EXPECT_THAT(server_->output(), HasSubstr("serving the last known good"));
}

// The registry flow end to end: `importgate bundle push` checks and
// publishes, the server pulls from the tag and follows it; a push that
// would publish a bundle failing its checks or unsigned is refused by the
// tool itself; a pinned digest stays put.
TEST_F(HotReloadTest, RemoteSourceFromARegistry) {
  it::Registry registry(Path("registry"));
  ASSERT_NE(registry.port(), 0);
  const std::string live = registry.Reference("bundles/marketplace-id:live");
  auto push = [&](const std::string& file, const std::string& reference,
                  std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"bundle",
                                     "push",
                                     file,
                                     reference,
                                     "--bundle_plain_http",
                                     "--key=" + Path("pub.pem")};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string output;
    const int status = RunTool(args, &output);
    return std::make_pair(status, output);
  };
  auto [pushed, said] = push(Build(1), live);
  ASSERT_EQ(pushed, 0) << said;
  EXPECT_THAT(said, HasSubstr("manifest sha256:"));
  const std::string pinned = said.substr(
      said.find("--bundle=") + 9,
      said.find('\n', said.find("--bundle=")) - (said.find("--bundle=") + 9));
  EXPECT_THAT(pinned, HasSubstr("@sha256:"));

  // What the tool refuses to publish: unsigned, or failing a check.
  auto [unsigned_status, unsigned_said] = push(Build(2, /*sign=*/false), live);
  EXPECT_EQ(unsigned_status, 1);
  EXPECT_THAT(unsigned_said, HasSubstr("--allow_unsigned"));
  const std::string torn = Path("torn.igb");
  {
    std::ifstream in(Build(2));
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(torn) << bytes.substr(0, bytes.size() / 2);
  }
  auto [torn_status, torn_said] = push(torn, live, {"--allow_unsigned"});
  EXPECT_EQ(torn_status, 1) << torn_said;

  bundle_ = live;
  StartServer({"--bundle_plain_http"});
  EXPECT_EQ(AnsweringRevision(), 1u);
  // The reference, and which manifest it named.
  EXPECT_THAT(Status().active().source(), HasSubstr(live + " (sha256:"));
  auto [second, second_said] = push(Build(2), live);
  ASSERT_EQ(second, 0) << second_said;
  EXPECT_TRUE(WaitForRevision(2)) << server_->output();

  // A replica pinned to the first push's digest stays on revision 1.
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  bundle_ = pinned;
  fs::remove_all(Path("state"));
  StartServer({"--bundle_plain_http"});
  EXPECT_EQ(AnsweringRevision(), 1u);
}

// The fleet (issue 13): three replicas pull one signed bundle from nginx
// while the SDK balances calls over them with round_robin. Revision 2,
// published with a not_before a few seconds ahead, is fetched and held by
// every replica, and all three switch at that instant, within 100 ms of
// each other; no call fails and no caller sees an older revision after a
// newer one. An unsigned revision 3 is refused by all three while 2 keeps
// serving. A replica killed and restarted while nginx is down comes back
// on its last known good revision.
TEST_F(HotReloadTest, AFleetOfThreeSwitchesTogetherAtASignedInstant) {
  const fs::path www = dir_ / "fleet-www";
  fs::create_directories(www);
  PublishOver(www, Build(1));
  auto nginx = std::make_unique<it::Nginx>(Path("fleet-nginx"), www.string());
  ASSERT_NE(nginx->port(), 0);
  const std::string url = nginx->Url("/marketplace-id.igb");
  std::vector<std::vector<std::string>> args;
  std::vector<std::unique_ptr<ServerProcess>> replicas;
  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    args.push_back({"--listen=127.0.0.1:0", "--bundle=" + url,
                    "--verify_key=" + Path("pub.pem"), "--poll_seconds=1",
                    "--state_dir=" + Path(absl::StrCat("fleet-state-", i)),
                    "--shutdown_grace_seconds=1"});
    auto [replica, port] = StartReplica(args.back());
    ASSERT_NE(port, 0);
    replicas.push_back(std::move(replica));
    ports.push_back(port);
  }
  auto status_of = [&](int i) {
    auto admin = adminv1::PolicyAdmin::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", ports[i]),
                            grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    adminv1::GetStatusResponse status;
    EXPECT_TRUE(admin->GetStatus(&context, {}, &status).ok());
    return status;
  };

  // The SDK under load, round_robin over the three.
  client::ClientOptions options;
  for (int port : ports)
    options.replicas.push_back(absl::StrCat("127.0.0.1:", port));
  options.deadline = absl::Seconds(2);
  auto sdk = client::Client::Create(options);
  ASSERT_TRUE(sdk.ok()) << sdk.status();
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failed{0}, backwards{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, client = *sdk] {
      uint64_t last = 0;
      while (!stop) {
        auto result = client.IsImportAllowed(it::TeeRequest());
        ++calls;
        if (!result.ok() ||
            result->source != client::DecisionResult::Source::kServer) {
          ++failed;
          continue;
        }
        if (result->bundle.revision() < last) ++backwards;
        last = result->bundle.revision();
      }
    });
  }

  // Revision 2 at a whole second 10 to 11 s ahead (RFC 3339 as written):
  // room for three polls on a busy machine.
  const absl::Time at =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 11);
  PublishOver(www, Build(2, /*sign=*/true, policy::FormatRfc3339(at)));
  ASSERT_LT(absl::Now() + absl::Seconds(3), at) << "the build took too long";
  // Every replica holds it, checked, before the instant.
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    adminv1::GetStatusResponse status = status_of(i);
    while (!status.has_pending() && absl::Now() < at) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      status = status_of(i);
    }
    EXPECT_EQ(status.pending().bundle().revision(), 2u);
    EXPECT_EQ(status.pending().activates_at().seconds(),
              absl::ToUnixSeconds(at));
    EXPECT_EQ(status.active().ref().revision(), 1u);
  }
  // When each activated it, by its own clock (GetStatus loaded_at).
  std::vector<absl::Time> switched;
  for (int i = 0; i < 3; ++i) {
    adminv1::GetStatusResponse status = status_of(i);
    while (status.active().ref().revision() != 2 &&
           absl::Now() < at + absl::Seconds(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      status = status_of(i);
    }
    ASSERT_EQ(status.active().ref().revision(), 2u) << i;
    switched.push_back(
        absl::FromUnixSeconds(status.active().loaded_at().seconds()) +
        absl::Nanoseconds(status.active().loaded_at().nanos()));
    EXPECT_GE(switched.back(), at) << i;  // never before the instant
  }
  const auto [first, last] =
      std::minmax_element(switched.begin(), switched.end());
  const int64_t spread_us = absl::ToInt64Microseconds(*last - *first);
  RecordProperty("switch_spread_us", std::to_string(spread_us));
  std::cerr << "fleet: the three activated within " << spread_us
            << " us of each other, the first "
            << absl::ToInt64Microseconds(*first - at)
            << " us after the instant\n";
  EXPECT_LE(*last - *first, absl::Milliseconds(100))
      << "activated at " << absl::FormatTime(switched[0]) << ", "
      << absl::FormatTime(switched[1]) << ", " << absl::FormatTime(switched[2]);

  // An unsigned revision 3: refused by all three; 2 keeps serving.
  PublishOver(www, Build(3, /*sign=*/false));
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    adminv1::GetStatusResponse status = status_of(i);
    for (int n = 0; n < 200 && status.last_attempt().error().find(
                                   "not signed") == std::string::npos;
         ++n) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      status = status_of(i);
    }
    EXPECT_THAT(status.last_attempt().error(), HasSubstr("not signed"));
    EXPECT_EQ(status.active().ref().revision(), 2u);
  }
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_GT(calls.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(backwards.load(), 0);

  // Replica 0 killed; nginx down; the replica restarted: back on 2.
  replicas[0]->Stop(SIGKILL);
  nginx.reset();
  auto [restarted, port] = StartReplica(args[0]);
  ASSERT_NE(port, 0);
  auto stub = v1::ImportPolicyService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::IsImportAllowedResponse response;
  ASSERT_TRUE(
      stub->IsImportAllowed(&context, it::TeeRequest(), &response).ok());
  EXPECT_EQ(response.bundle().revision(), 2u);
  EXPECT_THAT(restarted->output(), HasSubstr("serving the last known good"));
}

// The lines of `file` between the lines holding `begin` and `end` that are
// YAML list items ("- value"), values only.
std::vector<std::string> ListItems(const std::string& file,
                                   const std::string& begin,
                                   const std::string& end) {
  std::ifstream in(fs::path(IMPORTGATE_SOURCE_DIR) / file);
  std::vector<std::string> items;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find(begin) != std::string::npos) inside = true;
    if (line.find(end) != std::string::npos) break;
    const size_t dash = line.find("- ");
    if (inside && dash != std::string::npos &&
        line.find_first_not_of(' ') == dash) {
      items.push_back(line.substr(dash + 2));
    }
  }
  return items;
}

// What deploy/kubernetes describes, run on loopback: the server started
// with the Deployment's own arguments (addresses and paths moved into the
// test's directory) and the configmap overlay's --bundle, reading a
// ConfigMap volume laid out as the kubelet lays it out. Its readiness and
// liveness probes' health names answer as the manifest expects, an update
// of the ConfigMap (the kubelet's ..data swap) is hot-reloaded, and
// SIGTERM stops it cleanly.
TEST_F(HotReloadTest, TheKubernetesDeploymentServesFromAConfigMapVolume) {
  std::vector<std::string> args = ListItems(
      "deploy/kubernetes/base/deployment.yaml", "args-begin", "args-end");
  ASSERT_GE(args.size(), 5u);
  std::string bundle_arg;
  {
    std::ifstream in(fs::path(IMPORTGATE_SOURCE_DIR) /
                     "deploy/kubernetes/configmap/bundle-volume.yaml");
    for (std::string line; std::getline(in, line);) {
      const size_t at = line.find("value: --bundle=");
      if (at != std::string::npos) bundle_arg = line.substr(at + 7);
    }
  }
  ASSERT_EQ(bundle_arg, "--bundle=/etc/importgate/bundle");
  args.push_back(bundle_arg);
  // The pod's paths and ports, here.
  const std::map<std::string, std::string> moved = {
      {"--listen=0.0.0.0:50051", "--listen=127.0.0.1:0"},
      {"--admin_listen=127.0.0.1:50052", "--admin_listen=127.0.0.1:0"},
      {"--metrics_listen=0.0.0.0:9464", "--metrics_listen=127.0.0.1:0"},
      {"--state_dir=/var/lib/importgate", "--state_dir=" + Path("state")},
      {"--verify_key=/etc/importgate/keys/bundle-signing.pub.pem",
       "--verify_key=" + Path("pub.pem")},
      {"--bundle=/etc/importgate/bundle", "--bundle=" + Path("configmap")},
  };
  for (std::string& arg : args) {
    auto it = moved.find(arg);
    if (it != moved.end()) {
      arg = it->second;
    } else {
      EXPECT_EQ(arg.find("/"), std::string::npos)
          << arg << ": a path in the manifest this test does not move";
    }
  }
  it::KubeletVolume volume(Path("configmap"));
  auto packed = [&](uint64_t revision) {
    const std::string file = Build(revision);
    return std::vector<policy::SourceFile>{
        {"marketplace-id.igb", it::ReadWholeFile(file)},
        {"marketplace-id.igb.sig", it::ReadWholeFile(file + ".sig")}};
  };
  volume.Publish(packed(1));

  server_ = std::make_unique<ServerProcess>(args);
  const std::string line = server_->WaitForLine("serving on ");
  std::smatch port;
  ASSERT_TRUE(
      std::regex_search(line, port, std::regex("serving on [0-9.]+:([0-9]+)")))
      << server_->output();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port[1].str()),
                                     grpc::InsecureChannelCredentials());
  stub_ = v1::ImportPolicyService::NewStub(channel);
  EXPECT_EQ(AnsweringRevision(), 1u);
  auto health = grpc::health::v1::Health::NewStub(channel);
  for (const char* probe : {"", "importgate.live"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(probe);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok()) << probe;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING)
        << probe;
  }
  volume.Publish(packed(2));
  EXPECT_TRUE(WaitForRevision(2)) << server_->output();
  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->output();
}

TEST_F(HotReloadTest, ToolInspectsAndVerifies) {
  std::string file = Build(5);
  std::string output;
  EXPECT_EQ(RunTool({"bundle", "inspect", file}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("revision: 5"));
  EXPECT_THAT(output, HasSubstr("content_digest: \"sha256:"));
  EXPECT_THAT(output, HasSubstr("algorithm: \"ed25519\""));
  EXPECT_EQ(
      RunTool({"bundle", "verify", file, "--key", Path("pub.pem")}, &output), 0)
      << output;
  EXPECT_THAT(output, HasSubstr("signature verified"));
  // Another key does not verify it.
  ASSERT_EQ(RunTool({"key", "generate", "--private", Path("k2.pem"), "--public",
                     Path("p2.pem")}),
            0);
  EXPECT_EQ(
      RunTool({"bundle", "verify", file, "--key", Path("p2.pem")}, &output), 1);
  EXPECT_THAT(output, HasSubstr("no signature is by a trusted key"));
  // Key rotation: either of two trusted keys will do.
  EXPECT_EQ(RunTool({"bundle", "verify", file, "--key", Path("p2.pem"), "--key",
                     Path("pub.pem")}),
            0);
  // A tampered file is refused.
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-10, std::ios::end);
    f.put('#');
  }
  EXPECT_EQ(RunTool({"bundle", "verify", file}, &output), 1);
  EXPECT_EQ(RunTool({"bundle"}), 2);
}

}  // namespace
}  // namespace importgate
