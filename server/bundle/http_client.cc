#include "server/bundle/http_client.h"

#include <curl/curl.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

}  // namespace

absl::Status ValidateRemoteOptions(const RemoteOptions& options) {
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
  return absl::OkStatus();
}

std::string HttpResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

bool SameOrigin(const std::string& a, const std::string& b) {
  using Url = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;
  Url first(curl_url(), &curl_url_cleanup);
  Url second(curl_url(), &curl_url_cleanup);
  if (first == nullptr || second == nullptr ||
      curl_url_set(first.get(), CURLUPART_URL, a.c_str(), 0) != CURLUE_OK ||
      curl_url_set(second.get(), CURLUPART_URL, b.c_str(), 0) != CURLUE_OK) {
    return false;
  }
  auto part = [](CURLU* url, CURLUPart which) {
    char* value = nullptr;
    std::string out;
    if (curl_url_get(url, which, &value, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        value != nullptr) {
      out = value;
    }
    curl_free(value);
    return absl::AsciiStrToLower(out);
  };
  for (CURLUPart which : {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT}) {
    if (part(first.get(), which) != part(second.get(), which)) return false;
  }
  return true;
}

absl::Status HttpStatusError(absl::string_view method, absl::string_view url,
                             long status) {
  const std::string message = absl::StrCat(method, " ", url, ": HTTP ", status);
  if (status == 404 || status == 410) return absl::NotFoundError(message);
  if (status == 401 || status == 403) {
    return absl::PermissionDeniedError(message);
  }
  return absl::UnavailableError(message);
}

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(
    RemoteOptions options) {
  if (!CurlReady()) {
    return absl::InternalError("libcurl could not be initialised");
  }
  std::unique_ptr<HttpClient> client(new HttpClient(std::move(options)));
  if (client->curl_ == nullptr) {
    return absl::InternalError("libcurl could not make a handle");
  }
  return client;
}

HttpClient::HttpClient(RemoteOptions options)
    : options_(std::move(options)), curl_(curl_easy_init()) {}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  const std::string what = absl::StrCat(request.method, " ", request.url);
  if (cancelled_.load()) {
    return absl::CancelledError(absl::StrCat(what, ": cancelled"));
  }
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);  // keeps the connection cache
  HttpResponse response;
  Sink sink{&response.body, request.max_bytes};
  char error[CURL_ERROR_SIZE] = "";
  const bool https = absl::StartsWithIgnoreCase(request.url, "https://");
  // What makes the transfer safe must be in effect, or nothing is sent.
  const char* const scheme = https ? "https" : "http";
  if (curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, scheme) != CURLE_OK ||
      curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, scheme) != CURLE_OK ||
      (!options_.ca_file.empty() &&
       (curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str()) !=
            CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr) != CURLE_OK))) {
    return absl::InternalError(
        "libcurl refused a protocol or CA option; nothing sent");
  }
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  if (request.follow_redirects) {
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    // Never null: libcurl would read the body from a callback (stdin).
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
                     request.body.empty() ? "" : request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    if (request.method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
    }
  } else if (request.method != "GET") {
    return absl::InternalError(
        absl::StrCat(what, ": the method is not one importgate sends"));
  }
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(
      curl, CURLOPT_TIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(
      curl, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  // The cap counts the body as it arrives (Append). Not
  // CURLOPT_MAXFILESIZE: libcurl checks that against the Content-Length of
  // any response (a redirect it follows, a HEAD's, an error's).
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancelled_);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "importgate");
  // No "Expect: 100-continue" round trip before a body.
  struct curl_slist* headers = curl_slist_append(nullptr, "Expect:");
  for (const std::string& header : request.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const CURLcode code = curl_easy_perform(curl);
  // Nothing of this call's stack stays pointed at by the handle.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    const std::string detail = absl::StrCat(
        what, ": ", error[0] != '\0' ? error : curl_easy_strerror(code));
    switch (code) {
      case CURLE_ABORTED_BY_CALLBACK:
        return absl::CancelledError(absl::StrCat(what, ": cancelled"));
      case CURLE_OPERATION_TIMEDOUT:
        return absl::DeadlineExceededError(detail);
      case CURLE_PARTIAL_FILE:
        return absl::DataLossError(
            absl::StrCat(detail, " (the body was cut short)"));
      case CURLE_WRITE_ERROR:
        if (sink.over) {
          return absl::InvalidArgumentError(
              absl::StrCat(what, ": the body is over the ", request.max_bytes,
                           "-byte limit"));
        }
        return absl::UnavailableError(detail);
      default:
        return absl::UnavailableError(detail);
    }
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  char* effective = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK &&
      effective != nullptr) {
    response.effective_url = effective;
  }
  // The last response's headers (request -1), in order.
  for (struct curl_header* header =
           curl_easy_nextheader(curl, CURLH_HEADER, -1, nullptr);
       header != nullptr;
       header = curl_easy_nextheader(curl, CURLH_HEADER, -1, header)) {
    if (header->name == nullptr || header->value == nullptr) continue;
    response.headers.emplace_back(absl::AsciiStrToLower(header->name),
                                  header->value);
  }
  return response;
}

}  // namespace importgate::bundle
