// The floor for the RPC benchmark: a gRPC C++ server on the callback API
// that implements importgate.v1.ImportPolicyService and does nothing: it
// answers every IsImportAllowed with the same fixed response, and every
// batch item likewise. Whatever importgate costs above this is its own.
//
//   noop_server --listen=127.0.0.1:0     (prints "serving on HOST:PORT")
#include <csignal>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "importgate/v1/import_policy.grpc.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "host:port");

namespace {

namespace v1 = importgate::v1;

class NoopService final : public v1::ImportPolicyService::CallbackService {
 public:
  NoopService() {
    fixed_.mutable_decision()->set_allowed(true);
    fixed_.mutable_decision()->set_effect(v1::EFFECT_ALLOW);
    fixed_.mutable_bundle()->set_name("noop");
    fixed_.mutable_bundle()->set_revision(1);
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
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen),
                           grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  std::fprintf(stderr, "serving on 127.0.0.1:%d\n", port);
  int sig = 0;
  sigwait(&stop, &sig);
  server->Shutdown();
  return 0;
}
