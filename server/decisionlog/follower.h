// LogFollower: reads a decision log directory's entries in sequence order
// from a given sequence on, following a live writer (DecisionLog) as it
// appends: new frames of the open segment as they are written, then the
// next segment once the writer has begun it. Every frame's chain is
// verified, from the segment header on, so what is handed on (e.g. to the
// Kafka sink) is exactly what the log holds; except, when set_chained_from()
// says so, the frames this process's own writer chained as it appended
// them, whose stored chains are handed on as they are (the reader at the
// far end checks every chain: ForEachShippedEntry in kafka_sink.h).
//
// A frame not yet whole (the writer mid-append, or a torn tail a restarted
// writer will cut) is waited for, not an error. The next segment is entered
// only when it continues this one's chain.
//
// Thread safety: thread-compatible; reads files only, so it runs beside
// the writer thread of the same directory.
#ifndef IMPORTGATE_SERVER_DECISIONLOG_FOLLOWER_H_
#define IMPORTGATE_SERVER_DECISIONLOG_FOLLOWER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/decisionlog/segment.h"

namespace importgate::decisionlog {

class LogFollower {
 public:
  // Follows `dir` from entry `from_sequence` (>= 1) on. Nothing is read
  // until Poll().
  LogFollower(std::string dir, uint64_t from_sequence);
  ~LogFollower();
  LogFollower(LogFollower&& other) noexcept;
  LogFollower& operator=(LogFollower&& other) noexcept;

  // One entry as read: its sequence number, its LogEntry bytes and whole
  // frame as on disk (both valid during the call), and the chains before
  // and after it.
  struct Entry {
    uint64_t sequence = 0;
    absl::string_view bytes;
    absl::string_view frame;  // length, `bytes`, chain (segment.h)
    Chain prev_chain{};
    Chain chain{};
  };

  // Calls `visit` with the entries appended since the last call, in order,
  // until about `max_bytes` were handed on or nothing more is whole;
  // returns how many. 0: nothing new yet (or no segment yet). Errors:
  // DATA_LOSS when the log does not hold what it should (from_sequence
  // removed by retention, an entry out of its place, a frame whose chain
  // fails where chains are checked, a gap between segments), naming the
  // file and offset; INTERNAL when a file cannot be
  // read. After an error, the follower is stuck (make a new one).
  absl::StatusOr<size_t> Poll(const std::function<void(const Entry&)>& visit,
                              size_t max_bytes);

  // The sequence of the next entry to hand on.
  uint64_t next_sequence() const { return next_sequence_; }

  // Entries after `last` are not handed on (waited for) until it is
  // raised: e.g. the last sequence the writer has fsynced.
  void set_last(uint64_t last) { last_ = last; }

  // Entries from `sequence` on are not hashed again: they were chained by
  // this process's DecisionLog writer as it appended them (its
  // first_sequence()), and hashing each twice cost the sink thread as much
  // as reading it. They may have waited on disk for any time (the sink
  // reads only what is fsynced, and not during a broker outage); what the
  // follower still checks of them is their framing, that each entry's
  // LogEntry.sequence is its place, and each segment header's link to the
  // chain before it. An entry whose bytes alone were altered is handed on
  // with the chain the writer stored, for the consumer's check
  // (docs/decision-log.md). Entries before `sequence` (on disk before this
  // process opened the log) are verified in full. Default: every entry is
  // verified.
  void set_chained_from(uint64_t sequence) { chained_from_ = sequence; }

 private:
  // Opens the segment that holds next_sequence_ (or begins after it):
  // false when there is none yet.
  absl::StatusOr<bool> OpenSegment();
  // Reads whole frames from the open segment; sets *at_end when no more
  // bytes follow them.
  absl::StatusOr<size_t> ReadFrames(
      const std::function<void(const Entry&)>& visit, size_t max_bytes,
      bool* at_end);
  void CloseSegment();

  std::string dir_;
  uint64_t next_sequence_;
  uint64_t last_ = UINT64_MAX;
  uint64_t chained_from_ = UINT64_MAX;
  bool limited_ = false;  // the last read stopped at last_
  int fd_ = -1;
  std::string path_;
  uint64_t segment_first_ = 0;  // the open segment's first sequence
  uint64_t offset_ = 0;         // of the next frame in the open segment
  uint64_t file_sequence_ = 0;  // the sequence of the frame at offset_
  Chain chain_{};               // after the frame before offset_
  // Bytes of the open segment from offset_ on, read but not yet handed
  // on: buffer_[buffered_begin_, buffered_end_). Kept between calls that
  // stop at last_ or max_bytes, so that a follower let on a few entries at
  // a time reads each byte once; a frame not yet whole is never taken from
  // it, but read again from the file. Whole frames kept past last_ may not
  // be fsynced yet: a write the writer fails is cut back from the file
  // (SegmentWriter::Write) and written again with the same bytes at the
  // same offset, so what is kept is what the file will hold.
  std::string buffer_;
  size_t buffered_begin_ = 0;
  size_t buffered_end_ = 0;
  ChainHasher hasher_;
};

}  // namespace importgate::decisionlog

#endif  // IMPORTGATE_SERVER_DECISIONLOG_FOLLOWER_H_
