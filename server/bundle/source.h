// Bundle sources: where candidates come from. A source path is one of
//   - a packed bundle file (FILE.igb, with FILE.igb.sig when signed);
//   - a source bundle directory (holds manifest.textproto);
//   - a directory of packed bundle files, where the newest revision that
//     passes every check wins.
// Every check that can refuse a candidate runs here, before the store sees
// it: signature, digests, parse, compile, self-tests.
#ifndef IMPORTGATE_SERVER_BUNDLE_SOURCE_H_
#define IMPORTGATE_SERVER_BUNDLE_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/bundle/loader.h"
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

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_SOURCE_H_
