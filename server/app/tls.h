// Server-side TLS and mutual TLS for importgate's listening ports.
//
// The certificate, key and client CA are files that gRPC's own
// FileWatcherCertificateProvider re-reads every `refresh` interval, so a
// rotation (write the new files, then rename them into place) needs no
// restart: new handshakes use the new certificate, and connections already
// open keep theirs until they close. Nothing is cached here.
//
// Thread safety: the functions are pure; the credentials they return are
// shared by gRPC's threads.
#ifndef IMPORTGATE_SERVER_APP_TLS_H_
#define IMPORTGATE_SERVER_APP_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"

namespace importgate::app {

// Whether the server asks callers for a certificate (--tls_client_auth).
enum class ClientAuth {
  kNone,     // never asks
  kRequest,  // asks; a certificate sent must verify against the client CA
  kRequire,  // a certificate that verifies is required to connect
};

// Parses "none", "request" or "require"; INVALID_ARGUMENT otherwise.
absl::StatusOr<ClientAuth> ParseClientAuth(absl::string_view text);

struct TlsFiles {
  std::string cert_file;       // PEM certificate chain, leaf first
  std::string key_file;        // PEM private key of the leaf
  std::string client_ca_file;  // PEM roots for client certificates
  ClientAuth client_auth = ClientAuth::kNone;
  // How often gRPC re-reads the files (whole seconds, at least 1).
  absl::Duration refresh = absl::Seconds(5);
};

// Checks `files` now and returns credentials that keep watching them.
// INVALID_ARGUMENT, naming the flag, when a file is missing, unreadable or
// not PEM of the right kind, when the key does not belong to the
// certificate, or when client_auth is request/require without a client CA
// (or a client CA is given with client_auth none).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files);

}  // namespace importgate::app

#endif  // IMPORTGATE_SERVER_APP_TLS_H_
