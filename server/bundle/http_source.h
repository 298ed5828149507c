// HttpFetcher: GETs a packed bundle and its signature file over HTTP(S),
// conditionally, so that polling an unchanged bundle costs two small
// requests answered 304 Not Modified. A RemoteFetcher (remote_fetcher.h).
//
// A bundle at URL is FILE.igb, its signature URL.sig (source.h's layout
// for files). Each poll asks for both with the validators of the last pair
// it fetched whole: If-None-Match (its ETag) or, without one,
// If-Modified-Since (its Last-Modified). When both answer 304 nothing
// changed (RemoteOptions::full_fetch_interval bounds how long that is
// believed). When either changed, both are fetched whole, so a bundle and
// a signature published one after the other are always checked as the
// pair the server holds at that moment.
//
// Requests go through one HttpClient (http_client.h: same-scheme
// redirects only, the CA file's roots only).
//
// Thread safety: thread-compatible, except Cancel(), which any thread may
// call at any time.
#ifndef IMPORTGATE_SERVER_BUNDLE_HTTP_SOURCE_H_
#define IMPORTGATE_SERVER_BUNDLE_HTTP_SOURCE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/bundle/http_client.h"
#include "server/bundle/remote_fetcher.h"

namespace importgate::bundle {

// True for "http://..." and "https://..." in any case (what --bundle
// takes as a plain URL).
bool IsHttpUrl(absl::string_view spec);

class HttpFetcher final : public RemoteFetcher {
 public:
  // INVALID_ARGUMENT naming --bundle when `url` is not an http(s) URL with
  // a host and a bundle file's path, or has credentials, a query or a
  // fragment (the signature's URL is the path plus ".sig", and the URL is
  // shown in status and logs); naming --bundle_ca_file when
  // `options.ca_file` cannot be read; naming --bundle_timeout when
  // `options.timeout` is under 1 ms.
  static absl::StatusOr<std::unique_ptr<HttpFetcher>> Create(
      std::string url, RemoteOptions options);
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;

  const std::string& url() const override { return url_; }

  // RemoteFetcher. Errors: NOT_FOUND (HTTP 404 or 410 for the bundle; a
  // missing signature is not an error, the signature is then empty),
  // PERMISSION_DENIED (401, 403), UNAVAILABLE (5xx, other statuses, and
  // HttpClient's), DEADLINE_EXCEEDED, DATA_LOSS, INVALID_ARGUMENT,
  // CANCELLED as HttpClient::Send.
  absl::StatusOr<std::optional<FetchedArtifact>> FetchIfChanged() override;
  void Forget() override;
  void Cancel() override { client_->Cancel(); }

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

  HttpFetcher(std::string url, std::unique_ptr<HttpClient> client);
  absl::StatusOr<Response> Get(const std::string& url,
                               const Validators& validators, size_t max_bytes);

  const std::string url_;
  const std::string signature_url_;
  const std::unique_ptr<HttpClient> client_;
  // The last pair fetched whole, and when.
  Validators artifact_seen_, signature_seen_;
  absl::Time seen_at_ = absl::InfinitePast();
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_HTTP_SOURCE_H_
