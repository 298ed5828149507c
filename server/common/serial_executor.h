// SerialExecutor: runs work items one at a time, in the order they were
// queued, on one thread of its own (started on first use). For gRPC
// callback handlers whose work blocks (compiling a bundle, reading a log):
// they queue it here and finish the call from the work item, so no gRPC
// callback thread waits.
//
// Thread safety: Run() may be called from any thread. The destructor runs
// what is queued, then joins the thread; destroy the executor only after
// whatever queues work (e.g. a gRPC server) has stopped.
#ifndef IMPORTGATE_SERVER_COMMON_SERIAL_EXECUTOR_H_
#define IMPORTGATE_SERVER_COMMON_SERIAL_EXECUTOR_H_

#include <deque>
#include <functional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/common/thread_name.h"

namespace importgate {

class SerialExecutor {
 public:
  SerialExecutor() = default;
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;
  ~SerialExecutor() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  // Queues `work`.
  void Run(std::function<void()> work) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(work));
    if (!thread_.joinable())
      thread_ = std::thread([this] {
        SetCurrentThreadName("ig-serial");
        Loop();
      });
  }

 private:
  void Loop() {
    while (true) {
      std::function<void()> work;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](SerialExecutor* e) ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return e->stopping_ || !e->queue_.empty();
            },
            this));
        if (queue_.empty()) return;  // stopping, nothing left
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      work();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace importgate

#endif  // IMPORTGATE_SERVER_COMMON_SERIAL_EXECUTOR_H_
