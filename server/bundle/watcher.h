// SourceWatcher: notices that a bundle source changed and calls back, so
// the manager can reload. Uses inotify on the source (and, for a file or a
// symlink, on its directory, so renames and symlink swaps are seen), with a
// polling fallback that compares a fingerprint of the source (path, size,
// modification time and inode of every file, symlinks followed) every
// `poll_interval`. Events are debounced so that a burst of writes triggers
// one reload.
//
// The callback runs on the watcher's own thread, never on a request thread.
//
// Thread safety: Start and Stop from the owner's thread.
#ifndef IMPORTGATE_SERVER_BUNDLE_WATCHER_H_
#define IMPORTGATE_SERVER_BUNDLE_WATCHER_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace importgate::bundle {

struct WatcherOptions {
  std::string path;
  // Polling fallback; also the longest a missed inotify event can delay a
  // reload. Zero disables polling.
  absl::Duration poll_interval = absl::Seconds(5);
  // Quiet time after the last event before the callback runs.
  absl::Duration debounce = absl::Milliseconds(100);
  // Use inotify (true) or poll only (false).
  bool use_inotify = true;
};

// A fingerprint of everything under `path` that a load would read. Equal
// fingerprints mean nothing changed (to the precision of mtime).
std::string SourceFingerprint(const std::string& path);

class SourceWatcher {
 public:
  SourceWatcher(WatcherOptions options, std::function<void()> on_change);
  ~SourceWatcher();

  SourceWatcher(const SourceWatcher&) = delete;
  SourceWatcher& operator=(const SourceWatcher&) = delete;

  // Starts the watcher thread. INTERNAL when inotify or eventfd fail.
  absl::Status Start();
  // Stops and joins the thread. Idempotent.
  void Stop();

 private:
  void Run();
  void AddWatches();

  const WatcherOptions options_;
  const std::function<void()> on_change_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
  std::string fingerprint_;
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_WATCHER_H_
