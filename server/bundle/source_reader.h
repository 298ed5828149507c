// Reading a source bundle from disk, and the bundle's content digest.
#ifndef IMPORTGATE_SERVER_BUNDLE_SOURCE_READER_H_
#define IMPORTGATE_SERVER_BUNDLE_SOURCE_READER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/policy/bundle_source.h"

namespace importgate::bundle {

// Largest file and total size a source bundle may have.
inline constexpr size_t kMaxSourceFileBytes = 64 << 20;
inline constexpr size_t kMaxSourceBundleBytes = 1024 << 20;

// The link a Kubernetes ConfigMap or Secret volume keeps in its mount
// directory: "..data" points at a timestamped directory holding the files,
// each top-level name is a symlink through it, and an update writes a new
// timestamped directory and swaps "..data" atomically.
inline constexpr char kDataLink[] = "..data";

// The directory to read for `directory`: where its "..data" link points
// now, when it has one (a ConfigMap volume), so that one read sees one
// revision; otherwise `directory` itself.
std::string ResolveDataDirectory(const std::string& directory);

// Reads a source bundle under `directory` (ResolveDataDirectory first;
// recursively; symlinks followed), with paths relative to it, computed
// lexically: a rules/ symlink elsewhere still holds rules/ files. Hidden
// entries (".name") are skipped, so editor swap files and a volume's
// timestamped directories do not count.
//
// Returns NOT_FOUND when `directory` does not exist; INVALID_ARGUMENT when
// it is not a directory, a size limit is exceeded, or it holds files or
// directories outside the bundle layout (policy::CheckLayoutPath; every one
// is named); and INTERNAL (with the path and errno text) when a file cannot
// be read.
absl::StatusOr<std::vector<policy::SourceFile>> ReadSourceDirectory(
    absl::string_view directory);

// "sha256:<64 hex>" over the files in path order, each framed as
// "<path>\0<decimal length>\0<content>", so that renaming or moving bytes
// between files changes the digest. Independent of the order of `files`.
std::string ContentDigest(absl::Span<const policy::SourceFile> files);

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_SOURCE_READER_H_
