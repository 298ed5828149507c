#include "server/bundle/policy_store.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace importgate::bundle {

PolicyStore::PolicyStore(const Clock* clock, size_t history_limit)
    : clock_(clock), history_limit_(history_limit == 0 ? 1 : history_limit) {}

void PolicyStore::SetServingListener(ServingListener listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
  if (listener_) listener_(current_ != nullptr);
}

std::shared_ptr<const LoadedBundle> PolicyStore::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return current_;
}

absl::Status PolicyStore::Activate(std::shared_ptr<const LoadedBundle> bundle,
                                   ActivateOptions options) {
  const compiler::PolicySnapshot& snapshot = *bundle->snapshot;
  LoadAttemptRecord attempt{clock_->Now(), bundle->source,    false,         "",
                            snapshot.name, snapshot.revision, bundle->digest};
  absl::MutexLock lock(&mu_);
  if (current_ != nullptr && !options.allow_rollback &&
      snapshot.revision <= current_->snapshot->revision) {
    attempt.error = absl::StrCat("revision ", snapshot.revision,
                                 " is not newer than the active revision ",
                                 current_->snapshot->revision,
                                 " (a rollback must be asked for explicitly)");
    absl::Status refused = absl::FailedPreconditionError(attempt.error);
    last_attempt_ = std::move(attempt);
    return refused;
  }
  attempt.activated = true;
  history_.push_front({bundle, attempt.at});
  while (history_.size() > history_limit_) history_.pop_back();
  const bool was_serving = current_ != nullptr;
  current_ = std::move(bundle);
  last_attempt_ = std::move(attempt);
  if (!was_serving && listener_) listener_(true);
  return absl::OkStatus();
}

void PolicyStore::RecordFailure(absl::string_view source,
                                const absl::Status& error) {
  LoadAttemptRecord attempt;
  attempt.at = clock_->Now();
  attempt.source = std::string(source);
  attempt.error = std::string(error.message());
  absl::MutexLock lock(&mu_);
  last_attempt_ = std::move(attempt);
}

StoreStatus PolicyStore::Status() const {
  absl::ReaderMutexLock lock(&mu_);
  StoreStatus status;
  if (!history_.empty() && current_ != nullptr)
    status.active = history_.front();
  status.last_attempt = last_attempt_;
  status.history.assign(history_.begin(), history_.end());
  return status;
}

}  // namespace importgate::bundle
