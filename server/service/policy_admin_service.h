// PolicyAdminService: the operator API's gRPC adapter (GetStatus). Reads
// the PolicyStore's status and writes it as the wire message.
//
// Thread safety: handlers run concurrently; no mutable state of its own.
#ifndef IMPORTGATE_SERVER_SERVICE_POLICY_ADMIN_SERVICE_H_
#define IMPORTGATE_SERVER_SERVICE_POLICY_ADMIN_SERVICE_H_

#include <string>

#include "importgate/admin/v1/policy_admin.grpc.pb.h"
#include "server/bundle/policy_store.h"

namespace importgate::service {

class PolicyAdminService final
    : public importgate::admin::v1::PolicyAdmin::CallbackService {
 public:
  // `store` must outlive the service.
  PolicyAdminService(const bundle::PolicyStore* store,
                     std::string server_version);

  grpc::ServerUnaryReactor* GetStatus(
      grpc::CallbackServerContext* context,
      const importgate::admin::v1::GetStatusRequest* request,
      importgate::admin::v1::GetStatusResponse* response) override;

 private:
  const bundle::PolicyStore* const store_;
  const std::string server_version_;
};

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_POLICY_ADMIN_SERVICE_H_
