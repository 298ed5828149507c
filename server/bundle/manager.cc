#include "server/bundle/manager.h"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/bundle/artifact.h"
#include "server/common/log.h"
#include "server/common/thread_name.h"
#include "server/policy/codes.h"

namespace importgate::bundle {
namespace {

namespace fs = std::filesystem;

constexpr char kActiveFile[] = "active";
constexpr char kBundlesDir[] = "bundles";

ReloadResult Result(ReloadResult::Outcome outcome, std::string message,
                    const LoadedBundle* bundle) {
  ReloadResult r;
  r.outcome = outcome;
  r.message = std::move(message);
  if (bundle != nullptr) {
    r.name = bundle->snapshot->name;
    r.revision = bundle->snapshot->revision;
    r.digest = bundle->digest;
  }
  return r;
}

// The "active" pointer file: which persisted bundle to restore, and the
// rollback floor.
struct ActivePointer {
  std::string file;
  uint64_t revision = 0;
  uint64_t refuse_up_to = 0;
};

ActivePointer ParsePointer(absl::string_view text) {
  ActivePointer p;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (kv.first == "file") p.file = std::string(kv.second);
    if (kv.first == "revision") (void)absl::SimpleAtoi(kv.second, &p.revision);
    if (kv.first == "refuse_up_to") {
      (void)absl::SimpleAtoi(kv.second, &p.refuse_up_to);
    }
  }
  return p;
}

}  // namespace

BundleManager::BundleManager(PolicyStore* store, const Clock* clock,
                             ManagerOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      source_(options_.open_source
                  ? options_.open_source(options_.source, options_.remote)
                  : OpenSource(options_.source, options_.remote)) {}

std::string BundleManager::StateFile(absl::string_view name,
                                     uint64_t revision) const {
  return absl::StrCat(options_.state_dir, "/", kBundlesDir, "/", name, "-",
                      revision, kArtifactSuffix);
}

absl::Status BundleManager::Start() {
  std::lock_guard<std::mutex> source_lock(source_mu_);
  ActivePointer pointer;
  if (!options_.state_dir.empty()) {
    auto text =
        ReadWholeFile(absl::StrCat(options_.state_dir, "/", kActiveFile), 4096);
    if (text.ok()) pointer = ParsePointer(*text);
    std::lock_guard<std::mutex> lock(mu_);
    refuse_up_to_ = pointer.refuse_up_to;
  }
  // Fetched and checked under the source lock only: GetStatus and Rollback
  // answer meanwhile (the server listens already).
  absl::StatusOr<Candidate> candidate = absl::UnknownError("");
  if (!source_.ok()) {
    candidate = source_.status();
  } else if (auto loaded = (*source_)->Load(options_.source_options);
             !loaded.ok()) {
    candidate = loaded.status();
  } else if (!loaded->has_value()) {
    candidate = absl::InternalError("the source's first load found nothing");
  } else {
    candidate = **std::move(loaded);
  }
  std::lock_guard<std::mutex> lock(mu_);
  absl::Status source_error = candidate.status();
  if (candidate.ok() && !options_.allow_rollback &&
      candidate->bundle->snapshot->revision < pointer.revision) {
    // A restart must not quietly go back in policy.
    source_error = absl::FailedPreconditionError(absl::StrCat(
        "revision ", candidate->bundle->snapshot->revision,
        " is older than the last known good revision ", pointer.revision,
        " (start with --allow_rollback to accept it)"));
  } else if (candidate.ok()) {
    const std::string digest = candidate->bundle->digest;
    ReloadResult r = ActivateCandidate(*std::move(candidate), false, true);
    if (r.outcome == ReloadResult::Outcome::kActivated) {
      (*source_)->Accept();
      accepted_digest_ = digest;
      return absl::OkStatus();
    }
    if (r.outcome == ReloadResult::Outcome::kPending) {
      // The source's revision answers from its not_before; until then the
      // last known good one does (a replica restarted before a scheduled
      // switch), or nothing.
      (*source_)->Accept();
      accepted_digest_ = digest;
      return RestoreUntilPending(pointer.file);
    }
    source_error = absl::FailedPreconditionError(r.message);
    (*source_)->Refuse(source_error);
  }
  LogError(absl::StrCat("bundle source ", options_.source,
                        " refused: ", source_error.message()),
           {{"error", std::string(source_error.message())}});
  if (pointer.file.empty()) return source_error;

  std::string path =
      absl::StrCat(options_.state_dir, "/", kBundlesDir, "/", pointer.file);
  auto saved = LoadArtifactFile(path, options_.source_options);
  if (!saved.ok()) {
    LogError(absl::StrCat("last known good ", path,
                          " refused too: ", saved.status().message()));
    return source_error;
  }
  absl::Status activated = store_->Activate(
      saved->bundle, {.allow_rollback = true, .last_known_good = true});
  if (!activated.ok()) return activated;
  store_->RecordFailure(options_.source, source_error);
  LogWarning(absl::StrCat("serving the last known good ",
                          DescribeBundle(*saved->bundle),
                          " because the source was refused"),
             {{"bundle", saved->bundle->snapshot->name},
              {"revision", absl::StrCat(saved->bundle->snapshot->revision)},
              {"digest", saved->bundle->digest},
              {"error", std::string(source_error.message())}});
  return absl::OkStatus();
}

absl::Status BundleManager::RestoreUntilPending(const std::string& file) {
  const PendingRevision held{pending_->candidate.bundle->snapshot->name,
                             pending_->candidate.bundle->snapshot->revision,
                             pending_->candidate.bundle->digest,
                             pending_->candidate.bundle->snapshot->not_before};
  const std::string until = absl::StrCat(
      "revision ", held.revision, " activates at ",
      policy::FormatRfc3339(held.activates_at), " (its not_before)");
  if (file.empty()) {
    LogWarning(absl::StrCat("nothing to serve until ", until,
                            ": no last known good bundle in --state_dir"));
    return absl::OkStatus();
  }
  const std::string path =
      absl::StrCat(options_.state_dir, "/", kBundlesDir, "/", file);
  auto saved = LoadArtifactFile(path, options_.source_options);
  if (!saved.ok()) {
    LogError(absl::StrCat("last known good ", path,
                          " refused: ", saved.status().message(),
                          "; nothing to serve until ", until));
    return absl::OkStatus();
  }
  if (saved->bundle->snapshot->revision >= held.revision) {
    pending_.reset();  // already past it: the source is checked again
    forget_requested_ = true;
    accepted_digest_.clear();
    return store_->Activate(saved->bundle, {.allow_rollback = true});
  }
  absl::Status activated =
      store_->Activate(saved->bundle, {.allow_rollback = true});
  if (!activated.ok()) return activated;
  store_->RecordSourceRead();
  LogInfo(absl::StrCat("serving the last known good ",
                       DescribeBundle(*saved->bundle), " until ", until));
  return absl::OkStatus();
}

ReloadResult BundleManager::Reload(bool allow_rollback) {
  std::lock_guard<std::mutex> source_lock(source_mu_);
  return LoadAndActivate(allow_rollback);
}

BundleManager::~BundleManager() {
  std::vector<std::function<void(const ReloadResult&)>> unanswered;
  {
    std::lock_guard<std::mutex> lock(timer_mu_);
    timer_stop_ = true;
  }
  timer_wake_.notify_all();
  if (timer_.joinable()) timer_.join();
  // Requests the thread did not see (it was never started): answered here.
  {
    std::lock_guard<std::mutex> lock(timer_mu_);
    unanswered.swap(reload_waiting_);
  }
  if (!unanswered.empty()) {
    const ReloadResult result = Reload();
    for (const auto& done : unanswered) done(result);
  }
}

void BundleManager::WakeTimer() {
  {
    std::lock_guard<std::mutex> lock(timer_mu_);
    ++timer_generation_;
  }
  timer_wake_.notify_all();
}

absl::Duration JitteredInterval(absl::Duration interval, double jitter,
                                double unit) {
  jitter = std::clamp(jitter, 0.0, 1.0);
  unit = std::clamp(unit, 0.0, 1.0);
  return interval - interval * (jitter * unit);
}

std::optional<PendingRevision> BundleManager::Pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_.has_value()) return std::nullopt;
  const LoadedBundle& held = *pending_->candidate.bundle;
  return PendingRevision{held.snapshot->name, held.snapshot->revision,
                         held.digest, held.snapshot->not_before};
}

bool BundleManager::ActivatePendingIfDue() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_.has_value() ||
      clock_->Now() < pending_->candidate.bundle->snapshot->not_before) {
    return false;
  }
  Held held = *std::move(pending_);
  pending_.reset();
  const ReloadResult r = ActivateCandidate(
      std::move(held.candidate), held.allow_rollback, held.respect_floor);
  if (r.outcome != ReloadResult::Outcome::kActivated) {
    // What the source holds is not active: check it whole next time.
    forget_requested_ = true;
    accepted_digest_.clear();
    return false;
  }
  return true;
}

void BundleManager::StartReloadThread() {
  std::lock_guard<std::mutex> lock(timer_mu_);
  if (timer_.joinable() || timer_stop_) return;  // started (or stopping)
  timer_ = std::thread([this] {
    SetCurrentThreadName("ig-reload");
    RunReloadThread();
  });
}

void BundleManager::RequestReload(
    std::function<void(const ReloadResult&)> done) {
  {
    std::lock_guard<std::mutex> lock(timer_mu_);
    reload_requested_ = true;
    if (done) reload_waiting_.push_back(std::move(done));
  }
  timer_wake_.notify_all();
  StartReloadThread();
}

void BundleManager::RunReloadThread() {
  std::mt19937_64 random{std::random_device{}()};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const bool polling = options_.poll_interval > absl::ZeroDuration();
  auto next_poll = [&] {
    return polling ? absl::Now() + JitteredInterval(options_.poll_interval,
                                                    options_.poll_jitter,
                                                    unit(random))
                   : absl::InfiniteFuture();
  };
  absl::Time poll_at = next_poll();
  // The generation at which the pending revision's instant had come by the
  // real clock but not by clock_ (a test's clock): then the clock is looked
  // at every second rather than in a busy loop.
  std::optional<uint64_t> behind_at;
  while (true) {
    uint64_t generation = 0;
    {
      std::lock_guard<std::mutex> lock(timer_mu_);
      generation = timer_generation_;
    }
    // Read without timer_mu_ (lock order: mu_ before timer_mu_); a
    // change after it bumps the generation.
    const std::optional<PendingRevision> pending = Pending();
    absl::Time activate_at =
        pending.has_value() ? pending->activates_at : absl::InfiniteFuture();
    if (behind_at == generation) {
      activate_at = std::max(activate_at, absl::Now() + absl::Seconds(1));
    }
    bool stopping = false;
    bool asked = false;
    std::vector<std::function<void(const ReloadResult&)>> waiting;
    {
      std::unique_lock<std::mutex> lock(timer_mu_);
      const absl::Time wake = std::min(poll_at, activate_at);
      auto woken = [&] {
        return timer_stop_ || reload_requested_ ||
               timer_generation_ != generation;
      };
      if (wake == absl::InfiniteFuture()) {
        timer_wake_.wait(lock, woken);
      } else {
        timer_wake_.wait_until(lock, absl::ToChronoTime(wake), woken);
      }
      stopping = timer_stop_;
      asked = std::exchange(reload_requested_, false);
      waiting.swap(reload_waiting_);
    }
    // A revision whose instant has come activates first, so that a reload
    // asked for after it answers with it.
    if (pending.has_value() && absl::Now() >= pending->activates_at &&
        !ActivatePendingIfDue() && Pending().has_value()) {
      behind_at = generation;
    }
    const bool poll_due = polling && !stopping && absl::Now() >= poll_at;
    if (asked || poll_due) {
      // Everyone asking before this point is answered by this one look.
      const ReloadResult result = Reload();
      for (const auto& done : waiting) done(result);
      poll_at = next_poll();
    }
    if (stopping) return;
  }
}

void BundleManager::CancelFetches() {
  if (source_.ok()) (*source_)->Cancel();
}

ReloadResult BundleManager::LoadAndActivate(bool explicit_rollback) {
  // Fetching, parsing, compiling and self-testing run under source_mu_
  // only: Rollback (under mu_) is never held up by a slow source.
  absl::StatusOr<std::optional<Candidate>> candidate = std::nullopt;
  if (!source_.ok()) {
    candidate = source_.status();
  } else {
    // A reload that asks to go back checks the source whole: a refusal
    // kept from before may have been for going back.
    if (forget_requested_.exchange(false) || explicit_rollback) {
      (*source_)->Forget();
    }
    candidate = (*source_)->Load(options_.source_options);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!candidate.ok()) {
    std::string message(candidate.status().message());
    if (message != last_refusal_) {
      LogError(absl::StrCat("bundle source ", options_.source,
                            " refused: ", message),
               {{"error", message}});
      last_refusal_ = message;
    }
    store_->RecordFailure(options_.source, candidate.status());
    return Result(ReloadResult::Outcome::kRefused, std::move(message), nullptr);
  }
  std::shared_ptr<const LoadedBundle> current = store_->Current();
  if (!candidate->has_value()) {
    if (pending_.has_value() &&
        pending_->candidate.bundle->digest == accepted_digest_) {
      // The source still holds the revision waiting for its instant.
      store_->RecordSourceRead();
      const LoadedBundle& held = *pending_->candidate.bundle;
      return Result(
          ReloadResult::Outcome::kPending,
          absl::StrCat(DescribeBundle(held), " is pending until ",
                       policy::FormatRfc3339(held.snapshot->not_before)),
          &held);
    }
    if (current == nullptr || current->digest != accepted_digest_) {
      // A rollback ran while the source was read: what it accepted is no
      // longer active. It is checked whole next time.
      forget_requested_ = true;
      return Result(ReloadResult::Outcome::kRefused,
                    "the active bundle changed while the source was read; "
                    "checking the source again at the next reload",
                    current.get());
    }
    // The source showed that it still holds the active bundle.
    last_refusal_.clear();
    store_->RecordSourceRead();
    return Result(ReloadResult::Outcome::kUnchanged,
                  absl::StrCat("unchanged: ", DescribeBundle(*current)),
                  current.get());
  }
  const std::string digest = (*candidate)->bundle->digest;
  // A rollback floor holds for every reload but one that asks to go back.
  ReloadResult result = ActivateCandidate(
      **std::move(candidate), explicit_rollback || options_.allow_rollback,
      /*respect_floor=*/!explicit_rollback);
  if (result.outcome == ReloadResult::Outcome::kRefused) {
    (*source_)->Refuse(absl::FailedPreconditionError(result.message));
  } else {  // activated, unchanged or pending: what the source holds
    (*source_)->Accept();
    accepted_digest_ = digest;
  }
  return result;
}

ReloadResult BundleManager::ActivateCandidate(Candidate candidate,
                                              bool allow_rollback,
                                              bool respect_floor) {
  const LoadedBundle& bundle = *candidate.bundle;
  std::shared_ptr<const LoadedBundle> current = store_->Current();
  if (current != nullptr && current->digest == bundle.digest &&
      current->snapshot->revision == bundle.snapshot->revision) {
    if (pending_.has_value() && candidate.skipped.empty()) {
      // The source holds the active bundle again: the revision it held for
      // an instant was withdrawn.
      LogWarning(absl::StrCat(
          "withdrawn: ", DescribeBundle(*pending_->candidate.bundle),
          " is no longer what the source holds; it will not activate"));
      pending_.reset();
      WakeTimer();
    }
    if (!candidate.skipped.empty()) {
      // A newer file in the source directory was refused: say so, although
      // the active bundle stays what the directory's best valid file is.
      std::string message =
          absl::StrCat("newer bundle refused; still serving revision ",
                       bundle.snapshot->revision, ":\n",
                       absl::StrJoin(candidate.skipped, "\n"));
      if (message != last_refusal_) LogError(message);
      last_refusal_ = message;
      store_->RecordFailure(options_.source,
                            absl::FailedPreconditionError(message));
      return Result(ReloadResult::Outcome::kRefused, std::move(message),
                    current.get());
    }
    last_refusal_.clear();
    store_->RecordSourceRead();
    // The same bundle with a new signature (a key rotated): the state
    // directory keeps the signature that a restart will need.
    if (!options_.state_dir.empty() && !candidate.signatures.empty()) {
      auto kept = ReadWholeFile(
          StateFile(bundle.snapshot->name, bundle.snapshot->revision) +
              kSignatureSuffix,
          kMaxSignatureBytes);
      if (!kept.ok() || *kept != candidate.signatures) {
        if (absl::Status s = Persist(candidate); !s.ok()) {
          LogWarning(
              absl::StrCat("cannot persist the new signature: ", s.message()));
        }
      }
    }
    return Result(ReloadResult::Outcome::kUnchanged,
                  absl::StrCat("unchanged: ", DescribeBundle(*current)),
                  current.get());
  }
  if (respect_floor && bundle.snapshot->revision <= refuse_up_to_) {
    std::string message = absl::StrCat(
        "revision ", bundle.snapshot->revision, " is not newer than revision ",
        refuse_up_to_, ", which was rolled back; publish a newer revision");
    store_->RecordFailure(bundle.source,
                          absl::FailedPreconditionError(message));
    if (message != last_refusal_) LogError(message);
    last_refusal_ = message;
    return Result(ReloadResult::Outcome::kRefused, std::move(message), &bundle);
  }
  if (bundle.snapshot->not_before > clock_->Now()) {
    // Checked now, answering from its instant on: held until then (a
    // newer held revision replaces an older one).
    const uint64_t floor =
        current == nullptr || allow_rollback ? 0 : current->snapshot->revision;
    const bool known = pending_.has_value() &&
                       pending_->candidate.bundle->digest == bundle.digest;
    if (bundle.snapshot->revision <= floor ||
        (pending_.has_value() && !known && !allow_rollback &&
         bundle.snapshot->revision <=
             pending_->candidate.bundle->snapshot->revision)) {
      std::string message =
          absl::StrCat("revision ", bundle.snapshot->revision,
                       " is not newer than the active or pending revision");
      store_->RecordFailure(bundle.source,
                            absl::FailedPreconditionError(message));
      if (message != last_refusal_) LogError(message);
      last_refusal_ = message;
      return Result(ReloadResult::Outcome::kRefused, std::move(message),
                    &bundle);
    }
    const std::string at = policy::FormatRfc3339(bundle.snapshot->not_before);
    std::string message = absl::StrCat(DescribeBundle(bundle),
                                       " passed every check; it activates at ",
                                       at, " (its not_before)");
    if (!known) {
      LogInfo(message, {{"bundle", bundle.snapshot->name},
                        {"revision", absl::StrCat(bundle.snapshot->revision)},
                        {"digest", bundle.digest},
                        {"not_before", at}});
    }
    last_refusal_.clear();
    store_->RecordSourceRead();
    ReloadResult result =
        Result(ReloadResult::Outcome::kPending, std::move(message), &bundle);
    pending_ = Held{std::move(candidate), allow_rollback, respect_floor};
    WakeTimer();
    return result;
  }
  absl::Status activated =
      store_->Activate(candidate.bundle, {.allow_rollback = allow_rollback});
  if (!activated.ok()) {
    std::string message(activated.message());
    if (message != last_refusal_) {
      LogError(absl::StrCat(DescribeBundle(bundle), " refused: ", message));
    }
    last_refusal_ = message;
    return Result(ReloadResult::Outcome::kRefused, std::move(message), &bundle);
  }
  last_refusal_.clear();
  if (pending_.has_value()) {
    // Overtaken by a newer revision, or cancelled by a rollback: a held
    // revision never activates after another one was chosen.
    pending_.reset();
    WakeTimer();
  }
  LogInfo(absl::StrCat("activated ", DescribeBundle(bundle)),
          {{"bundle", bundle.snapshot->name},
           {"revision", absl::StrCat(bundle.snapshot->revision)},
           {"digest", bundle.digest}});
  for (const std::string& skipped : candidate.skipped) {
    LogError(absl::StrCat("newer bundle refused: ", skipped));
  }
  if (absl::Status s = Persist(candidate); !s.ok()) {
    LogWarning(absl::StrCat("cannot persist the active bundle: ", s.message()));
  }
  return Result(ReloadResult::Outcome::kActivated,
                absl::StrCat("activated ", DescribeBundle(bundle)), &bundle);
}

absl::Status BundleManager::Persist(const Candidate& candidate) {
  if (options_.state_dir.empty()) return absl::OkStatus();
  const auto& snapshot = *candidate.bundle->snapshot;
  std::error_code ec;
  fs::path dir = fs::path(options_.state_dir) / kBundlesDir;
  fs::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat(dir.string(), ": ", ec.message()));
  std::string file = StateFile(snapshot.name, snapshot.revision);
  if (absl::Status s = WriteFileAtomically(file, candidate.artifact); !s.ok()) {
    return s;
  }
  std::string sig = file + kSignatureSuffix;
  if (!candidate.signatures.empty()) {
    if (absl::Status s = WriteFileAtomically(sig, candidate.signatures);
        !s.ok()) {
      return s;
    }
  } else {
    fs::remove(sig, ec);
  }
  if (absl::Status s = WriteActivePointer(fs::path(file).filename().string(),
                                          snapshot.revision);
      !s.ok()) {
    return s;
  }
  // Keep the newest `keep_revisions` bundles (by modification time). Never
  // throws: entries that vanish meanwhile are skipped.
  std::vector<std::pair<fs::file_time_type, fs::path>> kept;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() != kArtifactSuffix) continue;
    std::error_code time_ec;
    fs::file_time_type t = fs::last_write_time(it->path(), time_ec);
    if (!time_ec) kept.emplace_back(t, it->path());
  }
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = options_.keep_revisions; i < kept.size(); ++i) {
    fs::remove(kept[i].second, ec);
    fs::remove(kept[i].second.string() + kSignatureSuffix, ec);
  }
  return absl::OkStatus();
}

absl::Status BundleManager::WriteActivePointer(const std::string& file,
                                               uint64_t revision) {
  return WriteFileAtomically(
      absl::StrCat(options_.state_dir, "/", kActiveFile),
      absl::StrCat("file=", file, "\nrevision=", revision,
                   "\nrefuse_up_to=", refuse_up_to_, "\n"));
}

absl::StatusOr<ReloadResult> BundleManager::Rollback(uint64_t revision) {
  std::lock_guard<std::mutex> lock(mu_);
  if (options_.state_dir.empty()) {
    return absl::FailedPreconditionError(
        "rollback needs --state_dir, where recent revisions are kept");
  }
  std::shared_ptr<const LoadedBundle> current = store_->Current();
  if (current == nullptr) {
    return absl::FailedPreconditionError("no bundle is active");
  }
  std::string path = StateFile(current->snapshot->name, revision);
  auto candidate = LoadArtifactFile(path, options_.source_options);
  if (!candidate.ok()) {
    if (candidate.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(
          absl::StrCat("revision ", revision, " of ", current->snapshot->name,
                       " is not kept in ", options_.state_dir));
    }
    return candidate.status();
  }
  const uint64_t from = current->snapshot->revision;
  ReloadResult r = ActivateCandidate(*std::move(candidate), true, false);
  if (r.outcome == ReloadResult::Outcome::kActivated) {
    refuse_up_to_ = std::max(refuse_up_to_, from);
    // The source's revision is checked against the new floor, not found
    // unchanged (at the next reload, which may be running now).
    forget_requested_ = true;
    accepted_digest_.clear();
    if (absl::Status s =
            WriteActivePointer(fs::path(path).filename().string(), revision);
        !s.ok()) {
      LogWarning(absl::StrCat("cannot persist the rollback: ", s.message()));
    }
    LogWarning(absl::StrCat("rolled back from revision ", from, " to ",
                            revision, "; revisions up to ", refuse_up_to_,
                            " are refused until a newer one is published"));
  }
  return r;
}

}  // namespace importgate::bundle
