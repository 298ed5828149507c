#include "server/app/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/common/log.h"
#include "server/common/thread_name.h"
#include "server/common/version.h"
#include "server/service/limits.h"

namespace importgate::app {

namespace {

constexpr const char* kDecisionService =
    importgate::v1::ImportPolicyService::service_full_name();
constexpr const char* kAdminService =
    importgate::admin::v1::PolicyAdmin::service_full_name();

// Makes `server`'s health service know the empty name (the whole server),
// `services` and the services every port serves, all NOT_SERVING: gRPC's
// health service knows only the names it is given, and starts out SERVING
// while no bundle is active yet. Returns it.
// Also "importgate.bundle.fresh" (kFreshHealthName), which follows the
// store's freshness instead, and "importgate.live" (kLiveHealthName),
// SERVING until shutdown.
std::pair<grpc::HealthCheckServiceInterface*, std::vector<std::string>>
ServeHealthFor(grpc::Server* server, std::vector<std::string> services) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  services.insert(services.end(), {"", "grpc.health.v1.Health",
                                   "grpc.reflection.v1alpha.ServerReflection"});
  for (const std::string& name : services) {
    health->SetServingStatus(name, false);
  }
  health->SetServingStatus(kFreshHealthName, false);
  health->SetServingStatus(kLiveHealthName, true);
  return {health, services};
}

}  // namespace

const char* ServerVersion() { return ImportgateVersion(); }

bool IsLoopbackAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:")) return true;
  absl::string_view host = address.substr(0, address.rfind(':'));
  if (host == "localhost") return true;
  // IP literals only: a name such as "127.corp.example" may resolve anywhere.
  std::string literal(host);
  if (absl::ConsumePrefix(&host, "[") && absl::ConsumeSuffix(&host, "]")) {
    in6_addr v6;
    return inet_pton(AF_INET6, std::string(host).c_str(), &v6) == 1 &&
           IN6_IS_ADDR_LOOPBACK(&v6);
  }
  in_addr v4;
  return inet_pton(AF_INET, literal.c_str(), &v4) == 1 &&
         (ntohl(v4.s_addr) >> 24) == 127;
}

namespace {

int Milliseconds(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return INT_MAX;
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(d), INT_MAX));
}

}  // namespace

void ApplyConnectionLimits(const ConnectionLimits& limits,
                           grpc::ServerBuilder* builder) {
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                              limits.max_concurrent_streams);
  builder->AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      Milliseconds(limits.min_ping_interval));
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                              Milliseconds(limits.max_connection_age));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                              Milliseconds(limits.max_connection_age_grace));
}

ImportgateServer::ImportgateServer(bundle::PolicyStore* store,
                                   const Clock* clock,
                                   bundle::BundleManager* manager,
                                   const ServerOptions& options)
    : store_(store),
      decisions_(store, clock,
                 service::ImportPolicyServiceOptions{
                     .max_batch_items = options.max_batch_items,
                     .metrics = options.decision_metrics,
                     .decision_log = options.decision_log,
                     .tls = options.credentials != nullptr}),
      admin_(store, manager, ServerVersion(), options.admin_access,
             options.decision_log) {}

ImportgateServer::~ImportgateServer() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<ImportgateServer>> ImportgateServer::Start(
    const ServerOptions& options, bundle::PolicyStore* store,
    const Clock* clock, bundle::BundleManager* manager) {
  if (options.max_batch_items < 1 ||
      options.max_batch_items > kMaxMaxBatchItems) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch_items: must be 1 to ", kMaxMaxBatchItems,
                     ", got ", options.max_batch_items));
  }
  if (options.listen_address.empty()) {
    return absl::InvalidArgumentError("listen_address: is required");
  }
  const ConnectionLimits& limits = options.limits;
  if (limits.max_concurrent_streams < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_concurrent_streams: must be at least 1, got ",
                     limits.max_concurrent_streams));
  }
  if (limits.min_ping_interval < absl::ZeroDuration() ||
      limits.max_connection_age <= absl::ZeroDuration() ||
      limits.max_connection_age_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "connection limits: the ping interval and the grace must not be "
        "negative, and the maximum connection age must be positive");
  }
  if (options.credentials != nullptr && options.admin_access == nullptr) {
    return absl::InvalidArgumentError(
        "admin_access: is required with TLS (who may call the admin API)");
  }
  // Health and reflection are process-wide switches in gRPC; both are
  // idempotent. Referencing the health descriptor links it in, so that
  // reflection can describe grpc.health.v1.Health too.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  (void)grpc::health::v1::HealthCheckRequest::descriptor();

  std::unique_ptr<ImportgateServer> server(
      new ImportgateServer(store, clock, manager, options));
  const bool shared_admin = options.admin_listen_address.empty() &&
                            (IsLoopbackAddress(options.listen_address) ||
                             options.credentials != nullptr);
  const std::shared_ptr<grpc::ServerCredentials> credentials =
      options.credentials != nullptr ? options.credentials
                                     : grpc::InsecureServerCredentials();
  grpc::ServerBuilder builder;
  ApplyConnectionLimits(limits, &builder);
  // Byte budgets (service/limits.h): a full batch of the largest valid
  // requests is received, and a full batch of the longest answers sent.
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      service::TransportReceiveLimit(options.max_batch_items)));
  builder.SetMaxSendMessageSize(
      static_cast<int>(service::BatchResponseBudget(options.max_batch_items)));
  if (options.interceptor_factories) {
    builder.experimental().SetInterceptorCreators(
        options.interceptor_factories());
  }
  builder.AddListeningPort(options.listen_address, credentials, &server->port_);
  builder.RegisterService(&server->decisions_);
  if (shared_admin) builder.RegisterService(&server->admin_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "listen_address: cannot listen on ", options.listen_address));
  }
  if (shared_admin) server->admin_port_ = server->port_;
  if (!options.admin_listen_address.empty()) {
    grpc::ServerBuilder admin_builder;
    ApplyConnectionLimits(limits, &admin_builder);
    if (options.interceptor_factories) {
      admin_builder.experimental().SetInterceptorCreators(
          options.interceptor_factories());
    }
    admin_builder.AddListeningPort(options.admin_listen_address, credentials,
                                   &server->admin_port_);
    admin_builder.RegisterService(&server->admin_);
    server->admin_server_ = admin_builder.BuildAndStart();
    if (server->admin_server_ == nullptr || server->admin_port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("admin_listen_address: cannot listen on ",
                       options.admin_listen_address));
    }
  }
  // Health answers for the empty name (the whole server) and for every
  // service a port serves, so that a probe configured with a service name
  // works too; all of them follow the store.
  std::vector<
      std::pair<grpc::HealthCheckServiceInterface*, std::vector<std::string>>>
      health = {ServeHealthFor(
          server->server_.get(),
          shared_admin
              ? std::vector<std::string>{kDecisionService, kAdminService}
              : std::vector<std::string>{kDecisionService})};
  if (server->admin_server_ != nullptr) {
    health.push_back(
        ServeHealthFor(server->admin_server_.get(), {kAdminService}));
  }
  for (const auto& [h, names] : health) server->health_.push_back(h);
  store->SetServingListener([health](bool serving) {
    for (const auto& [h, names] : health) {
      for (const std::string& name : names) h->SetServingStatus(name, serving);
    }
  });
  server->freshness_poll_ = options.freshness_poll;
  server->freshness_thread_ = std::thread([raw = server.get()] {
    SetCurrentThreadName("ig-freshness");
    raw->WatchFreshness();
  });
  return server;
}

void ImportgateServer::WatchFreshness() {
  bool fresh = false;  // as ServeHealthFor left it
  absl::MutexLock lock(&freshness_mu_);
  while (!stopping_) {
    const bundle::Freshness f = store_->FreshnessNow();
    const bool now_fresh = store_->Current() != nullptr && !f.stale;
    if (now_fresh != fresh) {
      fresh = now_fresh;
      for (grpc::HealthCheckServiceInterface* h : health_) {
        h->SetServingStatus(kFreshHealthName, fresh);
      }
      if (f.stale) {
        LogWarning(absl::StrCat("bundle stale: ", f.reason));
      } else if (fresh) {
        LogInfo("bundle fresh");
      }
    }
    freshness_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                   freshness_poll_);
  }
}

void ImportgateServer::Shutdown(absl::Duration grace) {
  if (freshness_thread_.joinable()) {
    {
      absl::MutexLock lock(&freshness_mu_);
      stopping_ = true;
    }
    freshness_thread_.join();
  }
  if (server_ == nullptr) return;
  store_->SetServingListener(nullptr);
  server_->GetHealthCheckService()->SetServingStatus(false);
  if (admin_server_ != nullptr) {
    admin_server_->GetHealthCheckService()->SetServingStatus(false);
  }
  const auto deadline =
      std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace);
  server_->Shutdown(deadline);
  if (admin_server_ != nullptr) admin_server_->Shutdown(deadline);
  server_->Wait();
  server_.reset();
  if (admin_server_ != nullptr) {
    admin_server_->Wait();
    admin_server_.reset();
  }
}

}  // namespace importgate::app
