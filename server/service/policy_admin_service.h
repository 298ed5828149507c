// PolicyAdminService: the operator API's gRPC adapter. GetStatus reads the
// PolicyStore; Reload asks the BundleManager's reload thread
// (RequestReload) and Rollback runs on a thread of the service's (a reload
// compiles a bundle, which must not block a gRPC callback thread; a
// rollback must not wait for a slow source), each finishing the call from
// there;
// GetDecision searches the decision log's files on a thread of its own (a
// search reads segments, and must not hold up a reload).
//
// Thread safety: handlers run concurrently. The destructor joins the
// workers, so destroy the service after the server has shut down.
#ifndef IMPORTGATE_SERVER_SERVICE_POLICY_ADMIN_SERVICE_H_
#define IMPORTGATE_SERVER_SERVICE_POLICY_ADMIN_SERVICE_H_

#include <string>

#include "importgate/admin/v1/policy_admin.grpc.pb.h"
#include "server/bundle/manager.h"
#include "server/bundle/policy_store.h"
#include "server/common/serial_executor.h"
#include "server/decisionlog/decision_log.h"
#include "server/service/admin_access.h"

namespace importgate::service {

class PolicyAdminService final
    : public importgate::admin::v1::PolicyAdmin::CallbackService {
 public:
  // `store`, `manager` and `access` must outlive the service; `manager`
  // may be null (Reload and Rollback then answer FAILED_PRECONDITION);
  // `access` may be null (every caller that reaches the port is admitted);
  // `decision_log` may be null (GetDecision then answers
  // FAILED_PRECONDITION) and must outlive the service otherwise.
  PolicyAdminService(const bundle::PolicyStore* store,
                     bundle::BundleManager* manager, std::string server_version,
                     AdminAccess* access = nullptr,
                     const decisionlog::DecisionLog* decision_log = nullptr);
  ~PolicyAdminService() override = default;

  grpc::ServerUnaryReactor* GetStatus(
      grpc::CallbackServerContext* context,
      const importgate::admin::v1::GetStatusRequest* request,
      importgate::admin::v1::GetStatusResponse* response) override;

  grpc::ServerUnaryReactor* Reload(
      grpc::CallbackServerContext* context,
      const importgate::admin::v1::ReloadRequest* request,
      importgate::admin::v1::ReloadResponse* response) override;

  grpc::ServerUnaryReactor* Rollback(
      grpc::CallbackServerContext* context,
      const importgate::admin::v1::RollbackRequest* request,
      importgate::admin::v1::RollbackResponse* response) override;

  grpc::ServerUnaryReactor* GetDecision(
      grpc::CallbackServerContext* context,
      const importgate::admin::v1::GetDecisionRequest* request,
      importgate::admin::v1::GetDecisionResponse* response) override;

 private:
  // Finishes the call with PERMISSION_DENIED and returns false when the
  // caller may not run `method`.
  bool Admit(grpc::CallbackServerContext* context,
             grpc::ServerUnaryReactor* reactor, absl::string_view method);

  const bundle::PolicyStore* const store_;
  bundle::BundleManager* const manager_;
  const std::string server_version_;
  AdminAccess* const access_;
  const decisionlog::DecisionLog* const decision_log_;
  // Work items finish their calls. Declared last: destroyed (drained and
  // joined) first.
  SerialExecutor rollbacks_;
  SerialExecutor lookups_;
};

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_POLICY_ADMIN_SERVICE_H_
