// The floor for the RPC benchmark: a gRPC C++ server on the callback API
// that implements importgate.v1.ImportPolicyService and does nothing: it
// answers every IsImportAllowed with the same fixed response, and every
// batch item likewise. Whatever importgate costs above this is its own.
// With --response_file the fixed response is the one importgate gave to
// the benchmark's request, so that the floor sends (and, with TLS,
// encrypts) as many bytes as importgate does; without it, a minimal ALLOW.
//
//   noop_server --listen=127.0.0.1:0     (prints "serving on HOST:PORT")
//   noop_server --response_file=R.pb     (a binary IsImportAllowedResponse)
//   noop_server --tls_cert_file=C --tls_key_file=K   (TLS, for the TLS mode)
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "importgate/v1/import_policy.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "host:port");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain; with --tls_key_file serves TLS");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key");
ABSL_FLAG(std::string, response_file, "",
          "binary IsImportAllowedResponse to answer with; empty: a minimal "
          "ALLOW");

namespace {

namespace v1 = importgate::v1;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Plaintext, or TLS from the flags: gRPC's plain SSL credentials, with no
// file watching or client certificates: the floor for TLS.
std::shared_ptr<grpc::ServerCredentials> Credentials() {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert_file);
  if (cert.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back(
      {ReadFile(absl::GetFlag(FLAGS_tls_key_file)), ReadFile(cert)});
  return grpc::SslServerCredentials(options);
}

class NoopService final : public v1::ImportPolicyService::CallbackService {
 public:
  // False when --response_file is set but does not hold a response.
  bool Init() {
    const std::string file = absl::GetFlag(FLAGS_response_file);
    if (!file.empty()) return fixed_.ParseFromString(ReadFile(file));
    fixed_.mutable_decision()->set_allowed(true);
    fixed_.mutable_decision()->set_effect(v1::EFFECT_ALLOW);
    fixed_.mutable_bundle()->set_name("noop");
    fixed_.mutable_bundle()->set_revision(1);
    return true;
  }

  grpc::ServerUnaryReactor* IsImportAllowed(
      grpc::CallbackServerContext* context, const v1::IsImportAllowedRequest*,
      v1::IsImportAllowedResponse* response) override {
    *response = fixed_;
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* BatchIsImportAllowed(
      grpc::CallbackServerContext* context,
      const v1::BatchIsImportAllowedRequest* request,
      v1::BatchIsImportAllowedResponse* response) override {
    for (int i = 0; i < request->requests_size(); ++i) {
      *response->add_results()->mutable_response() = fixed_;
    }
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  v1::IsImportAllowedResponse fixed_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  NoopService service;
  if (!service.Init()) {
    std::fprintf(stderr, "--response_file: not an IsImportAllowedResponse\n");
    return 1;
  }
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), Credentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  std::fprintf(stderr, "serving on 127.0.0.1:%d\n", port);
  int sig = 0;
  sigwait(&stop, &sig);
  server->Shutdown();
  return 0;
}
