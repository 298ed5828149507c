// HttpGet: one plain HTTP GET with libcurl (Debian libcurl4-openssl-dev),
// for tests that read what the server exposes over HTTP, e.g. /metrics.
// Header-only; link CURL::libcurl.
#ifndef IMPORTGATE_TESTS_TESTING_HTTP_GET_H_
#define IMPORTGATE_TESTS_TESTING_HTTP_GET_H_

#include <curl/curl.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace importgate::testing {

// The body of `url` when it answers 200 within 10 s; UNAVAILABLE with
// curl's error or the HTTP status otherwise.
inline absl::StatusOr<std::string> HttpGet(const std::string& url) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(),
                                              curl_easy_cleanup);
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  std::string body;
  auto append = +[](char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  };
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  const CURLcode code = curl_easy_perform(curl.get());
  if (code != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("GET ", url, ": ", curl_easy_strerror(code)));
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    return absl::UnavailableError(
        absl::StrCat("GET ", url, ": HTTP ", status, ": ", body));
  }
  return body;
}

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_HTTP_GET_H_
