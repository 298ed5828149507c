// PolicyAdminService: the operator API's gRPC adapter. GetStatus reads the
// PolicyStore; Reload and Rollback call the BundleManager on the service's
// one worker thread, in order (a reload compiles a bundle, which must not
// block a gRPC callback thread), and finish the call from there.
//
// Thread safety: handlers run concurrently. The destructor joins the
// workers, so destroy the service after the server has shut down.
#ifndef IMPORTGATE_SERVER_SERVICE_POLICY_ADMIN_SERVICE_H_
#define IMPORTGATE_SERVER_SERVICE_POLICY_ADMIN_SERVICE_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "importgate/admin/v1/policy_admin.grpc.pb.h"
#include "server/bundle/manager.h"
#include "server/bundle/policy_store.h"
#include "server/service/admin_access.h"

namespace importgate::service {

class PolicyAdminService final
    : public importgate::admin::v1::PolicyAdmin::CallbackService {
 public:
  // `store`, `manager` and `access` must outlive the service; `manager`
  // may be null (Reload and Rollback then answer FAILED_PRECONDITION);
  // `access` may be null (every caller that reaches the port is admitted).
  PolicyAdminService(const bundle::PolicyStore* store,
                     bundle::BundleManager* manager, std::string server_version,
                     AdminAccess* access = nullptr);
  ~PolicyAdminService() override;

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

 private:
  // Finishes the call with PERMISSION_DENIED and returns false when the
  // caller may not run `method`.
  bool Admit(grpc::CallbackServerContext* context,
             grpc::ServerUnaryReactor* reactor, absl::string_view method);

  // Queues `work` for the worker thread; it must Finish the call.
  void RunOnWorker(std::function<void()> work);
  void WorkerLoop();

  const bundle::PolicyStore* const store_;
  bundle::BundleManager* const manager_;
  const std::string server_version_;
  AdminAccess* const access_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;  // started on first use
};

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_POLICY_ADMIN_SERVICE_H_
