#include "server/service/import_policy_service.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/slice.h"
#include "server/eval/evaluator.h"
#include "server/service/grpc_status.h"
#include "server/service/limits.h"
#include "server/service/response_encoder.h"

namespace importgate::service {
namespace {

namespace v1 = importgate::v1;

using metrics::DecisionMethod;

grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// What one call tells the metrics: its decisions, its errors and the
// handler's time. Does nothing (not even read the clock) when metrics are
// off.
class CallMetrics {
 public:
  CallMetrics(metrics::DecisionMetrics* metrics, DecisionMethod method)
      : metrics_(metrics), method_(method) {
    if (metrics_ != nullptr) start_ = std::chrono::steady_clock::now();
  }
  void Decision(const compiler::PolicySnapshot& snapshot,
                const eval::Verdict& verdict) {
    if (metrics_ == nullptr) return;
    metrics_->RecordDecision(method_, verdict.effect,
                             verdict.rule != nullptr
                                 ? verdict.rule->reason_code
                                 : snapshot.default_reason_code);
  }
  void Error(absl::StatusCode code) {
    if (metrics_ != nullptr) metrics_->RecordError(method_, code);
  }
  void BatchItems(int n) {
    if (metrics_ != nullptr) metrics_->RecordBatchItems(n);
  }
  // Counts a failed call as an error, records the time, and finishes.
  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                   const grpc::Status& status) {
    if (metrics_ != nullptr) {
      if (!status.ok()) {
        Error(static_cast<absl::StatusCode>(status.error_code()));
      }
      metrics_->RecordDuration(
          method_, absl::FromChrono(std::chrono::steady_clock::now() - start_));
    }
    return FinishWith(context, status);
  }

 private:
  metrics::DecisionMetrics* const metrics_;
  const DecisionMethod method_;
  std::chrono::steady_clock::time_point start_;
};

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

BundleRefFields RefOf(const bundle::LoadedBundle& bundle) {
  return {bundle.snapshot->name, bundle.snapshot->revision, bundle.digest};
}

// One protobuf arena per call, starting in a block on the handler's stack:
// a unary request fits, so parsing it mallocs nothing.
class CallArena {
 public:
  CallArena() : arena_(Options(block_)) {}
  template <typename Message>
  Message* Create() {
    return google::protobuf::Arena::CreateMessage<Message>(&arena_);
  }

 private:
  static google::protobuf::ArenaOptions Options(char* block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = sizeof(block_);
    return options;
  }
  alignas(8) char block_[4096];
  google::protobuf::Arena arena_;
};

// Parses `bytes` into `message`, or says which message it failed to be.
grpc::Status Parse(const grpc::ByteBuffer& bytes,
                   google::protobuf::Message* message) {
  // The reader only reads, but its constructor takes a non-const buffer;
  // copying the buffer instead would malloc on every call.
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(&bytes));
  if (!reader.status().ok() || !message->ParseFromZeroCopyStream(&reader)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("request: not a valid ",
                                     message->GetTypeName(), " message"));
  }
  return grpc::Status::OK;
}

// INVALID_ARGUMENT when `bytes` is over the budget of one request
// (`batch_items` 0) or of a batch of up to `batch_items` (service/limits.h):
// no valid request is, so it is refused before it is parsed. Formats only
// on failure: this runs on every call.
grpc::Status CheckBudget(const grpc::ByteBuffer& bytes, int batch_items) {
  const size_t budget =
      batch_items == 0 ? kMaxItemRequestBytes : BatchRequestBudget(batch_items);
  const size_t size = bytes.Length();
  if (size <= budget) return grpc::Status::OK;
  return grpc::Status(
      grpc::StatusCode::INVALID_ARGUMENT,
      absl::StrCat("request: ", size, " bytes is over the request budget ",
                   batch_items == 0 ? std::string("of one request")
                                    : absl::StrCat("of a batch of up to ",
                                                   batch_items, " items"),
                   " (", budget, " bytes): no valid request is that large"));
}

// Hands the bytes of `out` to gRPC without copying them.
grpc::ByteBuffer Adopt(WireBuffer* out) {
  WireBuffer::Bytes bytes = out->Release();
  grpc::Slice slice(bytes.data, bytes.size, [](void* p) { std::free(p); });
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

ImportPolicyService::ImportPolicyService(const bundle::PolicyStore* store,
                                         const Clock* clock,
                                         ImportPolicyServiceOptions options)
    : store_(store), clock_(clock), options_(options) {}

grpc::ServerUnaryReactor* ImportPolicyService::IsImportAllowed(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  CallMetrics call(options_.metrics, DecisionMethod::kIsImportAllowed);
  if (grpc::Status budget = CheckBudget(*request_bytes, 0); !budget.ok()) {
    return call.Finish(context, budget);
  }
  CallArena arena;
  auto* request = arena.Create<v1::IsImportAllowedRequest>();
  if (grpc::Status parsed = Parse(*request_bytes, request); !parsed.ok()) {
    return call.Finish(context, parsed);
  }
  const std::shared_ptr<const bundle::LoadedBundle>& bundle =
      store_->CurrentForRequest();
  grpc::Status ready =
      CheckBundle(bundle.get(), request->min_bundle_revision());
  if (!ready.ok()) return call.Finish(context, ready);
  const compiler::PolicySnapshot& snapshot = *bundle->snapshot;
  eval::Verdict verdict;
  absl::Status status =
      eval::DecideRequest(snapshot, *request, clock_->Now(), &verdict);
  if (!status.ok()) return call.Finish(context, ToGrpcStatus(status));
  call.Decision(snapshot, verdict);
  WireBuffer out(1024);
  AppendResponse(snapshot, verdict, RefOf(*bundle), request->item().sku(),
                 &out);
  *response_bytes = Adopt(&out);
  return call.Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ImportPolicyService::BatchIsImportAllowed(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  CallMetrics call(options_.metrics, DecisionMethod::kBatchIsImportAllowed);
  if (grpc::Status budget =
          CheckBudget(*request_bytes, options_.max_batch_items);
      !budget.ok()) {
    return call.Finish(context, budget);
  }
  CallArena arena;
  auto* request = arena.Create<v1::BatchIsImportAllowedRequest>();
  if (grpc::Status parsed = Parse(*request_bytes, request); !parsed.ok()) {
    return call.Finish(context, parsed);
  }
  const int n = request->requests_size();
  if (n == 0 || n > options_.max_batch_items) {
    return call.Finish(
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
  const std::shared_ptr<const bundle::LoadedBundle>& bundle =
      store_->CurrentForRequest();
  grpc::Status ready = CheckBundle(bundle.get(), min_revision);
  if (!ready.ok()) return call.Finish(context, ready);
  call.BatchItems(n);

  const compiler::PolicySnapshot& snapshot = *bundle->snapshot;
  const BundleRefFields ref = RefOf(*bundle);
  const absl::Time now = clock_->Now();
  WireBuffer out(static_cast<size_t>(n) * 768);
  eval::Verdict verdict;
  for (const v1::IsImportAllowedRequest& item : request->requests()) {
    absl::Status status = eval::DecideRequest(snapshot, item, now, &verdict);
    if (status.ok()) {
      call.Decision(snapshot, verdict);
      AppendBatchResponse(snapshot, verdict, ref, item.item().sku(), &out);
    } else {
      call.Error(status.code());
      AppendBatchError(status, &out);
    }
  }
  AppendBatchBundle(ref, &out);
  *response_bytes = Adopt(&out);
  return call.Finish(context, grpc::Status::OK);
}

}  // namespace importgate::service
