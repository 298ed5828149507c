// What the decision log's tests share: answers to log, and a fixture with
// a fresh directory, a fake clock and helpers that write, verify and read
// back segments.
#ifndef IMPORTGATE_TESTS_DECISIONLOG_DECISION_LOG_FIXTURE_H_
#define IMPORTGATE_TESTS_DECISIONLOG_DECISION_LOG_FIXTURE_H_

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "importgate/decisionlog/v1/decision_log.pb.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/decisionlog/decision_log.h"
#include "server/decisionlog/segment.h"
#include "server/decisionlog/verify.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/tee_request.h"

namespace importgate::decisionlog {

inline const absl::Time kNow =
    absl::FromUnixSeconds(1'764'500'000);  // 2025-11-30

inline ::importgate::v1::IsImportAllowedResponse Answer(
    const std::string& sku, ::importgate::v1::Effect effect,
    const std::string& id) {
  ::importgate::v1::IsImportAllowedResponse r;
  r.mutable_decision()->set_allowed(effect == ::importgate::v1::EFFECT_ALLOW);
  r.mutable_decision()->set_effect(effect);
  r.mutable_decision()->set_reason_code("R");
  r.mutable_bundle()->set_name("marketplace-id");
  r.mutable_bundle()->set_revision(3);
  r.set_sku(sku);
  r.set_decision_id(id);
  return r;
}

// Waits up to a minute (real time) for `done`.
template <typename Done>
bool Eventually(Done done) {
  const absl::Time until = absl::Now() + absl::Minutes(1);
  while (!done()) {
    if (absl::Now() > until) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// Holds a decision log's writer in DecisionLogOptions::before_write while
// closed. Thread-safe. Declare an absl::Cleanup that opens it after the
// log, so that a failed assertion never leaves ~DecisionLog joining a
// writer that waits here.
class WriterGate {
 public:
  explicit WriterGate(bool open) : open_(open) {}
  // Called by the writer: waits while the gate is closed.
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!open_) ++held_;
    opened_.wait(lock, [&] { return open_; });
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    opened_.notify_all();
  }
  // How many times the writer was held.
  int held() const {
    std::lock_guard<std::mutex> lock(mu_);
    return held_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable opened_;
  bool open_;
  int held_ = 0;
};

class DecisionLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(
        ::testing::TempDir(), "/decision-log-", getpid(), "-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  DecisionLogOptions Options() {
    DecisionLogOptions options;
    options.dir = dir_;
    options.max_queue_bytes = 1 << 20;
    options.max_segment_bytes = 1 << 20;
    return options;
  }

  // Options for a log whose sink the test plays through `shipped` (which
  // the test sets) and `durable` (which the log publishes): an 8 MiB queue,
  // room for a batch past the cap; 2 MiB of retention, so a 3 MiB cap; the
  // writer passing `gate` before each batch.
  DecisionLogOptions OptionsWithATestSink(
      std::shared_ptr<std::atomic<uint64_t>> shipped,
      std::shared_ptr<std::atomic<uint64_t>> durable, WriterGate* gate) {
    DecisionLogOptions options = Options();
    options.max_queue_bytes = 8 << 20;
    options.max_total_bytes = 2 << 20;
    options.shipped_through = std::move(shipped);
    options.durable_through = std::move(durable);
    options.before_write = [gate] { gate->Pass(); };
    return options;
  }

  std::unique_ptr<DecisionLog> Open(DecisionLogOptions options) {
    auto log = DecisionLog::Open(std::move(options), &clock_);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : nullptr;
  }

  // A unary call for SKU-<n>, with its id from `log`.
  CallRecord Call(DecisionLog& log, int n, size_t padding = 0) {
    CallRecord call;
    call.time = clock_.Now();
    ::importgate::v1::IsImportAllowedRequest request =
        ::importgate::testing::TeeRequest();
    request.mutable_item()->set_sku(absl::StrCat("SKU-", n));
    if (padding > 0) {
      (*request.mutable_attributes())["pad"] = std::string(padding, 'p');
    }
    call.request = request.SerializeAsString();
    call.ids.push_back(log.ids().Next(call.time));
    call.response =
        Answer(absl::StrCat("SKU-", n), ::importgate::v1::EFFECT_DENY,
               std::string(View(call.ids[0])))
            .SerializeAsString();
    return call;
  }

  void Write(DecisionLog& log, int from, int to, size_t padding = 0) {
    for (int n = from; n < to; ++n) {
      ASSERT_TRUE(
          log.Submit(Call(log, n, padding), absl::InfiniteFuture()).ok());
    }
  }

  VerifyReport Verify() {
    auto report = VerifyDirectory(dir_);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : VerifyReport{};
  }

  std::vector<std::string> Segments() {
    std::vector<std::string> paths;
    auto segments = ListSegments(dir_);
    EXPECT_TRUE(segments.ok()) << segments.status();
    if (!segments.ok()) return paths;
    for (const auto& [first, path] : *segments) paths.push_back(path);
    return paths;
  }

  // The bytes the segment files hold.
  uint64_t DiskBytes() {
    uint64_t total = 0;
    for (const std::string& path : Segments()) {
      total += std::filesystem::file_size(path);
    }
    return total;
  }

  // Every decision record in the segments, in order.
  std::vector<::importgate::decisionlog::v1::DecisionRecord> Records() {
    std::vector<::importgate::decisionlog::v1::DecisionRecord> records;
    ::importgate::decisionlog::v1::LogEntry entry;
    for (const std::string& path : Segments()) {
      auto scan = ScanSegment(path, [&](const Frame& frame) {
        EXPECT_TRUE(entry.ParseFromArray(frame.entry.data(),
                                         static_cast<int>(frame.entry.size())));
        if (entry.has_decision()) records.push_back(entry.decision());
      });
      EXPECT_TRUE(scan.ok()) << scan.status();
    }
    return records;
  }

  // The offsets of a segment's frames.
  std::vector<uint64_t> FrameOffsets(const std::string& path) {
    std::vector<uint64_t> offsets;
    auto scan = ScanSegment(
        path, [&](const Frame& frame) { offsets.push_back(frame.offset); });
    EXPECT_TRUE(scan.ok()) << scan.status();
    return offsets;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static void Rewrite(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  ::importgate::testing::FakeClock clock_{kNow};
  std::string dir_;
};

}  // namespace importgate::decisionlog

#endif  // IMPORTGATE_TESTS_DECISIONLOG_DECISION_LOG_FIXTURE_H_
