// The packed bundle artifact: one file holding a whole source bundle, so
// that a bundle is published, signed, persisted and activated as one unit.
//
// On disk: kArtifactMagic, then a binary importgate.policy.v1.BundleArtifact.
// Its manifest lists the SHA-256 of every file and the content digest, which
// equals ContentDigest() of the source directory it was built from.
#ifndef IMPORTGATE_SERVER_BUNDLE_ARTIFACT_H_
#define IMPORTGATE_SERVER_BUNDLE_ARTIFACT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "importgate/policy/v1/artifact.pb.h"
#include "server/policy/bundle_source.h"

namespace importgate::bundle {

inline constexpr absl::string_view kArtifactMagic = "IGBUNDL1";
inline constexpr char kArtifactSuffix[] = ".igb";
inline constexpr char kSignatureSuffix[] = ".sig";

// A parsed artifact whose file digests have been checked.
struct UnpackedArtifact {
  importgate::policy::v1::ArtifactManifest manifest;
  std::vector<policy::SourceFile> files;
};

// Packs `files` (a whole source bundle whose manifest names `name` and
// `revision`) into artifact bytes.
std::string PackArtifact(absl::Span<const policy::SourceFile> files,
                         absl::string_view name, uint64_t revision,
                         absl::Time created_at,
                         absl::string_view builder_version);

// Parses artifact bytes and checks them: the magic, the message, every
// file's size and SHA-256 against the manifest, no file missing or extra,
// and the content digest. Returns INVALID_ARGUMENT naming what is wrong (a
// torn or tampered file lands here).
absl::StatusOr<UnpackedArtifact> UnpackArtifact(absl::string_view bytes);

// Reads only the manifest of the artifact file at `path` (its first
// field): name, revision, content digest, without reading, hashing or
// checking the files. For ordering a directory of packed bundles; the one
// chosen is then unpacked whole. NOT_FOUND when it does not exist;
// INTERNAL when it cannot be read (errno's text); INVALID_ARGUMENT when it
// does not start with the magic and a whole manifest.
absl::StatusOr<importgate::policy::v1::ArtifactManifest> ReadArtifactManifest(
    const std::string& path);

// Reads a whole file. NOT_FOUND when it does not exist; INTERNAL on an I/O
// error; INVALID_ARGUMENT when larger than `max_bytes`.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path,
                                          size_t max_bytes);

// Writes `content` to `path` atomically: a temporary file in the same
// directory, fsync, then rename. Readers see the old or the new file, never
// a torn one. INTERNAL (with the path and errno text) on failure.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view content);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_ARTIFACT_H_
