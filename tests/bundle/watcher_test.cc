// The watcher notices the publish protocols the README documents: rename of
// a fully written file, and a symlink swap; and polling when inotify is off.
// Tests wait on a condition with a generous deadline, never sleep a fixed
// time.
#include "server/bundle/watcher.h"

#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "gtest/gtest.h"
#include "server/bundle/artifact.h"
#include "tests/testing/kubelet_volume.h"
#include "tests/testing/test_bundles.h"

namespace importgate::bundle {
namespace {

namespace fs = std::filesystem;
namespace it = ::importgate::testing;

// Counts callbacks; lets a test wait for the next one.
class Counter {
 public:
  void Bump() {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
    cv_.notify_all();
  }
  // True when the count reached `n` within 10 s.
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return count_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = it::WriteBundleDirectory({}); }
  void TearDown() override {
    watcher_.reset();
    fs::remove_all(dir_);
  }
  void Watch(const std::string& path, bool inotify, absl::Duration poll) {
    WatcherOptions options;
    options.path = path;
    options.use_inotify = inotify;
    options.poll_interval = poll;
    options.debounce = absl::Milliseconds(20);
    watcher_ =
        std::make_unique<SourceWatcher>(options, [this] { counter_.Bump(); });
    ASSERT_TRUE(watcher_->Start().ok());
  }

  std::string dir_;
  Counter counter_;
  std::unique_ptr<SourceWatcher> watcher_;
};

TEST_F(WatcherTest, RenameOfAFullyWrittenFileIsNoticed) {
  std::string path = dir_ + "/bundle.igb";
  ASSERT_TRUE(WriteFileAtomically(path, "v1").ok());
  Watch(path, /*inotify=*/true, absl::ZeroDuration());
  ASSERT_TRUE(WriteFileAtomically(path, "v2").ok());  // temp + rename
  EXPECT_TRUE(counter_.WaitFor(1));
}

TEST_F(WatcherTest, SymlinkSwapIsNoticed) {
  fs::create_directories(dir_ + "/v1");
  fs::create_directories(dir_ + "/v2");
  std::ofstream(dir_ + "/v1/manifest.textproto") << "name: \"a\"";
  std::ofstream(dir_ + "/v2/manifest.textproto") << "name: \"b\"";
  fs::create_directory_symlink(dir_ + "/v1", dir_ + "/current");
  Watch(dir_ + "/current", /*inotify=*/true, absl::ZeroDuration());
  // The Kubernetes ConfigMap way: a new link, renamed over the old one.
  fs::create_directory_symlink(dir_ + "/v2", dir_ + "/current.tmp");
  fs::rename(dir_ + "/current.tmp", dir_ + "/current");
  EXPECT_TRUE(counter_.WaitFor(1));
}

TEST_F(WatcherTest, FileEditInsideASourceDirectoryIsNoticed) {
  fs::create_directories(dir_ + "/src/rules");
  std::ofstream(dir_ + "/src/rules/r.textproto") << "# v1";
  Watch(dir_ + "/src", /*inotify=*/true, absl::ZeroDuration());
  ASSERT_TRUE(
      WriteFileAtomically(dir_ + "/src/rules/r.textproto", "# v2").ok());
  EXPECT_TRUE(counter_.WaitFor(1));
}

// A ConfigMap update swaps the mount's "..data" link (kubelet layout):
// inotify on the mount notices it, and so does polling alone.
class ConfigMapWatcherTest : public WatcherTest,
                             public ::testing::WithParamInterface<bool> {};

INSTANTIATE_TEST_SUITE_P(InotifyOrPolling, ConfigMapWatcherTest,
                         ::testing::Bool());

TEST_P(ConfigMapWatcherTest, DataSwapIsNoticed) {
  const bool inotify = GetParam();
  it::KubeletVolume volume(dir_ + "/configmap");
  volume.Publish(
      {{"manifest.textproto", "name: \"a\""}, {"rules/r.textproto", "# v1"}});
  Watch(volume.mount(), inotify,
        inotify ? absl::ZeroDuration() : absl::Milliseconds(20));
  volume.Publish({{"manifest.textproto", "name: \"b\""},
                  {"rules/r.textproto", "# v2, longer"}});
  EXPECT_TRUE(counter_.WaitFor(1));
}

TEST_F(WatcherTest, PollingAloneNoticesAChange) {
  std::string path = dir_ + "/bundle.igb";
  ASSERT_TRUE(WriteFileAtomically(path, "v1").ok());
  Watch(path, /*inotify=*/false, absl::Milliseconds(20));
  ASSERT_TRUE(WriteFileAtomically(path, "v2 is longer").ok());
  EXPECT_TRUE(counter_.WaitFor(1));
}

TEST(SourceFingerprintTest, ChangesWithContentNotOtherwise) {
  std::string dir = it::WriteBundleDirectory(it::SmallBundle(1));
  std::string before = SourceFingerprint(dir);
  EXPECT_EQ(SourceFingerprint(dir), before);
  ASSERT_TRUE(WriteFileAtomically(dir + "/rules/r.textproto", "# edited").ok());
  EXPECT_NE(SourceFingerprint(dir), before);
  EXPECT_NE(SourceFingerprint(dir + "/missing"), before);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace importgate::bundle
