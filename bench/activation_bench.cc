// Time to activate bundles of 1k, 100k and 1M rules, stage by stage:
//   Pack        what `importgate bundle build` does after its checks
//   Verify      unpack, per-file SHA-256, content digest, Ed25519 signature
//   Compile     parse the text files and compile the snapshot
//   SelfTest    run the bundle's own test cases
//   Activate    the whole server-side pipeline (LoadArtifactFile: verify,
//               parse, compile, self-test), as a reload pays it
//   ReloadUnchanged  a reload of the source whose bytes are the active
//               bundle's (an opened BundleSource after Accept): read and
//               hashed, found unchanged before any parse
// Run: build/bench/activation_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <memory>

#include "bench/synthetic_bundle.h"
#include "server/bundle/artifact.h"
#include "server/bundle/self_test.h"
#include "server/bundle/signing.h"
#include "server/bundle/source.h"
#include "server/compiler/compiler.h"
#include "server/refdata/iso_codes.h"

namespace importgate::bench {
namespace {

// One prepared bundle per size: sources, packed bytes, a signed file on
// disk and its trusted key.
struct Prepared {
  std::vector<policy::SourceFile> files;
  std::string packed;
  std::string path;
  std::shared_ptr<const bundle::TrustedKeys> keys;
  importgate::policy::v1::BundleSignatures signatures;
  size_t source_bytes = 0;
};

const Prepared& Get(size_t rules) {
  static auto* cache = new std::map<size_t, std::unique_ptr<Prepared>>();
  auto& slot = (*cache)[rules];
  if (slot != nullptr) return *slot;
  slot = std::make_unique<Prepared>();
  Prepared& p = *slot;
  p.files = SyntheticBundle(rules);
  for (const auto& f : p.files) p.source_bytes += f.content.size();
  p.packed =
      bundle::PackArtifact(p.files, "synthetic", 1, absl::Now(), "bench");
  std::string dir = (std::filesystem::temp_directory_path() /
                     absl::StrCat("importgate-bench-", getpid()))
                        .string();
  std::filesystem::create_directories(dir);
  p.path = absl::StrCat(dir, "/synthetic-", rules, ".igb");
  (void)bundle::WriteFileAtomically(p.path, p.packed);
  std::string key = dir + "/key.pem", pub = dir + "/pub.pem";
  if (!std::filesystem::exists(key)) (void)bundle::GenerateKeyPair(key, pub);
  auto signer = bundle::SigningKey::FromPemFile(key);
  auto unpacked = bundle::UnpackArtifact(p.packed);
  auto signature =
      signer->Sign("synthetic", 1, unpacked->manifest.content_digest());
  *p.signatures.add_signatures() = *signature;
  (void)bundle::WriteFileAtomically(p.path + ".sig",
                                    p.signatures.ShortDebugString());
  p.keys = std::make_shared<const bundle::TrustedKeys>(
      *bundle::TrustedKeys::FromPemFiles({pub}));
  return p;
}

void Counters(benchmark::State& state, const Prepared& p) {
  state.counters["rules"] = static_cast<double>(state.range(0));
  state.counters["source_MB"] = static_cast<double>(p.source_bytes) / 1e6;
}

void BM_Pack(benchmark::State& state) {
  const Prepared& p = Get(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        bundle::PackArtifact(p.files, "synthetic", 1, absl::Now(), "bench"));
  }
  Counters(state, p);
}

void BM_Verify(benchmark::State& state) {
  const Prepared& p = Get(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto unpacked = bundle::UnpackArtifact(p.packed);
    absl::Status verified = p.keys->Verify(p.signatures, "synthetic", 1,
                                           unpacked->manifest.content_digest());
    if (!verified.ok()) state.SkipWithError("signature did not verify");
  }
  Counters(state, p);
}

void BM_Compile(benchmark::State& state) {
  const Prepared& p = Get(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto parsed = policy::ParseBundle(p.files);
    auto snapshot = compiler::Compile(*parsed, DebianIsoCodes());
    if (!snapshot.ok()) state.SkipWithError("compile failed");
    benchmark::DoNotOptimize(snapshot);
  }
  Counters(state, p);
}

void BM_SelfTest(benchmark::State& state) {
  const Prepared& p = Get(static_cast<size_t>(state.range(0)));
  auto parsed = policy::ParseBundle(p.files);
  auto snapshot = compiler::Compile(*parsed, DebianIsoCodes());
  for (auto _ : state) {
    absl::Status s = bundle::RunSelfTests(**snapshot, parsed->tests);
    if (!s.ok()) state.SkipWithError("self-test failed");
  }
  Counters(state, p);
}

void BM_Activate(benchmark::State& state) {
  const Prepared& p = Get(static_cast<size_t>(state.range(0)));
  bundle::SourceOptions options;
  options.iso_codes = DebianIsoCodes();
  options.trusted_keys = p.keys;
  for (auto _ : state) {
    auto candidate = bundle::LoadArtifactFile(p.path, options);
    if (!candidate.ok()) state.SkipWithError("activation failed");
    benchmark::DoNotOptimize(candidate);
  }
  Counters(state, p);
}

// Reloads an opened source after Accept(), `rewrite` first writing the
// same bytes again (outside the timing) or not.
void ReloadSameBundle(benchmark::State& state, bool rewrite) {
  const Prepared& p = Get(static_cast<size_t>(state.range(0)));
  bundle::SourceOptions options;
  options.iso_codes = DebianIsoCodes();
  options.trusted_keys = p.keys;
  auto source = bundle::OpenSource(p.path);
  auto first = (*source)->Load(options);
  if (!first.ok() || !first->has_value()) {
    state.SkipWithError("first load failed");
    return;
  }
  (*source)->Accept();
  for (auto _ : state) {
    if (rewrite) {
      state.PauseTiming();
      (void)bundle::WriteFileAtomically(p.path, p.packed);
      state.ResumeTiming();
    }
    auto again = (*source)->Load(options);
    if (!again.ok() || again->has_value()) {
      state.SkipWithError("not found unchanged");
    }
  }
  Counters(state, p);
}

// Nothing touched: the files' metadata is as it was; nothing is read.
void BM_ReloadUnchanged(benchmark::State& state) {
  ReloadSameBundle(state, false);
}

// The same bytes published again (a new file: new inode and times): the
// source reads and unpacks them (each byte hashed for the per-file and
// content digests) and stops before parse, compile and self-tests.
void BM_ReloadSameBytesRewritten(benchmark::State& state) {
  ReloadSameBundle(state, true);
}

#define SIZES \
  Arg(1'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond)
BENCHMARK(BM_Pack)->SIZES;
BENCHMARK(BM_Verify)->SIZES;
BENCHMARK(BM_Compile)->SIZES;
BENCHMARK(BM_SelfTest)->SIZES;
BENCHMARK(BM_Activate)->SIZES;
BENCHMARK(BM_ReloadUnchanged)->SIZES;
BENCHMARK(BM_ReloadSameBytesRewritten)->SIZES;

}  // namespace
}  // namespace importgate::bench

BENCHMARK_MAIN();
