// A steady load against a running importgate server, for watching a publish
// or a restart from the caller's side: N threads call IsImportAllowed
// without pause (a cross-border T-shirt into ID) and once a second it prints
// the calls made, the calls failed, and the bundle revisions that answered.
//
//   build/bench/load_client --target=127.0.0.1:50051 --threads=8 --seconds=30
//
// Exits 1 if any call failed.
#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "tests/testing/tee_request.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server address");
ABSL_FLAG(int, threads, 8, "concurrent callers");
ABSL_FLAG(int, seconds, 30, "how long to run");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  namespace v1 = importgate::v1;
  const v1::IsImportAllowedRequest request = importgate::testing::TeeRequest();

  std::atomic<bool> stop{false};
  std::atomic<long> calls{0}, failed{0};
  std::mutex mu;
  std::set<uint64_t> revisions;  // seen in the current second
  std::vector<std::thread> threads;
  for (int i = 0; i < absl::GetFlag(FLAGS_threads); ++i) {
    threads.emplace_back([&] {
      auto stub = v1::ImportPolicyService::NewStub(grpc::CreateChannel(
          absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials()));
      while (!stop) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(2));
        v1::IsImportAllowedResponse response;
        grpc::Status s = stub->IsImportAllowed(&context, request, &response);
        ++calls;
        if (!s.ok()) {
          ++failed;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        revisions.insert(response.bundle().revision());
      }
    });
  }
  long last_calls = 0;
  for (int t = 1; t <= absl::GetFlag(FLAGS_seconds); ++t) {
    absl::SleepFor(absl::Seconds(1));
    std::set<uint64_t> seen;
    {
      std::lock_guard<std::mutex> lock(mu);
      seen.swap(revisions);
    }
    long now = calls.load();
    std::printf("t=%ds calls/s=%ld failed=%ld revisions=[%s]\n", t,
                now - last_calls, failed.load(),
                absl::StrJoin(seen, ",").c_str());
    std::fflush(stdout);
    last_calls = now;
  }
  stop = true;
  for (auto& th : threads) th.join();
  std::printf("total calls=%ld failed=%ld\n", calls.load(), failed.load());
  return failed.load() == 0 ? 0 : 1;
}
