#include "server/bundle/poller.h"

#include <algorithm>
#include <random>
#include <utility>

#include "server/common/thread_name.h"

namespace importgate::bundle {

absl::Duration JitteredInterval(absl::Duration interval, double jitter,
                                double unit) {
  jitter = std::clamp(jitter, 0.0, 1.0);
  unit = std::clamp(unit, 0.0, 1.0);
  return interval - interval * (jitter * unit);
}

Poller::Poller(absl::Duration interval, double jitter,
               std::function<void()> poll)
    : interval_(interval), jitter_(jitter), poll_(std::move(poll)) {}

Poller::~Poller() { Stop(); }

void Poller::Start() {
  thread_ = std::thread([this] {
    SetCurrentThreadName("ig-poller");
    Run();
  });
}

void Poller::PollNow() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    poll_now_ = true;
  }
  wake_.notify_all();
}

void Poller::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Poller::Run() {
  std::mt19937_64 random{std::random_device{}()};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  while (true) {
    const absl::Duration wait =
        JitteredInterval(interval_, jitter_, unit(random));
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, absl::ToChronoNanoseconds(wait),
                     [this] { return stopping_ || poll_now_; });
      if (stopping_) return;
      poll_now_ = false;
    }
    poll_();
  }
}

}  // namespace importgate::bundle
