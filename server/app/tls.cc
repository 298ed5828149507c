#include "server/app/tls.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "server/common/utf8.h"

namespace importgate::app {
namespace {

absl::Status Invalid(absl::string_view flag, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", what));
}

absl::StatusOr<std::string> ReadFile(absl::string_view flag,
                                     const std::string& path) {
  if (path.empty()) return Invalid(flag, "is required");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Invalid(flag,
                   absl::StrCat(QuoteForMessage(path, 256), " cannot be read"));
  }
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;
using Cert = std::unique_ptr<X509, X509Deleter>;
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM file, or null.
Cert FirstCertificate(const std::string& pem) {
  Bio bio = MemoryBio(pem);
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

}  // namespace

absl::StatusOr<ClientAuth> ParseClientAuth(absl::string_view text) {
  if (text == "none") return ClientAuth::kNone;
  if (text == "request") return ClientAuth::kRequest;
  if (text == "require") return ClientAuth::kRequire;
  return Invalid("--tls_client_auth",
                 absl::StrCat(QuoteForMessage(text),
                              " is not one of none, request, require"));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files) {
  auto cert_pem = ReadFile("--tls_cert_file", files.cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = ReadFile("--tls_key_file", files.key_file);
  if (!key_pem.ok()) return key_pem.status();
  Cert cert = FirstCertificate(*cert_pem);
  if (cert == nullptr) {
    return Invalid("--tls_cert_file",
                   absl::StrCat(QuoteForMessage(files.cert_file, 256),
                                " holds no PEM certificate"));
  }
  Bio key_bio = MemoryBio(*key_pem);
  Key key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return Invalid("--tls_key_file",
                   absl::StrCat(QuoteForMessage(files.key_file, 256),
                                " holds no PEM private key (unencrypted)"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Invalid("--tls_key_file",
                   absl::StrCat(QuoteForMessage(files.key_file, 256),
                                " is not the key of the certificate in ",
                                QuoteForMessage(files.cert_file, 256)));
  }
  const bool wants_clients = files.client_auth != ClientAuth::kNone;
  if (wants_clients) {
    auto ca_pem = ReadFile("--tls_client_ca_file", files.client_ca_file);
    if (!ca_pem.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ca_pem.status().message(),
                       " (--tls_client_auth=request or require verifies "
                       "client certificates against it)"));
    }
    if (FirstCertificate(*ca_pem) == nullptr) {
      return Invalid("--tls_client_ca_file",
                     absl::StrCat(QuoteForMessage(files.client_ca_file, 256),
                                  " holds no PEM certificate"));
    }
  } else if (!files.client_ca_file.empty()) {
    return Invalid("--tls_client_ca_file",
                   "is set but --tls_client_auth is none: set "
                   "--tls_client_auth=request or require");
  }
  const int64_t refresh_seconds =
      std::max<int64_t>(1, absl::ToInt64Seconds(files.refresh));

  auto provider =
      wants_clients ? std::make_shared<
                          grpc::experimental::FileWatcherCertificateProvider>(
                          files.key_file, files.cert_file, files.client_ca_file,
                          static_cast<unsigned int>(refresh_seconds))
                    : std::make_shared<
                          grpc::experimental::FileWatcherCertificateProvider>(
                          files.key_file, files.cert_file,
                          static_cast<unsigned int>(refresh_seconds));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (wants_clients) options.watch_root_certs();
  switch (files.client_auth) {
    case ClientAuth::kNone:
      options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      break;
    case ClientAuth::kRequest:
      options.set_cert_request_type(
          GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
    case ClientAuth::kRequire:
      options.set_cert_request_type(
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::experimental::TlsServerCredentials(options);
  if (credentials == nullptr) {
    return absl::InvalidArgumentError(
        "--tls_cert_file: gRPC refused the TLS configuration");
  }
  return credentials;
}

}  // namespace importgate::app
