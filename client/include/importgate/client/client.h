// importgate::client::Client: the importgate SDK that checkout and listing
// services embed on their hot path. It wraps the generated gRPC stub with
// what every caller otherwise hand-rolls: a per-call deadline, bounded
// jittered retries where a retry can help, round-robin over replicas, an
// optional decision cache that honours the server's cache_ttl, monotonic
// policy revisions (min_bundle_revision), and an explicit failure mode.
//
// Usage:
//   importgate::client::ClientOptions options;
//   options.target = "dns:///importgate.internal:50051";
//   options.failure_mode = importgate::client::FailureMode::kFailClosed;
//   options.cache_max_entries = 100000;
//   auto client = importgate::client::Client::Create(options);
//   auto result = client->IsImportAllowed(request);
//   if (!result.ok()) ...        // INVALID_ARGUMENT or RESOURCE_EXHAUSTED
//   if (!result->allowed()) ...  // DENY, or the fail-closed fallback
//
// Outcomes: a result is OK with a decision from the server, from the cache,
// or from the fallback policy (when importgate cannot answer in time); its
// `source` says which, and a fallback decision carries its own reason code.
// Two errors come back as errors, never as a fallback: INVALID_ARGUMENT
// (the request is malformed: fix it; no fallback could be right for a
// request the server rejects, and one over the request budget below is
// refused before it is sent), and RESOURCE_EXHAUSTED (a message over a
// size limit: a fallback ALLOW there would let through what the bundle
// denies).
//
// @par Thread Safety
// A Client is cheap to copy (copies share one channel, cache and revision
// watermark) and safe to use from any number of threads. Construct one per
// process and share it. Async callbacks run on gRPC's threads: keep them
// short and do not block in them.
#ifndef IMPORTGATE_CLIENT_CLIENT_H_
#define IMPORTGATE_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "importgate/client/connection.h"
#include "importgate/v1/import_policy.pb.h"

namespace importgate::client {

// What a call answers when importgate cannot decide in time (unreachable,
// deadline exceeded, every replica behind the caller's revision, or a
// server error).
enum class FailureMode {
  // Deny, with reason code "IMPORTGATE_UNAVAILABLE_FAIL_CLOSED". For
  // checkout: never let a closed item through.
  kFailClosed,
  // Allow, with reason code "IMPORTGATE_UNAVAILABLE_FAIL_OPEN". For listing:
  // keep the page up and re-check later.
  kFailOpen,
};

inline constexpr char kFailClosedReason[] =
    "IMPORTGATE_UNAVAILABLE_FAIL_CLOSED";
inline constexpr char kFailOpenReason[] = "IMPORTGATE_UNAVAILABLE_FAIL_OPEN";

// PEM strings for TLS. With client_cert_pem and client_key_pem: mutual TLS.
struct TlsOptions {
  std::string root_certs_pem;  // empty: the system roots
  std::string client_cert_pem;
  std::string client_key_pem;
};

// Byte budgets of the decision API, the server's own
// (server/service/limits.h; tests check the two agree): the largest valid
// request and the largest answer for one item, and for a batch of up to
// `max_batch_items`. The client sizes gRPC's message limits from them.
inline constexpr size_t kMaxItemRequestBytes = 24 * 1024;
inline constexpr size_t kMaxItemResponseBytes = 12 * 1024;
constexpr size_t BatchRequestBudget(int max_batch_items) {
  return static_cast<size_t>(max_batch_items) * (kMaxItemRequestBytes + 16) +
         1024;
}
constexpr size_t BatchResponseBudget(int max_batch_items) {
  return static_cast<size_t>(max_batch_items) * (kMaxItemResponseBytes + 16) +
         1024;
}

struct ClientOptions {
  // A gRPC target: "host:port", or "dns:///name:port" to balance over every
  // address the name resolves to. Ignored when `replicas` is set.
  std::string target = "127.0.0.1:50051";
  // Explicit replicas as "ip:port" (IPv4), balanced with round_robin.
  std::vector<std::string> replicas;
  // Budget of one call, retries and backoff included. Default suits a hot
  // path.
  absl::Duration deadline = absl::Milliseconds(50);
  // Attempts per call (1 = no retry). Only UNAVAILABLE and
  // FAILED_PRECONDITION (a replica behind min_bundle_revision) are retried,
  // and only while the deadline leaves time.
  int max_attempts = 3;
  // Backoff before retry n is uniform in [0, min(max, initial * 2^(n-1))].
  absl::Duration initial_backoff = absl::Milliseconds(2);
  absl::Duration max_backoff = absl::Milliseconds(20);
  // The failure mode of calls that do not choose their own.
  FailureMode failure_mode = FailureMode::kFailClosed;
  // TLS; unset: plaintext (loopback and meshes with their own mTLS).
  std::optional<TlsOptions> tls;
  // The server's --max_batch_items (1 to 10000): the largest batch, which
  // sizes the message limits above.
  int max_batch_items = 1000;
  // Decision cache size in entries; 0 disables the cache.
  size_t cache_max_entries = 0;
  // The clock used for cache expiry; unset: the wall clock. For tests.
  std::function<absl::Time()> clock;
};

// Per-call overrides.
struct CallOptions {
  std::optional<FailureMode> failure_mode;
  std::optional<absl::Duration> deadline;
  // Skip the cache for this call (its answer is still cached).
  bool bypass_cache = false;
};

// One decision and where it came from.
struct DecisionResult {
  enum class Source { kServer, kCache, kFallback };

  importgate::v1::Decision decision;
  importgate::v1::BundleRef bundle;  // empty for a fallback
  std::string sku;                   // echoed from the request
  Source source = Source::kServer;
  // For a fallback: why importgate could not answer (the last error).
  std::string fallback_cause;

  bool allowed() const { return decision.allowed(); }
};

using BatchResult = std::vector<absl::StatusOr<DecisionResult>>;

namespace internal {
class ClientImpl;
}  // namespace internal

class Client {
 public:
  // Creates a client; connects lazily. INVALID_ARGUMENT for bad options
  // (empty target, max_attempts < 1, non-positive deadline, malformed
  // replica).
  static absl::StatusOr<Client> Create(ClientOptions options);

  // A client over `connection` instead of a gRPC channel (target,
  // replicas and tls are then ignored). For tests of code that uses the
  // client, and for custom transports.
  static absl::StatusOr<Client> Create(ClientOptions options,
                                       std::shared_ptr<Connection> connection);

  // Decides one request, blocking up to the deadline. See the file comment
  // for the outcomes. The request's min_bundle_revision is raised to the
  // highest revision this client has seen.
  absl::StatusOr<DecisionResult> IsImportAllowed(
      const importgate::v1::IsImportAllowedRequest& request,
      const CallOptions& options = {}) const;

  // Decides a batch (a cart, a page) in one call against one bundle
  // snapshot; cached items are answered from the cache and left out of the
  // call. The outer status is INVALID_ARGUMENT for an empty batch or one
  // the server refuses as a whole (over its cap); each item is OK or its
  // own INVALID_ARGUMENT.
  absl::StatusOr<BatchResult> BatchIsImportAllowed(
      const std::vector<importgate::v1::IsImportAllowedRequest>& requests,
      const CallOptions& options = {}) const;

  using Callback = std::function<void(absl::StatusOr<DecisionResult>)>;
  using BatchCallback = std::function<void(absl::StatusOr<BatchResult>)>;

  // As above, without blocking: `done` runs exactly once, on a gRPC thread
  // (or on the caller's thread for a cache hit).
  void IsImportAllowedAsync(importgate::v1::IsImportAllowedRequest request,
                            Callback done,
                            const CallOptions& options = {}) const;
  void BatchIsImportAllowedAsync(
      std::vector<importgate::v1::IsImportAllowedRequest> requests,
      BatchCallback done, const CallOptions& options = {}) const;

  // The highest bundle revision any answer to this client has named.
  uint64_t highest_revision_seen() const;

 private:
  explicit Client(std::shared_ptr<internal::ClientImpl> impl)
      : impl_(std::move(impl)) {}
  std::shared_ptr<internal::ClientImpl> impl_;
};

}  // namespace importgate::client

#endif  // IMPORTGATE_CLIENT_CLIENT_H_
