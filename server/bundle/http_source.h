// HttpFetcher: GETs a packed bundle and its signature file over HTTP(S),
// conditionally, so that polling an unchanged bundle costs two small
// requests answered 304 Not Modified.
//
// A bundle at URL is FILE.igb, its signature URL.sig (source.h's layout
// for files). Each poll asks for both with If-None-Match (the ETag of the
// last 200) and If-Modified-Since (its Last-Modified); when both answer
// 304 nothing changed (RemoteOptions::full_fetch_interval bounds how long
// that is believed). When either changed, both are fetched whole, so a
// bundle and a signature published one after the other are always checked
// as the pair the server holds at that moment. Validators are kept only
// after the caller Accept()s what it was given: a candidate refused for
// any reason is fetched and checked again at the next poll, never taken
// for "unchanged".
//
// Uses libcurl (Debian's libcurl4-openssl-dev): one easy handle, so that
// polls reuse the connection. Redirects are followed (up to 3) only to the
// same scheme: an https source never falls back to http.
//
// Thread safety: thread-compatible (the manager calls it under its lock).
#ifndef IMPORTGATE_SERVER_BUNDLE_HTTP_SOURCE_H_
#define IMPORTGATE_SERVER_BUNDLE_HTTP_SOURCE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace importgate::bundle {

// How remote sources are reached (--bundle_ca_file, --bundle_timeout).
struct RemoteOptions {
  // PEM roots that an https source's certificate must chain to; empty:
  // the system's roots.
  std::string ca_file;
  // The longest one request may take, connecting included.
  absl::Duration timeout = absl::Seconds(30);
  // The longest connecting may take.
  absl::Duration connect_timeout = absl::Seconds(5);
  // The largest body accepted (a bundle's cap, source.h's
  // kMaxArtifactBytes, by default).
  size_t max_bytes = size_t{1} << 30;
  // A validator can miss a change: nginx's ETag and every Last-Modified
  // are the modification time in whole seconds (with nginx, the size too),
  // so a file replaced within the same second by one of the same size
  // looks unchanged. This long after the last whole fetch, a poll fetches
  // whole again (found unchanged by its digest, at the cost of the
  // transfer). Zero: never.
  absl::Duration full_fetch_interval = absl::Minutes(10);
};

// True for "http://..." and "https://..." (what --bundle takes as remote).
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
  // a host and a path; --bundle_ca_file when `options.ca_file` cannot be
  // read.
  static absl::StatusOr<std::unique_ptr<HttpFetcher>> Create(
      std::string url, RemoteOptions options);
  ~HttpFetcher();
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;

  const std::string& url() const { return url_; }

  // The bundle and signature when either may have changed since the last
  // Accept()ed fetch (always, before one); nullopt when the server answered
  // 304 for both. Errors name the URL: NOT_FOUND (HTTP 404 for the
  // bundle; a missing signature is not an error, the signature is then
  // empty), PERMISSION_DENIED (401, 403), UNAVAILABLE (5xx, other
  // statuses, connection and TLS failures), DEADLINE_EXCEEDED (timeout),
  // DATA_LOSS (a body cut short of its Content-Length), INVALID_ARGUMENT
  // (a body over max_bytes).
  absl::StatusOr<std::optional<FetchedArtifact>> FetchIfChanged();

  // Keeps the validators of the last fetch: the next FetchIfChanged() asks
  // whether anything changed since it.
  void Accept();

  // Forgets the validators: the next FetchIfChanged() fetches whole.
  void Forget();

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
                               const Validators& validators);

  const std::string url_;
  const std::string signature_url_;
  const RemoteOptions options_;
  void* curl_ = nullptr;  // CURL*
  // Accepted: what the next poll asks about.
  Validators artifact_accepted_, signature_accepted_;
  // The last fetch's, kept by Accept().
  Validators artifact_pending_, signature_pending_;
  // When the accepted pair was last fetched whole.
  absl::Time accepted_at_ = absl::InfinitePast(), pending_at_;
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_HTTP_SOURCE_H_
