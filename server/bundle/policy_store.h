// PolicyStore: which bundle is active, published as an immutable snapshot.
//
// Request handlers read it with CurrentForRequest(): one atomic load on the
// fast path, no lock and no reference count change (see below). Everything
// else (status, the activation manager) uses Current(), a shared_ptr copy
// under a reader lock. Either way a reader keeps the bundle it got for the
// whole request, even if another is activated meanwhile. Writers (the
// loader) Activate() a bundle that already passed every check; a failed
// candidate is only recorded (RecordFailure) and never replaces the active
// one.
//
// How CurrentForRequest() avoids the lock: every activation bumps an atomic
// version. Each thread keeps, per store, the bundle and version it last
// read. While the version is unchanged the thread's own copy is current;
// only the first request on a thread after an activation takes the reader
// lock to refresh it. The cost: a thread keeps its copy of an old bundle
// until it next serves a request (or exits), so an idle thread can hold a
// replaced bundle in memory for a while.
//
// Thread safety: all methods are safe to call concurrently.
#ifndef IMPORTGATE_SERVER_BUNDLE_POLICY_STORE_H_
#define IMPORTGATE_SERVER_BUNDLE_POLICY_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/bundle/loader.h"
#include "server/common/clock.h"

namespace importgate::bundle {

// One bundle that was active, and when it became so.
struct ActivationRecord {
  std::shared_ptr<const LoadedBundle> bundle;
  absl::Time loaded_at;
};

// The outcome of one load attempt.
struct LoadAttemptRecord {
  absl::Time at;
  std::string source;
  bool activated = false;
  std::string error;  // empty when activated
  std::string candidate_name;
  uint64_t candidate_revision = 0;
  std::string candidate_digest;
};

// Load attempts since the store was made, by outcome.
struct LoadCounts {
  uint64_t activated = 0;  // Activate() succeeded (restores included)
  uint64_t unchanged = 0;  // RecordSourceRead(): the source holds the active
  uint64_t refused = 0;    // RecordFailure(), or Activate() refused
};

struct StoreStatus {
  std::optional<ActivationRecord> active;
  std::optional<LoadAttemptRecord> last_attempt;
  std::vector<ActivationRecord> history;  // newest first, active included
  // Since when every attempt has failed (unset after a success: an
  // activation or a read that found the source unchanged).
  std::optional<absl::Time> failing_since;
  // The active bundle was restored from the state directory because the
  // source was refused, and the source has not been read successfully
  // since.
  bool serving_last_known_good = false;
  LoadCounts loads;
  // When the source was last read successfully: a bundle from it activated
  // (not a restored last known good), or found unchanged. Unset before.
  std::optional<absl::Time> last_source_success;
};

// Whether what the store serves may be out of date (--max_bundle_staleness).
struct Freshness {
  bool stale = false;
  std::string reason;  // why, when stale
  absl::Time since;    // when the source was last fine, when stale
};

struct ActivateOptions {
  // Allow a revision lower than or equal to the active one (an explicit
  // rollback). Without it such a bundle is refused.
  bool allow_rollback = false;
  // The bundle is the persisted last known good, restored because the
  // source was refused: the store is stale until the source is read again.
  bool last_known_good = false;
};

class PolicyStore {
 public:
  // Called with true when a bundle becomes active (health: SERVING).
  using ServingListener = std::function<void(bool serving)>;

  // `clock` must outlive the store. Keeps `history_limit` activations.
  explicit PolicyStore(const Clock* clock, size_t history_limit = 10);

  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;

  // Sets the listener, and calls it at once with the current state.
  void SetServingListener(ServingListener listener);

  // The active bundle, or null while none is.
  std::shared_ptr<const LoadedBundle> Current() const;

  // The same for a request handler, without a lock (see the top of this
  // file). The reference is this thread's own copy: it stays valid until
  // this thread next calls CurrentForRequest() on any store. Copy it to
  // keep the bundle longer.
  const std::shared_ptr<const LoadedBundle>& CurrentForRequest() const;

  // Makes `bundle` active and records the attempt.
  // Returns FAILED_PRECONDITION (and changes nothing but the attempt record)
  // when its revision is not newer than the active one, or its name differs
  // from the active bundle's, and options.allow_rollback is false.
  absl::Status Activate(std::shared_ptr<const LoadedBundle> bundle,
                        ActivateOptions options = {});

  // Records a candidate from `source` that failed to load with `error`.
  void RecordFailure(absl::string_view source, const absl::Status& error);

  // Records that the source was read and holds the active bundle.
  void RecordSourceRead();

  StoreStatus Status() const;

  // Stale when serving the last known good bundle because the source is
  // refused, or when every attempt has failed for longer than
  // `max_staleness` (zero: that test is off). The store answers either way:
  // availability first; callers report it (status, health, metrics).
  void SetMaxStaleness(absl::Duration max_staleness);
  Freshness FreshnessNow() const;

 private:
  const Clock* const clock_;
  const size_t history_limit_;
  // Standard mutexes, not absl::Mutex: ThreadSanitizer sees through them,
  // while Debian's Abseil is not built with TSAN instrumentation. (GCC 12's
  // std::atomic<std::shared_ptr> is not TSAN-clean either.)
  mutable std::mutex mu_;                 // writers, status and the listener
  mutable std::shared_mutex current_mu_;  // readers take it shared
  std::shared_ptr<const LoadedBundle> current_ ABSL_GUARDED_BY(current_mu_);
  // Bumped, under current_mu_, each time current_ changes.
  std::atomic<uint64_t> version_{0};
  // Distinguishes this store in the threads' caches: never reused, unlike
  // an address.
  const uint64_t id_;
  std::deque<ActivationRecord> history_ ABSL_GUARDED_BY(mu_);
  std::optional<LoadAttemptRecord> last_attempt_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> failing_since_ ABSL_GUARDED_BY(mu_);
  bool last_known_good_ ABSL_GUARDED_BY(mu_) = false;
  LoadCounts loads_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> last_source_success_ ABSL_GUARDED_BY(mu_);
  absl::Duration max_staleness_ ABSL_GUARDED_BY(mu_);
  ServingListener listener_ ABSL_GUARDED_BY(mu_);
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_POLICY_STORE_H_
