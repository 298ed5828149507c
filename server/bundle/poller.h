// Poller: calls back at a jittered interval on its own thread, so that a
// remote bundle source is polled off the request path and replicas
// started together do not poll in step. Each wait is drawn from
// [(1 - jitter) * interval, interval]: a change is seen within one
// interval of being published.
//
// Thread safety: Start and Stop from the owner's thread.
#ifndef IMPORTGATE_SERVER_BUNDLE_POLLER_H_
#define IMPORTGATE_SERVER_BUNDLE_POLLER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace importgate::bundle {

// The wait before a poll: `interval` less up to `jitter` (0 to 1) of it,
// by `unit` (0 to 1, e.g. a random draw): unit 0 waits the whole interval.
absl::Duration JitteredInterval(absl::Duration interval, double jitter,
                                double unit);

class Poller {
 public:
  // Calls `poll` every JitteredInterval(interval, jitter, random) until
  // Stop(); `interval` must be positive.
  Poller(absl::Duration interval, double jitter, std::function<void()> poll);
  ~Poller();  // Stop()
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void Start();
  // Polls now (after a poll in progress), then waits a whole interval.
  void PollNow();
  // Wakes the thread and joins it (after a poll in progress). Idempotent.
  void Stop();

 private:
  void Run();

  const absl::Duration interval_;
  const double jitter_;
  const std::function<void()> poll_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool poll_now_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_POLLER_H_
