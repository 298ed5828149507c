// importgate::client::Connection: the transport under Client. It performs
// one attempt of each RPC and runs timers; Client adds the deadline budget,
// retries, the cache, revision tracking and fallbacks on top. The default
// connection speaks gRPC; a test (yours, or importgate's own) can inject a
// fake to exercise code that uses the Client without a server.
//
// @par Thread Safety
// Implementations must be safe to call from any thread. Completion
// callbacks may run on any thread, exactly once each.
#ifndef IMPORTGATE_CLIENT_CONNECTION_H_
#define IMPORTGATE_CLIENT_CONNECTION_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "importgate/v1/import_policy.pb.h"

namespace importgate::client {

class Connection {
 public:
  virtual ~Connection() = default;

  using UnaryDone = std::function<void(
      absl::Status, importgate::v1::IsImportAllowedResponse)>;
  using BatchDone = std::function<void(
      absl::Status, importgate::v1::BatchIsImportAllowedResponse)>;

  // One attempt of IsImportAllowed that must finish by `deadline`.
  virtual void IsImportAllowed(
      const importgate::v1::IsImportAllowedRequest& request,
      absl::Time deadline, UnaryDone done) = 0;

  // One attempt of BatchIsImportAllowed that must finish by `deadline`.
  virtual void BatchIsImportAllowed(
      const importgate::v1::BatchIsImportAllowedRequest& request,
      absl::Time deadline, BatchDone done) = 0;

  // Runs `fn` once at `when` (at once if it has passed), on any thread.
  virtual void RunAt(absl::Time when, std::function<void()> fn) = 0;
};

}  // namespace importgate::client

#endif  // IMPORTGATE_CLIENT_CONNECTION_H_
