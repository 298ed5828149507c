// A Clock that tests set by hand; time never passes on its own.
#ifndef IMPORTGATE_TESTS_TESTING_FAKE_CLOCK_H_
#define IMPORTGATE_TESTS_TESTING_FAKE_CLOCK_H_

#include <mutex>

#include "absl/base/thread_annotations.h"
#include "server/common/clock.h"

namespace importgate::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time now) : now_(now) {}
  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Set(absl::Time now) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = now;
  }

 private:
  mutable std::mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_FAKE_CLOCK_H_
