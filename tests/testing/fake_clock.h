// A Clock that tests set by hand; time never passes on its own.
#ifndef IMPORTGATE_TESTS_TESTING_FAKE_CLOCK_H_
#define IMPORTGATE_TESTS_TESTING_FAKE_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "server/common/clock.h"

namespace importgate::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time now) : now_(now) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Set(absl::Time now) {
    absl::MutexLock lock(&mu_);
    now_ = now;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_FAKE_CLOCK_H_
