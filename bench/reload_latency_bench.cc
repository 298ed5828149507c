// Decision latency while bundles are being reloaded, against the same with
// no reload, measured in turns (quiet, reload, quiet, reload, ...) in one
// run so that machine noise affects both alike. One client calls an
// in-process importgate server one call at a time (1x1) over loopback gRPC;
// in "reload" turns another thread keeps activating a 100k-rule bundle
// (alternating two revisions, as an explicit rollback allows), which
// competes for the same two cores, as a real reload would.
//
// Run: build/bench/reload_latency_bench [--rules=100000] [--turn_seconds=2]
//                                       [--turns=4]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/synthetic_bundle.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/app/server.h"
#include "server/bundle/artifact.h"
#include "server/bundle/manager.h"

ABSL_FLAG(int, rules, 100'000, "rules in the reloaded bundle");
ABSL_FLAG(double, turn_seconds, 2.0, "length of one turn");
ABSL_FLAG(int, turns, 4, "turns of each kind");

namespace importgate::bench {
namespace {

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

int Main() {
  const size_t rules = static_cast<size_t>(absl::GetFlag(FLAGS_rules));
  const absl::Duration turn = absl::Seconds(absl::GetFlag(FLAGS_turn_seconds));
  std::string dir = (std::filesystem::temp_directory_path() /
                     absl::StrCat("importgate-reload-bench-", getpid()))
                        .string();
  std::filesystem::create_directories(dir);
  std::string source = dir + "/bundle.igb";
  std::string rev1 = bundle::PackArtifact(SyntheticBundle(rules, 1),
                                          "synthetic", 1, absl::Now(), "bench");
  std::string rev2 = bundle::PackArtifact(SyntheticBundle(rules, 2),
                                          "synthetic", 2, absl::Now(), "bench");
  if (!bundle::WriteFileAtomically(source, rev1).ok()) return 1;

  SystemClock clock;
  bundle::PolicyStore store(&clock);
  bundle::ManagerOptions options;
  options.source = source;
  options.source_options.iso_codes =
      *IsoCodes::LoadFromDirectory(IsoCodes::kDebianDirectory);
  bundle::BundleManager manager(&store, &clock, options);
  app::ServerOptions server_options;
  server_options.listen_address = "127.0.0.1:0";
  auto server =
      app::ImportgateServer::Start(server_options, &store, &clock, &manager);
  if (!server.ok() || !manager.Start().ok()) {
    std::fprintf(stderr, "cannot start\n");
    return 1;
  }
  auto stub = v1::ImportPolicyService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                          grpc::InsecureChannelCredentials()));
  auto requests = SyntheticRequests(rules, 1000);

  std::vector<double> quiet_us, reload_us;
  int reloads = 0, failures = 0;
  size_t next = 0;
  // Warm-up, not measured: connection, caches, allocator.
  for (absl::Time end = absl::Now() + absl::Seconds(1); absl::Now() < end;) {
    grpc::ClientContext context;
    v1::IsImportAllowedResponse response;
    (void)stub->IsImportAllowed(&context, requests[next++ % requests.size()],
                                &response);
  }
  for (int t = 0; t < 2 * absl::GetFlag(FLAGS_turns); ++t) {
    const bool reloading = t % 2 == 1;
    std::atomic<bool> stop{false};
    std::thread reloader;
    if (reloading) {
      reloader = std::thread([&] {
        bool second = true;
        while (!stop) {
          (void)bundle::WriteFileAtomically(source, second ? rev2 : rev1);
          if (manager.Reload(/*allow_rollback=*/true).outcome ==
              bundle::ReloadResult::Outcome::kActivated) {
            ++reloads;
          }
          second = !second;
        }
      });
    }
    std::vector<double>& out = reloading ? reload_us : quiet_us;
    absl::Time end = absl::Now() + turn;
    while (absl::Now() < end) {
      grpc::ClientContext context;
      v1::IsImportAllowedResponse response;
      absl::Time start = absl::Now();
      grpc::Status s = stub->IsImportAllowed(
          &context, requests[next++ % requests.size()], &response);
      out.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
      if (!s.ok()) ++failures;
    }
    stop = true;
    if (reloader.joinable()) reloader.join();
  }
  (*server)->Shutdown(absl::Seconds(1));
  std::filesystem::remove_all(dir);

  size_t nq = quiet_us.size(), nr = reload_us.size();
  double q50 = Percentile(quiet_us, 0.50), q99 = Percentile(quiet_us, 0.99);
  double r50 = Percentile(reload_us, 0.50), r99 = Percentile(reload_us, 0.99);
  std::printf(
      "bundle: %zu rules; %d turns of %.1f s each kind; %d activations "
      "during reload turns; %d failed calls\n",
      rules, absl::GetFlag(FLAGS_turns), absl::ToDoubleSeconds(turn), reloads,
      failures);
  std::printf("%-10s %10s %10s %10s\n", "turns", "calls", "p50 us", "p99 us");
  std::printf("%-10s %10zu %10.1f %10.1f\n", "quiet", nq, q50, q99);
  std::printf("%-10s %10zu %10.1f %10.1f\n", "reloading", nr, r50, r99);
  std::printf("ratio reloading/quiet: p50 %.2fx, p99 %.2fx\n", r50 / q50,
              r99 / q99);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace importgate::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return importgate::bench::Main();
}
