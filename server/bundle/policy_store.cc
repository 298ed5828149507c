#include "server/bundle/policy_store.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace importgate::bundle {

namespace {

uint64_t NextStoreId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// One thread's copy of a store's active bundle.
struct CachedBundle {
  uint64_t store_id = 0;  // 0: empty
  uint64_t version = 0;
  std::shared_ptr<const LoadedBundle> bundle;
};

// A few entries so that several stores (tests, tools) rarely evict each
// other; a server has one.
constexpr size_t kCachedStores = 4;

}  // namespace

PolicyStore::PolicyStore(const Clock* clock, size_t history_limit)
    : clock_(clock),
      history_limit_(history_limit == 0 ? 1 : history_limit),
      id_(NextStoreId()) {}

void PolicyStore::SetServingListener(ServingListener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
  if (listener_) listener_(Current() != nullptr);
}

std::shared_ptr<const LoadedBundle> PolicyStore::Current() const {
  std::shared_lock<std::shared_mutex> lock(current_mu_);
  return current_;
}

const std::shared_ptr<const LoadedBundle>& PolicyStore::CurrentForRequest()
    const {
  thread_local CachedBundle cache[kCachedStores];
  CachedBundle& entry = cache[id_ % kCachedStores];
  if (entry.store_id != id_ ||
      entry.version != version_.load(std::memory_order_acquire)) {
    std::shared_lock<std::shared_mutex> lock(current_mu_);
    entry.store_id = id_;
    entry.version = version_.load(std::memory_order_relaxed);
    entry.bundle = current_;
  }
  return entry.bundle;
}

absl::Status PolicyStore::Activate(std::shared_ptr<const LoadedBundle> bundle,
                                   ActivateOptions options) {
  const compiler::PolicySnapshot& snapshot = *bundle->snapshot;
  LoadAttemptRecord attempt{clock_->Now(), bundle->source,    false,         "",
                            snapshot.name, snapshot.revision, bundle->digest};
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<const LoadedBundle> current = Current();
  if (current != nullptr && !options.allow_rollback &&
      snapshot.name != current->snapshot->name) {
    attempt.error = absl::StrCat(
        "bundle name \"", snapshot.name, "\" differs from the active bundle \"",
        current->snapshot->name,
        "\" (switching bundles must be asked for explicitly)");
    absl::Status refused = absl::FailedPreconditionError(attempt.error);
    if (!failing_since_.has_value()) failing_since_ = attempt.at;
    ++loads_.refused;
    last_attempt_ = std::move(attempt);
    return refused;
  }
  if (current != nullptr && !options.allow_rollback &&
      snapshot.revision <= current->snapshot->revision) {
    attempt.error = absl::StrCat("revision ", snapshot.revision,
                                 " is not newer than the active revision ",
                                 current->snapshot->revision,
                                 " (a rollback must be asked for explicitly)");
    absl::Status refused = absl::FailedPreconditionError(attempt.error);
    if (!failing_since_.has_value()) failing_since_ = attempt.at;
    ++loads_.refused;
    last_attempt_ = std::move(attempt);
    return refused;
  }
  attempt.activated = true;
  failing_since_.reset();
  last_known_good_ = options.last_known_good;
  ++loads_.activated;
  if (!options.last_known_good) last_source_success_ = attempt.at;
  history_.push_front({bundle, attempt.at});
  while (history_.size() > history_limit_) history_.pop_back();
  {
    std::unique_lock<std::shared_mutex> swap(current_mu_);
    current_ = std::move(bundle);
    version_.fetch_add(1, std::memory_order_release);
  }
  last_attempt_ = std::move(attempt);
  if (current == nullptr && listener_) listener_(true);
  return absl::OkStatus();
}

void PolicyStore::RecordFailure(absl::string_view source,
                                const absl::Status& error) {
  LoadAttemptRecord attempt;
  attempt.at = clock_->Now();
  attempt.source = std::string(source);
  attempt.error = std::string(error.message());
  std::lock_guard<std::mutex> lock(mu_);
  if (!failing_since_.has_value()) failing_since_ = attempt.at;
  ++loads_.refused;
  last_attempt_ = std::move(attempt);
}

void PolicyStore::RecordSourceRead() {
  const absl::Time now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  ++loads_.unchanged;
  last_source_success_ = now;
  failing_since_.reset();
  last_known_good_ = false;
}

void PolicyStore::SetMaxStaleness(absl::Duration max_staleness) {
  std::lock_guard<std::mutex> lock(mu_);
  max_staleness_ = max_staleness;
}

Freshness PolicyStore::FreshnessNow() const {
  const absl::Time now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  Freshness f;
  if (!failing_since_.has_value()) return f;
  const std::string error =
      last_attempt_.has_value() ? last_attempt_->error : std::string();
  if (last_known_good_) {
    f.stale = true;
    f.reason = absl::StrCat(
        "serving the last known good bundle: the source was refused: ", error);
  } else if (max_staleness_ > absl::ZeroDuration() &&
             now - *failing_since_ > max_staleness_) {
    f.stale = true;
    f.reason = absl::StrCat("the source has been refused for ",
                            absl::FormatDuration(now - *failing_since_),
                            " (more than --max_bundle_staleness ",
                            absl::FormatDuration(max_staleness_), "): ", error);
  }
  if (f.stale) f.since = *failing_since_;
  return f;
}

StoreStatus PolicyStore::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  StoreStatus status;
  if (!history_.empty() && Current() != nullptr) {
    status.active = history_.front();
  }
  status.last_attempt = last_attempt_;
  status.history.assign(history_.begin(), history_.end());
  status.failing_since = failing_since_;
  status.serving_last_known_good = last_known_good_;
  status.loads = loads_;
  status.last_source_success = last_source_success_;
  return status;
}

}  // namespace importgate::bundle
