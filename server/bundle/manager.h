// BundleManager: the activation pipeline. It loads a candidate from the
// configured source (source.h: read or fetch, verify signature, check
// digests, parse, compile, self-test; a remote source that shows nothing
// changed stops before any of it), checks that its revision moves forward,
// swaps it into the PolicyStore, and persists it in the state directory as the
// last known good bundle. A failed candidate changes nothing but the
// store's record of the last attempt.
//
// Triggers (the watcher, SIGHUP, the admin Reload call) all call Reload();
// reloads are serialised, and all run off the request path.
//
// Thread safety: all methods are safe to call concurrently.
#ifndef IMPORTGATE_SERVER_BUNDLE_MANAGER_H_
#define IMPORTGATE_SERVER_BUNDLE_MANAGER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "server/bundle/policy_store.h"
#include "server/bundle/source.h"
#include "server/common/clock.h"

namespace importgate::bundle {

struct ManagerOptions {
  // Bundle file, source directory, directory of bundle files, or an
  // http(s) URL of a bundle file (source.h).
  std::string source;
  // How a remote source is reached.
  RemoteOptions remote;
  // Where activated bundles are persisted ("" = nowhere). Layout:
  //   <state_dir>/bundles/<name>-<revision>.igb (+ .sig)   recent revisions
  //   <state_dir>/active                                   what to restore
  std::string state_dir;
  // How many persisted revisions to keep.
  size_t keep_revisions = 10;
  // Let reloads (and the start) accept a revision older than the active or
  // last known good one; otherwise only Rollback() goes back.
  bool allow_rollback = false;
  SourceOptions source_options;
  // The reload thread also reloads every JitteredInterval(poll_interval,
  // poll_jitter, random) (a remote source; --poll_seconds). Zero: only
  // when asked (a local source has its watcher).
  absl::Duration poll_interval = absl::ZeroDuration();
  double poll_jitter = 0.2;
  // Opens `source` (null: OpenSource(source, remote)). For tests that
  // wrap a real source, e.g. to hold a load at a point.
  std::function<absl::StatusOr<std::unique_ptr<BundleSource>>(
      const std::string& source, const RemoteOptions& remote)>
      open_source;
};

// The wait before a poll: `interval` less up to `jitter` (0 to 1) of it,
// by `unit` (0 to 1, e.g. a random draw): unit 0 waits the whole interval.
// Replicas started together so do not poll in step.
absl::Duration JitteredInterval(absl::Duration interval, double jitter,
                                double unit);

struct ReloadResult {
  // kPending: every check passed, and the candidate waits for its
  // manifest's not_before (BundleManager::Pending()).
  enum class Outcome { kActivated, kUnchanged, kRefused, kPending };
  Outcome outcome = Outcome::kRefused;
  // Activated / unchanged: what is active. Refused: why, with the candidate's
  // file, line and rule or the failed test case.
  std::string message;
  std::string name;
  uint64_t revision = 0;
  std::string digest;
};

// A checked revision held until its manifest's not_before.
struct PendingRevision {
  std::string name;
  uint64_t revision = 0;
  std::string digest;
  absl::Time activates_at;
};

class BundleManager {
 public:
  // `store` and `clock` must outlive the manager.
  BundleManager(PolicyStore* store, const Clock* clock, ManagerOptions options);

  ~BundleManager();
  BundleManager(const BundleManager&) = delete;
  BundleManager& operator=(const BundleManager&) = delete;

  // The first activation. Loads the source; if it is missing or broken and
  // the state directory holds a last known good bundle, activates that
  // instead and records the source's error. Returns the source's error only
  // when nothing could be activated. A source revision whose not_before is
  // ahead is held (Pending()); the last known good one, if any, serves
  // until then.
  absl::Status Start();

  // Checks the source now. Refuses a candidate whose revision is not newer
  // than the active one (unless `allow_rollback` or the option), or not
  // newer than a revision that was rolled back from (unless
  // `allow_rollback`: the option alone does not undo a rollback). Never
  // replaces the active bundle with a failed candidate. Fetching and
  // checking hold only the source lock: Rollback() is not held up by a
  // slow source.
  ReloadResult Reload(bool allow_rollback = false);

  // The revision waiting for its not_before, if any. It is dropped when
  // the source is found to hold the active bundle again (withdrawn), when
  // any other revision activates (a newer one, or a Rollback), and when it
  // is refused at its instant.
  std::optional<PendingRevision> Pending() const;

  // Activates the pending revision when its instant has come (by the
  // clock); true when it did. The reload thread calls it; tests may.
  bool ActivatePendingIfDue();

  // The one reload thread ("ig-reload"), the owner of every reload the
  // server asks for: it reloads when asked (RequestReload: the watcher,
  // SIGHUP, the admin API), every poll interval (a remote source), and
  // activates a pending revision at its instant (waiting on the real
  // clock: for a SystemClock manager). Runs until the manager is
  // destroyed. Calls after the first do nothing; RequestReload starts it.
  void StartReloadThread();

  // Asks the reload thread for a reload and returns at once. Requests made
  // before a reload begins are answered by that one reload (a burst of
  // watcher events, SIGHUPs and admin calls costs one look at the
  // source); `done`, when given, is called on the reload thread with its
  // result. Requests still waiting when the manager is destroyed are
  // answered by one last reload (call CancelFetches() first to make it
  // quick).
  void RequestReload(std::function<void(const ReloadResult&)> done = nullptr);

  // Aborts a remote fetch in progress, and every later one (shutdown):
  // a Reload() running returns soon after, refused.
  void CancelFetches();

  // Re-activates `revision` from the state directory's recent revisions,
  // and refuses every revision up to the one active now until a newer one
  // is published. NOT_FOUND when that revision is not kept;
  // FAILED_PRECONDITION when there is no state directory.
  absl::StatusOr<ReloadResult> Rollback(uint64_t revision);

 private:
  // At Start, with the source's revision pending: serves the last known
  // good `file` (in the state directory) until then, if any.
  absl::Status RestoreUntilPending(const std::string& file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `respect_floor`: refuse revisions up to refuse_up_to_.
  ReloadResult ActivateCandidate(Candidate candidate, bool allow_rollback,
                                 bool respect_floor)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Persist(const Candidate& candidate);
  absl::Status WriteActivePointer(const std::string& file, uint64_t revision);
  std::string StateFile(absl::string_view name, uint64_t revision) const;

  // The outcome of one look at the source: what ActivateCandidate says, or
  // kUnchanged when the source showed nothing changed.
  ReloadResult LoadAndActivate(bool explicit_rollback)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(source_mu_);

  PolicyStore* const store_;
  const Clock* const clock_;
  const ManagerOptions options_;
  // Lock order: source_mu_, then mu_, then timer_mu_ (std::mutex:
  // TSAN-visible).
  std::mutex source_mu_;   // one look at the source at a time
  mutable std::mutex mu_;  // one activation at a time
  // The opened source, or why it could not be opened; Load() and the
  // calls after it under source_mu_, Cancel() from any thread.
  const absl::StatusOr<std::unique_ptr<BundleSource>> source_;
  // The candidate waiting for its not_before, and how it may activate.
  struct Held {
    Candidate candidate;
    bool allow_rollback = false;
    bool respect_floor = true;
  };
  std::optional<Held> pending_ ABSL_GUARDED_BY(mu_);
  // The reload thread, woken when pending_ changes (the generation) or a
  // reload is requested.
  std::mutex timer_mu_;
  std::condition_variable timer_wake_;
  bool timer_stop_ ABSL_GUARDED_BY(timer_mu_) = false;
  uint64_t timer_generation_ ABSL_GUARDED_BY(timer_mu_) = 0;
  bool reload_requested_ ABSL_GUARDED_BY(timer_mu_) = false;
  std::vector<std::function<void(const ReloadResult&)>> reload_waiting_
      ABSL_GUARDED_BY(timer_mu_);
  std::thread timer_;
  void WakeTimer();
  void RunReloadThread();
  // Set by Rollback(): the next load forgets what the source accepted.
  std::atomic<bool> forget_requested_{false};
  // The digest of the bundle the source last showed and the store holds.
  std::string accepted_digest_ ABSL_GUARDED_BY(mu_);
  // Revisions up to this one are refused (set by Rollback).
  uint64_t refuse_up_to_ ABSL_GUARDED_BY(mu_) = 0;
  // The last refused candidate's error, so a poll does not log it again.
  std::string last_refusal_ ABSL_GUARDED_BY(mu_);
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_MANAGER_H_
