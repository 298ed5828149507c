#include "server/bundle/http_source.h"

#include <curl/curl.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/bundle/artifact.h"

namespace importgate::bundle {
namespace {

// libcurl's one-time global set-up, before the first handle (thread-safe
// as a function-local static).
bool CurlReady() {
  static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ready;
}

struct Sink {
  std::string* body;
  size_t max_bytes;
  bool over = false;
};

size_t Append(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->body->size() + n > sink->max_bytes) {
    sink->over = true;
    return 0;  // libcurl stops with CURLE_WRITE_ERROR
  }
  sink->body->append(data, n);
  return n;
}

std::string HeaderValue(CURL* curl, const char* name) {
  struct curl_header* header = nullptr;
  if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK ||
      header == nullptr || header->value == nullptr) {
    return "";
  }
  return header->value;
}

}  // namespace

bool IsHttpUrl(absl::string_view spec) {
  return absl::StartsWith(spec, "http://") ||
         absl::StartsWith(spec, "https://");
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
  if (!options.ca_file.empty()) {
    if (auto pem = ReadWholeFile(options.ca_file, 1 << 20); !pem.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--bundle_ca_file: ", pem.status().message()));
    }
  }
  if (!CurlReady()) {
    return absl::InternalError("libcurl could not be initialised");
  }
  std::unique_ptr<HttpFetcher> fetcher(
      new HttpFetcher(std::move(url), std::move(options)));
  if (fetcher->curl_ == nullptr) {
    return absl::InternalError("libcurl could not make a handle");
  }
  return fetcher;
}

HttpFetcher::HttpFetcher(std::string url, RemoteOptions options)
    : url_(std::move(url)),
      signature_url_(absl::StrCat(url_, kSignatureSuffix)),
      options_(std::move(options)),
      curl_(curl_easy_init()) {}

HttpFetcher::~HttpFetcher() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

absl::StatusOr<HttpFetcher::Response> HttpFetcher::Get(
    const std::string& url, const Validators& validators) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);  // keeps the connection cache
  Response response;
  Sink sink{&response.body, options_.max_bytes};
  char error[CURL_ERROR_SIZE] = "";
  const bool https = absl::StartsWith(url, "https://");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, https ? "https" : "http");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(
      curl, CURLOPT_TIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(
      curl, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_bytes));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "importgate-server");
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  struct curl_slist* headers = nullptr;
  if (!validators.etag.empty()) {
    headers = curl_slist_append(
        headers, absl::StrCat("If-None-Match: ", validators.etag).c_str());
  }
  if (!validators.last_modified.empty()) {
    headers = curl_slist_append(
        headers,
        absl::StrCat("If-Modified-Since: ", validators.last_modified).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    const std::string detail = absl::StrCat(
        "GET ", url, ": ", error[0] != '\0' ? error : curl_easy_strerror(code));
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return absl::DeadlineExceededError(detail);
      case CURLE_PARTIAL_FILE:
        return absl::DataLossError(
            absl::StrCat(detail, " (the body was cut short)"));
      case CURLE_FILESIZE_EXCEEDED:
        return absl::InvalidArgumentError(absl::StrCat(
            detail, " (over the ", options_.max_bytes, "-byte limit)"));
      case CURLE_WRITE_ERROR:
        if (sink.over) {
          return absl::InvalidArgumentError(
              absl::StrCat("GET ", url, ": the body is over the ",
                           options_.max_bytes, "-byte limit"));
        }
        return absl::UnavailableError(detail);
      default:
        return absl::UnavailableError(detail);
    }
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (response.status == 200) {
    response.validators.etag = HeaderValue(curl, "ETag");
    response.validators.last_modified = HeaderValue(curl, "Last-Modified");
  }
  return response;
}

namespace {

absl::Status HttpError(const std::string& url, long status) {
  const std::string message = absl::StrCat("GET ", url, ": HTTP ", status);
  if (status == 404 || status == 410) return absl::NotFoundError(message);
  if (status == 401 || status == 403) {
    return absl::PermissionDeniedError(message);
  }
  return absl::UnavailableError(message);
}

}  // namespace

absl::StatusOr<std::optional<FetchedArtifact>> HttpFetcher::FetchIfChanged() {
  const absl::Time now = absl::Now();
  if (options_.full_fetch_interval > absl::ZeroDuration() &&
      now - accepted_at_ >= options_.full_fetch_interval) {
    Forget();
  }
  auto artifact = Get(url_, artifact_accepted_);
  if (!artifact.ok()) return artifact.status();
  if (artifact->status != 200 && artifact->status != 304) {
    return HttpError(url_, artifact->status);
  }
  // A signature the server does not have is a state, too: unsigned
  // (checked against the keys later), unchanged while it stays absent.
  auto absent = [](Response* r) {
    if (r->status != 404 && r->status != 410) return false;
    r->status = 200;
    r->body.clear();
    r->validators = Validators{};
    r->validators.absent = true;
    return true;
  };
  auto signature = Get(signature_url_, signature_accepted_);
  if (!signature.ok()) return signature.status();
  if (absent(&*signature) && signature_accepted_.absent) {
    signature->status = 304;
  }
  if (signature->status != 200 && signature->status != 304) {
    return HttpError(signature_url_, signature->status);
  }
  if (artifact->status == 304 && signature->status == 304) {
    return std::nullopt;
  }
  // One of the pair changed: the other is fetched whole too.
  if (artifact->status == 304) {
    artifact = Get(url_, Validators{});
    if (!artifact.ok()) return artifact.status();
    if (artifact->status != 200) return HttpError(url_, artifact->status);
  }
  if (signature->status == 304) {
    signature = Get(signature_url_, Validators{});
    if (!signature.ok()) return signature.status();
    absent(&*signature);
    if (signature->status != 200) {
      return HttpError(signature_url_, signature->status);
    }
  }
  artifact_pending_ = artifact->validators;
  signature_pending_ = signature->validators;
  pending_at_ = now;
  return FetchedArtifact{url_, std::move(artifact->body),
                         std::move(signature->body)};
}

void HttpFetcher::Accept() {
  artifact_accepted_ = artifact_pending_;
  signature_accepted_ = signature_pending_;
  accepted_at_ = pending_at_;
}

void HttpFetcher::Forget() {
  artifact_accepted_ = signature_accepted_ = Validators{};
}

}  // namespace importgate::bundle
