// Bundle sources: where candidates come from. A source is one of
//   - a packed bundle file (FILE.igb, with FILE.igb.sig when signed);
//   - a source bundle directory (holds manifest.textproto);
//   - a directory of packed bundle files, where the newest revision that
//     passes every check wins;
//   - an http:// or https:// URL of a packed bundle file, its signature
//     beside it (URL.sig), polled conditionally (http_source.h);
//   - an oci:// reference to an OCI artifact holding a packed bundle and
//     its signature, in a registry (oci_registry.h).
// Every check that can refuse a candidate runs here, before the store sees
// it: signature, digests, parse, compile, self-tests.
#ifndef IMPORTGATE_SERVER_BUNDLE_SOURCE_H_
#define IMPORTGATE_SERVER_BUNDLE_SOURCE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/bundle/http_source.h"
#include "server/bundle/loader.h"
#include "server/bundle/oci_registry.h"
#include "server/bundle/signing.h"
#include "server/refdata/iso_codes.h"

namespace importgate::bundle {

// Largest packed bundle accepted.
inline constexpr size_t kMaxArtifactBytes = 1024 << 20;

struct SourceOptions {
  std::shared_ptr<const IsoCodes> iso_codes;
  // Null or empty: signatures are not checked. Otherwise only bundles signed
  // by one of these keys load, and source directories (unsigned) are refused.
  std::shared_ptr<const TrustedKeys> trusted_keys;
};

// A candidate that passed every check, and the bytes to persist it.
struct Candidate {
  std::shared_ptr<const LoadedBundle> bundle;
  std::string artifact;    // packed bytes (packed from source directories)
  std::string signatures;  // the .sig file's text; empty when unsigned
  // Directory of packed bundles only: why each newer file was passed over.
  std::vector<std::string> skipped;
};

// Checks and loads packed bundle bytes fetched from `origin` (a path or
// URL, named in errors) with `signatures` (the .sig text; empty when
// there is none). The same checks and errors as LoadArtifactFile.
absl::StatusOr<Candidate> LoadArtifactBytes(const std::string& origin,
                                            std::string bytes,
                                            std::string signatures,
                                            const SourceOptions& options);

// Loads one packed bundle file. Returns the first failing step's status with
// the file named: NOT_FOUND, INVALID_ARGUMENT (torn, tampered, syntax,
// compile, manifest mismatch), PERMISSION_DENIED (signature),
// FAILED_PRECONDITION (bundle tests).
absl::StatusOr<Candidate> LoadArtifactFile(const std::string& path,
                                           const SourceOptions& options);

// Loads the best candidate from `path` (any of the three kinds above). For a
// directory of packed files, the error lists why each one was refused.
absl::StatusOr<Candidate> LoadFromSource(const std::string& path,
                                         const SourceOptions& options);

// A source, opened once and asked for candidates again and again.
//
// Thread safety: thread-compatible (the manager calls it under its source
// lock), except Cancel(), which any thread may call.
class BundleSource {
 public:
  virtual ~BundleSource() = default;

  // The path or URL, for status and logs.
  virtual const std::string& name() const = 0;

  // Whether the source is remote (it is polled, and it must be signed
  // unless --allow_unsigned_remote).
  virtual bool remote() const = 0;

  // The best candidate, every check passed; nullopt when the source shows
  // that it still holds the candidate last Accept()ed (a remote server
  // answered 304 Not Modified, or sent the same bytes). When it shows that
  // it still holds the candidate last Refuse()d, or one that failed its
  // checks, that refusal again, without loading it. Errors as
  // LoadFromSource, and http_source.h's for a URL.
  virtual absl::StatusOr<std::optional<Candidate>> Load(
      const SourceOptions& options) = 0;

  // The last candidate Load() returned is what the store now holds (it
  // was activated, or found to be the active one).
  virtual void Accept() = 0;

  // The last candidate Load() returned was refused by the manager
  // (`why`), e.g. as older than the active revision.
  virtual void Refuse(const absl::Status& why) = 0;

  // Forgets what was accepted or refused: the next Load() fetches and
  // checks whole (after a rollback, so that the source's newer revision
  // is checked against the new floor).
  virtual void Forget() = 0;

  // Aborts a fetch in progress and every later one (shutdown).
  virtual void Cancel() = 0;
};

// Opens `spec`: a URL (http_source.h) or an OCI reference
// (oci_registry.h), reached with `remote`, or a path.
// INVALID_ARGUMENT naming the flag when the URL or `remote` is malformed.
// A path is not read until Load().
absl::StatusOr<std::unique_ptr<BundleSource>> OpenSource(
    const std::string& spec, const RemoteOptions& remote = {});

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_SOURCE_H_
