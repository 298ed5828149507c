#include "server/app/server.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

#ifndef IMPORTGATE_VERSION
#define IMPORTGATE_VERSION "dev"
#endif

namespace importgate::app {

const char* ServerVersion() { return IMPORTGATE_VERSION; }

ImportgateServer::ImportgateServer(bundle::PolicyStore* store,
                                   const Clock* clock,
                                   const ServerOptions& options)
    : store_(store),
      decisions_(store, clock,
                 service::ImportPolicyServiceOptions{options.max_batch_items}),
      admin_(store, ServerVersion()) {}

ImportgateServer::~ImportgateServer() {
  Shutdown(absl::ZeroDuration());
}

absl::StatusOr<std::unique_ptr<ImportgateServer>> ImportgateServer::Start(
    const ServerOptions& options, bundle::PolicyStore* store,
    const Clock* clock) {
  if (options.max_batch_items < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_batch_items: must be at least 1, got ", options.max_batch_items));
  }
  if (options.listen_address.empty()) {
    return absl::InvalidArgumentError("listen_address: is required");
  }
  // Health and reflection are process-wide switches in gRPC; both are
  // idempotent. Referencing the health descriptor links it in, so that
  // reflection can describe grpc.health.v1.Health too.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  (void)grpc::health::v1::HealthCheckRequest::descriptor();

  std::unique_ptr<ImportgateServer> server(
      new ImportgateServer(store, clock, options));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address,
                           grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(&server->decisions_);
  builder.RegisterService(&server->admin_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("listen_address: cannot listen on ", options.listen_address));
  }
  grpc::HealthCheckServiceInterface* health =
      server->server_->GetHealthCheckService();
  store->SetServingListener([health](bool serving) {
    health->SetServingStatus(serving);
  });
  return server;
}

void ImportgateServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr) return;
  store_->SetServingListener(nullptr);
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoNanoseconds(grace));
  server_->Wait();
  server_.reset();
}

}  // namespace importgate::app
