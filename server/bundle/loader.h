// Loading a bundle: read, parse, compile, run its own tests. The result is
// a candidate that PolicyStore may activate; a bundle that fails any step is
// never returned, so it can never become active.
#ifndef IMPORTGATE_SERVER_BUNDLE_LOADER_H_
#define IMPORTGATE_SERVER_BUNDLE_LOADER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/compiler/snapshot.h"
#include "server/policy/bundle_source.h"
#include "server/refdata/iso_codes.h"

namespace importgate::bundle {

// A compiled bundle that passed its own tests. Immutable.
struct LoadedBundle {
  std::shared_ptr<const compiler::PolicySnapshot> snapshot;
  std::string digest;  // "sha256:<hex>" of the source files
  std::string source;  // where it was read from
  size_t test_case_count = 0;
};

// "bundle NAME revision R sha256:... from SOURCE (N rules, M test cases
// passed)", for logs and tools.
std::string DescribeBundle(const LoadedBundle& bundle);

// Parses, compiles and self-tests `files`, which came from `source`.
//
// Returns the loaded bundle, or the first failing step's status with the
// step named: INVALID_ARGUMENT for syntax and compile errors (file:line and
// rule), FAILED_PRECONDITION for failed test cases (each named).
//
// `digest`: ContentDigest(files) when the caller has computed it already
// (an unpacked artifact's, checked); empty: computed here.
absl::StatusOr<std::shared_ptr<const LoadedBundle>> LoadBundle(
    absl::string_view source, absl::Span<const policy::SourceFile> files,
    std::shared_ptr<const IsoCodes> iso_codes, std::string digest = "");

// ReadSourceDirectory(directory), then LoadBundle.
absl::StatusOr<std::shared_ptr<const LoadedBundle>> LoadBundleDirectory(
    absl::string_view directory, std::shared_ptr<const IsoCodes> iso_codes);

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_LOADER_H_
