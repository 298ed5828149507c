#include "server/bundle/policy_store.h"

#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_bundles.h"

namespace importgate::bundle {
namespace {

namespace it = ::importgate::testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::shared_ptr<const LoadedBundle> Bundle(uint64_t revision) {
  auto bundle = LoadBundle(
      absl::StrCat("rev", revision),
      it::BundleFiles(it::TestManifest(revision), it::kDenyTeesRules),
      it::RealIsoCodes());
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return *bundle;
}

class PolicyStoreTest : public ::testing::Test {
 protected:
  it::FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  PolicyStore store_{&clock_, /*history_limit=*/3};
};

TEST_F(PolicyStoreTest, EmptyUntilActivated) {
  EXPECT_EQ(store_.Current(), nullptr);
  StoreStatus status = store_.Status();
  EXPECT_FALSE(status.active.has_value());
  EXPECT_FALSE(status.last_attempt.has_value());
  EXPECT_TRUE(status.history.empty());
}

TEST_F(PolicyStoreTest, CurrentForRequestFollowsActivations) {
  EXPECT_EQ(store_.CurrentForRequest(), nullptr);
  ASSERT_TRUE(store_.Activate(Bundle(1)).ok());
  EXPECT_EQ(store_.CurrentForRequest()->snapshot->revision, 1u);
  EXPECT_EQ(store_.CurrentForRequest()->snapshot->revision, 1u);  // cached
  ASSERT_TRUE(store_.Activate(Bundle(2)).ok());
  EXPECT_EQ(store_.CurrentForRequest()->snapshot->revision, 2u);
  EXPECT_FALSE(store_.Activate(Bundle(1)).ok());  // refused: nothing changes
  EXPECT_EQ(store_.CurrentForRequest()->snapshot->revision, 2u);
  ASSERT_TRUE(store_.Activate(Bundle(1), {.allow_rollback = true}).ok());
  EXPECT_EQ(store_.CurrentForRequest()->snapshot->revision, 1u);
}

TEST(PolicyStoreThreadCacheTest, StoresSharingAThreadKeepTheirOwnBundles) {
  // More stores than a thread caches, so that they evict each other.
  it::FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  std::vector<std::unique_ptr<PolicyStore>> stores;
  for (uint64_t revision = 1; revision <= 9; ++revision) {
    stores.push_back(std::make_unique<PolicyStore>(&clock));
    ASSERT_TRUE(stores.back()->Activate(Bundle(revision)).ok());
  }
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < stores.size(); ++i) {
      EXPECT_EQ(stores[i]->CurrentForRequest()->snapshot->revision, i + 1);
    }
  }
}

TEST(PolicyStoreThreadCacheTest, ANewStoreNeverSeesAnOldStoresBundle) {
  // A new store may well be built where a destroyed one was.
  it::FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  std::optional<PolicyStore> store;
  store.emplace(&clock);
  ASSERT_TRUE(store->Activate(Bundle(1)).ok());
  ASSERT_NE(store->CurrentForRequest(), nullptr);
  store.reset();
  store.emplace(&clock);
  EXPECT_EQ(store->CurrentForRequest(), nullptr);
}

TEST_F(PolicyStoreTest, AThreadSeesActivationsMadeOnAnother) {
  // The reader thread caches "none", then must notice each activation.
  std::promise<void> read_empty, activated1, read1, activated2;
  std::vector<uint64_t> seen;
  std::thread reader([&] {
    seen.push_back(store_.CurrentForRequest() ? 99 : 0);
    read_empty.set_value();
    activated1.get_future().wait();
    seen.push_back(store_.CurrentForRequest()->snapshot->revision);
    read1.set_value();
    activated2.get_future().wait();
    seen.push_back(store_.CurrentForRequest()->snapshot->revision);
  });
  read_empty.get_future().wait();
  ASSERT_TRUE(store_.Activate(Bundle(1)).ok());
  activated1.set_value();
  read1.get_future().wait();
  ASSERT_TRUE(store_.Activate(Bundle(2)).ok());
  activated2.set_value();
  reader.join();
  EXPECT_THAT(seen, ElementsAre(0, 1, 2));
}

TEST_F(PolicyStoreTest, ListenerSeesServingOnlyOnceABundleIsActive) {
  std::vector<bool> calls;
  store_.SetServingListener(
      [&calls](bool serving) { calls.push_back(serving); });
  ASSERT_TRUE(store_.Activate(Bundle(1)).ok());
  ASSERT_TRUE(store_.Activate(Bundle(2)).ok());
  EXPECT_THAT(calls, ElementsAre(false, true));
}

TEST_F(PolicyStoreTest, ActivateSwapsAndRecords) {
  auto first = Bundle(1);
  ASSERT_TRUE(store_.Activate(first).ok());
  std::shared_ptr<const LoadedBundle> held = store_.Current();
  clock_.Set(absl::FromUnixSeconds(1'700'000'100));
  ASSERT_TRUE(store_.Activate(Bundle(2)).ok());
  // A reader that took revision 1 keeps it; new readers see revision 2.
  EXPECT_EQ(held->snapshot->revision, 1u);
  EXPECT_EQ(store_.Current()->snapshot->revision, 2u);
  StoreStatus status = store_.Status();
  ASSERT_TRUE(status.active.has_value());
  EXPECT_EQ(status.active->loaded_at, absl::FromUnixSeconds(1'700'000'100));
  ASSERT_TRUE(status.last_attempt.has_value());
  EXPECT_TRUE(status.last_attempt->activated);
  EXPECT_EQ(status.last_attempt->candidate_revision, 2u);
}

TEST_F(PolicyStoreTest, OlderOrEqualRevisionIsRefusedUnlessRollback) {
  ASSERT_TRUE(store_.Activate(Bundle(5)).ok());
  for (uint64_t revision : {4u, 5u}) {
    absl::Status s = store_.Activate(Bundle(revision));
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(), HasSubstr("not newer than the active revision 5"));
    EXPECT_EQ(store_.Current()->snapshot->revision, 5u);
    EXPECT_FALSE(store_.Status().last_attempt->activated);
  }
  ASSERT_TRUE(store_.Activate(Bundle(4), {.allow_rollback = true}).ok());
  EXPECT_EQ(store_.Current()->snapshot->revision, 4u);
}

TEST_F(PolicyStoreTest, AnotherBundleNameIsRefusedUnlessAskedFor) {
  ASSERT_TRUE(store_.Activate(Bundle(1)).ok());
  std::string manifest = it::TestManifest(2);
  manifest.replace(manifest.find("\"test\""), 6, "\"other\"");
  auto other =
      LoadBundle("other", it::BundleFiles(manifest, it::kDenyTeesRules),
                 it::RealIsoCodes());
  ASSERT_TRUE(other.ok()) << other.status();
  absl::Status s = store_.Activate(*other);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("differs from the active bundle"));
  EXPECT_EQ(store_.Current()->snapshot->name, "test");
  EXPECT_TRUE(store_.Activate(*other, {.allow_rollback = true}).ok());
}

TEST_F(PolicyStoreTest, HistoryIsNewestFirstAndBounded) {
  for (uint64_t r = 1; r <= 5; ++r)
    ASSERT_TRUE(store_.Activate(Bundle(r)).ok());
  std::vector<uint64_t> revisions;
  for (const auto& record : store_.Status().history) {
    revisions.push_back(record.bundle->snapshot->revision);
  }
  EXPECT_THAT(revisions, ElementsAre(5u, 4u, 3u));
}

TEST_F(PolicyStoreTest, FailureIsRecordedAndChangesNothing) {
  ASSERT_TRUE(store_.Activate(Bundle(1)).ok());
  store_.RecordFailure("/bundles/bad",
                       absl::InvalidArgumentError("rules/x:3: boom"));
  EXPECT_EQ(store_.Current()->snapshot->revision, 1u);
  StoreStatus status = store_.Status();
  ASSERT_TRUE(status.last_attempt.has_value());
  EXPECT_FALSE(status.last_attempt->activated);
  EXPECT_EQ(status.last_attempt->source, "/bundles/bad");
  EXPECT_EQ(status.last_attempt->error, "rules/x:3: boom");
}

// Freshness (--max_bundle_staleness): failures start the clock, a success
// (activation or an unchanged read) stops it, and a restored last known
// good bundle is stale until the source is read again.
TEST_F(PolicyStoreTest, FreshnessFollowsTheSourcesFailuresAndSuccesses) {
  ASSERT_TRUE(store_.Activate(Bundle(1)).ok());
  EXPECT_FALSE(store_.FreshnessNow().stale);
  store_.SetMaxStaleness(absl::Minutes(10));

  const absl::Time first_failure = clock_.Now();
  store_.RecordFailure("src", absl::NotFoundError("src does not exist"));
  clock_.Set(clock_.Now() + absl::Minutes(5));
  store_.RecordFailure("src", absl::NotFoundError("src does not exist"));
  EXPECT_FALSE(store_.FreshnessNow().stale);  // 5 min: within the limit
  EXPECT_EQ(store_.Status().failing_since, first_failure);
  clock_.Set(clock_.Now() + absl::Minutes(5) + absl::Seconds(1));
  Freshness f = store_.FreshnessNow();
  EXPECT_TRUE(f.stale);
  EXPECT_EQ(f.since, first_failure);
  EXPECT_THAT(f.reason, HasSubstr("src does not exist"));
  EXPECT_THAT(f.reason, HasSubstr("--max_bundle_staleness"));

  store_.RecordSourceRead();  // an unchanged read
  EXPECT_FALSE(store_.FreshnessNow().stale);
  EXPECT_FALSE(store_.Status().failing_since.has_value());

  // Off: failures alone never make it stale.
  store_.SetMaxStaleness(absl::ZeroDuration());
  store_.RecordFailure("src", absl::NotFoundError("gone"));
  clock_.Set(clock_.Now() + absl::Hours(24));
  EXPECT_FALSE(store_.FreshnessNow().stale);
  ASSERT_TRUE(store_.Activate(Bundle(2)).ok());
  EXPECT_FALSE(store_.Status().failing_since.has_value());
}

TEST_F(PolicyStoreTest, ARestoredLastKnownGoodIsStaleUntilTheSourceIsRead) {
  ASSERT_TRUE(store_
                  .Activate(Bundle(3),
                            {.allow_rollback = true, .last_known_good = true})
                  .ok());
  store_.RecordFailure("src", absl::InvalidArgumentError("bad magic"));
  Freshness f = store_.FreshnessNow();  // no --max_bundle_staleness needed
  EXPECT_TRUE(f.stale);
  EXPECT_THAT(f.reason, HasSubstr("last known good"));
  EXPECT_THAT(f.reason, HasSubstr("bad magic"));
  EXPECT_TRUE(store_.Status().serving_last_known_good);
  store_.RecordSourceRead();
  EXPECT_FALSE(store_.FreshnessNow().stale);
  EXPECT_FALSE(store_.Status().serving_last_known_good);
}

}  // namespace
}  // namespace importgate::bundle
