#include "server/bundle/source.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/text_format.h"
#include "server/bundle/artifact.h"
#include "server/bundle/source_reader.h"

namespace importgate::bundle {
namespace {

namespace fs = std::filesystem;
namespace pv1 = importgate::policy::v1;

absl::Status InFile(const std::string& path, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
}

bool Unsigned(const SourceOptions& options) {
  return options.trusted_keys == nullptr || options.trusted_keys->empty();
}

}  // namespace

absl::StatusOr<Candidate> LoadArtifactFile(const std::string& path,
                                           const SourceOptions& options) {
  auto bytes = ReadWholeFile(path, kMaxArtifactBytes);
  if (!bytes.ok()) return bytes.status();
  auto unpacked = UnpackArtifact(*bytes);
  if (!unpacked.ok()) return InFile(path, unpacked.status());
  const pv1::ArtifactManifest& m = unpacked->manifest;

  Candidate candidate;
  const std::string sig_path = path + kSignatureSuffix;
  auto sig_text = ReadWholeFile(sig_path, 1 << 20);
  if (sig_text.ok()) {
    candidate.signatures = *std::move(sig_text);
  } else if (sig_text.status().code() != absl::StatusCode::kNotFound) {
    return sig_text.status();
  }
  if (!Unsigned(options)) {
    pv1::BundleSignatures signatures;
    if (!candidate.signatures.empty() &&
        !google::protobuf::TextFormat::ParseFromString(candidate.signatures,
                                                       &signatures)) {
      return absl::PermissionDeniedError(
          absl::StrCat(sig_path, ": does not parse as BundleSignatures"));
    }
    absl::Status verified = options.trusted_keys->Verify(
        signatures, m.name(), m.revision(), m.content_digest());
    if (!verified.ok()) return InFile(path, verified);
  }

  auto bundle = LoadBundle(path, unpacked->files, options.iso_codes);
  if (!bundle.ok()) return InFile(path, bundle.status());
  const auto& snapshot = *(*bundle)->snapshot;
  if (snapshot.name != m.name() || snapshot.revision != m.revision()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": artifact manifest says ", m.name(), " revision ",
                     m.revision(), " but manifest.textproto says ",
                     snapshot.name, " revision ", snapshot.revision));
  }
  candidate.bundle = *std::move(bundle);
  candidate.artifact = *std::move(bytes);
  return candidate;
}

absl::StatusOr<Candidate> LoadFromSource(const std::string& path,
                                         const SourceOptions& options) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);  // follows symlinks
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(
        absl::StrCat("bundle source ", path, " does not exist"));
  }
  if (fs::is_regular_file(status)) return LoadArtifactFile(path, options);
  if (!fs::is_directory(status)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a file or directory"));
  }

  if (fs::exists(fs::path(path) / policy::kManifestPath, ec)) {
    if (!Unsigned(options)) {
      return absl::PermissionDeniedError(absl::StrCat(
          path,
          ": a source directory cannot be signed; with --verify_key, "
          "publish packed, signed bundles (importgate bundle build, "
          "importgate bundle sign)"));
    }
    auto files = ReadSourceDirectory(path);
    if (!files.ok()) return InFile(path, files.status());
    auto bundle = LoadBundle(path, *files, options.iso_codes);
    if (!bundle.ok()) return InFile(path, bundle.status());
    Candidate candidate;
    candidate.artifact = PackArtifact(*files, (*bundle)->snapshot->name,
                                      (*bundle)->snapshot->revision,
                                      absl::Now(), "importgate-server");
    candidate.bundle = *std::move(bundle);
    return candidate;
  }

  // A directory of packed bundles: try the newest revision first.
  struct Entry {
    uint64_t revision;
    std::string path;
  };
  std::vector<Entry> entries;
  std::vector<std::string> refusals;
  // A ConfigMap volume: list the revision "..data" points at now.
  const std::string listed = ResolveDataDirectory(path);
  for (fs::directory_iterator it(listed, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (absl::StartsWith(name, ".") || !absl::EndsWith(name, kArtifactSuffix)) {
      continue;
    }
    auto bytes = ReadWholeFile(it->path().string(), kMaxArtifactBytes);
    auto unpacked = bytes.ok()
                        ? UnpackArtifact(*bytes)
                        : absl::StatusOr<UnpackedArtifact>(bytes.status());
    if (!unpacked.ok()) {
      refusals.push_back(absl::StrCat(name, ": ", unpacked.status().message()));
      continue;
    }
    entries.push_back({unpacked->manifest.revision(), it->path().string()});
  }
  if (ec) {
    return absl::InternalError(absl::StrCat(path, ": ", ec.message()));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.revision != b.revision ? a.revision > b.revision : a.path > b.path;
  });
  std::vector<std::string> skipped;
  for (const Entry& entry : entries) {
    auto candidate = LoadArtifactFile(entry.path, options);
    if (candidate.ok()) {
      candidate->skipped = std::move(skipped);
      return candidate;
    }
    skipped.push_back(std::string(candidate.status().message()));
    refusals.push_back(std::string(candidate.status().message()));
  }
  if (entries.empty() && refusals.empty()) {
    return absl::NotFoundError(
        absl::StrCat(path, ": holds no manifest.textproto and no *",
                     kArtifactSuffix, " bundle"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": no bundle in the directory passes every check:\n",
                   absl::StrJoin(refusals, "\n")));
}

}  // namespace importgate::bundle
