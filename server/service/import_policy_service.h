// ImportPolicyService: the decision API's gRPC adapter, on the callback API.
// Each handler takes one bundle snapshot, checks the request's consistency
// demand (min_bundle_revision), hands the request to the evaluator and
// writes the answer back. No policy meaning lives here.
//
// Thread safety: handlers run concurrently; the service holds no mutable
// state of its own.
#ifndef IMPORTGATE_SERVER_SERVICE_IMPORT_POLICY_SERVICE_H_
#define IMPORTGATE_SERVER_SERVICE_IMPORT_POLICY_SERVICE_H_

#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/bundle/policy_store.h"
#include "server/common/clock.h"
#include "server/service/arena_allocator.h"

namespace importgate::service {

struct ImportPolicyServiceOptions {
  // Largest batch accepted; larger ones are INVALID_ARGUMENT.
  int max_batch_items = 1000;
};

class ImportPolicyService final
    : public importgate::v1::ImportPolicyService::CallbackService {
 public:
  // `store` and `clock` must outlive the service.
  ImportPolicyService(const bundle::PolicyStore* store, const Clock* clock,
                      ImportPolicyServiceOptions options);

  // OK with a decision (DENY included); INVALID_ARGUMENT naming the field;
  // UNAVAILABLE while no bundle is active; FAILED_PRECONDITION when
  // min_bundle_revision is newer than the active bundle.
  grpc::ServerUnaryReactor* IsImportAllowed(
      grpc::CallbackServerContext* context,
      const importgate::v1::IsImportAllowedRequest* request,
      importgate::v1::IsImportAllowedResponse* response) override;

  // All items decided against one snapshot; an invalid item gets its own
  // ItemError and the others are still decided. INVALID_ARGUMENT for an
  // empty batch or one over the cap; UNAVAILABLE and FAILED_PRECONDITION
  // (the largest min_bundle_revision of the items) as above.
  grpc::ServerUnaryReactor* BatchIsImportAllowed(
      grpc::CallbackServerContext* context,
      const importgate::v1::BatchIsImportAllowedRequest* request,
      importgate::v1::BatchIsImportAllowedResponse* response) override;

 private:
  const bundle::PolicyStore* const store_;
  const Clock* const clock_;
  const ImportPolicyServiceOptions options_;
  ArenaMessageAllocator<importgate::v1::IsImportAllowedRequest,
                        importgate::v1::IsImportAllowedResponse>
      unary_allocator_;
  ArenaMessageAllocator<importgate::v1::BatchIsImportAllowedRequest,
                        importgate::v1::BatchIsImportAllowedResponse>
      batch_allocator_;
};

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_IMPORT_POLICY_SERVICE_H_
