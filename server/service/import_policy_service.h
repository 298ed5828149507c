// ImportPolicyService: the decision API's gRPC adapter, on the callback API.
// Each handler takes one bundle snapshot, checks the request's consistency
// demand (min_bundle_revision), hands the request to the evaluator and
// writes the answer back. No policy meaning lives here.
//
// The methods are registered "raw": the handler parses the request onto a
// per-call arena itself, and writes the response bytes with
// response_encoder.h instead of building and serializing response
// messages (which costs a heap string per long field). On the wire nothing
// differs.
//
// Thread safety: handlers run concurrently; the service holds no mutable
// state of its own.
#ifndef IMPORTGATE_SERVER_SERVICE_IMPORT_POLICY_SERVICE_H_
#define IMPORTGATE_SERVER_SERVICE_IMPORT_POLICY_SERVICE_H_

#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/bundle/policy_store.h"
#include "server/common/clock.h"
#include "server/decisionlog/decision_log.h"
#include "server/metrics/decision_metrics.h"

namespace importgate::service {

struct ImportPolicyServiceOptions {
  // Largest batch accepted; larger ones are INVALID_ARGUMENT.
  int max_batch_items = 1000;
  // Where each call's decisions, errors and time are counted; must outlive
  // the service. Null: not counted.
  metrics::DecisionMetrics* metrics = nullptr;
  // Where every decision and refusal is recorded (decisionlog/), its id
  // sent in the answer; must outlive the service. Null: no record, no id.
  decisionlog::DecisionLog* decision_log = nullptr;
  // Whether the port has TLS credentials, so that a caller may present a
  // certificate: a record then names the caller by its certificate's
  // identity (service/admin_access.h's PeerIdentities), else by its
  // address. Off, the call's auth context is never built.
  bool tls = false;
};

class ImportPolicyService final
    : public importgate::v1::ImportPolicyService::
          WithRawCallbackMethod_IsImportAllowed<
              importgate::v1::ImportPolicyService::
                  WithRawCallbackMethod_BatchIsImportAllowed<
                      importgate::v1::ImportPolicyService::Service>> {
 public:
  // `store` and `clock` must outlive the service.
  ImportPolicyService(const bundle::PolicyStore* store, const Clock* clock,
                      ImportPolicyServiceOptions options);

  // OK with a decision (DENY included); INVALID_ARGUMENT naming the field;
  // UNAVAILABLE while no bundle is active; FAILED_PRECONDITION when
  // min_bundle_revision is newer than the active bundle.
  // A request that does not parse is INVALID_ARGUMENT.
  grpc::ServerUnaryReactor* IsImportAllowed(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

  // All items decided against one snapshot; an invalid item gets its own
  // ItemError and the others are still decided. INVALID_ARGUMENT for an
  // empty batch or one over the cap; UNAVAILABLE and FAILED_PRECONDITION
  // (the largest min_bundle_revision of the items) as above.
  grpc::ServerUnaryReactor* BatchIsImportAllowed(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

 private:
  const bundle::PolicyStore* const store_;
  const Clock* const clock_;
  const ImportPolicyServiceOptions options_;
};

}  // namespace importgate::service

#endif  // IMPORTGATE_SERVER_SERVICE_IMPORT_POLICY_SERVICE_H_
