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

// Reads every *.textproto file under `directory` (recursively; symlinks
// followed), with paths relative to it. Hidden entries (".name") are
// skipped, so editor swap files and Kubernetes' "..data" links do not count
// twice.
//
// Returns NOT_FOUND when `directory` does not exist, INVALID_ARGUMENT when it
// is not a directory or a size limit is exceeded, and INTERNAL (with the
// path and errno text) when a file cannot be read.
absl::StatusOr<std::vector<policy::SourceFile>> ReadSourceDirectory(
    absl::string_view directory);

// "sha256:<64 hex>" over the files in path order, each framed as
// "<path>\0<decimal length>\0<content>", so that renaming or moving bytes
// between files changes the digest. Independent of the order of `files`.
std::string ContentDigest(absl::Span<const policy::SourceFile> files);

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_SOURCE_READER_H_
