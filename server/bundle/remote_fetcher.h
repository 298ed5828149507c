// RemoteFetcher: what a remote bundle source fetches with, whatever the
// protocol: a packed bundle and its signature, fetched again only when
// the server shows that either may have changed. Two kinds:
// HttpFetcher (http_source.h: a URL and URL.sig, conditional GETs) and
// OciFetcher (oci_registry.h: an OCI artifact's manifest, then its blobs).
// What a fetched pair was found to be (accepted, or refused and why) is
// the caller's to remember (source.cc's RemoteSource).
//
// Thread safety: thread-compatible, except Cancel(), which any thread may
// call at any time.
#ifndef IMPORTGATE_SERVER_BUNDLE_REMOTE_FETCHER_H_
#define IMPORTGATE_SERVER_BUNDLE_REMOTE_FETCHER_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace importgate::bundle {

// The largest signature file accepted (as for a file on disk).
inline constexpr size_t kMaxSignatureBytes = 1 << 20;

// A bundle and its signature as the server holds them.
struct FetchedArtifact {
  std::string url;         // where the bundle was fetched (status, logs)
  std::string artifact;    // its bytes
  std::string signatures;  // the .sig text; empty when the server has none
  // A digest of the pair the fetcher has already checked (an OCI
  // manifest's), so the bytes need not be hashed again to tell the pair
  // from the last one; empty: none (the caller hashes the bytes).
  std::string digest;
};

class RemoteFetcher {
 public:
  virtual ~RemoteFetcher() = default;

  // The URL or reference, for status and logs (never with credentials).
  virtual const std::string& url() const = 0;

  // The pair when either may have changed since the last pair this
  // returned (always, the first time and after Forget()); nullopt when the
  // server showed that neither changed. Errors name the URL: NOT_FOUND,
  // PERMISSION_DENIED, UNAVAILABLE, DEADLINE_EXCEEDED, DATA_LOSS (cut short,
  // or bytes that do not match their digest), INVALID_ARGUMENT (over a
  // cap, or not a bundle artifact), CANCELLED (after Cancel()). An error
  // leaves the last pair as it was.
  virtual absl::StatusOr<std::optional<FetchedArtifact>> FetchIfChanged() = 0;

  // Forgets the last pair: the next FetchIfChanged() fetches whole.
  virtual void Forget() = 0;

  // Aborts the transfer in progress (within about a second) and every
  // later one, with CANCELLED: for shutdown.
  virtual void Cancel() = 0;
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_REMOTE_FETCHER_H_
