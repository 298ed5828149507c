// ImportgateServer: one gRPC server on one port serving the decision API,
// the admin API, grpc.health.v1 (SERVING only while a bundle is active) and
// server reflection. main() and the tests both start it through Start(), so
// tests exercise the same wiring that production runs.
//
// Thread safety: the server serves concurrently; Shutdown() is called by
// its owner, from one thread.
#ifndef IMPORTGATE_SERVER_APP_SERVER_H_
#define IMPORTGATE_SERVER_APP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/bundle/policy_store.h"
#include "server/common/clock.h"
#include "server/metrics/decision_metrics.h"
#include "server/service/import_policy_service.h"
#include "server/service/policy_admin_service.h"

namespace importgate::app {

// Limits on each client connection (gRPC channel arguments), so that one
// caller cannot hold the server's resources and callers rebalance across
// replicas behind a load balancer.
struct ConnectionLimits {
  // HTTP/2 streams (concurrent calls) per connection; further calls queue
  // on the client.
  int max_concurrent_streams = 128;
  // Keepalive pings from a client closer than this (without data) count as
  // strikes; after two, the server closes the connection (ENHANCE_YOUR_CALM,
  // "too_many_pings").
  absl::Duration min_ping_interval = absl::Seconds(10);
  // A connection is closed after this long (GOAWAY, then `grace` for calls
  // in flight), so that clients reconnect and spread over replicas.
  // InfiniteDuration(): never.
  absl::Duration max_connection_age = absl::Minutes(10);
  absl::Duration max_connection_age_grace = absl::Seconds(30);
};

struct ServerOptions {
  // host:port; port 0 picks a free port (see ImportgateServer::port()).
  std::string listen_address = "127.0.0.1:50051";
  // Where the admin API listens. Empty: on listen_address when that is a
  // loopback address or TLS is on (then admin_access decides who may call
  // it), and nowhere otherwise (the admin API is not for every caller).
  std::string admin_listen_address;
  // Per-connection limits, on every port.
  ConnectionLimits limits;
  // How often the health name kFreshHealthName is brought up to date with
  // the store's freshness (bundle::PolicyStore::FreshnessNow).
  absl::Duration freshness_poll = absl::Seconds(1);
  // Credentials of both ports (app/tls.h); null: plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Who may call the admin API; must outlive the server. Null: every
  // caller that reaches its port. With credentials set it must be set.
  service::AdminAccess* admin_access = nullptr;
  // Largest BatchIsImportAllowed request, 1 to kMaxMaxBatchItems. The
  // message size limits follow from it (service/limits.h).
  int max_batch_items = 1000;
  // Where the decision API's calls are counted (metrics/decision_metrics.h);
  // must outlive the server. Null: not counted.
  metrics::DecisionMetrics* decision_metrics = nullptr;
  // Where every decision is recorded (decisionlog/decision_log.h); must
  // outlive the server. Null: no decision log.
  decisionlog::DecisionLog* decision_log = nullptr;
  // Interceptors for every call on every port, made once per server; unset:
  // none. Tests install one that audits what the server sends.
  std::function<std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>()>
      interceptor_factories;
};

// The gRPC health service name that answers NOT_SERVING while the active
// bundle is stale (PolicyStore::FreshnessNow), while "" and the API
// services stay SERVING: a readiness probe or alert can tell "answering
// from an old bundle" from "not answering".
inline constexpr char kFreshHealthName[] = "importgate.bundle.fresh";

// The gRPC health service name that answers SERVING from the moment the
// server listens until it shuts down, whether or not a bundle is active:
// for a liveness probe, so that a replica still loading a large bundle
// (NOT_SERVING on "", not ready) is not restarted for it.
inline constexpr char kLiveHealthName[] = "importgate.live";

// The largest max_batch_items: its byte budgets stay within gRPC's int
// message size limits.
inline constexpr int kMaxMaxBatchItems = 10000;

// Sets `limits` as channel arguments of `builder`.
void ApplyConnectionLimits(const ConnectionLimits& limits,
                           grpc::ServerBuilder* builder);

// True for 127.0.0.0/8, [::1], localhost and unix: addresses.
bool IsLoopbackAddress(absl::string_view address);

class ImportgateServer {
 public:
  // Starts serving. `store`, `clock` and `manager` (may be null: no
  // Reload/Rollback) must outlive the server; health follows the store
  // (NOT_SERVING until a bundle is active).
  // Returns INVALID_ARGUMENT for bad options, UNAVAILABLE when an address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<ImportgateServer>> Start(
      const ServerOptions& options, bundle::PolicyStore* store,
      const Clock* clock, bundle::BundleManager* manager = nullptr);

  ~ImportgateServer();

  // The port actually bound.
  int port() const { return port_; }
  // The admin API's port: port() when it shares the main port, 0 when it is
  // not served.
  int admin_port() const { return admin_port_; }

  // Stops accepting calls and lets in-flight calls finish, cancelling those
  // still running after `grace`.
  void Shutdown(absl::Duration grace);

 private:
  ImportgateServer(bundle::PolicyStore* store, const Clock* clock,
                   bundle::BundleManager* manager,
                   const ServerOptions& options);

  bundle::PolicyStore* const store_;
  service::ImportPolicyService decisions_;
  service::PolicyAdminService admin_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> admin_server_;  // when on its own address
  int port_ = 0;
  int admin_port_ = 0;
  // Keeps kFreshHealthName up to date until Shutdown.
  void WatchFreshness();
  std::vector<grpc::HealthCheckServiceInterface*> health_;
  absl::Duration freshness_poll_;
  absl::Mutex freshness_mu_;
  bool stopping_ ABSL_GUARDED_BY(freshness_mu_) = false;
  std::thread freshness_thread_;
};

// The version of this build, e.g. "0.1.0".
const char* ServerVersion();

}  // namespace importgate::app

#endif  // IMPORTGATE_SERVER_APP_SERVER_H_
