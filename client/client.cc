#include "importgate/client/client.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/internal/decision_cache.h"
#include "grpcpp/alarm.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "importgate/v1/import_policy.grpc.pb.h"

namespace importgate::client {
namespace internal {
namespace {

namespace v1 = importgate::v1;

absl::Status ToAbsl(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// Errors returned to the caller as they are, never turned into a fallback
// decision: a malformed request (no fallback is right for it) and a message
// over a size limit (a fail-open ALLOW would let through what the bundle
// denies).
bool IsCallersError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
         status.code() == absl::StatusCode::kResourceExhausted;
}

// INVALID_ARGUMENT when `message` is over the budget of one request
// (`batch_items` 0) or of a batch of up to `batch_items`, naming it: the
// server would refuse it, so it is not sent. Formats only on failure.
absl::Status CheckRequestBudget(const google::protobuf::Message& message,
                                int batch_items) {
  const size_t budget =
      batch_items == 0 ? kMaxItemRequestBytes : BatchRequestBudget(batch_items);
  const size_t size = message.ByteSizeLong();
  if (size <= budget) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "request: ", size, " bytes is over the request budget ",
      batch_items == 0
          ? std::string("of one request")
          : absl::StrCat("of a batch of up to ", batch_items, " items"),
      " (", budget, " bytes): no valid request is that large"));
}

bool Retryable(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kFailedPrecondition;
}

// Uniform in [0, limit): backoff jitter. One generator per thread.
absl::Duration Jitter(absl::Duration limit) {
  thread_local std::minstd_rand rng(std::random_device{}());
  int64_t us = absl::ToInt64Microseconds(limit);
  if (us <= 0) return absl::ZeroDuration();
  return absl::Microseconds(
      std::uniform_int_distribution<int64_t>(0, us - 1)(rng));
}

// True on a thread that has run a gRPC callback: one of gRPC's own
// threads (a thread's role never changes, so the flag is never cleared).
thread_local bool t_on_grpc_callback_thread = false;

// The gRPC transport: the generated stub's callback API, and grpc::Alarm
// for timers.
class GrpcConnection final : public Connection {
 public:
  explicit GrpcConnection(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::ImportPolicyService::NewStub(std::move(channel))) {}

  // Debian's gRPC 1.51 runs callbacks on the threads of a shared completion
  // queue that the last Channel shuts down when it is destroyed. A Channel
  // destroyed on one of those threads (the last Client copy released by
  // the completion of a call still in flight) frees that queue twice
  // (grpc/grpc#32584, #37858; AddressSanitizer caught it in client_test).
  // So on a gRPC thread the stub, and with it the channel, is released on
  // a thread of our own.
  ~GrpcConnection() override {
    if (t_on_grpc_callback_thread) {
      std::thread([stub = std::move(stub_)]() mutable {
        stub.reset();
      }).detach();
    }
  }

  void IsImportAllowed(const v1::IsImportAllowedRequest& request,
                       absl::Time deadline, UnaryDone done) override {
    Start<v1::IsImportAllowedRequest, v1::IsImportAllowedResponse>(
        request, deadline, std::move(done),
        [this](grpc::ClientContext* c, const v1::IsImportAllowedRequest* req,
               v1::IsImportAllowedResponse* resp,
               std::function<void(grpc::Status)> cb) {
          stub_->async()->IsImportAllowed(c, req, resp, std::move(cb));
        });
  }

  void BatchIsImportAllowed(const v1::BatchIsImportAllowedRequest& request,
                            absl::Time deadline, BatchDone done) override {
    Start<v1::BatchIsImportAllowedRequest, v1::BatchIsImportAllowedResponse>(
        request, deadline, std::move(done),
        [this](grpc::ClientContext* c,
               const v1::BatchIsImportAllowedRequest* req,
               v1::BatchIsImportAllowedResponse* resp,
               std::function<void(grpc::Status)> cb) {
          stub_->async()->BatchIsImportAllowed(c, req, resp, std::move(cb));
        });
  }

  void RunAt(absl::Time when, std::function<void()> fn) override {
    auto* alarm = new grpc::Alarm();
    alarm->Set(absl::ToChronoTime(when), [alarm, fn = std::move(fn)](bool) {
      t_on_grpc_callback_thread = true;
      fn();
      delete alarm;
    });
  }

 private:
  template <typename Request, typename Response, typename Done, typename Invoke>
  static void Start(const Request& request, absl::Time deadline, Done done,
                    Invoke invoke) {
    struct Attempt {
      grpc::ClientContext context;
      Request request;
      Response response;
    };
    auto* attempt = new Attempt();
    attempt->request = request;
    attempt->context.set_deadline(absl::ToChronoTime(deadline));
    invoke(&attempt->context, &attempt->request, &attempt->response,
           [attempt, done = std::move(done)](grpc::Status status) {
             t_on_grpc_callback_thread = true;
             std::unique_ptr<Attempt> owned(attempt);
             done(ToAbsl(status), std::move(owned->response));
           });
  }

  std::unique_ptr<v1::ImportPolicyService::Stub> stub_;
};

// One RPC with bounded, jittered retries inside an overall deadline, over a
// Connection. The call keeps itself alive until it has reported exactly
// once, through `on_done`.
template <typename Request, typename Response>
class RetryingCall
    : public std::enable_shared_from_this<RetryingCall<Request, Response>> {
 public:
  using Invoke = std::function<void(
      const Request&, absl::Time, std::function<void(absl::Status, Response)>)>;
  using Done = std::function<void(absl::Status, Response)>;

  RetryingCall(Invoke invoke, Connection* connection, Request request,
               absl::Time deadline, const ClientOptions& options, Done on_done)
      : invoke_(std::move(invoke)),
        connection_(connection),
        request_(std::move(request)),
        deadline_(deadline),
        options_(options),
        on_done_(std::move(on_done)) {}

  void Start() {
    ++attempt_;
    auto self = this->shared_from_this();
    invoke_(request_, deadline_,
            [self](absl::Status status, Response response) {
              self->OnAttempt(std::move(status), std::move(response));
            });
  }

 private:
  void OnAttempt(absl::Status status, Response response) {
    if (!status.ok() && Retryable(status.code()) &&
        attempt_ < options_.max_attempts) {
      absl::Duration cap = options_.initial_backoff;
      for (int i = 1; i < attempt_ && cap < options_.max_backoff; ++i) cap *= 2;
      absl::Time retry_at =
          absl::Now() + Jitter(std::min(cap, options_.max_backoff));
      if (retry_at < deadline_) {
        auto self = this->shared_from_this();
        connection_->RunAt(retry_at, [self] { self->Start(); });
        return;
      }
    }
    on_done_(std::move(status), std::move(response));
  }

  const Invoke invoke_;
  Connection* const connection_;
  const Request request_;
  const absl::Time deadline_;
  const ClientOptions& options_;
  const Done on_done_;
  int attempt_ = 0;  // one attempt runs at a time; each hands over to the next
};

}  // namespace

class ClientImpl : public std::enable_shared_from_this<ClientImpl> {
 public:
  ClientImpl(ClientOptions options, std::shared_ptr<Connection> connection)
      : options_(std::move(options)), connection_(std::move(connection)) {
    if (options_.cache_max_entries > 0) {
      cache_ = std::make_unique<DecisionCache>(options_.cache_max_entries);
    }
  }

  absl::Time Now() const {
    return options_.clock ? options_.clock() : absl::Now();
  }
  uint64_t highest_revision() const { return highest_revision_.load(); }

  // A fresh cached decision for `request`, or nullopt; `key` receives the
  // request's cache key ("" without a cache) for a later Remember().
  std::optional<DecisionResult> CacheLookup(
      const v1::IsImportAllowedRequest& request, const CallOptions& call,
      std::string* key) {
    if (cache_ == nullptr || !DecisionCache::Cacheable(request)) {
      return std::nullopt;
    }
    *key = DecisionCache::Key(request);
    if (call.bypass_cache) return std::nullopt;
    auto hit = cache_->Lookup(*key, Now(), highest_revision());
    if (hit == nullptr) return std::nullopt;
    return FromCache(*hit, request.item().sku());
  }

  void Unary(v1::IsImportAllowedRequest request, const CallOptions& call,
             Client::Callback done) {
    std::string key;
    if (auto hit = CacheLookup(request, call, &key)) {
      done(*std::move(hit));
      return;
    }
    Send(std::move(request), std::move(key), call, std::move(done));
  }

  // The RPC part of Unary, for a request the cache did not answer.
  void Send(v1::IsImportAllowedRequest request, std::string key,
            const CallOptions& call, Client::Callback done) {
    if (absl::Status budget = CheckRequestBudget(request, 0); !budget.ok()) {
      done(std::move(budget));
      return;
    }
    request.set_min_bundle_revision(
        std::max(request.min_bundle_revision(), highest_revision()));
    const FailureMode mode = call.failure_mode.value_or(options_.failure_mode);
    std::string sku = request.item().sku();
    auto self = shared_from_this();
    auto rpc = std::make_shared<
        RetryingCall<v1::IsImportAllowedRequest, v1::IsImportAllowedResponse>>(
        [self](const v1::IsImportAllowedRequest& req, absl::Time deadline,
               Connection::UnaryDone cb) {
          self->connection_->IsImportAllowed(req, deadline, std::move(cb));
        },
        connection_.get(), std::move(request), Deadline(call), options_,
        [self, key = std::move(key), mode, sku = std::move(sku),
         done = std::move(done)](absl::Status status,
                                 v1::IsImportAllowedResponse response) {
          if (!status.ok()) {
            if (IsCallersError(status)) {
              done(std::move(status));
            } else {
              done(Fallback(mode, status, sku));
            }
            return;
          }
          DecisionResult result;
          result.decision = std::move(*response.mutable_decision());
          result.bundle = std::move(*response.mutable_bundle());
          result.sku = std::move(*response.mutable_sku());
          self->Remember(key, result);
          done(std::move(result));
        });
    rpc->Start();
  }

  void Batch(std::vector<v1::IsImportAllowedRequest> requests,
             const CallOptions& call, Client::BatchCallback done) {
    if (requests.empty()) {
      done(absl::InvalidArgumentError(
          "requests: a batch needs at least one item"));
      return;
    }
    // Answer what the cache can; send the rest in one call.
    auto results = std::make_shared<BatchResult>(
        requests.size(),
        absl::StatusOr<DecisionResult>(absl::UnknownError("")));
    std::vector<size_t> sent;  // indices into `requests`
    std::vector<std::string> keys;
    std::vector<std::string> skus;
    v1::BatchIsImportAllowedRequest batch;
    const uint64_t min_revision = highest_revision();
    for (size_t i = 0; i < requests.size(); ++i) {
      std::string key;
      if (auto hit = CacheLookup(requests[i], call, &key)) {
        (*results)[i] = *std::move(hit);
        continue;
      }
      v1::IsImportAllowedRequest* item = batch.add_requests();
      *item = std::move(requests[i]);
      item->set_min_bundle_revision(
          std::max(item->min_bundle_revision(), min_revision));
      sent.push_back(i);
      keys.push_back(std::move(key));
      skus.push_back(item->item().sku());
    }
    if (sent.empty()) {
      done(std::move(*results));
      return;
    }
    if (absl::Status budget =
            CheckRequestBudget(batch, options_.max_batch_items);
        !budget.ok()) {
      done(std::move(budget));
      return;
    }
    const FailureMode mode = call.failure_mode.value_or(options_.failure_mode);
    auto self = shared_from_this();
    auto rpc = std::make_shared<RetryingCall<v1::BatchIsImportAllowedRequest,
                                             v1::BatchIsImportAllowedResponse>>(
        [self](const v1::BatchIsImportAllowedRequest& req, absl::Time deadline,
               Connection::BatchDone cb) {
          self->connection_->BatchIsImportAllowed(req, deadline, std::move(cb));
        },
        connection_.get(), std::move(batch), Deadline(call), options_,
        [self, results, sent = std::move(sent), keys = std::move(keys),
         skus = std::move(skus), mode, done = std::move(done)](
            absl::Status status, v1::BatchIsImportAllowedResponse response) {
          if (!status.ok()) {
            if (IsCallersError(status)) {
              done(std::move(status));
              return;
            }
            for (size_t j = 0; j < sent.size(); ++j) {
              (*results)[sent[j]] = Fallback(mode, status, skus[j]);
            }
            done(std::move(*results));
            return;
          }
          if (static_cast<size_t>(response.results_size()) != sent.size()) {
            done(absl::InternalError(
                absl::StrCat("importgate answered ", response.results_size(),
                             " results for ", sent.size(), " items")));
            return;
          }
          self->ObserveRevision(response.bundle().revision());
          for (size_t j = 0; j < sent.size(); ++j) {
            v1::BatchItemResult* item =
                response.mutable_results(static_cast<int>(j));
            if (item->has_error()) {
              (*results)[sent[j]] = absl::Status(
                  static_cast<absl::StatusCode>(item->error().code()),
                  item->error().message());
              continue;
            }
            DecisionResult result;
            result.decision =
                std::move(*item->mutable_response()->mutable_decision());
            result.bundle =
                std::move(*item->mutable_response()->mutable_bundle());
            result.sku = std::move(*item->mutable_response()->mutable_sku());
            self->Remember(keys[j], result);
            (*results)[sent[j]] = std::move(result);
          }
          done(std::move(*results));
        });
    rpc->Start();
  }

 private:
  absl::Time Deadline(const CallOptions& call) const {
    return absl::Now() + call.deadline.value_or(options_.deadline);
  }

  static DecisionResult FromCache(const DecisionResult& cached,
                                  const std::string& sku) {
    DecisionResult result = cached;
    result.sku = sku;
    result.source = DecisionResult::Source::kCache;
    return result;
  }

  static DecisionResult Fallback(FailureMode mode, const absl::Status& status,
                                 const std::string& sku) {
    const bool open = mode == FailureMode::kFailOpen;
    DecisionResult result;
    result.source = DecisionResult::Source::kFallback;
    result.sku = sku;
    result.fallback_cause = status.ToString();
    result.decision.set_allowed(open);
    result.decision.set_effect(open ? v1::EFFECT_ALLOW : v1::EFFECT_DENY);
    result.decision.set_reason_code(open ? kFailOpenReason : kFailClosedReason);
    result.decision.set_message(absl::StrCat(
        "importgate could not decide (", result.fallback_cause,
        "); the caller's ",
        open ? "fail-open policy allowed" : "fail-closed policy denied",
        " this item"));
    return result;
  }

  // Raises the revision watermark; a newer revision empties the cache.
  void ObserveRevision(uint64_t revision) {
    uint64_t seen = highest_revision_.load();
    while (revision > seen) {
      if (highest_revision_.compare_exchange_weak(seen, revision)) {
        if (cache_ != nullptr) cache_->Clear();
        return;
      }
    }
  }

  void Remember(const std::string& key, const DecisionResult& result) {
    ObserveRevision(result.bundle.revision());
    if (cache_ == nullptr || key.empty()) return;
    absl::Duration ttl = absl::Seconds(result.decision.cache_ttl().seconds()) +
                         absl::Nanoseconds(result.decision.cache_ttl().nanos());
    if (ttl <= absl::ZeroDuration()) return;
    cache_->Insert(key, std::make_shared<const DecisionResult>(result),
                   Now() + ttl);
  }

  const ClientOptions options_;
  const std::shared_ptr<Connection> connection_;
  std::unique_ptr<DecisionCache> cache_;
  std::atomic<uint64_t> highest_revision_{0};
};

}  // namespace internal

namespace {

absl::Status ValidateOptions(const ClientOptions& options, bool need_target) {
  if (need_target && options.replicas.empty() && options.target.empty()) {
    return absl::InvalidArgumentError("target: is required (or replicas)");
  }
  for (const std::string& replica : options.replicas) {
    std::vector<absl::string_view> parts = absl::StrSplit(replica, ':');
    int port = 0;
    if (parts.size() != 2 || parts[0].empty() ||
        !absl::SimpleAtoi(parts[1], &port) || port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "replicas: \"", replica, "\" is not an ipv4:port address"));
    }
  }
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("max_attempts: must be at least 1");
  }
  if (options.max_batch_items < 1 || options.max_batch_items > 10000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_batch_items: must be 1 to 10000, got ", options.max_batch_items));
  }
  if (options.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("deadline: must be positive");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Client> Client::Create(ClientOptions options) {
  if (absl::Status s = ValidateOptions(options, /*need_target=*/true);
      !s.ok()) {
    return s;
  }
  std::string target =
      options.replicas.empty()
          ? options.target
          : absl::StrCat("ipv4:", absl::StrJoin(options.replicas, ","));
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  // gRPC's 4 MiB default would refuse a full batch of long answers: size
  // the limits from the API's byte budgets instead.
  args.SetMaxReceiveMessageSize(
      static_cast<int>(BatchResponseBudget(options.max_batch_items)));
  args.SetMaxSendMessageSize(
      static_cast<int>(BatchRequestBudget(options.max_batch_items)));
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls.has_value()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls->root_certs_pem;
    ssl.pem_cert_chain = options.tls->client_cert_pem;
    ssl.pem_private_key = options.tls->client_key_pem;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  auto connection = std::make_shared<internal::GrpcConnection>(
      grpc::CreateCustomChannel(target, credentials, args));
  return Client(std::make_shared<internal::ClientImpl>(std::move(options),
                                                       std::move(connection)));
}

absl::StatusOr<Client> Client::Create(ClientOptions options,
                                      std::shared_ptr<Connection> connection) {
  if (connection == nullptr) {
    return absl::InvalidArgumentError("connection: must not be null");
  }
  if (absl::Status s = ValidateOptions(options, /*need_target=*/false);
      !s.ok()) {
    return s;
  }
  return Client(std::make_shared<internal::ClientImpl>(std::move(options),
                                                       std::move(connection)));
}

absl::StatusOr<DecisionResult> Client::IsImportAllowed(
    const importgate::v1::IsImportAllowedRequest& request,
    const CallOptions& options) const {
  // A cache hit answers on this thread, with no promise or future.
  std::string key;
  if (auto hit = impl_->CacheLookup(request, options, &key)) {
    return *std::move(hit);
  }
  std::promise<absl::StatusOr<DecisionResult>> promise;
  auto future = promise.get_future();
  impl_->Send(request, std::move(key), options,
              [&promise](absl::StatusOr<DecisionResult> r) {
                promise.set_value(std::move(r));
              });
  return future.get();
}

absl::StatusOr<BatchResult> Client::BatchIsImportAllowed(
    const std::vector<importgate::v1::IsImportAllowedRequest>& requests,
    const CallOptions& options) const {
  std::promise<absl::StatusOr<BatchResult>> promise;
  auto future = promise.get_future();
  impl_->Batch(requests, options, [&promise](absl::StatusOr<BatchResult> r) {
    promise.set_value(std::move(r));
  });
  return future.get();
}

void Client::IsImportAllowedAsync(
    importgate::v1::IsImportAllowedRequest request, Callback done,
    const CallOptions& options) const {
  impl_->Unary(std::move(request), options, std::move(done));
}

void Client::BatchIsImportAllowedAsync(
    std::vector<importgate::v1::IsImportAllowedRequest> requests,
    BatchCallback done, const CallOptions& options) const {
  impl_->Batch(std::move(requests), options, std::move(done));
}

uint64_t Client::highest_revision_seen() const {
  return impl_->highest_revision();
}

}  // namespace importgate::client
