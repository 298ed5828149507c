#include "importgate/client/client.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <random>
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

bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::FAILED_PRECONDITION;
}

// Uniform in [0, limit): backoff jitter. One generator per thread.
absl::Duration Jitter(absl::Duration limit) {
  thread_local std::minstd_rand rng(std::random_device{}());
  int64_t us = absl::ToInt64Microseconds(limit);
  if (us <= 0) return absl::ZeroDuration();
  return absl::Microseconds(
      std::uniform_int_distribution<int64_t>(0, us - 1)(rng));
}

// One RPC with bounded, jittered retries inside an overall deadline.
// `invoke` starts one attempt; the call keeps itself alive until it has
// reported exactly once, through `on_done`.
template <typename Request, typename Response>
class RetryingCall
    : public std::enable_shared_from_this<RetryingCall<Request, Response>> {
 public:
  using Invoke =
      std::function<void(grpc::ClientContext*, const Request*, Response*,
                         std::function<void(grpc::Status)>)>;
  using Done = std::function<void(grpc::Status, Response*)>;

  RetryingCall(Invoke invoke, Request request, absl::Time deadline,
               const ClientOptions& options, Done on_done)
      : invoke_(std::move(invoke)),
        request_(std::move(request)),
        deadline_(deadline),
        options_(options),
        on_done_(std::move(on_done)) {}

  void Start() {
    ++attempt_;
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(absl::ToChronoTime(deadline_));
    response_.Clear();
    auto self = this->shared_from_this();
    invoke_(context_.get(), &request_, &response_, [self](grpc::Status status) {
      self->OnAttempt(std::move(status));
    });
  }

 private:
  void OnAttempt(grpc::Status status) {
    if (!status.ok() && Retryable(status.error_code()) &&
        attempt_ < options_.max_attempts) {
      absl::Duration cap = options_.initial_backoff;
      for (int i = 1; i < attempt_ && cap < options_.max_backoff; ++i) cap *= 2;
      absl::Time retry_at =
          absl::Now() + Jitter(std::min(cap, options_.max_backoff));
      if (retry_at < deadline_) {
        auto self = this->shared_from_this();
        alarm_.Set(absl::ToChronoTime(retry_at),
                   [self](bool) { self->Start(); });
        return;
      }
    }
    on_done_(std::move(status), &response_);
  }

  const Invoke invoke_;
  Request request_;
  const absl::Time deadline_;
  const ClientOptions& options_;
  const Done on_done_;
  int attempt_ = 0;
  std::unique_ptr<grpc::ClientContext> context_;
  Response response_;
  grpc::Alarm alarm_;
};

}  // namespace

class ClientImpl : public std::enable_shared_from_this<ClientImpl> {
 public:
  ClientImpl(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)),
        stub_(v1::ImportPolicyService::NewStub(std::move(channel))) {
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
    if (cache_ == nullptr) return std::nullopt;
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
    request.set_min_bundle_revision(
        std::max(request.min_bundle_revision(), highest_revision()));
    const FailureMode mode = call.failure_mode.value_or(options_.failure_mode);
    auto self = shared_from_this();
    auto rpc = std::make_shared<
        RetryingCall<v1::IsImportAllowedRequest, v1::IsImportAllowedResponse>>(
        [self](grpc::ClientContext* c, const v1::IsImportAllowedRequest* req,
               v1::IsImportAllowedResponse* resp,
               std::function<void(grpc::Status)> cb) {
          self->stub_->async()->IsImportAllowed(c, req, resp, std::move(cb));
        },
        request, Deadline(call), options_,
        [self, key = std::move(key), mode, sku = request.item().sku(),
         done = std::move(done)](grpc::Status status,
                                 v1::IsImportAllowedResponse* response) {
          if (!status.ok()) {
            if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
              done(ToAbsl(status));
            } else {
              done(Fallback(mode, status, sku));
            }
            return;
          }
          DecisionResult result;
          result.decision = std::move(*response->mutable_decision());
          result.bundle = std::move(*response->mutable_bundle());
          result.sku = std::move(*response->mutable_sku());
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
    v1::BatchIsImportAllowedRequest batch;
    const uint64_t min_revision = highest_revision();
    for (size_t i = 0; i < requests.size(); ++i) {
      std::string key;
      if (cache_ != nullptr) {
        key = DecisionCache::Key(requests[i]);
        if (!call.bypass_cache) {
          if (auto hit = cache_->Lookup(key, Now(), min_revision)) {
            (*results)[i] = FromCache(*hit, requests[i].item().sku());
            continue;
          }
        }
      }
      v1::IsImportAllowedRequest* item = batch.add_requests();
      *item = std::move(requests[i]);
      item->set_min_bundle_revision(
          std::max(item->min_bundle_revision(), min_revision));
      sent.push_back(i);
      keys.push_back(std::move(key));
    }
    if (sent.empty()) {
      done(std::move(*results));
      return;
    }
    const FailureMode mode = call.failure_mode.value_or(options_.failure_mode);
    std::vector<std::string> skus;
    for (const auto& item : batch.requests()) skus.push_back(item.item().sku());
    auto self = shared_from_this();
    auto rpc = std::make_shared<RetryingCall<v1::BatchIsImportAllowedRequest,
                                             v1::BatchIsImportAllowedResponse>>(
        [self](grpc::ClientContext* c,
               const v1::BatchIsImportAllowedRequest* req,
               v1::BatchIsImportAllowedResponse* resp,
               std::function<void(grpc::Status)> cb) {
          self->stub_->async()->BatchIsImportAllowed(c, req, resp,
                                                     std::move(cb));
        },
        std::move(batch), Deadline(call), options_,
        [self, results, sent = std::move(sent), keys = std::move(keys),
         skus = std::move(skus), mode, done = std::move(done)](
            grpc::Status status, v1::BatchIsImportAllowedResponse* response) {
          if (!status.ok()) {
            if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
              done(ToAbsl(status));
              return;
            }
            for (size_t j = 0; j < sent.size(); ++j) {
              (*results)[sent[j]] = Fallback(mode, status, skus[j]);
            }
            done(std::move(*results));
            return;
          }
          if (static_cast<size_t>(response->results_size()) != sent.size()) {
            done(absl::InternalError(
                absl::StrCat("importgate answered ", response->results_size(),
                             " results for ", sent.size(), " items")));
            return;
          }
          self->ObserveRevision(response->bundle().revision());
          for (size_t j = 0; j < sent.size(); ++j) {
            v1::BatchItemResult* item =
                response->mutable_results(static_cast<int>(j));
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

  static DecisionResult Fallback(FailureMode mode, const grpc::Status& status,
                                 const std::string& sku) {
    const bool open = mode == FailureMode::kFailOpen;
    DecisionResult result;
    result.source = DecisionResult::Source::kFallback;
    result.sku = sku;
    result.fallback_cause = absl::StrCat(ToAbsl(status).ToString());
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
  std::unique_ptr<v1::ImportPolicyService::Stub> stub_;
  std::unique_ptr<DecisionCache> cache_;
  std::atomic<uint64_t> highest_revision_{0};
};

}  // namespace internal

absl::StatusOr<Client> Client::Create(ClientOptions options) {
  if (options.replicas.empty() && options.target.empty()) {
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
  if (options.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("deadline: must be positive");
  }
  std::string target =
      options.replicas.empty()
          ? options.target
          : absl::StrCat("ipv4:", absl::StrJoin(options.replicas, ","));
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
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
  auto channel = grpc::CreateCustomChannel(target, credentials, args);
  return Client(std::make_shared<internal::ClientImpl>(std::move(options),
                                                       std::move(channel)));
}

absl::StatusOr<DecisionResult> Client::IsImportAllowed(
    const importgate::v1::IsImportAllowedRequest& request,
    const CallOptions& options) const {
  // A cache hit answers on this thread, with no promise or future.
  std::string key;
  if (auto hit = impl_->CacheLookup(request, options, &key))
    return *std::move(hit);
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
