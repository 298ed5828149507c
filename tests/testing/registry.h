// A real OCI registry (Debian's docker-registry, the CNCF Distribution
// registry 2.8) on 127.0.0.1, for tests of the oci:// bundle source and
// `importgate bundle push`: storage in a directory of the test's, plain
// HTTP or TLS with a test CA's certificate, anonymous access or the
// registry's own authentication (htpasswd, or tokens). Started by
// the test on a port of its own and stopped by PID. Its access log (on
// its stderr) counts the requests a test makes.
#ifndef IMPORTGATE_TESTS_TESTING_REGISTRY_H_
#define IMPORTGATE_TESTS_TESTING_REGISTRY_H_

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testing/server_process.h"

namespace importgate::testing {

class Registry {
 public:
  // Starts the registry storing under `dir`, with TLS when `cert_file`
  // and `key_file` (PEM) are given, and `auth` (YAML, e.g. "htpasswd:\n
  // realm: r\n    path: /p\n", indented under the configuration's
  // "auth:") when given; the test fails (and port() is 0) when it does not
  // come up.
  explicit Registry(const std::string& dir, const std::string& cert_file = "",
                    const std::string& key_file = "",
                    const std::string& auth = "")
      : dir_(dir) {
    if (!std::filesystem::exists(kBinary)) {
      ADD_FAILURE() << kBinary
                    << " is missing: install docker-registry (deploy/dev.sh)";
      return;
    }
    std::filesystem::create_directories(dir_ + "/storage");
    for (int attempt = 0; attempt < 5 && process_ == nullptr; ++attempt) {
      port_ = UnusedPort();
      std::ofstream(dir_ + "/config.yml") << absl::StrCat(
          "version: 0.1\n"
          "log:\n  level: warn\n  formatter: text\n"
          "storage:\n  filesystem:\n    rootdirectory: ",
          dir_,
          "/storage\n  delete:\n    enabled: true\n"
          "  maintenance:\n    uploadpurging:\n      enabled: false\n"
          "http:\n  addr: 127.0.0.1:",
          port_, "\n  secret: importgate-test\n",
          cert_file.empty()
              ? std::string()
              : absl::StrCat("  tls:\n    certificate: ", cert_file,
                             "\n    key: ", key_file, "\n"),
          auth.empty() ? std::string() : absl::StrCat("auth:\n", auth));
      auto process = std::make_unique<ServerProcess>(
          std::vector<std::string>{"serve", dir_ + "/config.yml"}, kBinary);
      if (WaitUntilListening(port_)) {
        process_ = std::move(process);
      } else {
        process->Stop(SIGKILL);
      }
    }
    EXPECT_NE(process_, nullptr) << "docker-registry did not start";
    if (process_ == nullptr) port_ = 0;
  }

  ~Registry() {
    if (process_ != nullptr) process_->Stop(SIGTERM);
  }

  int port() const { return port_; }
  // "127.0.0.1:<port>", as an oci:// reference names the registry.
  std::string host() const { return absl::StrCat("127.0.0.1:", port_); }
  // "oci://127.0.0.1:<port>/<repository_and_tag>".
  std::string Reference(const std::string& repository_and_tag) const {
    return absl::StrCat("oci://", host(), "/", repository_and_tag);
  }

  // How many requests "METHOD PATH-PREFIX" got `status`, from the access
  // log read so far and anything more within 200 ms.
  int Requests(const std::string& method, const std::string& path_prefix,
               int status) {
    process_->WaitForLine("\n-never-", absl::Milliseconds(200));
    int n = 0;
    const std::string request = absl::StrCat("\"", method, " ", path_prefix);
    const std::string answered = absl::StrCat(" ", status, " ");
    for (absl::string_view line : absl::StrSplit(process_->output(), '\n')) {
      const size_t at = line.find(request);
      if (at == absl::string_view::npos) continue;
      const size_t end = line.find('"', at + 1);
      if (end != absl::string_view::npos &&
          absl::StartsWith(line.substr(end + 1), answered)) {
        ++n;
      }
    }
    return n;
  }

 private:
  static constexpr char kBinary[] = "/usr/bin/docker-registry";

  const std::string dir_;
  int port_ = 0;
  std::unique_ptr<ServerProcess> process_;
};

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_REGISTRY_H_
