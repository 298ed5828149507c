#include "server/service/import_policy_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/eval/evaluator.h"
#include "server/service/grpc_status.h"

namespace importgate::service {
namespace {

namespace v1 = importgate::v1;

grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// The active bundle, or the status to answer with instead.
grpc::Status CheckBundle(const bundle::LoadedBundle* bundle,
                         uint64_t min_revision) {
  if (bundle == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "no policy bundle is active yet; retry shortly");
  }
  if (min_revision > bundle->snapshot->revision) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("min_bundle_revision: ", min_revision,
                     " is newer than this replica's active revision ",
                     bundle->snapshot->revision,
                     "; retry on another replica or later"));
  }
  return grpc::Status::OK;
}

void FillBundleRef(const bundle::LoadedBundle& bundle, v1::BundleRef* ref) {
  ref->set_name(bundle.snapshot->name);
  ref->set_revision(bundle.snapshot->revision);
  ref->set_digest(bundle.digest);
}

}  // namespace

ImportPolicyService::ImportPolicyService(const bundle::PolicyStore* store,
                                         const Clock* clock,
                                         ImportPolicyServiceOptions options)
    : store_(store), clock_(clock), options_(options) {
  SetMessageAllocatorFor_IsImportAllowed(&unary_allocator_);
  SetMessageAllocatorFor_BatchIsImportAllowed(&batch_allocator_);
}

grpc::ServerUnaryReactor* ImportPolicyService::IsImportAllowed(
    grpc::CallbackServerContext* context,
    const v1::IsImportAllowedRequest* request,
    v1::IsImportAllowedResponse* response) {
  std::shared_ptr<const bundle::LoadedBundle> bundle = store_->Current();
  grpc::Status ready =
      CheckBundle(bundle.get(), request->min_bundle_revision());
  if (!ready.ok()) return FinishWith(context, ready);
  absl::Status status = eval::Evaluate(
      *bundle->snapshot, *request, clock_->Now(), response->mutable_decision());
  if (!status.ok()) return FinishWith(context, ToGrpcStatus(status));
  FillBundleRef(*bundle, response->mutable_bundle());
  response->set_sku(request->item().sku());
  return FinishWith(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ImportPolicyService::BatchIsImportAllowed(
    grpc::CallbackServerContext* context,
    const v1::BatchIsImportAllowedRequest* request,
    v1::BatchIsImportAllowedResponse* response) {
  const int n = request->requests_size();
  if (n == 0 || n > options_.max_batch_items) {
    return FinishWith(
        context,
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("requests: a batch holds 1 to ",
                                  options_.max_batch_items,
                                  " items (the server's cap), got ", n)));
  }
  uint64_t min_revision = 0;
  for (const auto& item : request->requests()) {
    min_revision = std::max(min_revision, item.min_bundle_revision());
  }
  std::shared_ptr<const bundle::LoadedBundle> bundle = store_->Current();
  grpc::Status ready = CheckBundle(bundle.get(), min_revision);
  if (!ready.ok()) return FinishWith(context, ready);

  const absl::Time now = clock_->Now();
  response->mutable_results()->Reserve(n);
  for (const v1::IsImportAllowedRequest& item : request->requests()) {
    v1::BatchItemResult* result = response->add_results();
    v1::IsImportAllowedResponse* answer = result->mutable_response();
    absl::Status status = eval::Evaluate(*bundle->snapshot, item, now,
                                         answer->mutable_decision());
    if (!status.ok()) {
      v1::ItemError* error = result->mutable_error();  // replaces the response
      error->set_code(static_cast<int32_t>(status.code()));
      error->set_message(std::string(status.message()));
      continue;
    }
    FillBundleRef(*bundle, answer->mutable_bundle());
    answer->set_sku(item.item().sku());
  }
  FillBundleRef(*bundle, response->mutable_bundle());
  return FinishWith(context, grpc::Status::OK);
}

}  // namespace importgate::service
