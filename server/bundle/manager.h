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

#include <memory>
#include <mutex>
#include <string>

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
};

struct ReloadResult {
  enum class Outcome { kActivated, kUnchanged, kRefused };
  Outcome outcome = Outcome::kRefused;
  // Activated / unchanged: what is active. Refused: why, with the candidate's
  // file, line and rule or the failed test case.
  std::string message;
  std::string name;
  uint64_t revision = 0;
  std::string digest;
};

class BundleManager {
 public:
  // `store` and `clock` must outlive the manager.
  BundleManager(PolicyStore* store, const Clock* clock, ManagerOptions options);

  BundleManager(const BundleManager&) = delete;
  BundleManager& operator=(const BundleManager&) = delete;

  // The first activation. Loads the source; if it is missing or broken and
  // the state directory holds a last known good bundle, activates that
  // instead and records the source's error. Returns the source's error only
  // when nothing could be activated.
  absl::Status Start();

  // Checks the source now. Refuses a candidate whose revision is not newer
  // than the active one (unless `allow_rollback` or the option), or not
  // newer than a
  // revision that was rolled back from. Never replaces the active bundle
  // with a failed candidate.
  ReloadResult Reload(bool allow_rollback = false);

  // Re-activates `revision` from the state directory's recent revisions,
  // and refuses every revision up to the one active now until a newer one
  // is published. NOT_FOUND when that revision is not kept;
  // FAILED_PRECONDITION when there is no state directory.
  absl::StatusOr<ReloadResult> Rollback(uint64_t revision);

 private:
  ReloadResult ActivateCandidate(Candidate candidate, bool allow_rollback);
  absl::Status Persist(const Candidate& candidate);
  absl::Status WriteActivePointer(const std::string& file, uint64_t revision);
  std::string StateFile(absl::string_view name, uint64_t revision) const;

  // The outcome of one look at the source: what ActivateCandidate says, or
  // kUnchanged when the source showed nothing changed.
  ReloadResult LoadAndActivate(bool allow_rollback)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  PolicyStore* const store_;
  const Clock* const clock_;
  const ManagerOptions options_;
  std::mutex mu_;  // one activation at a time (std::mutex: TSAN-visible)
  // The opened source, or why it could not be opened.
  absl::StatusOr<std::unique_ptr<BundleSource>> source_ ABSL_GUARDED_BY(mu_);
  // Revisions up to this one are refused (set by Rollback).
  uint64_t refuse_up_to_ ABSL_GUARDED_BY(mu_) = 0;
  // The last refused candidate's error, so a poll does not log it again.
  std::string last_refusal_ ABSL_GUARDED_BY(mu_);
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_MANAGER_H_
