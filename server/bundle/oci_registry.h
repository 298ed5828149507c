// A packed bundle and its signature as an OCI artifact in a registry
// (the OCI Distribution API, v2): OciFetcher pulls one for --bundle=oci://...,
// PushBundle publishes one for `importgate bundle push`.
//
// The artifact is an OCI image manifest
// (application/vnd.oci.image.manifest.v1+json) with
//   artifactType  application/vnd.importgate.bundle.v1
//   config        the empty descriptor (application/vnd.oci.empty.v1+json,
//                 "{}"), as the OCI 1.1 guidance for artifacts says
//   layers        the packed bundle (application/vnd.importgate.bundle.v1.igb)
//                 and, when signed, its signature file
//                 (application/vnd.importgate.bundle.signature.v1)
//   annotations   org.opencontainers.image.title / .version / .created
// so a registry, `crane manifest` or `oras manifest fetch` shows what it
// is. A manifest with any other layer is refused, so that nothing is
// silently left out.
//
// Pulling: the manifest first, conditionally (If-None-Match with the last
// manifest digest: a registry answers 304 while the tag still points at
// it), its digest checked against the registry's Docker-Content-Digest and
// against the reference when it names a digest; then each blob by digest,
// its size and SHA-256 checked before anything is unpacked. The manifest
// digest names the pair, so an unchanged tag costs one small request and
// no hashing.
//
// Registries are reached over HTTPS (RemoteOptions: CA file, timeouts),
// or plain HTTP with RemoteOptions::plain_http. Access is anonymous until
// a registry answers 401: then its challenge is answered with the
// credentials RemoteOptions::registry_auth_file holds for it, as Docker
// does: `Basic` with them, or `Bearer` with a token fetched from the
// challenge's realm (on the registry's own scheme) with them, or
// anonymously without. Tokens are kept until refused.
//
// Thread safety: OciFetcher is thread-compatible, except Cancel(), which
// any thread may call at any time. PushBundle is thread-safe.
#ifndef IMPORTGATE_SERVER_BUNDLE_OCI_REGISTRY_H_
#define IMPORTGATE_SERVER_BUNDLE_OCI_REGISTRY_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/bundle/http_client.h"
#include "server/bundle/remote_fetcher.h"

namespace importgate::bundle {

inline constexpr char kOciManifestType[] =
    "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciBundleArtifactType[] =
    "application/vnd.importgate.bundle.v1";
inline constexpr char kOciBundleLayerType[] =
    "application/vnd.importgate.bundle.v1.igb";
inline constexpr char kOciSignatureLayerType[] =
    "application/vnd.importgate.bundle.signature.v1";
inline constexpr char kOciEmptyType[] = "application/vnd.oci.empty.v1+json";
// The largest manifest read (the OCI Distribution spec's suggested limit).
inline constexpr size_t kMaxOciManifestBytes = 4 << 20;

// oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:HEX.
struct OciReference {
  std::string registry;    // host[:port]
  std::string repository;  // e.g. "bundles/marketplace-id"
  std::string tag;         // empty when `digest` is set
  std::string digest;      // "sha256:<64 hex>"; empty when `tag` is set

  // "oci://registry/repository:tag" (or "@digest").
  std::string ToString() const;
  // The tag or digest, as the registry's manifest URL takes it.
  const std::string& reference() const { return tag.empty() ? digest : tag; }
};

// True for "oci://..." in any case (what --bundle takes as a registry).
bool IsOciReference(absl::string_view spec);

// Parses `spec`. INVALID_ARGUMENT starting with `flag` (e.g. "--bundle")
// when it is not oci://REGISTRY/REPOSITORY followed by :TAG or
// @sha256:<64 lower-case hex> (repository components as the OCI
// Distribution spec allows: lower-case letters, digits and . _ -
// separators; tags of up to 128 letters, digits, _ . -), or has
// credentials, a query or a fragment.
absl::StatusOr<OciReference> ParseOciReference(absl::string_view spec,
                                               absl::string_view flag);

// A user name and password for one registry.
struct RegistryCredentials {
  std::string username;
  std::string password;
};

// The credentials Docker config.json `file` holds for `registry`
// (host[:port]): its "auths" entry by that key (or "https://" plus it),
// with "auth" (base64 of "user:password") or "username" and "password".
// nullopt when the file has no entry for it. INVALID_ARGUMENT naming
// --bundle_registry_auth_file when the file cannot be read or is not such
// JSON. The password is never put in an error.
absl::StatusOr<std::optional<RegistryCredentials>> ReadRegistryCredentials(
    const std::string& file, const std::string& registry);

// One registry's authorization, as challenges ask for it: sends requests
// with it, and answers one 401 per request (a Basic challenge with the
// credentials; a Bearer challenge with a token from its realm). Only a 401
// from the request's own origin is answered: one from a host a redirect
// led to is returned as it is, so credentials never go to a realm another
// host names. The credentials are read from `auth_file` again at each
// challenge (a rotated Secret is taken up; a file that cannot be read then
// leaves the last ones). Used by one thread at a time.
class RegistryAuth {
 public:
  // `credentials`: what `auth_file` holds for `registry` now (may be
  // empty; `auth_file` may be "").
  RegistryAuth(std::string auth_file, std::string registry,
               std::optional<RegistryCredentials> credentials, bool plain_http)
      : auth_file_(std::move(auth_file)),
        registry_(std::move(registry)),
        credentials_(std::move(credentials)),
        plain_http_(plain_http) {}

  // Sends `request` through `client` with the authorization held; on a 401
  // whose challenge it can answer, gets it and sends once more. The
  // response, whatever its status; PERMISSION_DENIED when a challenge
  // cannot be answered (Basic without credentials, a realm that is not
  // https, a token endpoint that answers 401, 403 or 404 or sends no
  // token), UNAVAILABLE when the token endpoint fails otherwise; naming it.
  absl::StatusOr<HttpResponse> Send(HttpClient& client,
                                    const HttpRequest& request);

 private:
  absl::Status Answer(HttpClient& client, const std::string& challenge,
                      const std::string& url);

  const std::string auth_file_;
  const std::string registry_;
  std::optional<RegistryCredentials> credentials_;
  const bool plain_http_;
  std::string authorization_;  // "Basic ..." or "Bearer ..."; "" anonymous
};

class OciFetcher final : public RemoteFetcher {
 public:
  // INVALID_ARGUMENT naming --bundle for a bad reference, and as
  // ValidateRemoteOptions for bad options.
  static absl::StatusOr<std::unique_ptr<OciFetcher>> Create(
      absl::string_view spec, RemoteOptions options);
  OciFetcher(const OciFetcher&) = delete;
  OciFetcher& operator=(const OciFetcher&) = delete;

  const std::string& url() const override { return name_; }

  // RemoteFetcher; FetchedArtifact::digest is the manifest's digest.
  // Errors name the reference: NOT_FOUND (no such repository, tag or
  // blob), PERMISSION_DENIED (HTTP 401 or 403, or a challenge that cannot
  // be answered), DATA_LOSS (a manifest or
  // blob whose digest or size is not the one named), INVALID_ARGUMENT (a
  // manifest that is not an importgate bundle artifact, saying why, or
  // a blob over its cap), and HttpClient::Send's.
  absl::StatusOr<std::optional<FetchedArtifact>> FetchIfChanged() override;
  void Forget() override { last_manifest_digest_.clear(); }
  void Cancel() override { client_->Cancel(); }

 private:
  OciFetcher(OciReference reference, std::unique_ptr<HttpClient> client,
             RegistryAuth auth);
  // FetchIfChanged, before its errors are named.
  absl::StatusOr<std::optional<FetchedArtifact>> Fetch();
  absl::StatusOr<std::string> GetBlob(const std::string& digest, uint64_t size,
                                      uint64_t max_bytes);

  const OciReference reference_;
  const std::string name_;  // reference_.ToString()
  const std::string base_;  // scheme://registry/v2/repository
  const std::unique_ptr<HttpClient> client_;
  RegistryAuth auth_;
  std::string last_manifest_digest_;  // of the last pair returned
};

// What `importgate bundle push` publishes.
struct OciPush {
  std::string artifact;    // the packed bundle's bytes
  std::string signatures;  // its .sig text; empty: unsigned
  std::string title;       // the file's name, e.g. "marketplace-id.igb"
  // Manifest annotations (org.opencontainers.image.version, ...).
  std::map<std::string, std::string> annotations;
};

// Uploads the blobs the registry does not have yet (HEAD, then POST and
// PUT by digest), then PUTs the manifest under `reference`'s tag. Returns
// the manifest's digest ("sha256:..."), checked against the registry's
// Docker-Content-Digest. INVALID_ARGUMENT when `reference` names a digest
// rather than a tag; the registry's refusals as HttpStatusError, naming
// the request.
absl::StatusOr<std::string> PushBundle(const OciReference& reference,
                                       const OciPush& push,
                                       const RemoteOptions& options);

// Where a blob upload continues: the POST's `location` header resolved
// against `post_url` (a path or a whole URL). UNAVAILABLE when it is empty,
// not a URL, or on another scheme, host or port than `post_url`. Exposed
// for tests.
absl::StatusOr<std::string> UploadLocation(const std::string& post_url,
                                           const std::string& location);

// The manifest PushBundle sends for `push` (its bytes are what the digest
// covers). Exposed for tests.
std::string OciBundleManifest(const OciPush& push);

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_OCI_REGISTRY_H_
