// What the client SDK costs on top of the generated stub, and what a cache
// hit costs. An in-process importgate server (the default bundle) answers
// over loopback; the raw stub and the client take turns (A B A B ...) so
// that machine noise hits both alike; the ratio is from this one run.
//
// Run: build/bench/client_bench [--turns=5] [--calls_per_turn=5000]
#include <algorithm>
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "importgate/client/client.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/app/server.h"
#include "server/bundle/loader.h"
#include "tests/testing/tee_request.h"

ABSL_FLAG(int, turns, 5, "turns of each kind");
ABSL_FLAG(int, calls_per_turn, 5000, "unary calls per turn");
ABSL_FLAG(std::string, bundle, "policies/default", "bundle the server serves");

namespace importgate::bench {
namespace {

namespace v1 = importgate::v1;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Main() {
  auto iso = IsoCodes::LoadFromDirectory(IsoCodes::kDebianDirectory);
  auto loaded = bundle::LoadBundleDirectory(absl::GetFlag(FLAGS_bundle), *iso);
  if (!iso.ok() || !loaded.ok()) {
    std::fprintf(stderr,
                 "cannot load the bundle (run from the repository root)\n");
    return 1;
  }
  SystemClock clock;
  bundle::PolicyStore store(&clock);
  (void)store.Activate(*loaded);
  app::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto server = app::ImportgateServer::Start(options, &store, &clock);
  if (!server.ok()) return 1;
  std::string target = absl::StrCat("127.0.0.1:", (*server)->port());

  auto stub = v1::ImportPolicyService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  client::ClientOptions plain;
  plain.target = target;
  plain.deadline = absl::Seconds(1);
  auto sdk = client::Client::Create(plain);
  client::ClientOptions cached = plain;
  cached.cache_max_entries = 1000;
  auto with_cache = client::Client::Create(cached);
  const v1::IsImportAllowedRequest request = importgate::testing::TeeRequest();

  const int n = absl::GetFlag(FLAGS_calls_per_turn);
  std::vector<double> raw_us, client_us;
  int failures = 0;
  for (int t = 0; t < 2 * absl::GetFlag(FLAGS_turns) + 2; ++t) {
    const bool use_client = t % 2 == 1;
    absl::Time start = absl::Now();
    for (int i = 0; i < n; ++i) {
      if (use_client) {
        auto r = sdk->IsImportAllowed(request);
        if (!r.ok() || r->source != client::DecisionResult::Source::kServer)
          ++failures;
      } else {
        grpc::ClientContext context;
        v1::IsImportAllowedResponse response;
        if (!stub->IsImportAllowed(&context, request, &response).ok())
          ++failures;
      }
    }
    double us = absl::ToDoubleMicroseconds(absl::Now() - start) / n;
    if (t >= 2)
      (use_client ? client_us : raw_us).push_back(us);  // 2 warm-up turns
  }

  // Cache hits: one miss to fill, then hits only.
  (void)with_cache->IsImportAllowed(request);
  constexpr int kHits = 1'000'000;
  int misses = 0;
  absl::Time start = absl::Now();
  for (int i = 0; i < kHits; ++i) {
    auto r = with_cache->IsImportAllowed(request);
    if (r->source != client::DecisionResult::Source::kCache) ++misses;
  }
  double hit_ns = absl::ToDoubleNanoseconds(absl::Now() - start) / kHits;
  (*server)->Shutdown(absl::Seconds(1));

  double raw = Median(raw_us), sdk_us = Median(client_us);
  std::printf(
      "unary call, 1x1 over loopback, median of %zu turns x %d calls:\n",
      raw_us.size(), n);
  std::printf("  generated stub   %8.1f us/call\n", raw);
  std::printf("  importgate SDK   %8.1f us/call   ratio %.3fx\n", sdk_us,
              sdk_us / raw);
  std::printf("cache hit through the SDK: %.0f ns/call (%d hits, %d misses)\n",
              hit_ns, kHits, misses);
  std::printf("failed calls: %d\n", failures);
  return failures == 0 && misses == 0 ? 0 : 1;
}

}  // namespace
}  // namespace importgate::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return importgate::bench::Main();
}
