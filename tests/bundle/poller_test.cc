// The poller's jittered waits, and that it polls until stopped.
#include "server/bundle/poller.h"

#include <atomic>
#include <latch>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace importgate::bundle {
namespace {

TEST(PollerTest, JitterShortensTheWaitByAtMostItsFraction) {
  const absl::Duration interval = absl::Seconds(10);
  struct Case {
    double jitter, unit;
    absl::Duration want;
  } cases[] = {
      {0.2, 0.0, absl::Seconds(10)},    {0.2, 1.0, absl::Seconds(8)},
      {0.2, 0.5, absl::Seconds(9)},     {0.0, 0.7, absl::Seconds(10)},
      {1.5, 1.0, absl::ZeroDuration()},  // clamped to the whole interval
      {0.2, -3.0, absl::Seconds(10)},    // a draw out of range, clamped
  };
  for (const Case& c : cases) {
    EXPECT_EQ(JitteredInterval(interval, c.jitter, c.unit), c.want)
        << c.jitter << " " << c.unit;
  }
}

TEST(PollerTest, PollsUntilStopped) {
  std::atomic<int> polls{0};
  std::latch three(3);
  Poller poller(absl::Milliseconds(1), 0.5, [&] {
    if (polls.fetch_add(1) < 3) three.count_down();
  });
  poller.Start();
  three.wait();
  poller.Stop();
  const int stopped_at = polls.load();
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(polls.load(), stopped_at);
  poller.Stop();  // idempotent
}

TEST(PollerTest, PollNowDoesNotWaitForTheInterval) {
  std::atomic<int> polls{0};
  std::latch polled(1);
  Poller poller(absl::Hours(1), 0.0, [&] {
    if (polls.fetch_add(1) == 0) polled.count_down();
  });
  poller.Start();
  poller.PollNow();
  polled.wait();  // within the hour only because of PollNow
  poller.Stop();
  EXPECT_EQ(polls.load(), 1);
}

}  // namespace
}  // namespace importgate::bundle
