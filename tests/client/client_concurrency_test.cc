// The client's own concurrency — retries, the cache, the revision watermark,
// blocking and async calls from many threads — over a fake Connection that
// completes calls on plain threads. No gRPC runs here, so the test is also
// built and run under ThreadSanitizer (deploy/dev.sh): Debian's gRPC is not
// TSAN-instrumented, so a test that crosses gRPC cannot be TSAN-clean.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "importgate/client/client.h"

namespace importgate::client {
namespace {

namespace v1 = ::importgate::v1;
using Source = DecisionResult::Source;

// Completes every call on its own thread. The bundle revision it answers
// from grows with the number of calls; every 7th call fails UNAVAILABLE
// (each request at most once), so retries and timers run concurrently too. New
// revisions keep arriving, so the cache is flushed while other threads hit it.
class FakeConnection final : public Connection {
 public:
  ~FakeConnection() override { JoinAll(); }

  void IsImportAllowed(const v1::IsImportAllowedRequest& request, absl::Time,
                       UnaryDone done) override {
    const int n = ++calls_;
    const uint64_t revision = 1 + static_cast<uint64_t>(n) / 4;
    bool fail = false;
    if (n % 7 == 0) {  // fail a request at most once, whatever the timing
      std::lock_guard<std::mutex> lock(mu_);
      fail = failed_once_.insert(request.item().sku()).second;
    }
    Spawn([request, revision, fail, done = std::move(done)] {
      v1::IsImportAllowedResponse response;
      if (fail) {
        done(absl::UnavailableError("scripted"), std::move(response));
        return;
      }
      if (request.min_bundle_revision() > revision) {
        done(absl::FailedPreconditionError("behind"), std::move(response));
        return;
      }
      response.mutable_decision()->set_allowed(true);
      response.mutable_decision()->set_effect(v1::EFFECT_ALLOW);
      response.mutable_decision()->mutable_cache_ttl()->set_seconds(60);
      response.mutable_bundle()->set_revision(revision);
      response.set_sku(request.item().sku());
      done(absl::OkStatus(), std::move(response));
    });
  }

  void BatchIsImportAllowed(const v1::BatchIsImportAllowedRequest&, absl::Time,
                            BatchDone done) override {
    Spawn([done = std::move(done)] {
      done(absl::UnimplementedError("not scripted"),
           v1::BatchIsImportAllowedResponse());
    });
  }

  void RunAt(absl::Time when, std::function<void()> fn) override {
    Spawn([when, fn = std::move(fn)] {
      absl::SleepFor(when - absl::Now());
      fn();
    });
  }

  void JoinAll() {
    while (true) {
      std::vector<std::thread> threads;
      {
        std::lock_guard<std::mutex> lock(mu_);
        threads.swap(threads_);
      }
      if (threads.empty()) return;
      for (auto& t : threads) t.join();
    }
  }

 private:
  void Spawn(std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back(std::move(fn));
  }

  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::set<std::string> failed_once_;
  std::vector<std::thread> threads_;
};

v1::IsImportAllowedRequest Request(int item) {
  v1::IsImportAllowedRequest r;
  r.mutable_item()->set_sku(absl::StrCat("sku-", item));
  r.mutable_item()->set_hs_code(absl::StrCat(610000 + item % 97));
  r.mutable_seller()->set_kind(v1::SELLER_KIND_CROSS_BORDER);
  r.set_destination_country("ID");
  r.set_channel(v1::CHANNEL_CHECKOUT);
  return r;
}

TEST(ClientConcurrencyTest, BlockingAndAsyncCallsFromManyThreads) {
  auto connection = std::make_shared<FakeConnection>();
  ClientOptions options;
  options.deadline = absl::Seconds(10);
  options.max_attempts = 5;
  options.cache_max_entries = 64;
  auto client = Client::Create(options, connection);
  ASSERT_TRUE(client.ok()) << client.status();

  constexpr int kThreads = 8, kCalls = 150;
  std::atomic<int> failures{0}, backwards{0}, async_done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint64_t seen = 0;
      for (int i = 0; i < kCalls; ++i) {
        if (i % 3 == 0) {
          client->IsImportAllowedAsync(
              Request(t * 1000 + i), [&](absl::StatusOr<DecisionResult> r) {
                if (!r.ok() || r->source == Source::kFallback) {
                  ADD_FAILURE()
                      << (r.ok() ? r->fallback_cause : r.status().ToString());
                  ++failures;
                }
                ++async_done;
              });
          continue;
        }
        auto r = client->IsImportAllowed(Request(i));
        if (!r.ok() || r->source == Source::kFallback) {
          ADD_FAILURE() << (r.ok() ? r->fallback_cause : r.status().ToString());
          ++failures;
          continue;
        }
        if (r->bundle.revision() < seen) ++backwards;
        seen = std::max(seen, r->bundle.revision());
      }
    });
  }
  for (auto& t : threads) t.join();
  connection->JoinAll();  // every async call and retry has completed
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_EQ(async_done.load(), kThreads * ((kCalls + 2) / 3));
  EXPECT_GT(client->highest_revision_seen(), 1u);
}

}  // namespace
}  // namespace importgate::client
