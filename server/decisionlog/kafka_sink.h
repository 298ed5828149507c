// KafkaSink: ships a decision log's entries from its segment files to a
// Kafka topic (librdkafka, Debian's librdkafka-dev), for an audit store off
// the machine.
//
// From the files, not from memory: a LogFollower (follower.h) reads what
// the writer appended (verifying the chain of what this process did not
// write itself: chained_from), and the sink produces runs of
// consecutive entries, each message holding
//   key     the sink's key (by default the host name): every entry of one
//           replica goes to one partition, in sequence order;
//   value   one or more whole frames exactly as in the segment files
//           (segment.h: length, LogEntry bytes, chain after the entry), at
//           most max_message_bytes unless one frame alone is larger;
//   headers importgate-first-sequence (decimal: the first frame's entry)
//           and importgate-prev-chain (the hex chain before it),
// so that a consumer checks each message on its own and sees anything
// missing, repeated out of place or altered (ForEachShippedEntry). A run
// holds what one read of the files found: one entry at a trickle, hundreds
// at load, where one message per entry cost librdkafka more CPU than the
// rest of the log (docs/performance.md).
// The producer is idempotent with acks=all: at-least-once, in order per
// partition. The sink persists a checkpoint (the last sequence Kafka
// acknowledged, with every one before it, and its chain) in
// DIR/kafka-sink.checkpoint, written atomically; after a restart it resumes
// from there, so an entry may be sent twice (consumers drop a sequence
// they already have) but none is skipped. A checkpoint whose chain does
// not match the log's at that sequence (the log was replaced) stops the
// sink with DATA_LOSS rather than ship a different history.
//
// A broker outage only delays: the sink stops reading when librdkafka's
// queue holds max_in_flight_bytes, the files keep everything, and the
// decision log's retention never removes an entry the sink has not shipped
// (shipped_through, read by DecisionLog); when the next batch would take the
// directory past its cap, the log holds new records and its queue policy
// applies (docs).
// Memory is bounded by the in-flight bytes and one read buffer.
//
// Thread safety: Stats() and shipped_through() may be called from any
// thread; Stop() from one.
#ifndef IMPORTGATE_SERVER_DECISIONLOG_KAFKA_SINK_H_
#define IMPORTGATE_SERVER_DECISIONLOG_KAFKA_SINK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/decisionlog/segment.h"

namespace importgate::decisionlog {

// The longest KafkaSinkOptions::pace.
inline constexpr absl::Duration kMaxKafkaSinkPace = absl::Seconds(10);

struct KafkaSinkOptions {
  // The decision log's directory (--decision_log_dir).
  std::string dir;
  // librdkafka bootstrap.servers, e.g. "kafka-1:9092,kafka-2:9092".
  std::string brokers;
  std::string topic;
  // The message key; empty: the host name.
  std::string key;
  // Further librdkafka properties (security.protocol, ssl.*, sasl.*, ...),
  // from --decision_log_kafka_config, applied after the sink's own and so
  // able to override them.
  std::vector<std::pair<std::string, std::string>> properties;
  // The most entry bytes handed to librdkafka and not yet acknowledged.
  size_t max_in_flight_bytes = size_t{16} << 20;
  // The most frame bytes in one message (below Kafka's default 1 MB
  // message.max.bytes); a single larger frame is sent alone.
  size_t max_message_bytes = size_t{256} << 10;
  // How often the checkpoint is written while entries are acknowledged.
  absl::Duration checkpoint_interval = absl::Seconds(1);
  // How long the sink waits for more entries or acknowledgements per turn.
  absl::Duration poll_interval = absl::Milliseconds(20);
  // Pacing: the entries that became durable together (the writer fsyncs
  // about once a second, so under load a second's worth at once) are
  // handed to librdkafka evenly over this long, a step per poll_interval
  // (the first at once), rather than at once: the sink's and librdkafka's
  // work (reading, copying, compressing) then takes a steady share of the
  // CPU instead of bursts that delay the request threads. Shipping runs up
  // to this much later. A backlog (after an outage) is paced over the same
  // window: it takes at most this much longer, and none once each step's
  // share is more than the in-flight bound. Not while stopping, nor
  // without durable_through. Zero: no pacing; at most kMaxKafkaSinkPace.
  absl::Duration pace = absl::ZeroDuration();
  // Where the sink publishes the last sequence shipped (every one up to it
  // acknowledged, and the checkpoint written); DecisionLogOptions::
  // shipped_through reads it. UINT64_MAX once the sink has stopped for
  // good: retention then no longer waits for it. May be null.
  std::shared_ptr<std::atomic<uint64_t>> shipped_through;
  // The last sequence the writer has fsynced (DecisionLogOptions::
  // durable_through): only entries up to it are shipped, so that a power
  // loss cannot take back an entry Kafka has. Null: no limit.
  std::shared_ptr<const std::atomic<uint64_t>> durable_through;
  // The first sequence this process's DecisionLog appended
  // (DecisionLog::first_sequence()): entries from it on are shipped with
  // the chains its writer computed, not hashed again
  // (LogFollower::set_chained_from); older ones are verified as read.
  // UINT64_MAX: every entry is verified.
  uint64_t chained_from = UINT64_MAX;
};

struct KafkaSinkStats {
  uint64_t shipped = 0;          // entries acknowledged since start
  uint64_t last_shipped = 0;     // their last sequence (from the checkpoint)
  uint64_t in_flight = 0;        // entries produced, not yet acknowledged
  uint64_t delivery_errors = 0;  // failed deliveries (each sent again)
  uint64_t restarts = 0;         // producers remade after a failure
  bool stopped = false;    // stopped for good: the log is not what it shipped
  std::string last_error;  // empty when none
};

// The headers of a shipped message.
inline constexpr char kFirstSequenceHeader[] = "importgate-first-sequence";
inline constexpr char kPrevChainHeader[] = "importgate-prev-chain";

// One entry of a shipped message.
struct ShippedEntry {
  uint64_t sequence = 0;
  absl::string_view bytes;  // the LogEntry, a view into the message value
  Chain chain{};            // after it
};

// For consumers (and tests): calls `visit` with each entry of a shipped
// message's value, in order, checking each frame's chain from the
// message's importgate-prev-chain header (`prev_chain_hex`) and numbering
// them from its importgate-first-sequence header. Returns the chain after
// the last entry, which is the next message's prev chain when nothing is
// missing. DATA_LOSS naming the sequence when a frame is cut short, has a
// bad length or fails its chain, or the headers are malformed; entries
// before it were visited.
absl::StatusOr<Chain> ForEachShippedEntry(
    absl::string_view value, absl::string_view first_sequence_header,
    absl::string_view prev_chain_hex,
    const std::function<void(const ShippedEntry&)>& visit);

// Pacing (KafkaSinkOptions::pace): the last sequence that may be handed on
// `elapsed` into a window of length `window` that began when entries
// `from` (>= 1) to `to` (inclusive) became durable and not yet handed on:
// a share of them proportional to the time passed, rounded up; all of
// them once the window is over (or when it is not positive); `from - 1`
// when none; `to` when `to < from` (nothing new).
uint64_t PacedThrough(uint64_t from, uint64_t to, absl::Duration elapsed,
                      absl::Duration window);

// Parses a librdkafka properties file (--decision_log_kafka_config): one
// "name=value" per line, '#' starting a comment line, blank lines ignored,
// spaces around the name and value trimmed. INVALID_ARGUMENT naming the
// flag and line of the first bad one.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ParseKafkaConfig(absl::string_view text);

// A checkpoint: every entry up to `sequence` was acknowledged, and the
// chain after it. Text, two lines: "sequence N" and "chain HEX".
struct SinkCheckpoint {
  uint64_t sequence = 0;
  Chain chain{};
};
// NOT_FOUND when there is none yet; DATA_LOSS naming the file when it is
// malformed.
absl::StatusOr<SinkCheckpoint> ReadCheckpoint(const std::string& path);
// Written to a temporary file, fsynced and renamed over `path`.
absl::Status WriteCheckpoint(const std::string& path,
                             const SinkCheckpoint& checkpoint);

class KafkaSink {
 public:
  // Reads the checkpoint, makes the producer and starts shipping.
  // INVALID_ARGUMENT naming the flag for bad options (librdkafka's own
  // message for a property it refuses); DATA_LOSS for a bad checkpoint.
  static absl::StatusOr<std::unique_ptr<KafkaSink>> Start(
      KafkaSinkOptions options);
  ~KafkaSink();  // Stop(0)
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  // Ships what the files hold, for at most `drain` (call it after the
  // decision log's Close(), so that they hold everything), writes the
  // checkpoint and stops. What is not acknowledged by then is shipped
  // after the next start. Calls after the first do nothing.
  void Stop(absl::Duration drain);

  KafkaSinkStats Stats() const;

  // The checkpoint file's path for `dir`.
  static std::string CheckpointPath(const std::string& dir);

 private:
  struct Producer;
  KafkaSink(KafkaSinkOptions options, SinkCheckpoint checkpoint);
  // Makes `producer`'s librdkafka handle from the options.
  absl::Status MakeProducer(Producer* producer) const;
  void Run();

  const KafkaSinkOptions options_;
  SinkCheckpoint checkpoint_;  // the sink thread's

  mutable std::mutex mu_;
  bool stopping_ = false;
  absl::Time drain_until_ = absl::InfiniteFuture();
  KafkaSinkStats stats_;
  std::thread thread_;
};

}  // namespace importgate::decisionlog

#endif  // IMPORTGATE_SERVER_DECISIONLOG_KAFKA_SINK_H_
