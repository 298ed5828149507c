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

// libcurl's progress callback: non-zero aborts the transfer.
int Progress(void* cancelled, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(cancelled)->load() ? 1 : 0;
}

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
  if (options.timeout < absl::Milliseconds(1) ||
      options.connect_timeout < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError("--bundle_timeout: must be at least 1ms");
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
    const std::string& url, const Validators& validators, size_t max_bytes) {
  if (cancelled_.load()) {
    return absl::CancelledError(absl::StrCat("GET ", url, ": cancelled"));
  }
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);  // keeps the connection cache
  Response response;
  Sink sink{&response.body, max_bytes};
  char error[CURL_ERROR_SIZE] = "";
  const bool https = absl::StartsWithIgnoreCase(url, "https://");
  // What makes the transfer safe must be in effect, or nothing is fetched.
  const char* const scheme = https ? "https" : "http";
  if (curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, scheme) != CURLE_OK ||
      curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, scheme) != CURLE_OK ||
      (!options_.ca_file.empty() &&
       (curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str()) !=
            CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr) != CURLE_OK))) {
    return absl::InternalError(
        "libcurl refused a protocol or CA option; nothing fetched");
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
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
                   static_cast<curl_off_t>(max_bytes));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancelled_);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "importgate-server");
  // Caches on the way revalidate with the server rather than answer 304
  // from what they hold.
  struct curl_slist* headers =
      curl_slist_append(nullptr, "Cache-Control: no-cache");
  if (!validators.etag.empty()) {
    headers = curl_slist_append(
        headers, absl::StrCat("If-None-Match: ", validators.etag).c_str());
  } else if (!validators.last_modified.empty()) {
    headers = curl_slist_append(
        headers,
        absl::StrCat("If-Modified-Since: ", validators.last_modified).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const CURLcode code = curl_easy_perform(curl);
  // Nothing of this call's stack stays pointed at by the handle.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    const std::string detail = absl::StrCat(
        "GET ", url, ": ", error[0] != '\0' ? error : curl_easy_strerror(code));
    switch (code) {
      case CURLE_ABORTED_BY_CALLBACK:
        return absl::CancelledError(absl::StrCat("GET ", url, ": cancelled"));
      case CURLE_OPERATION_TIMEDOUT:
        return absl::DeadlineExceededError(detail);
      case CURLE_PARTIAL_FILE:
        return absl::DataLossError(
            absl::StrCat(detail, " (the body was cut short)"));
      case CURLE_FILESIZE_EXCEEDED:
        return absl::InvalidArgumentError(
            absl::StrCat(detail, " (over the ", max_bytes, "-byte limit)"));
      case CURLE_WRITE_ERROR:
        if (sink.over) {
          return absl::InvalidArgumentError(
              absl::StrCat("GET ", url, ": the body is over the ", max_bytes,
                           "-byte limit"));
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
      now - seen_at_ >= options_.full_fetch_interval) {
    Forget();
  }
  auto artifact = Get(url_, artifact_seen_, options_.max_bytes);
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
    artifact = Get(url_, Validators{}, options_.max_bytes);
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
                         std::move(signature->body)};
}

void HttpFetcher::Forget() {
  artifact_seen_ = signature_seen_ = Validators{};
  seen_at_ = absl::InfinitePast();
}

}  // namespace importgate::bundle
