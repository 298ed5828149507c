// The activation pipeline: forward-only revisions, refusal of every kind of
// bad candidate, last known good across restarts, and explicit rollback.
#include "server/bundle/manager.h"

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/bundle/artifact.h"
#include "server/policy/codes.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_bundles.h"

namespace importgate::bundle {
namespace {

namespace fs = std::filesystem;
namespace it = ::importgate::testing;
using ::testing::HasSubstr;
using Outcome = ReloadResult::Outcome;

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = it::WriteBundleDirectory({});
    source_ = dir_ + "/bundle.igb";
    state_ = dir_ + "/state";
    NewReplica();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A fresh process: new store and manager over the same source and state.
  void NewReplica(std::string state_dir = "use-default") {
    manager_.reset();
    store_ = std::make_unique<PolicyStore>(&clock_);
    ManagerOptions options;
    options.source = source_;
    options.state_dir = state_dir == "use-default" ? state_ : state_dir;
    options.keep_revisions = 3;
    options.source_options.iso_codes = it::RealIsoCodes();
    manager_ = std::make_unique<BundleManager>(store_.get(), &clock_, options);
  }

  void Publish(const std::string& bytes) {
    ASSERT_TRUE(WriteFileAtomically(source_, bytes).ok());
  }
  void Publish(uint64_t revision) { Publish(it::PackedSmallBundle(revision)); }

  uint64_t ActiveRevision() {
    auto current = store_->Current();
    return current == nullptr ? 0 : current->snapshot->revision;
  }

  std::string dir_, source_, state_;
  it::FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<PolicyStore> store_;
  std::unique_ptr<BundleManager> manager_;
};

TEST_F(ManagerTest, StartActivatesTheSourceAndPersistsIt) {
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 1u);
  EXPECT_TRUE(fs::exists(state_ + "/bundles/test-1.igb"));
  EXPECT_TRUE(fs::exists(state_ + "/active"));
}

TEST_F(ManagerTest, StartFailsWhenNothingCanBeServed) {
  absl::Status s = manager_->Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Current(), nullptr);
}

TEST_F(ManagerTest, ReloadActivatesNewerThenReportsUnchanged) {
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  Publish(2);
  ReloadResult r = manager_->Reload();
  EXPECT_EQ(r.outcome, Outcome::kActivated) << r.message;
  EXPECT_EQ(r.revision, 2u);
  EXPECT_EQ(ActiveRevision(), 2u);
  r = manager_->Reload();
  EXPECT_EQ(r.outcome, Outcome::kUnchanged) << r.message;
  EXPECT_EQ(ActiveRevision(), 2u);
}

TEST_F(ManagerTest, OlderOrEqualRevisionIsRefusedUnlessRollbackIsAsked) {
  Publish(3);
  ASSERT_TRUE(manager_->Start().ok());
  Publish(2);
  ReloadResult r = manager_->Reload();
  EXPECT_EQ(r.outcome, Outcome::kRefused);
  EXPECT_THAT(r.message, HasSubstr("not newer than the active revision 3"));
  EXPECT_EQ(ActiveRevision(), 3u);
  r = manager_->Reload(/*allow_rollback=*/true);
  EXPECT_EQ(r.outcome, Outcome::kActivated) << r.message;
  EXPECT_EQ(ActiveRevision(), 2u);
}

TEST_F(ManagerTest, BadCandidatesChangeNothingAndAreReported) {
  Publish(2);
  ASSERT_TRUE(manager_->Start().ok());
  const std::string good = it::PackedSmallBundle(3);
  for (const it::BadBundle& c : it::BadBundles(2)) {
    SCOPED_TRACE(c.name);
    Publish(c.bytes);
    ReloadResult r = manager_->Reload();
    EXPECT_EQ(r.outcome, Outcome::kRefused);
    EXPECT_THAT(r.message, HasSubstr(c.why));
    StoreStatus status = store_->Status();
    ASSERT_TRUE(status.last_attempt.has_value());
    EXPECT_FALSE(status.last_attempt->activated);
    EXPECT_THAT(status.last_attempt->error, HasSubstr(c.why));
    EXPECT_EQ(ActiveRevision(), 2u);
  }
  // The good candidate still goes through afterwards.
  Publish(good);
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  EXPECT_EQ(ActiveRevision(), 3u);
}

TEST_F(ManagerTest, RestartWithBrokenOrMissingSourceServesLastKnownGood) {
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  Publish(2);
  ASSERT_EQ(manager_->Reload().outcome, Outcome::kActivated);

  Publish("garbage");
  NewReplica();
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 2u);
  StoreStatus status = store_->Status();
  ASSERT_TRUE(status.last_attempt.has_value());
  EXPECT_FALSE(status.last_attempt->activated);
  EXPECT_EQ(status.last_attempt->source, source_);
  EXPECT_THAT(status.last_attempt->error, HasSubstr("bad magic"));
  EXPECT_THAT(status.active->bundle->source,
              HasSubstr("/state/bundles/test-2.igb"));
  // Answering, but from the last known good bundle: reported stale until
  // the source is read again.
  EXPECT_TRUE(status.serving_last_known_good);
  EXPECT_TRUE(store_->FreshnessNow().stale);
  Publish(2);
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kUnchanged);
  EXPECT_FALSE(store_->FreshnessNow().stale);

  fs::remove(source_);
  NewReplica();
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 2u);
  EXPECT_THAT(store_->Status().last_attempt->error,
              HasSubstr("does not exist"));
}

TEST_F(ManagerTest, RollbackReactivatesAndRefusesTheBadRevisionUntilANewerOne) {
  for (uint64_t r = 1; r <= 3; ++r) {
    Publish(r);
    if (r == 1) {
      ASSERT_TRUE(manager_->Start().ok());
    } else {
      ASSERT_EQ(manager_->Reload().outcome, Outcome::kActivated);
    }
  }
  auto rolled = manager_->Rollback(2);
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  EXPECT_EQ(rolled->outcome, Outcome::kActivated) << rolled->message;
  EXPECT_EQ(ActiveRevision(), 2u);

  // The source still holds revision 3: a reload must not undo the rollback.
  ReloadResult r = manager_->Reload();
  EXPECT_EQ(r.outcome, Outcome::kRefused);
  EXPECT_THAT(r.message, HasSubstr("rolled back"));
  EXPECT_EQ(ActiveRevision(), 2u);

  // Nor a restart: the floor is persisted.
  NewReplica();
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 2u);

  Publish(4);
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  EXPECT_EQ(ActiveRevision(), 4u);
}

TEST_F(ManagerTest, SymlinkSwapOfASourceDirectoryIsActivated) {
  std::string v1 = it::WriteBundleDirectory(it::SmallBundle(1));
  std::string v2 = it::WriteBundleDirectory(it::SmallBundle(2));
  std::string link = dir_ + "/current";
  fs::create_directory_symlink(v1, link);
  manager_.reset();
  ManagerOptions options;
  options.source = link;
  options.source_options.iso_codes = it::RealIsoCodes();
  manager_ = std::make_unique<BundleManager>(store_.get(), &clock_, options);
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 1u);
  fs::create_directory_symlink(v2, link + ".tmp");
  fs::rename(link + ".tmp", link);  // the atomic swap
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  EXPECT_EQ(ActiveRevision(), 2u);
  fs::remove_all(v1);
  fs::remove_all(v2);
}

// Regression: a restart used to accept any valid source revision, so one
// older than the persisted last known good silently rolled policy back.
TEST_F(ManagerTest, RestartRefusesASourceOlderThanTheLastKnownGood) {
  Publish(3);
  ASSERT_TRUE(manager_->Start().ok());
  Publish(2);
  NewReplica();
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 3u);
  EXPECT_THAT(store_->Status().last_attempt->error,
              HasSubstr("older than the last known good revision 3"));
}

TEST_F(ManagerTest, AllowRollbackOptionAppliesToEveryReload) {
  Publish(3);
  ASSERT_TRUE(manager_->Start().ok());
  manager_.reset();
  ManagerOptions options;
  options.source = source_;
  options.allow_rollback = true;
  options.source_options.iso_codes = it::RealIsoCodes();
  manager_ = std::make_unique<BundleManager>(store_.get(), &clock_, options);
  Publish(2);
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  EXPECT_EQ(ActiveRevision(), 2u);
}

TEST_F(ManagerTest, RollbackErrors) {
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(manager_->Rollback(99).status().code(),
            absl::StatusCode::kNotFound);
  NewReplica(/*state_dir=*/"");
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(manager_->Rollback(1).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ManagerTest, OnlyTheNewestRevisionsAreKept) {
  for (uint64_t r = 1; r <= 5; ++r) {
    Publish(r);
    if (r == 1) {
      ASSERT_TRUE(manager_->Start().ok());
    } else {
      ASSERT_EQ(manager_->Reload().outcome, Outcome::kActivated);
    }
  }
  EXPECT_FALSE(fs::exists(state_ + "/bundles/test-1.igb"));
  EXPECT_FALSE(fs::exists(state_ + "/bundles/test-2.igb"));
  EXPECT_TRUE(fs::exists(state_ + "/bundles/test-5.igb"));
}

TEST_F(ManagerTest, SignedSourcesAreVerifiedAndUnsignedRefused) {
  std::string key = dir_ + "/key.pem", pub = dir_ + "/pub.pem";
  ASSERT_TRUE(GenerateKeyPair(key, pub).ok());
  auto trusted = TrustedKeys::FromPemFiles({pub});
  ASSERT_TRUE(trusted.ok());
  manager_.reset();
  ManagerOptions options;
  options.source = source_;
  options.state_dir = state_;
  options.source_options.iso_codes = it::RealIsoCodes();
  options.source_options.trusted_keys =
      std::make_shared<const TrustedKeys>(*trusted);
  manager_ = std::make_unique<BundleManager>(store_.get(), &clock_, options);

  Publish(1);
  EXPECT_EQ(manager_->Start().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->Current(), nullptr);

  auto signing = SigningKey::FromPemFile(key);
  ASSERT_TRUE(signing.ok());
  auto unpacked = UnpackArtifact(it::PackedSmallBundle(1));
  ASSERT_TRUE(unpacked.ok());
  auto signature =
      signing->Sign("test", 1, unpacked->manifest.content_digest());
  ASSERT_TRUE(signature.ok());
  importgate::policy::v1::BundleSignatures signatures;
  *signatures.add_signatures() = *signature;
  ASSERT_TRUE(
      WriteFileAtomically(source_ + ".sig", signatures.ShortDebugString())
          .ok());
  EXPECT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 1u);
  // The signature travels with the persisted copy.
  EXPECT_TRUE(fs::exists(state_ + "/bundles/test-1.igb.sig"));
}

// A revision whose manifest names a not_before ahead passes every check
// when it is loaded and is held until that instant; status shows it.
TEST_F(ManagerTest, NotBeforeHoldsACheckedRevisionUntilItsInstant) {
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  const absl::Time at = clock_.Now() + absl::Minutes(1);
  Publish(it::PackedScheduledBundle(2, policy::FormatRfc3339(at)));
  for (int poll = 0; poll < 2; ++poll) {
    ReloadResult r = manager_->Reload();
    EXPECT_EQ(r.outcome, Outcome::kPending) << r.message;
    EXPECT_EQ(r.revision, 2u);
    EXPECT_THAT(r.message, HasSubstr(policy::FormatRfc3339(at)));
  }
  EXPECT_EQ(ActiveRevision(), 1u);
  std::optional<PendingRevision> pending = manager_->Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->revision, 2u);
  EXPECT_EQ(pending->activates_at, at);
  EXPECT_FALSE(manager_->ActivatePendingIfDue());
  clock_.Set(at - absl::Milliseconds(1));
  EXPECT_FALSE(manager_->ActivatePendingIfDue());
  clock_.Set(at);
  EXPECT_TRUE(manager_->ActivatePendingIfDue());
  EXPECT_EQ(ActiveRevision(), 2u);
  EXPECT_FALSE(manager_->Pending().has_value());
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kUnchanged);
}

// Held revisions are checked first, a newer one replaces an older, an
// immediate newer one overtakes it, and a not_before in the past is no
// wait at all; a malformed not_before is refused by field.
TEST_F(ManagerTest, HeldRevisionsAreCheckedReplacedAndOvertaken) {
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  const std::string later =
      policy::FormatRfc3339(clock_.Now() + absl::Hours(1));
  Publish(it::PackedScheduledBundle(2, later, /*failing_test=*/true));
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kRefused);
  EXPECT_FALSE(manager_->Pending().has_value());
  Publish(it::PackedScheduledBundle(2, later));
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kPending);
  Publish(it::PackedScheduledBundle(3, later));
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kPending);
  ASSERT_TRUE(manager_->Pending().has_value());
  EXPECT_EQ(manager_->Pending()->revision, 3u);
  Publish(it::PackedScheduledBundle(2, later));
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kRefused);
  ASSERT_TRUE(manager_->Pending().has_value());
  EXPECT_EQ(manager_->Pending()->revision, 3u);
  Publish(4);
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  EXPECT_FALSE(manager_->Pending().has_value());
  Publish(it::PackedScheduledBundle(
      5, policy::FormatRfc3339(clock_.Now() - absl::Seconds(1))));
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  EXPECT_EQ(ActiveRevision(), 5u);
  Publish(it::PackedScheduledBundle(6, "tomorrow"));
  ReloadResult bad = manager_->Reload();
  EXPECT_EQ(bad.outcome, Outcome::kRefused);
  EXPECT_THAT(bad.message, HasSubstr("not_before"));
}

// A held revision is withdrawn when the source holds the active bundle
// again, and cancelled by a rollback: it never activates after either.
TEST_F(ManagerTest, AHeldRevisionIsWithdrawnByARevertOrARollback) {
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  const absl::Time at = clock_.Now() + absl::Minutes(1);
  Publish(it::PackedScheduledBundle(2, policy::FormatRfc3339(at)));
  ASSERT_EQ(manager_->Reload().outcome, Outcome::kPending);
  Publish(1);  // the publisher reverts
  EXPECT_EQ(manager_->Reload().outcome, Outcome::kUnchanged);
  EXPECT_FALSE(manager_->Pending().has_value());
  clock_.Set(at);
  EXPECT_FALSE(manager_->ActivatePendingIfDue());
  EXPECT_EQ(ActiveRevision(), 1u);

  Publish(2);
  ASSERT_EQ(manager_->Reload().outcome, Outcome::kActivated);
  const absl::Time later = clock_.Now() + absl::Minutes(1);
  Publish(it::PackedScheduledBundle(3, policy::FormatRfc3339(later)));
  ASSERT_EQ(manager_->Reload().outcome, Outcome::kPending);
  ASSERT_TRUE(manager_->Rollback(1).ok());
  EXPECT_FALSE(manager_->Pending().has_value());
  clock_.Set(later);
  EXPECT_FALSE(manager_->ActivatePendingIfDue());
  EXPECT_EQ(ActiveRevision(), 1u);
}

// A replica restarted before a scheduled switch serves its last known good
// revision until the instant, then the held one.
TEST_F(ManagerTest, ARestartBeforeTheInstantServesTheLastKnownGoodUntilThen) {
  Publish(1);
  ASSERT_TRUE(manager_->Start().ok());
  const absl::Time at = clock_.Now() + absl::Minutes(5);
  Publish(it::PackedScheduledBundle(2, policy::FormatRfc3339(at)));
  NewReplica();
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 1u);
  ASSERT_TRUE(manager_->Pending().has_value());
  EXPECT_FALSE(store_->Status().serving_last_known_good);  // source is fine
  clock_.Set(at);
  EXPECT_TRUE(manager_->ActivatePendingIfDue());
  EXPECT_EQ(ActiveRevision(), 2u);
  // With no state directory, nothing serves until then.
  Publish(it::PackedScheduledBundle(
      3, policy::FormatRfc3339(clock_.Now() + absl::Minutes(5))));
  NewReplica("");
  ASSERT_TRUE(manager_->Start().ok());
  EXPECT_EQ(ActiveRevision(), 0u);
  clock_.Set(clock_.Now() + absl::Minutes(5));
  EXPECT_TRUE(manager_->ActivatePendingIfDue());
  EXPECT_EQ(ActiveRevision(), 3u);
}

// The activation timer activates a held revision at its instant on the
// real clock.
TEST(ManagerTimerTest, TheTimerActivatesAtTheInstant) {
  const std::string dir = it::WriteBundleDirectory({});
  SystemClock clock;
  PolicyStore store(&clock);
  ManagerOptions options;
  options.source = dir + "/bundle.igb";
  options.source_options.iso_codes = it::RealIsoCodes();
  ASSERT_TRUE(
      WriteFileAtomically(options.source, it::PackedSmallBundle(1)).ok());
  BundleManager manager(&store, &clock, options);
  manager.StartReloadThread();
  ASSERT_TRUE(manager.Start().ok());
  // A whole second, as RFC 3339 here carries it, 3 to 4 s ahead (room
  // for the reload on a busy machine).
  const absl::Time at =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 4);
  ASSERT_TRUE(WriteFileAtomically(
                  options.source,
                  it::PackedScheduledBundle(2, policy::FormatRfc3339(at)))
                  .ok());
  ASSERT_EQ(manager.Reload().outcome, ReloadResult::Outcome::kPending);
  while (store.Current()->snapshot->revision != 2 &&
         absl::Now() < at + absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(store.Current()->snapshot->revision, 2u);
  EXPECT_GE(store.Status().active->loaded_at, at);
  fs::remove_all(dir);
}

TEST(JitteredIntervalTest, ShortensTheWaitByAtMostItsFraction) {
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

// A packed file the tests publish to, and a manager over it.
class ManagerReloadThreadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = it::WriteBundleDirectory({});
    options_.source = dir_ + "/bundle.igb";
    options_.source_options.iso_codes = it::RealIsoCodes();
    Publish(1);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Publish(uint64_t revision) {
    ASSERT_TRUE(
        WriteFileAtomically(options_.source, it::PackedSmallBundle(revision))
            .ok());
  }
  uint64_t Active(const PolicyStore& store) {
    auto current = store.Current();
    return current == nullptr ? 0 : current->snapshot->revision;
  }

  std::string dir_;
  ManagerOptions options_;
  SystemClock clock_;
};

// A real source that counts its loads and, when asked, holds a load after
// it has read the source, until released.
class HeldSource final : public BundleSource {
 public:
  struct Control {
    std::mutex mu;
    std::condition_variable changed;
    int loads = 0;
    bool hold = false;
    bool holding = false;
  };
  HeldSource(std::unique_ptr<BundleSource> real, Control* control)
      : real_(std::move(real)), control_(control) {}
  const std::string& name() const override { return real_->name(); }
  bool remote() const override { return false; }
  absl::StatusOr<std::optional<Candidate>> Load(
      const SourceOptions& options) override {
    auto loaded = real_->Load(options);
    std::unique_lock<std::mutex> lock(control_->mu);
    ++control_->loads;
    control_->holding = control_->hold;
    control_->changed.notify_all();
    control_->changed.wait(lock, [&] { return !control_->hold; });
    control_->holding = false;
    return loaded;
  }
  void Accept() override { real_->Accept(); }
  void Refuse(const absl::Status& why) override { real_->Refuse(why); }
  void Forget() override { real_->Forget(); }
  void Cancel() override { real_->Cancel(); }

 private:
  const std::unique_ptr<BundleSource> real_;
  Control* const control_;
};

// A request made while a reload is under way (that reload read the source
// before the request) is answered by the next reload, never by the one
// under way; the requests waiting meanwhile share that next one.
TEST_F(ManagerReloadThreadTest, ARequestIsAnsweredByAReloadBegunAfterIt) {
  HeldSource::Control control;
  options_.open_source = [&](const std::string& source,
                             const RemoteOptions& remote)
      -> absl::StatusOr<std::unique_ptr<BundleSource>> {
    auto real = OpenSource(source, remote);
    if (!real.ok()) return real.status();
    return std::make_unique<HeldSource>(*std::move(real), &control);
  };
  PolicyStore store(&clock_);
  BundleManager manager(&store, &clock_, options_);
  ASSERT_TRUE(manager.Start().ok());
  const int loads_at_start = control.loads;
  auto answer = [&manager] {
    auto answered = std::make_shared<std::promise<uint64_t>>();
    manager.RequestReload([answered](const ReloadResult& result) {
      answered->set_value(result.revision);
    });
    return answered->get_future();
  };
  {
    std::lock_guard<std::mutex> lock(control.mu);
    control.hold = true;
  }
  std::future<uint64_t> first = answer();
  {
    std::unique_lock<std::mutex> lock(control.mu);
    control.changed.wait(lock, [&] { return control.holding; });
  }
  // The first reload has read revision 1 and is held: publish 2, ask twice.
  Publish(2);
  std::future<uint64_t> second = answer();
  std::future<uint64_t> third = answer();
  {
    std::lock_guard<std::mutex> lock(control.mu);
    control.hold = false;
  }
  control.changed.notify_all();
  for (auto* f : {&first, &second, &third}) {
    ASSERT_EQ(f->wait_for(std::chrono::seconds(30)), std::future_status::ready);
  }
  EXPECT_EQ(first.get(), 1u);
  EXPECT_EQ(second.get(), 2u);
  EXPECT_EQ(third.get(), 2u);
  EXPECT_EQ(control.loads - loads_at_start, 2) << "the two waiting share one";
  EXPECT_EQ(Active(store), 2u);
}

// With a poll interval the thread looks at the source by itself.
TEST_F(ManagerReloadThreadTest, APollIntervalReloadsWithoutBeingAsked) {
  options_.poll_interval = absl::Milliseconds(20);
  PolicyStore store(&clock_);
  BundleManager manager(&store, &clock_, options_);
  ASSERT_TRUE(manager.Start().ok());
  manager.StartReloadThread();
  manager.StartReloadThread();  // once is enough
  Publish(2);
  for (int i = 0; i < 3000 && Active(store) != 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(Active(store), 2u);
}

// Without one it never does; and requests not yet answered when the
// manager goes are answered, not dropped (an admin call would hang).
TEST_F(ManagerReloadThreadTest, WithoutAnIntervalOnlyWhenAskedAndNoneIsLost) {
  PolicyStore store(&clock_);
  std::promise<uint64_t> last;
  {
    BundleManager manager(&store, &clock_, options_);
    ASSERT_TRUE(manager.Start().ok());
    manager.StartReloadThread();
    Publish(2);
    absl::SleepFor(absl::Milliseconds(300));
    EXPECT_EQ(Active(store), 1u) << "reloaded without being asked";
    manager.RequestReload(
        [&last](const ReloadResult& r) { last.set_value(r.revision); });
  }
  auto answer = last.get_future();
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(0)),
            std::future_status::ready);
  EXPECT_EQ(answer.get(), 2u);
}

}  // namespace
}  // namespace importgate::bundle
