// The policy engine alone, no gRPC: time per decision (validation +
// candidate lookup + resolution + writing the Decision) on synthetic
// bundles of 10, 1k, 100k and 1M rules over a mix of hits and misses; and
// compile time and memory per rule. Bundles are built once per size.
//
// Run: build/bench/engine_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "bench/synthetic_bundle.h"
#include "server/bundle/source_reader.h"
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

// The default bundle (policies/default, run from the repository root):
// 167 weeks of dated rate tables. Arg 0: prices in USD, which need no rate
// (the baseline); arg 1: the same items priced in IDR on dates from
// September 2023 to November 2026, each converted with its week's rate.
void BM_DecideDatedFx(benchmark::State& state) {
  static const auto* snapshot = [] {
    auto files = bundle::ReadSourceDirectory("policies/default");
    if (!files.ok()) {
      std::fprintf(stderr, "run from the repository root: %s\n",
                   files.status().ToString().c_str());
      std::exit(1);
    }
    auto parsed = policy::ParseBundle(*files);
    return new std::shared_ptr<const compiler::PolicySnapshot>(
        *compiler::Compile(*parsed, DebianIsoCodes()));
  }();
  const bool idr = state.range(0) == 1;
  google::protobuf::Arena arena;
  std::vector<const v1::IsImportAllowedRequest*> requests;
  const char* kHs[] = {"8518.30", "8517.13", "6912.00", "9405.21", "4901.99"};
  for (int i = 0; i < 1024; ++i) {
    auto* r =
        google::protobuf::Arena::CreateMessage<v1::IsImportAllowedRequest>(
            &arena);
    r->mutable_item()->set_sku("SKU");
    r->mutable_item()->set_hs_code(kHs[i % 5]);
    r->mutable_item()->set_origin_country("CN");
    r->mutable_item()->mutable_unit_price()->set_currency_code(idr ? "IDR"
                                                                   : "USD");
    r->mutable_item()->mutable_unit_price()->set_units(
        idr ? 1'000'000 + 1'000 * i : 50 + i % 100);
    r->mutable_seller()->set_kind(v1::SELLER_KIND_CROSS_BORDER);
    r->set_destination_country("ID");
    r->set_channel(v1::CHANNEL_CHECKOUT);
    // 2023-09-27 plus up to ~1,150 days.
    r->mutable_evaluation_time()->set_seconds(1'695'772'800 +
                                              int64_t{97'000} * i);
    requests.push_back(r);
  }
  v1::Decision decision;
  size_t i = 0, errors = 0, converted = 0;
  for (auto _ : state) {
    absl::Status s = eval::Evaluate(**snapshot, *requests[i++ & 1023],
                                    absl::UnixEpoch(), &decision);
    errors += !s.ok();
    converted += s.ok() && decision.has_price_conversion();
    benchmark::DoNotOptimize(decision);
  }
  state.counters["converted_share"] =
      static_cast<double>(converted) / static_cast<double>(state.iterations());
  state.counters["error_share"] =
      static_cast<double>(errors) / static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Decide)->Arg(10)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_DecideDatedFx)->Arg(0)->Arg(1);
BENCHMARK(BM_Compile)
    ->Arg(10)
    ->Arg(1'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace importgate::bench

BENCHMARK_MAIN();
