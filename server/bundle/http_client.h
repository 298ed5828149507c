// HttpClient: one HTTP(S) request at a time over one libcurl easy handle
// (Debian's libcurl4-openssl-dev), for the remote bundle sources: the
// plain-URL fetcher (http_source.h) and the OCI registry client
// (oci_registry.h). The handle keeps its connections, so polls reuse them.
//
// What makes a transfer safe is set on every request, or nothing is sent:
// only the request's own scheme (an https request never follows a redirect
// to http); with a CA file, only that file's roots are trusted (not the
// system's as well). Redirects are followed (up to 3) when asked. The
// http_proxy/https_proxy/no_proxy environment is honoured, as by curl.
//
// Thread safety: thread-compatible, except Cancel(), which any thread may
// call at any time.
#ifndef IMPORTGATE_SERVER_BUNDLE_HTTP_CLIENT_H_
#define IMPORTGATE_SERVER_BUNDLE_HTTP_CLIENT_H_

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace importgate::bundle {

// How remote sources are reached (--bundle_ca_file, --bundle_timeout).
struct RemoteOptions {
  // PEM roots that an https source's certificate must chain to, and the
  // only ones trusted; empty: the system's roots.
  std::string ca_file;
  // The longest each request may take, connecting included (a poll makes
  // two, or four when the pair changed). At least 1 ms.
  absl::Duration timeout = absl::Seconds(30);
  // The longest connecting may take.
  absl::Duration connect_timeout = absl::Seconds(5);
  // The largest bundle accepted (source.h's kMaxArtifactBytes, at most).
  size_t max_bytes = size_t{1} << 30;
  // A validator can miss a change: nginx's ETag and every Last-Modified
  // are the modification time in whole seconds (with nginx, the size too),
  // so a file replaced within the same second by one of the same size
  // looks unchanged. This long after the last whole fetch, a poll fetches
  // whole again (found unchanged by its digest, at the cost of the
  // transfer). Zero: never.
  absl::Duration full_fetch_interval = absl::Minutes(10);
  // oci:// only: talk to the registry over plain HTTP rather than HTTPS
  // (--bundle_plain_http; a registry on loopback, for tests).
  bool plain_http = false;
  // oci:// only: a Docker config.json with the registry's credentials
  // (--bundle_registry_auth_file; the file a kubernetes.io/dockerconfigjson
  // Secret mounts). Empty: anonymous.
  std::string registry_auth_file;
};

// INVALID_ARGUMENT naming --bundle_timeout or --bundle_ca_file when
// `options` cannot be used.
absl::Status ValidateRemoteOptions(const RemoteOptions& options);

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT or POST
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Sent with PUT and POST; the caller keeps the bytes alive until Send
  // returns (a bundle is not copied per request).
  absl::string_view body;
  size_t max_bytes = 1 << 20;  // the largest response body taken
  bool follow_redirects = true;
};

struct HttpResponse {
  long status = 0;  // HTTP status code
  std::string body;
  // The URL that answered (after redirects).
  std::string effective_url;
  // The final response's headers, names in lower case, in order.
  std::vector<std::pair<std::string, std::string>> headers;
  // The first header named `name` (any case); "" when there is none.
  std::string Header(absl::string_view name) const;
};

// Whether URLs `a` and `b` have the same scheme, host and port (default
// ports made explicit; case-insensitive). False when either is not a URL.
bool SameOrigin(const std::string& a, const std::string& b);

// "GET https://...: HTTP 404" as a status: NOT_FOUND for 404 and 410,
// PERMISSION_DENIED for 401 and 403, UNAVAILABLE for any other.
absl::Status HttpStatusError(absl::string_view method, absl::string_view url,
                             long status);

class HttpClient {
 public:
  // INTERNAL when libcurl cannot be set up. `options` must be valid
  // (ValidateRemoteOptions).
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(
      RemoteOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  const RemoteOptions& options() const { return options_; }

  // Sends `request` and returns the response, whatever its status. Errors
  // name the method and URL: DEADLINE_EXCEEDED (the timeout), DATA_LOSS (a
  // body cut short of its Content-Length), INVALID_ARGUMENT (a body over
  // max_bytes), CANCELLED (after Cancel()), UNAVAILABLE (connection and
  // TLS failures, a redirect to another scheme, anything else).
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request);

  // Aborts the transfer in progress (within about a second) and every
  // later one, with CANCELLED: for shutdown.
  void Cancel() { cancelled_.store(true); }

 private:
  explicit HttpClient(RemoteOptions options);

  const RemoteOptions options_;
  void* curl_ = nullptr;  // CURL*
  std::atomic<bool> cancelled_{false};
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_HTTP_CLIENT_H_
