// A real nginx (Debian's nginx-light) serving a directory on 127.0.0.1,
// for tests of remote bundle sources: ETags and 304s, 404s, a location that
// answers 503, and TLS with a test CA's certificate. Started by the test on
// a port of its own, in one process (master_process off, so it neither
// forks workers nor changes user), and stopped by PID.
#ifndef IMPORTGATE_TESTS_TESTING_NGINX_H_
#define IMPORTGATE_TESTS_TESTING_NGINX_H_

#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/server_process.h"

namespace importgate::testing {

class Nginx {
 public:
  // Starts nginx serving `root` at /, with TLS when `cert_file` and
  // `key_file` (PEM) are given; the test fails (and port() is 0) when it
  // does not come up. `dir` holds its configuration, logs and temporary
  // files.
  // /to-http/ answers 302 to http://127.0.0.1:`plain_port` (this
  // server's port when 0)/bundles/marketplace-id.igb.
  Nginx(const std::string& dir, const std::string& root,
        const std::string& cert_file = "", const std::string& key_file = "",
        int plain_port = 0)
      : dir_(dir) {
    if (!std::filesystem::exists(kBinary)) {
      ADD_FAILURE() << kBinary
                    << " is missing: install nginx-light (deploy/dev.sh)";
      return;
    }
    std::filesystem::create_directories(dir_ + "/tmp");
    const bool tls = !cert_file.empty();
    for (int attempt = 0; attempt < 5 && process_ == nullptr; ++attempt) {
      port_ = UnusedPort();
      std::ofstream(dir_ + "/nginx.conf") << absl::StrCat(
          "daemon off;\nmaster_process off;\npid ", dir_,
          "/nginx.pid;\nerror_log ", dir_,
          "/error.log;\nevents { worker_connections 64; }\nhttp {\n"
          "  access_log ",
          dir_, "/access.log;\n  client_body_temp_path ", dir_,
          "/tmp/body;\n  proxy_temp_path ", dir_,
          "/tmp/proxy;\n  fastcgi_temp_path ", dir_,
          "/tmp/fastcgi;\n  uwsgi_temp_path ", dir_,
          "/tmp/uwsgi;\n  scgi_temp_path ", dir_,
          "/tmp/scgi;\n  default_type application/octet-stream;\n"
          "  server {\n    listen 127.0.0.1:",
          port_, tls ? " ssl" : "", ";\n",
          tls ? absl::StrCat("    ssl_certificate ", cert_file,
                             ";\n    ssl_certificate_key ", key_file, ";\n")
              : std::string(),
          "    root ", root,
          ";\n    location /unavailable/ { return 503; }\n"
          "    location /forbidden/ { return 403; }\n"
          "    location /to-http/ { return 302 http://127.0.0.1:",
          plain_port > 0 ? plain_port : port_,
          "/bundles/marketplace-id.igb; }\n  }\n}\n");
      auto process = std::make_unique<ServerProcess>(
          std::vector<std::string>{"-p", dir_, "-c", dir_ + "/nginx.conf", "-e",
                                   dir_ + "/error.log"},
          "/usr/sbin/nginx");
      if (WaitUntilListening(port_)) {
        process_ = std::move(process);
      } else {
        process->Stop(SIGKILL);
      }
    }
    EXPECT_NE(process_, nullptr) << "nginx did not start; its error log:\n"
                                 << ReadLog();
    if (process_ == nullptr) port_ = 0;
  }

  ~Nginx() {
    if (process_ != nullptr) process_->Stop(SIGTERM);
  }

  int port() const { return port_; }

  // "http(s)://127.0.0.1:<port><path>".
  std::string Url(const std::string& path, bool tls = false) const {
    return absl::StrCat(tls ? "https" : "http", "://127.0.0.1:", port_, path);
  }

  // How many requests for `path` the access log holds, by status. nginx
  // logs a request after answering it: the count is read until it holds
  // still for 50 ms.
  int Requests(const std::string& path, int status) const {
    int last = Count(path, status);
    for (int i = 0; i < 100; ++i) {
      absl::SleepFor(absl::Milliseconds(50));
      const int now = Count(path, status);
      if (now == last) break;
      last = now;
    }
    return last;
  }

 private:
  static constexpr char kBinary[] = "/usr/sbin/nginx";

  int Count(const std::string& path, int status) const {
    std::ifstream in(dir_ + "/access.log");
    int n = 0;
    const std::string needle = absl::StrCat(" ", path, " HTTP/1.1\" ", status);
    for (std::string line; std::getline(in, line);) {
      if (line.find(needle) != std::string::npos) ++n;
    }
    return n;
  }

  std::string ReadLog() const {
    std::ifstream in(dir_ + "/error.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  const std::string dir_;
  int port_ = 0;
  std::unique_ptr<ServerProcess> process_;
};

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_NGINX_H_
