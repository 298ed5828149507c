// A throwaway certificate authority for TLS tests, made at test time with
// the openssl command-line tool and the same commands the README shows
// (README "TLS and mutual TLS"): an EC P-256 CA, and certificates it issues
// with the subject alternative names a test asks for.
#ifndef IMPORTGATE_TESTS_TESTING_TEST_PKI_H_
#define IMPORTGATE_TESTS_TESTING_TEST_PKI_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace importgate::testing {

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class TestPki {
 public:
  // Makes ca.crt and ca.key in a new directory under the test's temporary
  // directory.
  explicit TestPki(const std::string& name) {
    dir_ = (std::filesystem::path(::testing::TempDir()) /
            absl::StrCat("pki-", name, "-", ::getpid()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Run(absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
        "-nodes -days 30 -subj '/CN=importgate test CA' "
        "-addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign,cRLSign "
        "-keyout ca.key -out ca.crt"));
  }

  // Issues <file>.crt and <file>.key for common name `cn` with the
  // subjectAltName `san` (e.g. "DNS:localhost,IP:127.0.0.1" or
  // "URI:spiffe://example.org/ops") and the extended key usage `usage`
  // (serverAuth or clientAuth).
  void Issue(const std::string& file, const std::string& cn,
             const std::string& san, const std::string& usage) {
    std::ofstream(Path(file + ".ext"))
        << "subjectAltName=" << san << "\nextendedKeyUsage=" << usage << "\n";
    Run(
        absl::StrCat("openssl req -newkey ec -pkeyopt "
                     "ec_paramgen_curve:P-256 -nodes -subj '/CN=",
                     cn, "' -keyout ", file, ".key -out ", file, ".csr"));
    Run(absl::StrCat("openssl x509 -req -in ", file,
                     ".csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 "
                     "-extfile ",
                     file, ".ext -out ", file, ".crt"));
  }

  std::string Path(const std::string& file) const {
    return (std::filesystem::path(dir_) / file).string();
  }
  std::string Read(const std::string& file) const {
    return ReadWholeFile(Path(file));
  }
  const std::string& dir() const { return dir_; }

 private:
  void Run(const std::string& command) {
    const std::string full =
        absl::StrCat("cd '", dir_, "' && ", command, " >>openssl.log 2>&1");
    ASSERT_EQ(std::system(full.c_str()), 0)
        << full << "\n"
        << ReadWholeFile(Path("openssl.log"));
  }

  std::string dir_;
};

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_TEST_PKI_H_
