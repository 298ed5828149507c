#include "server/bundle/http_source.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/bundle/artifact.h"

namespace importgate::bundle {

bool IsHttpUrl(absl::string_view spec) {
  return absl::StartsWithIgnoreCase(spec, "http://") ||
         absl::StartsWithIgnoreCase(spec, "https://");
}

absl::StatusOr<std::unique_ptr<HttpFetcher>> HttpFetcher::Create(
    std::string url, RemoteOptions options) {
  if (!IsHttpUrl(url)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bundle: ", url, " is not an http:// or https:// URL"));
  }
  const absl::string_view rest =
      absl::string_view(url).substr(url.find("://") + 3);
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == absl::string_view::npos ||
      slash + 1 == rest.size() || absl::EndsWith(rest, "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bundle: ", url,
                     " must name a host and a bundle file, e.g. "
                     "https://bundles.example.com/marketplace-id.igb"));
  }
  // Not echoed: it may hold a secret.
  if (rest.substr(0, slash).find('@') != absl::string_view::npos ||
      rest.find_first_of("?#") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "--bundle: a URL with credentials, a query or a fragment is not "
        "accepted (the signature is at the URL's path plus .sig, and the URL "
        "is shown in status and logs)");
  }
  if (absl::Status valid = ValidateRemoteOptions(options); !valid.ok()) {
    return valid;
  }
  auto client = HttpClient::Create(std::move(options));
  if (!client.ok()) return client.status();
  return std::unique_ptr<HttpFetcher>(
      new HttpFetcher(std::move(url), *std::move(client)));
}

HttpFetcher::HttpFetcher(std::string url, std::unique_ptr<HttpClient> client)
    : url_(std::move(url)),
      signature_url_(absl::StrCat(url_, kSignatureSuffix)),
      client_(std::move(client)) {}

absl::StatusOr<HttpFetcher::Response> HttpFetcher::Get(
    const std::string& url, const Validators& validators, size_t max_bytes) {
  HttpRequest request;
  request.url = url;
  request.max_bytes = max_bytes;
  // Caches on the way revalidate with the server rather than answer 304
  // from what they hold.
  request.headers.push_back("Cache-Control: no-cache");
  if (!validators.etag.empty()) {
    request.headers.push_back(absl::StrCat("If-None-Match: ", validators.etag));
  } else if (!validators.last_modified.empty()) {
    request.headers.push_back(
        absl::StrCat("If-Modified-Since: ", validators.last_modified));
  }
  auto sent = client_->Send(request);
  if (!sent.ok()) return sent.status();
  Response response;
  response.status = sent->status;
  response.body = std::move(sent->body);
  if (response.status == 200) {
    response.validators.etag = sent->Header("etag");
    response.validators.last_modified = sent->Header("last-modified");
  }
  return response;
}

namespace {

absl::Status HttpError(const std::string& url, long status) {
  return HttpStatusError("GET", url, status);
}

}  // namespace

absl::StatusOr<std::optional<FetchedArtifact>> HttpFetcher::FetchIfChanged() {
  const absl::Time now = absl::Now();
  const absl::Duration full_fetch = client_->options().full_fetch_interval;
  if (full_fetch > absl::ZeroDuration() && now - seen_at_ >= full_fetch) {
    Forget();
  }
  auto artifact = Get(url_, artifact_seen_, client_->options().max_bytes);
  if (!artifact.ok()) return artifact.status();
  if (artifact->status != 200 && artifact->status != 304) {
    return HttpError(url_, artifact->status);
  }
  // A signature the server does not have is a state, too: unsigned
  // (checked against the keys later), unchanged while it stays absent.
  auto signature = Get(signature_url_, signature_seen_, kMaxSignatureBytes);
  if (!signature.ok()) return signature.status();
  if (signature->status == 404 || signature->status == 410) {
    signature->status = signature_seen_.absent ? 304 : 200;
    signature->body.clear();
    signature->validators = Validators{};
    signature->validators.absent = true;
  }
  if (signature->status != 200 && signature->status != 304) {
    return HttpError(signature_url_, signature->status);
  }
  if (artifact->status == 304 && signature->status == 304) {
    return std::nullopt;
  }
  // One of the pair changed: the other is fetched whole too (an absent
  // signature stays absent, with nothing to fetch).
  if (artifact->status == 304) {
    artifact = Get(url_, Validators{}, client_->options().max_bytes);
    if (!artifact.ok()) return artifact.status();
    if (artifact->status != 200) return HttpError(url_, artifact->status);
  }
  if (signature->status == 304 && !signature->validators.absent) {
    signature = Get(signature_url_, Validators{}, kMaxSignatureBytes);
    if (!signature.ok()) return signature.status();
    if (signature->status == 404 || signature->status == 410) {
      signature->body.clear();
      signature->validators = Validators{};
      signature->validators.absent = true;
    } else if (signature->status != 200) {
      return HttpError(signature_url_, signature->status);
    }
  }
  artifact_seen_ = artifact->validators;
  signature_seen_ = signature->validators;
  seen_at_ = now;
  return FetchedArtifact{url_, std::move(artifact->body),
                         std::move(signature->body), ""};
}

void HttpFetcher::Forget() {
  artifact_seen_ = signature_seen_ = Validators{};
  seen_at_ = absl::InfinitePast();
}

}  // namespace importgate::bundle
