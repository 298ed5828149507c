// HttpFetcher: GETs a packed bundle and its signature file over HTTP(S),
// conditionally, so that polling an unchanged bundle costs two small
// requests answered 304 Not Modified.
//
// A bundle at URL is FILE.igb, its signature URL.sig (source.h's layout
// for files). Each poll asks for both with the validators of the last pair
// it fetched whole: If-None-Match (its ETag) or, without one,
// If-Modified-Since (its Last-Modified). When both answer 304 nothing
// changed (RemoteOptions::full_fetch_interval bounds how long that is
// believed). When either changed, both are fetched whole, so a bundle and
// a signature published one after the other are always checked as the
// pair the server holds at that moment. What the pair was found to be
// (accepted, or refused and why) is the caller's to remember
// (source.cc's HttpSource).
//
// Uses libcurl (Debian's libcurl4-openssl-dev): one easy handle, so that
// polls reuse the connection. Redirects are followed (up to 3) only to the
// same scheme: an https source never falls back to http. With a CA file,
// only that file's roots are trusted (not the system's as well). The
// http_proxy/https_proxy/no_proxy environment is honoured, as by curl.
//
// Thread safety: thread-compatible, except Cancel(), which any thread may
// call at any time.
#ifndef IMPORTGATE_SERVER_BUNDLE_HTTP_SOURCE_H_
#define IMPORTGATE_SERVER_BUNDLE_HTTP_SOURCE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>

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
};

// The largest signature file accepted (as for a file on disk).
inline constexpr size_t kMaxSignatureBytes = 1 << 20;

// True for "http://..." and "https://..." in any case (what --bundle
// takes as remote).
bool IsHttpUrl(absl::string_view spec);

// A bundle and its signature as the server holds them.
struct FetchedArtifact {
  std::string url;         // the bundle's URL
  std::string artifact;    // its bytes
  std::string signatures;  // the .sig text; empty when the server has none
};

class HttpFetcher {
 public:
  // INVALID_ARGUMENT naming --bundle when `url` is not an http(s) URL with
  // a host and a bundle file's path, or has credentials, a query or a
  // fragment (the signature's URL is the path plus ".sig", and the URL is
  // shown in status and logs); naming --bundle_ca_file when
  // `options.ca_file` cannot be read; naming --bundle_timeout when
  // `options.timeout` is under 1 ms.
  static absl::StatusOr<std::unique_ptr<HttpFetcher>> Create(
      std::string url, RemoteOptions options);
  ~HttpFetcher();
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;

  const std::string& url() const { return url_; }

  // The bundle and signature when either may have changed since the last
  // pair this returned (always, the first time and after Forget()); nullopt
  // when the server answered 304 for both. Errors name the URL: NOT_FOUND
  // (HTTP 404 or 410 for the bundle; a missing signature is not an error,
  // the signature is then empty), PERMISSION_DENIED (401, 403),
  // UNAVAILABLE (5xx, other statuses, connection and TLS failures, a
  // redirect to another scheme), DEADLINE_EXCEEDED (timeout), DATA_LOSS (a
  // body cut short of its Content-Length), INVALID_ARGUMENT (a body over
  // its cap), CANCELLED (after Cancel()). An error leaves the last pair as
  // it was.
  absl::StatusOr<std::optional<FetchedArtifact>> FetchIfChanged();

  // Forgets the last pair: the next FetchIfChanged() fetches whole.
  void Forget();

  // Aborts the transfer in progress (within about a second) and every
  // later one, with CANCELLED: for shutdown.
  void Cancel() { cancelled_.store(true); }

 private:
  struct Validators {
    std::string etag;
    std::string last_modified;
    bool absent = false;  // the server had no such file (a signature)
  };
  struct Response {
    long status = 0;  // HTTP status code
    std::string body;
    Validators validators;
  };

  HttpFetcher(std::string url, RemoteOptions options);
  absl::StatusOr<Response> Get(const std::string& url,
                               const Validators& validators, size_t max_bytes);

  const std::string url_;
  const std::string signature_url_;
  const RemoteOptions options_;
  void* curl_ = nullptr;  // CURL*
  std::atomic<bool> cancelled_{false};
  // The last pair fetched whole, and when.
  Validators artifact_seen_, signature_seen_;
  absl::Time seen_at_ = absl::InfinitePast();
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_HTTP_SOURCE_H_
