#include "server/bundle/loader.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/bundle/self_test.h"
#include "server/bundle/source_reader.h"
#include "server/compiler/compiler.h"

namespace importgate::bundle {
namespace {

// Prefixes a failing step's message, keeping its code.
absl::Status InStep(absl::string_view step, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat(step, " failed:\n", status.message()));
}

}  // namespace

std::string DescribeBundle(const LoadedBundle& b) {
  return absl::StrCat("bundle ", b.snapshot->name, " revision ",
                      b.snapshot->revision, " ", b.digest, " from ", b.source,
                      " (", b.snapshot->rules.size(), " rules, ",
                      b.test_case_count, " test cases passed)");
}

absl::StatusOr<std::shared_ptr<const LoadedBundle>> LoadBundle(
    absl::string_view source, absl::Span<const policy::SourceFile> files,
    std::shared_ptr<const IsoCodes> iso_codes, std::string digest) {
  auto parsed = policy::ParseBundle(files);
  if (!parsed.ok()) return InStep("parse", parsed.status());
  auto snapshot = compiler::Compile(*parsed, std::move(iso_codes));
  if (!snapshot.ok()) return InStep("compile", snapshot.status());
  if (absl::Status s = RunSelfTests(**snapshot, parsed->tests); !s.ok()) {
    return InStep("bundle tests", s);
  }
  auto bundle = std::make_shared<LoadedBundle>();
  bundle->snapshot = *std::move(snapshot);
  bundle->digest = digest.empty() ? ContentDigest(files) : std::move(digest);
  bundle->source = std::string(source);
  bundle->test_case_count = parsed->tests.size();
  return std::shared_ptr<const LoadedBundle>(std::move(bundle));
}

absl::StatusOr<std::shared_ptr<const LoadedBundle>> LoadBundleDirectory(
    absl::string_view directory, std::shared_ptr<const IsoCodes> iso_codes) {
  auto files = ReadSourceDirectory(directory);
  if (!files.ok()) return InStep("read", files.status());
  return LoadBundle(directory, *files, std::move(iso_codes));
}

}  // namespace importgate::bundle
