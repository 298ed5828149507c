// The policy engine alone, no gRPC: time per decision (validation +
// candidate lookup + resolution + writing the Decision) on synthetic
// bundles of 10, 1k, 100k and 1M rules over a mix of hits and misses; and
// compile time and memory per rule. Bundles are built once per size.
//
// Run: build/bench/engine_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>
#include <malloc.h>

#include <map>
#include <memory>

#include "bench/synthetic_bundle.h"
#include "server/compiler/compiler.h"
#include "server/eval/evaluator.h"
#include "server/refdata/iso_codes.h"

namespace importgate::bench {
namespace {

struct Compiled {
  std::shared_ptr<const compiler::PolicySnapshot> snapshot;
  // The server decides a request it has just parsed onto the call's arena,
  // so the request is compact and in cache. The requests here are laid out
  // the same way, one after another on one arena, so that the benchmark
  // measures the engine and not cache misses on requests scattered over a
  // heap that compiling a big bundle has just fragmented.
  google::protobuf::Arena arena;
  std::vector<const v1::IsImportAllowedRequest*> requests;
};

const Compiled& Get(size_t rules) {
  static auto* cache = new std::map<size_t, std::unique_ptr<Compiled>>();
  auto& slot = (*cache)[rules];
  if (slot == nullptr) {
    slot = std::make_unique<Compiled>();
    auto parsed = policy::ParseBundle(SyntheticBundle(rules));
    slot->snapshot = *compiler::Compile(*parsed, DebianIsoCodes());
    for (const auto& request : SyntheticRequests(rules, 4096)) {
      auto* copy =
          google::protobuf::Arena::CreateMessage<v1::IsImportAllowedRequest>(
              &slot->arena);
      copy->CopyFrom(request);
      slot->requests.push_back(copy);
    }
  }
  return *slot;
}

void BM_Decide(benchmark::State& state) {
  const Compiled& c = Get(static_cast<size_t>(state.range(0)));
  v1::Decision decision;
  size_t i = 0, errors = 0, denies = 0;
  for (auto _ : state) {
    const auto& request = *c.requests[i++ & 4095];
    absl::Status s =
        eval::Evaluate(*c.snapshot, request, absl::UnixEpoch(), &decision);
    errors += !s.ok();
    denies += s.ok() && !decision.allowed();
    benchmark::DoNotOptimize(decision);
  }
  state.counters["rules"] = static_cast<double>(state.range(0));
  state.counters["deny_share"] =
      static_cast<double>(denies) / static_cast<double>(state.iterations());
  state.counters["error_share"] =
      static_cast<double>(errors) / static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
}

void BM_Compile(benchmark::State& state) {
  const size_t rules = static_cast<size_t>(state.range(0));
  auto files = SyntheticBundle(rules);
  size_t bytes = 0;
  for (auto _ : state) {
    struct mallinfo2 before = mallinfo2();
    auto parsed = policy::ParseBundle(files);
    auto snapshot = compiler::Compile(*parsed, DebianIsoCodes());
    parsed = absl::StatusOr<policy::ParsedBundle>(absl::CancelledError());
    struct mallinfo2 after = mallinfo2();
    bytes = after.uordblks - before.uordblks;  // what the snapshot keeps
    if (!snapshot.ok()) state.SkipWithError("compile failed");
    benchmark::DoNotOptimize(snapshot);
  }
  state.counters["rules"] = static_cast<double>(rules);
  state.counters["snapshot_bytes_per_rule"] =
      static_cast<double>(bytes) / static_cast<double>(rules);
}

BENCHMARK(BM_Decide)->Arg(10)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_Compile)
    ->Arg(10)
    ->Arg(1'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace importgate::bench

BENCHMARK_MAIN();
