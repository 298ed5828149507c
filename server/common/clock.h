// Clock: the source of "now", injected so that tests never sleep or depend
// on the wall clock (LevelDB's Env, Envoy's TimeSource).
//
// Thread safety: implementations must be safe to call from any thread.
#ifndef IMPORTGATE_SERVER_COMMON_CLOCK_H_
#define IMPORTGATE_SERVER_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace importgate {

class Clock {
 public:
  virtual ~Clock() = default;
  // The current time.
  virtual absl::Time Now() const = 0;
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace importgate

#endif  // IMPORTGATE_SERVER_COMMON_CLOCK_H_
