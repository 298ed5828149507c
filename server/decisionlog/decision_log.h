// DecisionLog: every decision the server answers, appended off the request
// path to tamper-evident segment files (segment.h) under one directory.
//
// Handlers Submit() a call (record.h's CallView): its bytes are copied into
// a bounded queue, one buffer measured in bytes (no allocation per record
// once the buffer has grown); one writer thread wakes every flush_interval (or
// when the queue is a quarter full), takes whatever is queued, encodes it,
// chains it and writes it with one write(2) per batch. When the queue is full
// the policy decides: kBlock makes the call wait for room until its deadline
// (then it is refused: no answer leaves without its record); kDrop refuses
// the record at once and counts it, and the writer logs a KIND_DROPPED
// event with the count, so a loss is never silent. Memory stays within
// the queue's bound whatever the disk does.
//
// What each failure can lose (docs/decision-log.md):
//   - Close() (SIGTERM): nothing; the queue is drained, a KIND_STOPPED
//     event is written and the segment is fsynced.
//   - the process killed (kill -9): at most what was queued and not yet
//     written, i.e. at most max_queue_bytes of records; what write(2)
//     returned for is in the page cache and survives. A frame cut short
//     is cut off at the next Open(), which logs KIND_TAIL_REPAIRED.
//   - the machine losing power: also what the kernel had not flushed
//     (a segment is fsynced when it is closed and sync_interval after a
//     write; the directory when a segment is made or removed).
//   - a full disk: the writer keeps its records, cuts any partial frame
//     back, reports, and retries every second; the queue fills and the
//     policy applies. At exit it gives up after 30 s and counts the loss.
// Open() cuts off only a torn tail (the file ends inside a frame, or in
// zeros); a frame that is whole but does not verify is damage, and Open()
// refuses the directory (DATA_LOSS) rather than erase it.
//
// Thread safety: Submit(), ids() and Stats() may be called from any
// thread; Close() from one.
#ifndef IMPORTGATE_SERVER_DECISIONLOG_DECISION_LOG_H_
#define IMPORTGATE_SERVER_DECISIONLOG_DECISION_LOG_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/decisionlog/decision_id.h"
#include "server/decisionlog/record.h"
#include "server/decisionlog/record_policy.h"
#include "server/decisionlog/segment.h"

namespace importgate::decisionlog {

// What Submit does when the queue is full.
enum class QueuePolicy { kBlock, kDrop };

// "block" or "drop"; INVALID_ARGUMENT naming --decision_log_queue_policy.
absl::StatusOr<QueuePolicy> ParseQueuePolicy(absl::string_view text);

struct DecisionLogOptions {
  // The directory of segments; made if missing.
  std::string dir;
  QueuePolicy policy = QueuePolicy::kBlock;
  // The queue's bound: the bytes of the records waiting to be written.
  size_t max_queue_bytes = size_t{64} << 20;
  // A segment is closed and a new one begun past this size or age.
  uint64_t max_segment_bytes = uint64_t{64} << 20;
  absl::Duration max_segment_age = absl::Hours(1);
  // Retention: when the segments take more than this, the oldest closed
  // ones are removed (after a KIND_SEGMENTS_REMOVED event says so). At
  // least two segments' worth.
  uint64_t max_total_bytes = uint64_t{4} << 30;
  // How often the open segment is fsynced while records arrive.
  absl::Duration sync_interval = absl::Seconds(1);
  // The writer wakes this often, or sooner when a quarter of the queue is
  // full, and writes what has queued: one write(2) per wake, and no wake
  // per record (handlers never signal it for a single record).
  absl::Duration flush_interval = absl::Milliseconds(10);
  // Under kBlock, the longest a call waits for room, whatever its
  // deadline; then it is refused. Bounds a shutdown, too.
  absl::Duration max_block = absl::Seconds(5);
  // What records leave out: masking and sampling of ALLOWs
  // (record_policy.h).
  RecordPolicy record;
  // With a sink that ships from the files (kafka_sink.h): the last
  // sequence it has shipped. Retention then removes only segments whose
  // every entry is shipped, and when the next batch would take the
  // directory past max_total_bytes plus a segment, the writer holds it and
  // what is queued (the queue policy applies) until the sink catches up;
  // once everything written is shipped, a batch larger than the room left
  // is written whole. Null: no sink.
  std::shared_ptr<const std::atomic<uint64_t>> shipped_through;
  // Where the log publishes the last sequence it has fsynced: a sink ships
  // only what a power loss cannot take back. May be null.
  std::shared_ptr<std::atomic<uint64_t>> durable_through;
  // Called by the writer thread before it writes each batch; tests hold it
  // to make the queue fill. Unset: nothing.
  std::function<void()> before_write;
};

struct DecisionLogStats {
  uint64_t records_written = 0;   // decision records (not events)
  uint64_t dropped = 0;           // records refused by a full queue
  uint64_t sampled_out = 0;       // ALLOWs left out by sampling
  uint64_t queue_bytes = 0;       // queued or being written
  uint64_t max_queue_bytes = 0;   // the queue's bound
  uint64_t write_errors = 0;      // failed writes (each retried)
  uint64_t segment_bytes = 0;     // the open segment's size
  uint64_t disk_bytes = 0;        // every segment's size
  uint64_t segments_removed = 0;  // by retention
  uint64_t last_sequence = 0;     // of the last entry written
  uint64_t lost = 0;  // accepted, then lost to writes failing at exit
  bool held = false;  // holding records until the sink ships (at the cap)
};

class DecisionLog {
 public:
  // Opens `options.dir`, repairs a torn tail of its last segment, and
  // starts the writer. INVALID_ARGUMENT for bad options; INTERNAL or
  // DATA_LOSS (naming the file) when the directory cannot be used.
  static absl::StatusOr<std::unique_ptr<DecisionLog>> Open(
      DecisionLogOptions options, const Clock* clock);
  ~DecisionLog();  // Close()
  DecisionLog(const DecisionLog&) = delete;
  DecisionLog& operator=(const DecisionLog&) = delete;

  // Copies `call` into the queue. OK: it will be written. A full queue: under
  // kDrop, RESOURCE_EXHAUSTED at once; under kBlock, waits for room until
  // `deadline` or max_block, whichever is sooner, then DEADLINE_EXCEEDED.
  // FAILED_PRECONDITION after Close().
  absl::Status Submit(const CallView& call, absl::Time deadline);

  // The ids the handlers stamp on answers and records.
  DecisionIdGenerator& ids() { return ids_; }

  // Whether the ALLOW with decision id `id` is to be recorded under the
  // sampling fraction (KeepAllow); when it is not, it is counted as
  // sampled out. A handler asks before it copies a unary call's bytes; the
  // writer applies the same rule to batch items.
  bool SampleAllow(absl::string_view id) {
    if (KeepAllow(id, options_.record.allow_fraction)) return true;
    sampled_out_early_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  // Writes everything queued, logs KIND_STOPPED, fsyncs and stops the
  // writer. Calls after the first do nothing.
  void Close();

  DecisionLogStats Stats() const;

  // The directory of segments.
  const std::string& dir() const { return options_.dir; }

  // The sequence of the first entry this DecisionLog appended (the
  // KIND_TAIL_REPAIRED or KIND_STARTED event Open() writes): this writer
  // chained every entry from it on (KafkaSinkOptions::chained_from).
  uint64_t first_sequence() const { return first_sequence_; }

 private:
  DecisionLog(DecisionLogOptions options, const Clock* clock,
              SegmentWriter segment, uint64_t next_sequence);
  void Run();
  // Encodes the calls queued in `batch` (cleared after) and events into
  // the open segment and writes them, retrying failed writes until they
  // succeed, or 30 times once Close() was called.
  void WriteBatch(std::string* batch, bool closing);
  absl::Status RotateIfDue();
  // Retention: the oldest segments to remove while the directory is over
  // max_total_bytes; never the open one, nor one the sink has not shipped
  // whole (through `shipped`), nor the one holding the entry `shipped`.
  struct RetentionPlan {
    std::vector<std::pair<std::string, uint64_t>> removed;  // path, bytes
    uint64_t freed = 0;                                     // their bytes
    uint64_t first_kept = 0;   // the first sequence left
    std::string detail;        // of its KIND_SEGMENTS_REMOVED event
    uint64_t event_bytes = 0;  // the event's frame, while not yet added
  };
  // The removal under way (removal_), if any; else a new plan.
  RetentionPlan PlanRetention(uint64_t shipped) const;
  // Adds the plan's event and makes it durable (SyncSegment: with the
  // pending frames before it), then removes the files. On failure the
  // event stays added and the plan is kept in removal_ for the next call
  // to finish: one removal, one event.
  absl::Status ApplyRetention(const RetentionPlan& plan);
  // The sink's shipped_through, or UINT64_MAX without a sink.
  uint64_t ShippedThrough() const;
  // OK to write the pending batch, or RESOURCE_EXHAUSTED with *held set
  // while writing it (and a new segment's header) would take the directory
  // past max_total_bytes plus a segment, even after the retention the sink
  // allows, and the sink has not shipped everything written. What is
  // written is fsynced first, so that the sink can ship it. Never once
  // closing: the cap is soft, and a shutdown must not lose what the disk
  // has room for. Once everything written is shipped and retention has
  // removed what it may, a batch larger than the room left is written
  // whole. Other errors (*held false): retention's write or fsync failed.
  absl::Status HoldForSink(bool closing, bool* held);
  // Writes the pending frames (segment_.Write()); on success every entry
  // added is in the file: written_through_ advances and dirty_ is set.
  absl::Status WriteSegment();
  // fsyncs what is written (not the pending frames) when dirty_, and
  // publishes written_through_ as durable_through.
  absl::Status SyncWritten();
  // WriteSegment(), then SyncWritten().
  absl::Status SyncSegment();
  // Adds an event entry to the pending frames; the error is logged too.
  absl::Status AddEvent(int kind, absl::string_view detail, uint64_t count = 0);
  // What the segment files hold.
  uint64_t DiskBytes() const { return closed_bytes_ + segment_.size(); }

  const DecisionLogOptions options_;
  const Clock* const clock_;
  DecisionIdGenerator ids_;

  // The writer thread's own state.
  SegmentWriter segment_;
  uint64_t next_sequence_;
  const uint64_t first_sequence_;  // next_sequence_ at Open()
  uint64_t written_through_;       // the last sequence written to the files
  absl::Time segment_opened_;
  absl::Time last_sync_;
  uint64_t dropped_reported_ = 0;
  bool dirty_ = false;  // written since the last fsync
  bool idle_error_reported_ = false;
  std::optional<RetentionPlan> removal_;  // its event added, files not removed
  uint64_t closed_bytes_ = 0;             // the segments before the open one
  RecordEncoder encoder_;
  std::atomic<uint64_t> sampled_out_early_{0};  // by SampleAllow

  mutable std::mutex mu_;
  std::condition_variable wake_writer_;  // records queued, or closing
  std::condition_variable room_;         // queue bytes went down
  // The queued calls, one after the other (decision_log.cc's QueuedCall).
  std::string queue_ ABSL_GUARDED_BY(mu_);
  size_t queue_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // queued and in flight
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  DecisionLogStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread writer_;
};

}  // namespace importgate::decisionlog

#endif  // IMPORTGATE_SERVER_DECISIONLOG_DECISION_LOG_H_
