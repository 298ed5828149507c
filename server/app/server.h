// ImportgateServer: one gRPC server on one port serving the decision API,
// the admin API, grpc.health.v1 (SERVING only while a bundle is active) and
// server reflection. main() and the tests both start it through Start(), so
// tests exercise the same wiring that production runs.
//
// Thread safety: the server serves concurrently; Shutdown() is called by
// its owner, from one thread.
#ifndef IMPORTGATE_SERVER_APP_SERVER_H_
#define IMPORTGATE_SERVER_APP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "server/bundle/policy_store.h"
#include "server/common/clock.h"
#include "server/service/import_policy_service.h"
#include "server/service/policy_admin_service.h"

namespace importgate::app {

struct ServerOptions {
  // host:port; port 0 picks a free port (see ImportgateServer::port()).
  std::string listen_address = "127.0.0.1:50051";
  // Largest BatchIsImportAllowed request.
  int max_batch_items = 1000;
};

class ImportgateServer {
 public:
  // Starts serving. `store` and `clock` must outlive the server; health
  // follows the store (NOT_SERVING until a bundle is active).
  // Returns INVALID_ARGUMENT for bad options, UNAVAILABLE when the address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<ImportgateServer>> Start(
      const ServerOptions& options, bundle::PolicyStore* store,
      const Clock* clock);

  ~ImportgateServer();

  // The port actually bound.
  int port() const { return port_; }

  // Stops accepting calls and lets in-flight calls finish, cancelling those
  // still running after `grace`.
  void Shutdown(absl::Duration grace);

 private:
  ImportgateServer(bundle::PolicyStore* store, const Clock* clock,
                   const ServerOptions& options);

  bundle::PolicyStore* const store_;
  service::ImportPolicyService decisions_;
  service::PolicyAdminService admin_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// The version of this build, e.g. "0.1.0".
const char* ServerVersion();

}  // namespace importgate::app

#endif  // IMPORTGATE_SERVER_APP_SERVER_H_
