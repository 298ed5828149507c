// Readers decide requests without pause while the manager activates new
// revisions and refuses bad ones. Every decision must come from a revision
// that was really active, no reader may see its revision go backwards, and
// no decision may fail. No gRPC here, so the whole test runs under
// ThreadSanitizer (see deploy/dev.sh).
#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/bundle/manager.h"
#include "server/eval/evaluator.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/reload_driver.h"
#include "tests/testing/tee_request.h"
#include "tests/testing/test_bundles.h"

namespace importgate::bundle {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;

struct ReaderLog {
  std::vector<uint64_t> revisions;  // each decision's revision, in order
  int failures = 0;
};

TEST(ReloadConcurrencyTest, ReadersSeeOnlyActiveRevisionsMovingForward) {
  constexpr int kReaders = 8;
  constexpr uint64_t kLastRevision = 15;
  std::string dir = it::WriteBundleDirectory({});
  std::string source = dir + "/bundle.igb";
  ASSERT_TRUE(WriteFileAtomically(source, it::PackedSmallBundle(1)).ok());
  it::FakeClock clock(absl::FromUnixSeconds(1'705'000'000));
  PolicyStore store(&clock);
  ManagerOptions options;
  options.source = source;
  options.source_options.iso_codes = it::RealIsoCodes();
  BundleManager manager(&store, &clock, options);
  ASSERT_TRUE(manager.Start().ok());

  const v1::IsImportAllowedRequest request = it::TeeRequest();

  std::atomic<bool> stop{false};
  std::vector<ReaderLog> logs(kReaders);
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&, i] {
      ReaderLog& log = logs[i];
      v1::Decision decision;
      do {  // at least once, however fast the writer is
        // Half the readers take the request handlers' lock-free path.
        const std::shared_ptr<const LoadedBundle> copied =
            i % 2 == 0 ? store.Current() : nullptr;
        const std::shared_ptr<const LoadedBundle>& bundle =
            i % 2 == 0 ? copied : store.CurrentForRequest();
        absl::Status s =
            eval::Evaluate(*bundle->snapshot, request, clock.Now(), &decision);
        if (!s.ok() || decision.rule_id() != "deny-tees") ++log.failures;
        log.revisions.push_back(bundle->snapshot->revision);
      } while (!stop.load(std::memory_order_relaxed));
    });
  }
  std::set<uint64_t> activated =
      it::PublishRevisions(&manager, source, 1, kLastRevision);
  stop = true;
  for (auto& t : readers) t.join();

  for (int i = 0; i < kReaders; ++i) {
    SCOPED_TRACE(i);
    const ReaderLog& log = logs[i];
    EXPECT_EQ(log.failures, 0);
    ASSERT_FALSE(log.revisions.empty());
    for (size_t k = 0; k < log.revisions.size(); ++k) {
      EXPECT_TRUE(activated.count(log.revisions[k])) << log.revisions[k];
      if (k > 0) {
        ASSERT_GE(log.revisions[k], log.revisions[k - 1]);
      }
    }
  }
  EXPECT_EQ(store.Current()->snapshot->revision, kLastRevision);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace importgate::bundle
