#include "server/decisionlog/decision_log.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "importgate/decisionlog/v1/decision_log.pb.h"
#include "server/common/log.h"
#include "server/common/thread_name.h"

namespace importgate::decisionlog {
namespace {

using Event = importgate::decisionlog::v1::LogEvent;

// The segment to append to, and where the log stands: the last segment,
// its torn tail cut off (and said so), or a new first segment.
struct Resumed {
  std::optional<SegmentWriter> segment;
  uint64_t next_sequence = 1;
  uint64_t closed_bytes = 0;  // the segments before it
  std::string repaired;       // what was cut, if anything
};

absl::StatusOr<Resumed> Resume(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat("--decision_log_dir: cannot make ",
                                            dir, ": ", error.message()));
  }
  auto segments = ListSegments(dir);
  if (!segments.ok()) return segments.status();
  Resumed resumed;
  while (!segments->empty()) {
    const std::string& path = segments->back().second;
    auto scan = ScanSegment(path, nullptr);
    if (!scan.ok() && scan.status().code() == absl::StatusCode::kDataLoss &&
        std::filesystem::file_size(path, error) < kSegmentHeaderBytes) {
      // Killed while creating it: no frame was ever in it.
      std::filesystem::remove(path, error);
      resumed.repaired =
          absl::StrCat("removed ", path, ", whose header was never written");
      segments->pop_back();
      continue;
    }
    if (!scan.ok()) return scan.status();
    const uint64_t size = std::filesystem::file_size(path, error);
    if (scan->problem.has_value() && !scan->torn_tail) {
      // Not what an interrupted append leaves: damage, or an edit. Cutting
      // it off would erase the evidence; refuse to start instead.
      return absl::DataLossError(absl::StrCat(
          "--decision_log_dir: ", path, " is damaged at offset ",
          scan->problem_offset, " (", *scan->problem,
          "); run `importgate log verify ", dir,
          "`, keep the directory as evidence, and start with a new one"));
    }
    if (scan->problem.has_value()) {
      absl::StrAppend(&resumed.repaired, resumed.repaired.empty() ? "" : "; ",
                      "cut ", size - scan->valid_bytes, " bytes off ", path,
                      " at offset ", scan->valid_bytes, ": ", *scan->problem);
    }
    auto writer =
        SegmentWriter::Reopen(path, scan->valid_bytes, scan->last_chain);
    if (!writer.ok()) return writer.status();
    resumed.segment.emplace(*std::move(writer));
    resumed.next_sequence = scan->header.first_sequence + scan->frames;
    segments->pop_back();
    for (const auto& segment : *segments) {
      resumed.closed_bytes += std::filesystem::file_size(segment.second, error);
    }
    return resumed;
  }
  auto writer = SegmentWriter::Create(dir, Chain{}, 1);
  if (!writer.ok()) return writer.status();
  resumed.segment.emplace(*std::move(writer));
  return resumed;
}

// A call in the queue: this header, then its ids, request, response, error
// message, peer and traceparent bytes, one after the other. Handlers copy
// calls in with a few appends, and the writer reads them back as views.
struct QueuedCall {
  absl::Time time;
  uint32_t ids;
  uint32_t request;
  uint32_t response;
  uint32_t error_message;
  uint32_t peer;
  uint32_t traceparent;
  int32_t error_code;
  CallMethod method;
  bool rule_text_left_out;  // the response is queued without it
};
static_assert(std::is_trivially_copyable_v<QueuedCall>);

// What of `call` is queued: the caller's peer and traceparent only as far
// as a record keeps them, and the response without its rule text when
// `stripped` is set.
QueuedCall HeaderOf(const CallView& call,
                    const ResponseWithoutRuleText* stripped) {
  return QueuedCall{
      call.time,
      static_cast<uint32_t>(call.ids.size()),
      static_cast<uint32_t>(call.request.size()),
      static_cast<uint32_t>(stripped != nullptr ? stripped->size()
                                                : call.response.size()),
      static_cast<uint32_t>(call.error_message.size()),
      static_cast<uint32_t>(std::min(call.peer.size(), kMaxRecordedPeerBytes)),
      static_cast<uint32_t>(
          std::min(call.traceparent.size(), kMaxRecordedTraceparentBytes)),
      call.error_code,
      call.method,
      stripped != nullptr};
}

// The queue's bytes for a call with `header`.
size_t QueuedBytes(const QueuedCall& header) {
  return sizeof(QueuedCall) + size_t{header.ids} * sizeof(DecisionId) +
         header.request + header.response + header.error_message + header.peer +
         header.traceparent;
}

void AppendQueued(const QueuedCall& header, const CallView& call,
                  const ResponseWithoutRuleText* stripped, std::string* queue) {
  queue->append(reinterpret_cast<const char*>(&header), sizeof(header));
  for (const DecisionId& id : call.ids) queue->append(id.data(), id.size());
  queue->append(call.request.data(), header.request);
  if (stripped != nullptr) {
    queue->append(stripped->head.data(), stripped->head_size);
    queue->append(stripped->before.data(), stripped->before.size());
    queue->append(stripped->after.data(), stripped->after.size());
  } else {
    queue->append(call.response.data(), header.response);
  }
  queue->append(call.error_message.data(), header.error_message);
  queue->append(call.peer.data(), header.peer);
  queue->append(call.traceparent.data(), header.traceparent);
}

// Takes the first call off `*queue` into `*call`, its bytes viewed in the
// queue and its ids copied to `*ids`; false when the queue is empty or
// holds less than the call it begins (which AppendQueued never leaves).
bool TakeQueued(absl::string_view* queue,
                absl::InlinedVector<DecisionId, 1>* ids, CallView* call) {
  QueuedCall header;
  if (queue->size() < sizeof(header)) return false;
  std::memcpy(&header, queue->data(), sizeof(header));
  if (queue->size() < QueuedBytes(header)) return false;
  queue->remove_prefix(sizeof(header));
  ids->resize(header.ids);
  for (DecisionId& id : *ids) {
    std::memcpy(id.data(), queue->data(), id.size());
    queue->remove_prefix(id.size());
  }
  auto take = [queue](uint32_t size) {
    const absl::string_view bytes = queue->substr(0, size);
    queue->remove_prefix(size);
    return bytes;
  };
  call->method = header.method;
  call->time = header.time;
  call->ids = *ids;
  call->request = take(header.request);
  call->response = take(header.response);
  call->error_code = header.error_code;
  call->error_message = take(header.error_message);
  call->peer = take(header.peer);
  call->traceparent = take(header.traceparent);
  call->rule_text_left_out = header.rule_text_left_out;
  return true;
}

// The writer keeps its batch buffer's capacity from batch to batch, up to
// this; a larger one (after a burst) is given back.
constexpr size_t kKeptBatchCapacity = size_t{4} << 20;

}  // namespace

absl::StatusOr<QueuePolicy> ParseQueuePolicy(absl::string_view text) {
  if (text == "block") return QueuePolicy::kBlock;
  if (text == "drop") return QueuePolicy::kDrop;
  return absl::InvalidArgumentError(absl::StrCat(
      "--decision_log_queue_policy: \"", text, "\" is not block or drop"));
}

absl::StatusOr<std::unique_ptr<DecisionLog>> DecisionLog::Open(
    DecisionLogOptions options, const Clock* clock) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("--decision_log_dir: is required");
  }
  if (options.max_queue_bytes < (size_t{1} << 20) ||
      options.max_segment_bytes < (uint64_t{1} << 20) ||
      options.max_total_bytes < 2 * options.max_segment_bytes ||
      options.max_segment_age <= absl::ZeroDuration() ||
      options.sync_interval <= absl::ZeroDuration() ||
      options.flush_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "decision log: the queue and segment sizes must be at least 1 MiB, "
        "the total at least two segments, and the segment age, sync and "
        "flush intervals positive");
  }
  if (absl::Status s = ValidateRecordPolicy(options.record); !s.ok()) {
    return s;
  }
  auto resumed = Resume(options.dir);
  if (!resumed.ok()) return resumed.status();
  std::unique_ptr<DecisionLog> log(new DecisionLog(std::move(options), clock,
                                                   *std::move(resumed->segment),
                                                   resumed->next_sequence));
  log->closed_bytes_ = resumed->closed_bytes;
  if (!resumed->repaired.empty()) {
    LogWarning(absl::StrCat("decision log repaired: ", resumed->repaired));
    log->AddEvent(Event::KIND_TAIL_REPAIRED, resumed->repaired)
        .IgnoreError();  // logged
  }
  log->AddEvent(Event::KIND_STARTED, "").IgnoreError();  // logged
  if (absl::Status s = log->SyncSegment(); !s.ok()) return s;
  log->stats_.disk_bytes = log->DiskBytes();
  log->stats_.last_sequence = log->next_sequence_ - 1;
  log->writer_ = std::thread([raw = log.get()] {
    SetCurrentThreadName("ig-dlog-writer");
    raw->Run();
  });
  return log;
}

DecisionLog::DecisionLog(DecisionLogOptions options, const Clock* clock,
                         SegmentWriter segment, uint64_t next_sequence)
    : options_(std::move(options)),
      clock_(clock),
      segment_(std::move(segment)),
      next_sequence_(next_sequence),
      first_sequence_(next_sequence),
      written_through_(next_sequence - 1),
      segment_opened_(clock->Now()),
      last_sync_(segment_opened_),
      encoder_(&options_.record) {
  stats_.max_queue_bytes = options_.max_queue_bytes;
}

DecisionLog::~DecisionLog() { Close(); }

absl::Status DecisionLog::Submit(const CallView& call, absl::Time deadline) {
  constexpr size_t kMaxPart = std::numeric_limits<uint32_t>::max();
  if (call.ids.size() > kMaxPart || call.request.size() > kMaxPart ||
      call.response.size() > kMaxPart || call.error_message.size() > kMaxPart) {
    return absl::InvalidArgumentError(
        "decision log: a call's bytes are over 4 GiB");
  }
  // A unary answer whose rule text the handler located is queued without
  // it (what the writer would otherwise cut out by parsing it).
  ResponseWithoutRuleText without_rule_text;
  const ResponseWithoutRuleText* stripped =
      !options_.record.keep_rule_text && call.rule_text.has_value() &&
              call.error_code == 0 &&
              call.method == CallMethod::kIsImportAllowed &&
              SplitOutRuleText(call.response, *call.rule_text,
                               &without_rule_text)
          ? &without_rule_text
          : nullptr;
  const QueuedCall header = HeaderOf(call, stripped);
  const size_t bytes = QueuedBytes(header);
  std::unique_lock<std::mutex> lock(mu_);
  auto fits = [&] {
    return closing_ || queue_bytes_ == 0 ||
           queue_bytes_ + bytes <= options_.max_queue_bytes;
  };
  if (!fits()) {
    if (options_.policy == QueuePolicy::kDrop) {
      ++stats_.dropped;
      return absl::ResourceExhaustedError(
          "decision log: the queue is full; the record was dropped");
    }
    // Waits are on the real clock, as the call's deadline is.
    const absl::Time until =
        std::min(deadline, absl::Now() + options_.max_block);
    if (!room_.wait_until(lock, absl::ToChronoTime(until), fits)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "decision log: the queue stayed full ",
          until == deadline ? std::string("until the call's deadline")
                            : absl::StrCat("for ", absl::FormatDuration(
                                                       options_.max_block))));
    }
  }
  if (closing_) {
    return absl::FailedPreconditionError("decision log: closed");
  }
  queue_bytes_ += bytes;
  stats_.queue_bytes = queue_bytes_;
  AppendQueued(header, call, stripped, &queue_);
  // The writer wakes on its own every flush_interval; it is woken early
  // only when the queue fills up, once per crossing of a quarter.
  if (queue_bytes_ >= options_.max_queue_bytes / 4 &&
      queue_bytes_ - bytes < options_.max_queue_bytes / 4) {
    wake_writer_.notify_one();
  }
  return absl::OkStatus();
}

absl::Status DecisionLog::AddEvent(int kind, absl::string_view detail,
                                   uint64_t count) {
  // An event is small: its detail is cut to 4 KiB.
  const absl::Status added = segment_.Add(EncodeEvent(
      next_sequence_, kind, clock_->Now(), detail.substr(0, 4096), count));
  if (added.ok()) {
    ++next_sequence_;
  } else {
    LogError(std::string(added.message()));
  }
  return added;
}

absl::Status DecisionLog::RotateIfDue() {
  const absl::Time now = clock_->Now();
  if (segment_.empty()) {
    // Nothing to close: a new segment would have the same name. Its age
    // counts from its first entry.
    segment_opened_ = now;
    return absl::OkStatus();
  }
  if (segment_.size() + segment_.pending_bytes() < options_.max_segment_bytes &&
      now - segment_opened_ < options_.max_segment_age) {
    return absl::OkStatus();
  }
  if (absl::Status s = SyncSegment(); !s.ok()) return s;
  auto next =
      SegmentWriter::Create(options_.dir, segment_.chain(), next_sequence_);
  if (!next.ok()) return next.status();
  closed_bytes_ += segment_.size();
  segment_ = *std::move(next);
  segment_opened_ = now;
  if (absl::Status s = ApplyRetention(PlanRetention(ShippedThrough()));
      !s.ok()) {
    LogError(absl::StrCat("decision log: ", s.message()));
  }
  return absl::OkStatus();
}

DecisionLog::RetentionPlan DecisionLog::PlanRetention(uint64_t shipped) const {
  // One already under way (its event added) is finished first.
  if (removal_.has_value()) return *removal_;
  RetentionPlan plan;
  auto segments = ListSegments(options_.dir);
  if (!segments.ok()) return plan;
  std::error_code error;
  uint64_t total = 0;
  std::vector<uint64_t> sizes;
  for (const auto& [first, path] : *segments) {
    sizes.push_back(std::filesystem::file_size(path, error));
    total += sizes.back();
  }
  // The oldest segments to remove, keeping the open (last) one and any
  // the sink has not shipped whole, and the one that holds the last entry
  // shipped (a restarted sink reads it to check its checkpoint's chain).
  size_t remove = 0;
  while (total > options_.max_total_bytes && remove + 1 < segments->size() &&
         (*segments)[remove + 1].first <= shipped) {
    total -= sizes[remove];
    plan.freed += sizes[remove];
    plan.removed.push_back({(*segments)[remove].second, sizes[remove]});
    ++remove;
  }
  if (remove == 0) return plan;
  plan.first_kept = (*segments)[remove].first;
  plan.detail = absl::StrCat("retention (--decision_log_max_mib): ", remove,
                             " oldest segment(s) removed, sequences before ",
                             plan.first_kept);
  plan.event_bytes =
      FrameBytes(EncodeEvent(next_sequence_, Event::KIND_SEGMENTS_REMOVED,
                             clock_->Now(), plan.detail, plan.first_kept)
                     .size());
  return plan;
}

absl::Status DecisionLog::ApplyRetention(const RetentionPlan& plan) {
  if (plan.removed.empty()) return absl::OkStatus();
  // The event first, durable (with whatever is pending before it), then
  // the files. A failure leaves the event added and the plan kept, to be
  // finished by the next call, so that one removal has one event.
  if (!removal_.has_value()) {
    if (absl::Status s = AddEvent(Event::KIND_SEGMENTS_REMOVED, plan.detail,
                                  plan.first_kept);
        !s.ok()) {
      return s;
    }
    removal_ = plan;
    removal_->event_bytes = 0;  // pending now, and counted as such
  }
  if (absl::Status s = SyncSegment(); !s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("retention postponed: ", s.message()));
  }
  std::error_code error;
  for (const auto& [path, size] : removal_->removed) {
    if (std::filesystem::remove(path, error)) {
      closed_bytes_ -= std::min(closed_bytes_, size);
    }
  }
  const size_t removed = removal_->removed.size();
  removal_.reset();
  if (absl::Status s = SyncDirectory(options_.dir); !s.ok()) {
    LogError(absl::StrCat("decision log: ", s.message()));
  }

  std::lock_guard<std::mutex> lock(mu_);
  stats_.segments_removed += removed;
  return absl::OkStatus();
}

uint64_t DecisionLog::ShippedThrough() const {
  return options_.shipped_through != nullptr ? options_.shipped_through->load()
                                             : UINT64_MAX;
}

absl::Status DecisionLog::WriteSegment() {
  const bool any = segment_.pending_bytes() > 0;
  absl::Status status = segment_.Write();
  if (status.ok() && any) {
    written_through_ = next_sequence_ - 1;  // every entry added so far
    dirty_ = true;
  }
  return status;
}

absl::Status DecisionLog::SyncWritten() {
  if (dirty_) {
    if (absl::Status s = segment_.SyncWritten(); !s.ok()) return s;
    dirty_ = false;
    last_sync_ = clock_->Now();
  }
  if (options_.durable_through != nullptr) {
    options_.durable_through->store(written_through_);
  }
  return absl::OkStatus();
}

absl::Status DecisionLog::SyncSegment() {
  if (absl::Status s = WriteSegment(); !s.ok()) return s;
  return SyncWritten();
}

absl::Status DecisionLog::HoldForSink(bool closing, bool* held) {
  *held = false;
  if (options_.shipped_through == nullptr || closing) return absl::OkStatus();
  const uint64_t limit = options_.max_total_bytes + options_.max_segment_bytes;
  // What the directory would hold with the pending batch written (and a
  // new segment's header, should it rotate).
  const uint64_t to_write = segment_.pending_bytes() + kSegmentHeaderBytes;
  if (DiskBytes() + to_write <= limit) return absl::OkStatus();
  // The sink ships only what is fsynced: let it reach the end of the files.
  std::string sync_error;
  if (absl::Status s = SyncWritten(); !s.ok()) {
    sync_error = absl::StrCat(" (", s.message(), ")");
  }
  const uint64_t shipped = ShippedThrough();
  // Retention runs (writing the batch ahead of its event) only when what
  // it frees makes room; else nothing is removed until the sink ships more.
  const RetentionPlan plan = PlanRetention(shipped);
  const uint64_t after = DiskBytes() - plan.freed + to_write + plan.event_bytes;
  // Everything written is shipped and retention removes what it may:
  // waiting would free nothing more, so a batch larger than the room left
  // is written whole.
  if (after <= limit || shipped >= written_through_) {
    return ApplyRetention(plan);
  }
  *held = true;
  return absl::ResourceExhaustedError(absl::StrCat(
      "the directory holds ", DiskBytes(), " bytes and ",
      segment_.pending_bytes(),
      " more are to be written, past its cap (--decision_log_max_mib plus a "
      "segment), and the Kafka sink has shipped only through sequence ",
      shipped, " of ", written_through_, sync_error,
      "; holding records until it ships"));
}

void DecisionLog::WriteBatch(std::string* batch, bool closing) {
  if (options_.before_write) options_.before_write();
  uint64_t records = 0;
  uint64_t unwritable = 0;  // calls whose bytes could not be made records
  const size_t bytes = batch->size();
  absl::InlinedVector<DecisionId, 1> ids;
  CallView call;
  // Each record is encoded straight into the segment's pending frames.
  class ToSegment : public EntrySink {
   public:
    ToSegment(SegmentWriter* segment, uint64_t* records, uint64_t* unwritable)
        : segment_(segment), records_(records), unwritable_(unwritable) {}
    absl::Status Append(size_t size,
                        absl::FunctionRef<void(std::string*)> write) override {
      absl::Status added = segment_->AddInPlace(size, write);
      if (added.ok()) {
        ++*records_;
      } else {
        LogError(std::string(added.message()));
        ++*unwritable_;
      }
      return added;
    }

   private:
    SegmentWriter* const segment_;
    uint64_t* const records_;
    uint64_t* const unwritable_;
  } to_segment(&segment_, &records, &unwritable);
  for (absl::string_view queued = *batch; TakeQueued(&queued, &ids, &call);) {
    absl::Status encoded = encoder_.Encode(call, &next_sequence_, to_segment);
    if (!encoded.ok()) {
      LogError(std::string(encoded.message()));
      ++unwritable;
    }
  }
  batch->clear();
  if (batch->capacity() > kKeptBatchCapacity) std::string().swap(*batch);
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.dropped += unwritable;  // counted, and logged as dropped below
    dropped = stats_.dropped;
  }
  if (dropped > dropped_reported_) {
    AddEvent(Event::KIND_DROPPED,
             "records dropped: the queue was full "
             "(--decision_log_queue_policy=drop), or a call's bytes could "
             "not be made a record",
             dropped - dropped_reported_)
        .IgnoreError();  // logged
    dropped_reported_ = dropped;
  }
  if (closing) AddEvent(Event::KIND_STOPPED, "").IgnoreError();  // logged
  // Write, rotating first when due. A failed write keeps its frames and is
  // retried every second (a full disk may get room), so the queue fills
  // and the policy applies meanwhile; once Close() is called, it gives up
  // after 30 tries and counts the records lost.
  bool reported = false;
  bool written = false;
  for (int attempt = 0;; ++attempt) {
    bool close_called = closing;
    if (!close_called) {
      std::lock_guard<std::mutex> lock(mu_);
      close_called = closing_;
    }
    bool held = false;
    absl::Status status = HoldForSink(close_called, &held);
    if (status.ok()) status = RotateIfDue();
    if (status.ok()) {
      const bool sync =
          closing || clock_->Now() - last_sync_ >= options_.sync_interval;
      status = sync ? SyncSegment() : WriteSegment();
      if (status.ok()) {
        written = true;
        break;
      }
    }
    bool stopping = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.held = held;
      if (!held) ++stats_.write_errors;
      stopping = closing_;
    }
    if (!reported) {
      LogError(absl::StrCat("decision log: ", status.message(),
                            "; retrying every second"));
      reported = true;
    }
    if (stopping && attempt >= 30) {
      LogError(absl::StrCat("decision log: gave up at exit; ", records,
                            " records (", segment_.pending_bytes(),
                            " bytes) are lost"));
      break;
    }
    absl::SleepFor(absl::Seconds(1));
  }
  // A removal whose event went out with a batch the hold let through
  // (only once closing) is finished now.
  if (written && removal_.has_value()) {
    const RetentionPlan under_way = *removal_;
    if (absl::Status s = ApplyRetention(under_way); !s.ok()) {
      LogError(absl::StrCat("decision log: ", s.message()));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.held = false;
  queue_bytes_ -= bytes;
  stats_.queue_bytes = queue_bytes_;
  if (written) {
    stats_.records_written += records;
  } else {
    stats_.lost += records;
  }
  stats_.segment_bytes = segment_.size();
  stats_.disk_bytes = DiskBytes();
  if (written) stats_.last_sequence = next_sequence_ - 1;
  stats_.sampled_out = encoder_.sampled_out();
  room_.notify_all();
}

void DecisionLog::Run() {
  std::string batch;
  while (true) {
    bool closing = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_writer_.wait_for(
          lock, absl::ToChronoNanoseconds(options_.flush_interval), [&] {
            return closing_ || queue_bytes_ >= options_.max_queue_bytes / 4;
          });
      batch.swap(queue_);
      closing = closing_;
    }
    if (!batch.empty() || closing) {
      WriteBatch(&batch, closing);
    } else {
      // Idle: rotate for age, and fsync the last batch when due rather
      // than when the next record comes. A failure is tried again at the
      // next wake, and logged once until it clears.
      absl::Status s = RotateIfDue();
      if (s.ok() && dirty_ &&
          clock_->Now() - last_sync_ >= options_.sync_interval) {
        s = SyncSegment();
      }
      if (!s.ok() && !idle_error_reported_) {
        LogError(absl::StrCat("decision log: ", s.message()));
      }
      idle_error_reported_ = !s.ok();
      std::lock_guard<std::mutex> lock(mu_);
      stats_.segment_bytes = segment_.size();
      stats_.disk_bytes = DiskBytes();
    }
    if (closing) return;
  }
}

void DecisionLog::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return;
    closing_ = true;
  }
  wake_writer_.notify_one();
  room_.notify_all();
  if (writer_.joinable()) writer_.join();
}

DecisionLogStats DecisionLog::Stats() const {
  DecisionLogStats stats;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats = stats_;
  }
  stats.sampled_out += sampled_out_early_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace importgate::decisionlog
