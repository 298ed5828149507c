#include "server/bundle/source.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <functional>
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
#include "server/bundle/http_source.h"
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

// Whether a refusal was decided by the bytes themselves (so the same
// bytes would be refused again), not by a failure to read them.
bool DecidedByTheBytes(const absl::Status& status) {
  return absl::IsInvalidArgument(status) || absl::IsPermissionDenied(status) ||
         absl::IsFailedPrecondition(status);
}

// Before the checks that parse, compile and self-test a source's bytes
// (each byte read and hashed once by then): `key` names them, and
// returning true stops the load there (the caller knows what those bytes
// were found to be).
using StopBeforeChecks = std::function<bool(const std::string& key)>;

// What names a packed bundle's bytes as far as its checks go: the
// manifest's name and revision, its checked content digest, and its
// signature file's digest.
std::string ArtifactKey(const UnpackedArtifact& unpacked,
                        absl::string_view signatures) {
  const pv1::ArtifactManifest& m = unpacked.manifest;
  return absl::StrCat(m.name(), "\n", m.revision(), "\n", m.content_digest(),
                      ":", signatures.empty() ? "-" : Sha256Hex(signatures));
}

// The checks after unpacking: signature, parse, compile, self-tests.
absl::StatusOr<Candidate> FinishArtifact(const std::string& origin,
                                         UnpackedArtifact unpacked,
                                         std::string bytes,
                                         std::string signatures,
                                         const SourceOptions& options) {
  const pv1::ArtifactManifest& m = unpacked.manifest;

  Candidate candidate;
  candidate.signatures = std::move(signatures);
  if (!Unsigned(options)) {
    pv1::BundleSignatures parsed;
    if (!candidate.signatures.empty() &&
        !google::protobuf::TextFormat::ParseFromString(candidate.signatures,
                                                       &parsed)) {
      return absl::PermissionDeniedError(absl::StrCat(
          origin, kSignatureSuffix, ": does not parse as BundleSignatures"));
    }
    absl::Status verified = options.trusted_keys->Verify(
        parsed, m.name(), m.revision(), m.content_digest());
    if (!verified.ok()) return InFile(origin, verified);
  }

  auto bundle =
      LoadBundle(origin, unpacked.files, options.iso_codes, m.content_digest());
  if (!bundle.ok()) return InFile(origin, bundle.status());
  const auto& snapshot = *(*bundle)->snapshot;
  if (snapshot.name != m.name() || snapshot.revision != m.revision()) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": artifact manifest says ", m.name(), " revision ",
        m.revision(), " but manifest.textproto says ", snapshot.name,
        " revision ", snapshot.revision));
  }
  candidate.bundle = *std::move(bundle);
  candidate.artifact = std::move(bytes);
  return candidate;
}

// A packed file and its signature: read, unpacked (each byte hashed once),
// then `stop` asked, then checked.
absl::StatusOr<std::optional<Candidate>> LoadArtifactPath(
    const std::string& path, const SourceOptions& options,
    const StopBeforeChecks& stop) {
  auto bytes = ReadWholeFile(path, kMaxArtifactBytes);
  if (!bytes.ok()) return bytes.status();
  const std::string sig_path = path + kSignatureSuffix;
  std::string signatures;
  auto sig_text = ReadWholeFile(sig_path, kMaxSignatureBytes);
  if (sig_text.ok()) {
    signatures = *std::move(sig_text);
  } else if (sig_text.status().code() != absl::StatusCode::kNotFound) {
    return sig_text.status();
  }
  auto unpacked = UnpackArtifact(*bytes);
  if (!unpacked.ok()) return InFile(path, unpacked.status());
  if (stop && stop(ArtifactKey(*unpacked, signatures))) return std::nullopt;
  auto candidate = FinishArtifact(path, *std::move(unpacked), *std::move(bytes),
                                  std::move(signatures), options);
  if (!candidate.ok()) return candidate.status();
  return std::optional<Candidate>(*std::move(candidate));
}

// LoadFromSource, asking `stop` (may be null) once the bytes are read and
// hashed: nullopt when it said stop. A directory of packed files is not
// stopped (which file wins depends on every file's checks): it is gated by
// its metadata alone.
absl::StatusOr<std::optional<Candidate>> LoadPath(
    const std::string& path, const SourceOptions& options,
    const StopBeforeChecks& stop) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);  // follows symlinks
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(
        absl::StrCat("bundle source ", path, " does not exist"));
  }
  if (fs::is_regular_file(status)) {
    return LoadArtifactPath(path, options, stop);
  }
  if (!fs::is_directory(status)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a file or directory"));
  }

  // Through a volume's ..data link, as the files are read.
  if (fs::exists(fs::path(ResolveDataDirectory(path)) / policy::kManifestPath,
                 ec)) {
    if (!Unsigned(options)) {
      return absl::PermissionDeniedError(absl::StrCat(
          path,
          ": a source directory cannot be signed; with --verify_key, "
          "publish packed, signed bundles (importgate bundle build, "
          "importgate bundle sign)"));
    }
    auto files = ReadSourceDirectory(path);
    if (!files.ok()) return InFile(path, files.status());
    std::string digest = ContentDigest(*files);
    if (stop && stop(digest)) return std::nullopt;
    auto bundle =
        LoadBundle(path, *files, options.iso_codes, std::move(digest));
    if (!bundle.ok()) return InFile(path, bundle.status());
    Candidate candidate;
    candidate.artifact = PackArtifact(*files, (*bundle)->snapshot->name,
                                      (*bundle)->snapshot->revision,
                                      absl::Now(), "importgate-server");
    candidate.bundle = *std::move(bundle);
    return std::optional<Candidate>(std::move(candidate));
  }

  // A directory of packed bundles: try the newest revision first, ordered
  // by each file's manifest alone (read without the files or any hash).
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
    auto manifest = ReadArtifactManifest(it->path().string());
    if (!manifest.ok()) {
      // A file that cannot be read now (I/O, or gone since the listing)
      // fails this look whole, to be looked at again, rather than be
      // passed over for an older one.
      if (!absl::IsInvalidArgument(manifest.status())) {
        return manifest.status();
      }
      refusals.push_back(std::string(manifest.status().message()));
      continue;
    }
    entries.push_back({manifest->revision(), it->path().string()});
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
    if (!candidate.ok() && !DecidedByTheBytes(candidate.status())) {
      return candidate.status();  // unreadable now: looked at again whole
    }
    if (candidate.ok() &&
        candidate->bundle->snapshot->revision != entry.revision) {
      candidate = absl::InvalidArgumentError(absl::StrCat(
          entry.path, ": its first manifest says revision ", entry.revision,
          ", its bundle revision ", candidate->bundle->snapshot->revision));
    }
    if (candidate.ok()) {
      candidate->skipped = std::move(skipped);
      return std::optional<Candidate>(*std::move(candidate));
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

}  // namespace

absl::StatusOr<Candidate> LoadArtifactBytes(const std::string& origin,
                                            std::string bytes,
                                            std::string signatures,
                                            const SourceOptions& options) {
  auto unpacked = UnpackArtifact(bytes);
  if (!unpacked.ok()) return InFile(origin, unpacked.status());
  return FinishArtifact(origin, *std::move(unpacked), std::move(bytes),
                        std::move(signatures), options);
}

absl::StatusOr<Candidate> LoadArtifactFile(const std::string& path,
                                           const SourceOptions& options) {
  auto loaded = LoadArtifactPath(path, options, nullptr);
  if (!loaded.ok()) return loaded.status();
  return **std::move(loaded);
}

absl::StatusOr<Candidate> LoadFromSource(const std::string& path,
                                         const SourceOptions& options) {
  auto loaded = LoadPath(path, options, nullptr);
  if (!loaded.ok()) return loaded.status();
  return **std::move(loaded);
}

namespace {

// What a load of `path` would read, by metadata alone (nothing read or
// hashed): a file and its signature, or every entry under a directory
// (through a volume's ..data link, hidden entries left out, as the
// loaders walk it) with its type, device, inode, size, and modification
// and change times in nanoseconds; an entry that cannot be stat'ed (a
// dangling link, a signature that is not there) as such. Any write,
// rename, swap, new or removed entry changes it.
//
// Timestamps come from a coarse clock: a file rewritten in place within
// the same tick, at the same size, keeps them. So when any of them is
// under 2 s old, UNAVAILABLE: the caller reads the bytes (their digest
// still spares the checks). INTERNAL when the walk fails.
absl::StatusOr<std::string> MetadataFingerprint(const std::string& path) {
  const int64_t recent = absl::ToUnixNanos(absl::Now() - absl::Seconds(2));
  bool fresh = false;
  auto line = [&](const std::string& entry) {
    struct stat info;
    if (::stat(entry.c_str(), &info) != 0) {
      const int error = errno;
      struct stat link;
      if (::lstat(entry.c_str(), &link) == 0) {
        return absl::StrCat(entry, " unresolved ", error, " ", link.st_ino, " ",
                            link.st_ctim.tv_sec, ".", link.st_ctim.tv_nsec,
                            "\n");
      }
      return absl::StrCat(entry, " absent ", error, "\n");
    }
    const int64_t mtime =
        int64_t{info.st_mtim.tv_sec} * 1'000'000'000 + info.st_mtim.tv_nsec;
    const int64_t ctime =
        int64_t{info.st_ctim.tv_sec} * 1'000'000'000 + info.st_ctim.tv_nsec;
    if (mtime >= recent || ctime >= recent) fresh = true;
    const char type = S_ISREG(info.st_mode)   ? 'f'
                      : S_ISDIR(info.st_mode) ? 'd'
                                              : 'o';
    return absl::StrCat(entry, " ", std::string(1, type), " ", info.st_dev, ":",
                        info.st_ino, " ", info.st_size, " ", mtime, " ", ctime,
                        "\n");
  };
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return absl::NotFoundError(path);
  std::vector<std::string> lines;
  if (fs::is_regular_file(status)) {
    lines = {line(path), line(path + kSignatureSuffix)};
  } else {
    const fs::path root = ResolveDataDirectory(path);
    lines.push_back(line(root.string()));
    fs::recursive_directory_iterator it(
        root, fs::directory_options::follow_directory_symlink, ec);
    for (fs::recursive_directory_iterator end; !ec && it != end;) {
      const std::string name = it->path().filename().string();
      std::error_code type_error;
      if (absl::StartsWith(name, ".")) {
        if (it->is_directory(type_error)) it.disable_recursion_pending();
      } else {
        lines.push_back(line(it->path().string()));
      }
      it.increment(ec);
    }
    if (ec) {
      return absl::InternalError(absl::StrCat(path, ": ", ec.message()));
    }
  }
  if (fresh) {
    return absl::UnavailableError(
        absl::StrCat(path, ": modified within the last 2 s"));
  }
  std::sort(lines.begin(), lines.end());
  return absl::StrJoin(lines, "");
}

// What the bytes last loaded (named by their digest) were found to be,
// so that the same bytes are answered again rather than checked again:
// "unchanged" once accepted, the same refusal once refused. Shared by
// both kinds of source.
class KeptOutcome {
 public:
  using Answer = absl::StatusOr<std::optional<Candidate>>;

  // The kept answer for the bytes of `digest`; nullopt when they must be
  // loaded (new bytes, or no outcome yet).
  std::optional<Answer> For(absl::string_view digest) const {
    if (digest.empty() || digest != digest_) return std::nullopt;
    return Last();
  }
  // The kept answer for the last bytes loaded, whatever their digest.
  std::optional<Answer> Last() const {
    if (state_ == State::kAccepted) return Answer(std::nullopt);
    if (state_ == State::kRefused) return Answer(refusal_);
    return std::nullopt;
  }
  // Whether the last bytes loaded were found to be something.
  bool decided() const {
    return state_ == State::kAccepted || state_ == State::kRefused;
  }
  void Loading(std::string digest) {
    digest_ = std::move(digest);
    state_ = State::kLoaded;
  }
  void Accept() { state_ = State::kAccepted; }
  void Refuse(const absl::Status& why) {
    state_ = State::kRefused;
    refusal_ = why;
  }
  void Forget() {
    digest_.clear();
    state_ = State::kNone;
  }

 private:
  enum class State { kNone, kLoaded, kAccepted, kRefused };
  std::string digest_;  // "" unknown
  State state_ = State::kNone;
  absl::Status refusal_;
};

// A path: what it holds is read only when its metadata changed, and
// checked only when the read bytes (each hashed once) are not the bytes
// last found to be something (KeptOutcome, by their content digest).
class LocalSource final : public BundleSource {
 public:
  explicit LocalSource(std::string path) : path_(std::move(path)) {}
  const std::string& name() const override { return path_; }
  bool remote() const override { return false; }
  absl::StatusOr<std::optional<Candidate>> Load(
      const SourceOptions& options) override {
    // Taken before reading: a change during the read shows next time.
    absl::StatusOr<std::string> metadata = MetadataFingerprint(path_);
    if (metadata.ok() && metadata_ == *metadata && kept_.decided()) {
      return *kept_.Last();  // nothing read, nothing hashed
    }
    metadata_.reset();
    std::optional<KeptOutcome::Answer> kept;
    bool keyed = false;
    auto loaded = LoadPath(path_, options, [&](const std::string& key) {
      keyed = true;
      kept = kept_.For(key);
      if (!kept.has_value()) kept_.Loading(key);
      return kept.has_value();
    });
    if (kept.has_value()) {
      if (metadata.ok()) metadata_ = *std::move(metadata);
      return *std::move(kept);
    }
    if (!loaded.ok() && !DecidedByTheBytes(loaded.status())) {
      // A failure to read, not a verdict on the bytes: nothing is kept,
      // and the next look reads again.
      kept_.Forget();
      return loaded.status();
    }
    // The metadata stands for the outcome: the bytes decided it.
    if (metadata.ok()) metadata_ = *std::move(metadata);
    if (!keyed) kept_.Loading("");  // refused before its bytes were named
    if (!loaded.ok()) {
      kept_.Refuse(loaded.status());
      return loaded.status();
    }
    return std::optional<Candidate>(**std::move(loaded));
  }
  void Accept() override { kept_.Accept(); }
  void Refuse(const absl::Status& why) override { kept_.Refuse(why); }
  void Forget() override {
    kept_.Forget();
    metadata_.reset();
  }
  void Cancel() override {}

 private:
  const std::string path_;
  // MetadataFingerprint at the last load the bytes decided; none: read.
  std::optional<std::string> metadata_;
  KeptOutcome kept_;
};

// A URL or an OCI reference: fetched only when the server shows a change;
// a pair of bytes is checked once (KeptOutcome, by their digest), and its
// outcome answered again while the server holds it.
class RemoteSource final : public BundleSource {
 public:
  explicit RemoteSource(std::unique_ptr<RemoteFetcher> fetcher)
      : fetcher_(std::move(fetcher)) {}
  const std::string& name() const override { return fetcher_->url(); }
  bool remote() const override { return true; }

  absl::StatusOr<std::optional<Candidate>> Load(
      const SourceOptions& options) override {
    // Only a pair found to be something may be taken as unchanged.
    if (!kept_.decided()) Forget();
    auto fetched = fetcher_->FetchIfChanged();
    if (!fetched.ok()) return fetched.status();
    if (!fetched->has_value()) {  // the server showed nothing changed
      if (auto kept = kept_.Last()) return *std::move(kept);
      return absl::UnavailableError(absl::StrCat(
          fetcher_->url(),
          ": the server showed no change to a request without validators"));
    }
    // A server without validators sends the same bytes again: the same
    // pair, found so by the digest the fetcher checked (an OCI manifest's),
    // or else by the unpacked artifact's checked digests (each byte hashed
    // once), before parse, compile and self-tests.
    FetchedArtifact& pair = **fetched;
    std::string key = std::move(pair.digest);
    std::optional<UnpackedArtifact> unpacked;
    if (key.empty()) {
      auto unpacking = UnpackArtifact(pair.artifact);
      if (!unpacking.ok()) {
        kept_.Loading("");
        absl::Status refused = InFile(pair.url, unpacking.status());
        kept_.Refuse(refused);
        return refused;
      }
      key = ArtifactKey(*unpacking, pair.signatures);
      unpacked = *std::move(unpacking);
    }
    if (auto kept = kept_.For(key)) return *std::move(kept);
    kept_.Loading(std::move(key));
    auto candidate =
        unpacked.has_value()
            ? FinishArtifact(pair.url, *std::move(unpacked),
                             std::move(pair.artifact),
                             std::move(pair.signatures), options)
            : LoadArtifactBytes(pair.url, std::move(pair.artifact),
                                std::move(pair.signatures), options);
    if (!candidate.ok()) {
      kept_.Refuse(candidate.status());
      return candidate.status();
    }
    return std::optional<Candidate>(*std::move(candidate));
  }
  void Accept() override { kept_.Accept(); }
  void Refuse(const absl::Status& why) override { kept_.Refuse(why); }
  void Forget() override {
    fetcher_->Forget();
    kept_.Forget();
  }
  void Cancel() override { fetcher_->Cancel(); }

 private:
  const std::unique_ptr<RemoteFetcher> fetcher_;
  KeptOutcome kept_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BundleSource>> OpenSource(
    const std::string& spec, const RemoteOptions& remote) {
  if (IsHttpUrl(spec) || IsOciReference(spec)) {
    RemoteOptions options = remote;
    options.max_bytes = std::min(options.max_bytes, kMaxArtifactBytes);
    std::unique_ptr<RemoteFetcher> fetcher;
    if (IsHttpUrl(spec)) {
      auto http = HttpFetcher::Create(spec, std::move(options));
      if (!http.ok()) return http.status();
      fetcher = *std::move(http);
    } else {
      auto oci = OciFetcher::Create(spec, std::move(options));
      if (!oci.ok()) return oci.status();
      fetcher = *std::move(oci);
    }
    return std::make_unique<RemoteSource>(std::move(fetcher));
  }
  if (const size_t scheme = spec.find("://");
      scheme != std::string::npos && spec.find('/') > scheme) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bundle: ", spec,
                     ": the scheme is not one importgate reads (a path, "
                     "http://, https:// or oci://)"));
  }
  return std::make_unique<LocalSource>(spec);
}

}  // namespace importgate::bundle
