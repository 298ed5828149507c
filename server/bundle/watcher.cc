#include "server/bundle/watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/thread_name.h"

namespace importgate::bundle {
namespace {

namespace fs = std::filesystem;

void AppendStat(const fs::path& path, std::string* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    absl::StrAppend(out, path.string(), ":missing;");
    return;
  }
  absl::StrAppend(out, path.string(), ":", st.st_size, ":", st.st_ino, ":",
                  st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ";");
}

}  // namespace

std::string SourceFingerprint(const std::string& path) {
  std::string out;
  AppendStat(path, &out);
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    AppendStat(path + ".sig", &out);
    return out;
  }
  std::vector<fs::path> paths;
  for (fs::recursive_directory_iterator
           it(path, fs::directory_options::follow_directory_symlink, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    paths.push_back(it->path());
  }
  std::sort(paths.begin(), paths.end());
  for (const fs::path& p : paths) AppendStat(p, &out);
  return out;
}

SourceWatcher::SourceWatcher(WatcherOptions options,
                             std::function<void()> on_change)
    : options_(std::move(options)), on_change_(std::move(on_change)) {}

SourceWatcher::~SourceWatcher() { Stop(); }

absl::Status SourceWatcher::Start() {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return absl::InternalError("eventfd failed");
  if (options_.use_inotify) {
    inotify_fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (inotify_fd_ < 0) return absl::InternalError("inotify_init1 failed");
    AddWatches();
  }
  fingerprint_ = SourceFingerprint(options_.path);
  thread_ = std::thread([this] {
    SetCurrentThreadName("ig-watcher");
    Run();
  });
  return absl::OkStatus();
}

void SourceWatcher::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t ignored = ::write(stop_fd_, &one, sizeof(one));
    (void)ignored;
    thread_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  inotify_fd_ = stop_fd_ = -1;
}

void SourceWatcher::AddWatches() {
  constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                             IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MODIFY |
                             IN_DELETE_SELF | IN_MOVE_SELF;
  // The parent sees renames and symlink swaps of the source itself.
  fs::path source(options_.path);
  fs::path parent = source.parent_path().empty() ? "." : source.parent_path();
  ::inotify_add_watch(inotify_fd_, parent.c_str(), kMask);
  std::error_code ec;
  if (!fs::is_directory(source, ec)) return;
  ::inotify_add_watch(inotify_fd_, source.c_str(), kMask);
  for (fs::recursive_directory_iterator
           it(source, fs::directory_options::follow_directory_symlink, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) {
      ::inotify_add_watch(inotify_fd_, it->path().c_str(), kMask);
    }
  }
}

void SourceWatcher::Run() {
  std::vector<pollfd> fds = {{stop_fd_, POLLIN, 0}};
  if (inotify_fd_ >= 0) fds.push_back({inotify_fd_, POLLIN, 0});
  absl::Time next_poll = absl::Now() + options_.poll_interval;
  absl::Time pending_since = absl::InfiniteFuture();  // debounce start
  char buf[64 * 1024];
  while (true) {
    absl::Time wake = options_.poll_interval > absl::ZeroDuration()
                          ? next_poll
                          : absl::InfiniteFuture();
    if (pending_since != absl::InfiniteFuture()) {
      wake = std::min(wake, pending_since + options_.debounce);
    }
    int timeout_ms = -1;
    if (wake != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(std::clamp<int64_t>(
          absl::ToInt64Milliseconds(wake - absl::Now()) + 1, 0, 60'000));
    }
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n > 0 && (fds[0].revents & POLLIN)) return;
    if (n > 0 && fds.size() > 1 && (fds[1].revents & POLLIN)) {
      while (::read(inotify_fd_, buf, sizeof(buf)) > 0) {
      }
      // Debounce from the first event of a burst, so a steady stream of
      // unrelated events in the directory cannot postpone a reload forever.
      if (pending_since == absl::InfiniteFuture()) pending_since = absl::Now();
    }
    absl::Time now = absl::Now();
    bool debounced = pending_since != absl::InfiniteFuture() &&
                     now >= pending_since + options_.debounce;
    bool poll_due =
        options_.poll_interval > absl::ZeroDuration() && now >= next_poll;
    if (!debounced && !poll_due) continue;
    if (poll_due) next_poll = now + options_.poll_interval;
    pending_since = absl::InfiniteFuture();
    std::string fingerprint = SourceFingerprint(options_.path);
    if (fingerprint == fingerprint_) continue;
    fingerprint_ = std::move(fingerprint);
    if (inotify_fd_ >= 0) AddWatches();  // new subdirectories, new targets
    on_change_();
  }
}

}  // namespace importgate::bundle
