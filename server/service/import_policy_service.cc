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
#include "server/service/admin_access.h"
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

// What one call tells the metrics (its decisions, its errors, the
// handler's time) and the decision log (a record per decision or refusal).
// Without metrics it reads no clock; without a log it copies nothing, and
// with one it hands the log views of the call's own bytes (the request's
// slice, the answer's buffer), which the log copies once, into its queue.
class CallRecorder {
 public:
  CallRecorder(const ImportPolicyServiceOptions& options, DecisionMethod method,
               const grpc::ByteBuffer& request_bytes, const Clock* clock)
      : metrics_(options.metrics),
        log_(options.decision_log),
        tls_(options.tls),
        method_(method),
        request_bytes_(request_bytes),
        clock_(clock) {
    if (metrics_ != nullptr) start_ = std::chrono::steady_clock::now();
    if (log_ != nullptr) {
      record_.method = method == DecisionMethod::kIsImportAllowed
                           ? decisionlog::CallMethod::kIsImportAllowed
                           : decisionlog::CallMethod::kBatchIsImportAllowed;
    }
  }
  // The request parsed: a record may keep its bytes (viewed only when it
  // does, at the answer or the refusal).
  void Parsed() { parsed_ = true; }
  // An id for the next decision or refusal ("" without a log). The view
  // lasts until the next NewId().
  absl::string_view NewId(absl::Time now) {
    if (log_ == nullptr) return {};
    decided_at_ = now;
    ids_.push_back(log_->ids().Next(now));
    return decisionlog::View(ids_.back());
  }
  void Decision(const compiler::PolicySnapshot& snapshot,
                const eval::Verdict& verdict) {
    allow_ = verdict.effect == v1::EFFECT_ALLOW;
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
  // The answer's bytes (and the request's), for the log; `response` must
  // stay valid until Finish(). Not viewed for a unary ALLOW that sampling
  // leaves out (the writer decides for batch items, by the same rule).
  void Answered(absl::string_view response,
                std::optional<decisionlog::RuleTextSpan> rule_text = {}) {
    if (log_ == nullptr) return;
    if (method_ == DecisionMethod::kIsImportAllowed && allow_ &&
        !log_->SampleAllow(decisionlog::View(ids_.back()))) {
      sampled_out_ = true;
      return;
    }
    record_.request = RequestView();
    record_.response = response;
    record_.rule_text = rule_text;
  }
  // Logs the call, counts it, and finishes it with `status`, or, when the
  // log refuses the record under --decision_log_queue_policy=block, with
  // UNAVAILABLE: no answer leaves without its record.
  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                   grpc::Status status) {
    if (log_ != nullptr) status = Log(context, std::move(status));
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
  grpc::Status Log(grpc::CallbackServerContext* context, grpc::Status status) {
    if (sampled_out_ && status.ok()) return status;
    // The decision's instant; a call refused before deciding, now.
    const absl::Time now =
        decided_at_ == absl::InfinitePast() ? clock_->Now() : decided_at_;
    record_.time = now;
    // grpc::Status::error_message() returns a copy: the view needs one
    // that lasts until Submit() has copied it.
    const std::string error_message = status.error_message();
    if (!status.ok()) {
      // A refused call is one record, whatever ids its items had. A unary
      // request that parsed is kept; a refused batch's bytes are not.
      ids_.clear();
      record_.response = {};
      record_.rule_text.reset();
      record_.request = {};
      if (parsed_ && method_ == DecisionMethod::kIsImportAllowed) {
        record_.request = RequestView();
      }
      record_.error_code = status.error_code();
      record_.error_message = error_message;
      NewId(now);
    }
    record_.ids = ids_;
    const std::string peer = CallerOf(*context, tls_);
    record_.peer = peer;
    auto traceparent = context->client_metadata().find("traceparent");
    if (traceparent != context->client_metadata().end()) {
      record_.traceparent = absl::string_view(traceparent->second.data(),
                                              traceparent->second.size());
    }
    absl::Status logged =
        log_->Submit(record_, absl::FromChrono(context->deadline()));
    if (logged.ok()) {
      // A refusal's id goes with the status; an answer carries its own.
      if (!status.ok()) {
        context->AddTrailingMetadata(
            "importgate-decision-id",
            std::string(decisionlog::View(ids_.back())));
      }
      return status;
    }
    if (logged.code() == absl::StatusCode::kResourceExhausted) {
      return status;  // dropped and counted (policy "drop")
    }
    return grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("decision log: ", logged.message(), "; retry shortly"));
  }

  // The request's bytes: its one slice, or (split over several) a copy.
  absl::string_view RequestView() {
    if (request_bytes_.TrySingleSlice(&request_slice_).ok()) {
      return absl::string_view(
          reinterpret_cast<const char*>(request_slice_.begin()),
          request_slice_.size());
    }
    std::vector<grpc::Slice> slices;
    request_copy_.clear();
    if (!request_bytes_.Dump(&slices).ok()) return request_copy_;
    request_copy_.reserve(request_bytes_.Length());
    for (const grpc::Slice& slice : slices) {
      request_copy_.append(reinterpret_cast<const char*>(slice.begin()),
                           slice.size());
    }
    return request_copy_;
  }

  // The caller's first mTLS identity, or its address.
  static std::string CallerOf(const grpc::CallbackServerContext& context,
                              bool tls) {
    const std::shared_ptr<const grpc::AuthContext> auth =
        tls ? context.auth_context() : nullptr;
    if (auth != nullptr) {
      std::vector<std::string> identities = PeerIdentities(*auth);
      if (!identities.empty()) return identities.front();
    }
    return context.peer();
  }

  metrics::DecisionMetrics* const metrics_;
  decisionlog::DecisionLog* const log_;
  const bool tls_;
  const DecisionMethod method_;
  const grpc::ByteBuffer& request_bytes_;
  const Clock* const clock_;
  std::chrono::steady_clock::time_point start_;
  bool parsed_ = false;
  bool allow_ = false;        // the last decision was an ALLOW
  bool sampled_out_ = false;  // a unary ALLOW left out of the log
  absl::Time decided_at_ = absl::InfinitePast();
  // The record, viewing ids_, the request (request_slice_ or
  // request_copy_), the answer, the status and the metadata.
  decisionlog::CallView record_;
  absl::InlinedVector<decisionlog::DecisionId, 1> ids_;
  grpc::Slice request_slice_;
  std::string request_copy_;
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
  CallRecorder call(options_, DecisionMethod::kIsImportAllowed, *request_bytes,
                    clock_);
  if (grpc::Status budget = CheckBudget(*request_bytes, 0); !budget.ok()) {
    return call.Finish(context, budget);
  }
  CallArena arena;
  auto* request = arena.Create<v1::IsImportAllowedRequest>();
  if (grpc::Status parsed = Parse(*request_bytes, request); !parsed.ok()) {
    return call.Finish(context, parsed);
  }
  call.Parsed();
  const std::shared_ptr<const bundle::LoadedBundle>& bundle =
      store_->CurrentForRequest();
  grpc::Status ready =
      CheckBundle(bundle.get(), request->min_bundle_revision());
  if (!ready.ok()) return call.Finish(context, ready);
  const compiler::PolicySnapshot& snapshot = *bundle->snapshot;
  eval::Verdict verdict;
  const absl::Time now = clock_->Now();
  absl::Status status = eval::DecideRequest(snapshot, *request, now, &verdict);
  if (!status.ok()) return call.Finish(context, ToGrpcStatus(status));
  call.Decision(snapshot, verdict);
  WireBuffer out(1024);
  const ResponseLayout layout =
      AppendResponse(snapshot, verdict, RefOf(*bundle), request->item().sku(),
                     call.NewId(now), &out);
  call.Answered(out.view(), decisionlog::RuleTextSpan{layout.rule_text_begin,
                                                      layout.rule_text_end});
  *response_bytes = Adopt(&out);
  return call.Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ImportPolicyService::BatchIsImportAllowed(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  CallRecorder call(options_, DecisionMethod::kBatchIsImportAllowed,
                    *request_bytes, clock_);
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
  call.Parsed();
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
      AppendBatchResponse(snapshot, verdict, ref, item.item().sku(),
                          call.NewId(now), &out);
    } else {
      call.Error(status.code());
      AppendBatchError(status, call.NewId(now), &out);
    }
  }
  AppendBatchBundle(ref, &out);
  call.Answered(out.view());
  *response_bytes = Adopt(&out);
  return call.Finish(context, grpc::Status::OK);
}

}  // namespace importgate::service
