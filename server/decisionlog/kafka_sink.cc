#include "server/decisionlog/kafka_sink.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/common/log.h"
#include "server/common/thread_name.h"
#include "server/decisionlog/follower.h"

namespace importgate::decisionlog {
namespace {

constexpr char kCheckpointName[] = "kafka-sink.checkpoint";

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "importgate";
  return name;
}

bool ParseChainHex(absl::string_view hex, Chain* chain) {
  if (hex.size() != 64 ||
      hex.find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
    return false;
  }
  const std::string bytes = absl::HexStringToBytes(hex);
  std::memcpy(chain->data(), bytes.data(), chain->size());
  return true;
}

}  // namespace

absl::StatusOr<Chain> ForEachShippedEntry(
    absl::string_view value, absl::string_view first_sequence_header,
    absl::string_view prev_chain_hex,
    const std::function<void(const ShippedEntry&)>& visit) {
  ShippedEntry entry;
  Chain chain;
  if (!absl::SimpleAtoi(first_sequence_header, &entry.sequence) ||
      entry.sequence == 0) {
    return absl::DataLossError(absl::StrCat(
        "header ", kFirstSequenceHeader, ": \"",
        first_sequence_header.substr(0, 40), "\" is not a sequence number"));
  }
  if (!ParseChainHex(prev_chain_hex, &chain)) {
    return absl::DataLossError(absl::StrCat("header ", kPrevChainHeader,
                                            ": not 64 lower-case hex digits"));
  }
  ChainHasher hasher;
  size_t at = 0;
  for (; at < value.size(); ++entry.sequence) {
    Frame frame;
    uint64_t length = 0;
    const FrameFound found = DecodeFrame(value.substr(at), &frame, &length);
    if (found != FrameFound::kWhole) {
      return absl::DataLossError(absl::StrCat(
          "sequence ", entry.sequence, " at byte ", at, " of the message: ",
          found == FrameFound::kCutShort
              ? "a frame is cut short"
              : absl::StrCat("a frame's length ", length, " is not 1 to ",
                             kMaxEntryBytes)));
    }
    if (hasher.Next(chain, frame.entry) != frame.chain) {
      return absl::DataLossError(absl::StrCat(
          "sequence ", entry.sequence,
          ": its chain does not match its bytes and the chain before it"));
    }
    entry.bytes = frame.entry;
    entry.chain = chain = frame.chain;
    visit(entry);
    at += FrameBytes(length);
  }
  if (at == 0) {
    return absl::DataLossError("an empty message: it holds no frame");
  }
  return chain;
}

uint64_t PacedThrough(uint64_t from, uint64_t to, absl::Duration elapsed,
                      absl::Duration window) {
  if (to < from || window <= absl::ZeroDuration() || elapsed >= window) {
    return to;
  }
  if (elapsed <= absl::ZeroDuration()) return from - 1;
  const uint64_t count = to - from + 1;
  const double share = std::ceil(static_cast<double>(count) *
                                 absl::FDivDuration(elapsed, window));
  if (share >= static_cast<double>(count)) return to;
  return from - 1 + static_cast<uint64_t>(share);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ParseKafkaConfig(absl::string_view text) {
  std::vector<std::pair<std::string, std::string>> properties;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t equals = line.find('=');
    const absl::string_view name =
        absl::StripAsciiWhitespace(line.substr(0, equals));
    if (equals == absl::string_view::npos || name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--decision_log_kafka_config: line ", number,
                       " is not name=value: \"", line.substr(0, 80), "\""));
    }
    properties.emplace_back(
        std::string(name),
        std::string(absl::StripAsciiWhitespace(line.substr(equals + 1))));
  }
  return properties;
}

std::string KafkaSink::CheckpointPath(const std::string& dir) {
  return absl::StrCat(dir, "/", kCheckpointName);
}

absl::StatusOr<SinkCheckpoint> ReadCheckpoint(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": none yet"));
  std::ostringstream text;
  text << in.rdbuf();
  SinkCheckpoint checkpoint;
  bool have_sequence = false, have_chain = false;
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    if (absl::ConsumePrefix(&line, "sequence ")) {
      have_sequence = absl::SimpleAtoi(line, &checkpoint.sequence);
    } else if (absl::ConsumePrefix(&line, "chain ")) {
      have_chain = ParseChainHex(line, &checkpoint.chain);
    }
  }
  if (!have_sequence || !have_chain) {
    return absl::DataLossError(absl::StrCat(
        path,
        ": not a Kafka sink checkpoint (\"sequence N\" and \"chain "
        "HEX\" lines); remove it to ship the whole log again"));
  }
  return checkpoint;
}

absl::Status WriteCheckpoint(const std::string& path,
                             const SinkCheckpoint& checkpoint) {
  const std::string text =
      absl::StrCat("sequence ", checkpoint.sequence, "\nchain ",
                   ChainHex(checkpoint.chain), "\n");
  const std::string temporary = path + ".tmp";
  const int fd =
      open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot write ", temporary, ": ", std::strerror(errno)));
  }
  const bool written = write(fd, text.data(), text.size()) ==
                           static_cast<ssize_t>(text.size()) &&
                       fsync(fd) == 0;
  close(fd);
  if (!written || rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// One librdkafka producer and what it has in flight. Used by the sink
// thread only (delivery reports are served by rd_kafka_poll on it).
struct KafkaSink::Producer {
  // One message: entries up to `last_sequence`, `chain` after the last.
  struct InFlight {
    uint64_t last_sequence;
    uint64_t entries;
    Chain chain;
    size_t bytes;
    bool delivered;
  };

  rd_kafka_t* rk = nullptr;
  std::deque<InFlight> in_flight;  // in sequence order
  size_t in_flight_bytes = 0;
  uint64_t in_flight_entries = 0;
  bool failed = false;
  std::string error;

  ~Producer() {
    if (rk != nullptr) {
      // What is not acknowledged is sent again after the next start.
      rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(rk, 0);
      rd_kafka_destroy(rk);
    }
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message,
                         void* opaque) {
    auto* self = static_cast<Producer*>(opaque);
    const auto sequence =
        static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message->_private));
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (!self->failed) {
        self->error =
            absl::StrCat("Kafka delivery of the message ending at sequence ",
                         sequence, " failed: ", rd_kafka_err2str(message->err));
      }
      self->failed = true;
      return;
    }
    // The message is found by its last sequence (a report for one already
    // taken off cannot happen, and is ignored).
    const auto it = std::lower_bound(
        self->in_flight.begin(), self->in_flight.end(), sequence,
        [](const InFlight& m, uint64_t s) { return m.last_sequence < s; });
    if (it != self->in_flight.end() && it->last_sequence == sequence) {
      it->delivered = true;
    }
  }

  // librdkafka's errors, on its own threads: logged, at most one line
  // every 10 s (a broker outage reports every connection attempt), with
  // how many were left out. Transient errors are retried by librdkafka; a
  // delivery that fails is reported above.
  static void OnError(rd_kafka_t*, int code, const char* reason, void* opaque) {
    auto* self = static_cast<Producer*>(opaque);
    const int64_t now = absl::ToUnixNanos(absl::Now());
    int64_t last = self->last_error_log.load(std::memory_order_relaxed);
    if (now - last < absl::ToInt64Nanoseconds(absl::Seconds(10)) ||
        !self->last_error_log.compare_exchange_strong(last, now)) {
      self->errors_not_logged.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const uint64_t left_out = self->errors_not_logged.exchange(0);
    LogWarning(absl::StrCat(
        "decision log Kafka sink: ",
        rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code)), ": ", reason,
        left_out > 0 ? absl::StrCat(" (and ", left_out,
                                    " other error(s) in the last 10 s)")
                     : std::string()));
  }
  std::atomic<int64_t> last_error_log{0};
  std::atomic<uint64_t> errors_not_logged{0};
};

absl::StatusOr<std::unique_ptr<KafkaSink>> KafkaSink::Start(
    KafkaSinkOptions options) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError(
        "--decision_log_dir: the Kafka sink ships from it; it is required");
  }
  if (options.brokers.empty()) {
    return absl::InvalidArgumentError(
        "--decision_log_kafka_brokers: is required");
  }
  if (options.topic.empty()) {
    return absl::InvalidArgumentError(
        "--decision_log_kafka_topic: is required");
  }
  if (options.pace < absl::ZeroDuration() || options.pace > kMaxKafkaSinkPace) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--decision_log_kafka_pace: ", absl::FormatDuration(options.pace),
        " is not 0 (at once) to ", absl::FormatDuration(kMaxKafkaSinkPace)));
  }
  if (options.key.empty()) options.key = HostName();
  SinkCheckpoint checkpoint;
  auto read = ReadCheckpoint(CheckpointPath(options.dir));
  if (read.ok()) {
    checkpoint = *read;
  } else if (!absl::IsNotFound(read.status())) {
    return read.status();
  }
  std::unique_ptr<KafkaSink> sink(
      new KafkaSink(std::move(options), checkpoint));
  // Make one producer now, so that a property librdkafka refuses stops the
  // server at start.
  auto producer = std::make_unique<Producer>();
  if (absl::Status made = sink->MakeProducer(producer.get()); !made.ok()) {
    return made;
  }
  producer.reset();
  sink->thread_ = std::thread([raw = sink.get()] {
    SetCurrentThreadName("ig-kafka-sink");
    raw->Run();
  });
  return sink;
}

KafkaSink::KafkaSink(KafkaSinkOptions options, SinkCheckpoint checkpoint)
    : options_(std::move(options)), checkpoint_(checkpoint) {
  stats_.last_shipped = checkpoint.sequence;
  if (options_.shipped_through != nullptr) {
    options_.shipped_through->store(checkpoint.sequence);
  }
}

KafkaSink::~KafkaSink() { Stop(absl::ZeroDuration()); }

absl::Status KafkaSink::MakeProducer(Producer* producer) const {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> properties = {
      {"bootstrap.servers", options_.brokers},
      {"client.id", "importgate-decision-log"},
      {"enable.idempotence", "true"},
      // A failure that could leave a gap is fatal: the sink then sends
      // again from its checkpoint, in order.
      {"enable.gapless.guarantee", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      // Records repeat their bundle, rules and field names: LZ4 sends a
      // fraction of the bytes for about the CPU the copies it saves cost
      // (docs/performance.md). Consumers' clients decompress it.
      {"compression.type", "lz4"},
      // librdkafka's queue above the sink's own bound, so that it is never
      // what refuses a message.
      {"queue.buffering.max.kbytes",
       absl::StrCat(2 * options_.max_in_flight_bytes / 1024 + 1024)},
      {"queue.buffering.max.messages", "1000000"},
      // Back within a second of a broker's return.
      {"reconnect.backoff.max.ms", "1000"},
  };
  properties.insert(properties.end(), options_.properties.begin(),
                    options_.properties.end());
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error,
                          sizeof(error)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat(
          name == "bootstrap.servers" ? "--decision_log_kafka_brokers: "
                                      : "--decision_log_kafka_config: ",
          name, "=", value, ": ", error));
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &Producer::OnDelivery);
  rd_kafka_conf_set_error_cb(conf, &Producer::OnError);
  // Its log lines repeat what the error callback reports.
  rd_kafka_conf_set_log_cb(conf, nullptr);
  rd_kafka_conf_set_opaque(conf, producer);
  producer->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (producer->rk ==
      nullptr) {  // conf is freed by rd_kafka_new only on success
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(
        absl::StrCat("decision log Kafka sink: ", error));
  }
  return absl::OkStatus();
}

void KafkaSink::Run() {
  auto producer = std::make_unique<Producer>();
  std::string stuck;  // why shipping stopped for good, if it did
  SinkCheckpoint saved = checkpoint_;
  absl::Time last_save = absl::Now();
  const std::string key = options_.key;

  auto publish = [&](bool force) {
    if (!stuck.empty() || checkpoint_.sequence == saved.sequence) return;
    if (!force && absl::Now() - last_save < options_.checkpoint_interval) {
      return;
    }
    if (absl::Status s =
            WriteCheckpoint(CheckpointPath(options_.dir), checkpoint_);
        !s.ok()) {
      LogError(absl::StrCat("decision log Kafka sink: ", s.message()));
      return;
    }
    saved = checkpoint_;
    last_save = absl::Now();
    if (options_.shipped_through != nullptr) {
      options_.shipped_through->store(saved.sequence);
    }
  };
  // Stops shipping for good, and lets retention stop waiting for the sink:
  // the decision log goes on as if there were none (decisions are never
  // held for a sink that cannot ship), and the metrics and log say so.
  auto fail = [&](std::string why) {
    LogError(absl::StrCat(
        "decision log Kafka sink stopped shipping: ", why,
        "; retention no longer waits for it (fix the cause and restart)"));
    stuck = std::move(why);
    if (options_.shipped_through != nullptr) {
      options_.shipped_through->store(UINT64_MAX);
    }
    std::lock_guard<std::mutex> lock(mu_);
    stats_.last_error = stuck;
    stats_.stopped = true;
  };
  auto durable = [&] {
    return options_.durable_through != nullptr
               ? options_.durable_through->load()
               : UINT64_MAX;
  };

  if (absl::Status made = MakeProducer(producer.get()); !made.ok()) {
    fail(std::string(made.message()));
  }
  // Without a checkpoint, the oldest entry the directory holds (retention
  // may have removed older ones before the sink was turned on).
  auto oldest = [&]() -> uint64_t {
    auto segments = ListSegments(options_.dir);
    return segments.ok() && !segments->empty() ? segments->front().first : 1;
  };
  // Read from the checkpoint's own entry, to check its chain.
  uint64_t from = checkpoint_.sequence;
  if (from == 0) {
    from = oldest();
  } else if (checkpoint_.sequence > durable()) {
    fail(absl::StrCat("the checkpoint ", CheckpointPath(options_.dir),
                      " says sequence ", checkpoint_.sequence,
                      " was shipped, but the log ends at ", durable(),
                      ": the log was replaced, or lost entries"));
  }
  // A follower from `sequence` on, told which entries this process chained.
  auto follow_from = [&](uint64_t sequence) {
    LogFollower follower(options_.dir, sequence);
    follower.set_chained_from(options_.chained_from);
    return follower;
  };
  LogFollower follower = follow_from(from);
  bool check_first = checkpoint_.sequence > 0;
  // Pacing: the stretch that became durable last, when (on the steady
  // clock: a wall clock set back must not stall it), and how far the sink
  // may read; raised once per poll_interval, never lowered.
  const bool paced = options_.pace > absl::ZeroDuration() &&
                     options_.durable_through != nullptr;
  struct {
    uint64_t from = 0, to = 0;
    std::chrono::steady_clock::time_point start;
    uint64_t last = 0;
  } stretch;
  std::chrono::steady_clock::time_point last_step;
  // The run of frames being gathered into one message (kept between
  // turns, so that its buffer is allocated once).
  std::string run;
  run.reserve(options_.max_message_bytes);

  while (true) {
    bool stopping = false;
    absl::Time drain_until;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stopping_;
      drain_until = drain_until_;
    }
    if (stopping && (absl::Now() >= drain_until || !stuck.empty())) break;
    if (!stuck.empty()) {
      absl::SleepFor(options_.poll_interval);
      continue;
    }
    // Hand librdkafka what the files hold, up to the in-flight bound and
    // only what the writer has fsynced, paced.
    bool caught_up = false;
    uint64_t requeue_from = 0;  // librdkafka's queue was full at it
    const uint64_t durable_now = durable();
    uint64_t last = durable_now;
    if (paced && !stopping) {
      const auto now = std::chrono::steady_clock::now();
      if (durable_now != stretch.to) {  // a new stretch is durable
        stretch = {follower.next_sequence(), durable_now, now, stretch.last};
      }
      if (absl::FromChrono(now - last_step) >= options_.poll_interval) {
        // Each step lets on a step's share, the first at once: a log
        // fsyncing more often than the sink steps still gets shipped.
        stretch.last = std::max(
            stretch.last, PacedThrough(stretch.from, stretch.to,
                                       absl::FromChrono(now - stretch.start) +
                                           options_.poll_interval,
                                       options_.pace));
        last_step = now;
      }
      last = std::min(stretch.last, durable_now);
    }
    follower.set_last(last);
    uint64_t run_first = 0, run_last = 0, run_entries = 0;
    Chain run_prev{}, run_chain{};
    auto produce_run = [&] {
      if (run.empty()) return;
      const std::string first = absl::StrCat(run_first);
      const std::string prev = ChainHex(run_prev);
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer->rk, RD_KAFKA_V_TOPIC(options_.topic.c_str()),
          RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(run.data(), run.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_HEADER(kFirstSequenceHeader, first.data(),
                            static_cast<ssize_t>(first.size())),
          RD_KAFKA_V_HEADER(kPrevChainHeader, prev.data(),
                            static_cast<ssize_t>(prev.size())),
          RD_KAFKA_V_OPAQUE(
              reinterpret_cast<void*>(static_cast<uintptr_t>(run_last))),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        requeue_from = run_first;  // back-pressure: next turn
      } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        // Sent again from the checkpoint, after a new producer.
        producer->failed = true;
        producer->error =
            absl::StrCat("Kafka produce of sequences ", run_first, " to ",
                         run_last, " refused: ", rd_kafka_err2str(err));
      } else {
        producer->in_flight.push_back(
            {run_last, run_entries, run_chain, run.size(), false});
        producer->in_flight_bytes += run.size();
        producer->in_flight_entries += run_entries;
      }
      run.clear();
      run_entries = 0;
    };
    while (!producer->failed && requeue_from == 0 &&
           producer->in_flight_bytes < options_.max_in_flight_bytes) {
      absl::Status produce_error;
      auto handed = follower.Poll(
          [&](const LogFollower::Entry& entry) {
            if (!produce_error.ok() || producer->failed || requeue_from != 0) {
              return;  // this turn is over; later entries are read again
            }
            if (check_first) {
              check_first = false;
              if (entry.chain != checkpoint_.chain) {
                produce_error = absl::DataLossError(absl::StrCat(
                    "the log's chain at sequence ", entry.sequence,
                    " is not the one the checkpoint ",
                    CheckpointPath(options_.dir),
                    " recorded: the log was replaced or rewritten"));
              }
              return;  // shipped before the restart
            }
            if (!run.empty() &&
                run.size() + entry.frame.size() > options_.max_message_bytes) {
              produce_run();
              if (producer->failed || requeue_from != 0) return;
            }
            if (run.empty()) {
              run_first = entry.sequence;
              run_prev = entry.prev_chain;
            }
            run.append(entry.frame.data(), entry.frame.size());
            run_last = entry.sequence;
            run_chain = entry.chain;
            ++run_entries;
          },
          options_.max_in_flight_bytes - producer->in_flight_bytes);
      if (!handed.ok()) {
        fail(std::string(handed.status().message()));
        break;
      }
      if (!produce_error.ok()) {
        fail(std::string(produce_error.message()));
        break;
      }
      produce_run();
      if (*handed == 0) {
        caught_up = true;
        break;
      }
    }
    if (requeue_from != 0) follower = follow_from(requeue_from);
    // Serve delivery reports (waiting up to poll_interval for them).
    rd_kafka_poll(
        producer->rk,
        static_cast<int>(absl::ToInt64Milliseconds(options_.poll_interval)));
    uint64_t acknowledged = 0;
    while (!producer->in_flight.empty() &&
           producer->in_flight.front().delivered) {
      const Producer::InFlight& done = producer->in_flight.front();
      checkpoint_.sequence = done.last_sequence;
      checkpoint_.chain = done.chain;
      producer->in_flight_bytes -= done.bytes;
      producer->in_flight_entries -= done.entries;
      acknowledged += done.entries;
      producer->in_flight.pop_front();
    }
    publish(false);
    bool restart = producer->failed;
    std::string error = producer->error;
    if (!restart && rd_kafka_fatal_error(producer->rk, nullptr, 0) !=
                        RD_KAFKA_RESP_ERR_NO_ERROR) {
      char reason[512];
      rd_kafka_fatal_error(producer->rk, reason, sizeof(reason));
      restart = true;
      error = absl::StrCat("Kafka producer fatal error: ", reason);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.shipped += acknowledged;
      stats_.last_shipped = checkpoint_.sequence;
      stats_.in_flight = producer->in_flight_entries;
      if (restart) {
        ++stats_.delivery_errors;
        ++stats_.restarts;
        stats_.last_error = error;
      }
    }
    // Stopping, and this turn (begun after the log was closed) found
    // nothing more in the files and nothing in flight: all shipped.
    if (stopping && caught_up && producer->in_flight.empty() && !restart) {
      break;
    }
    if (restart) {
      // Start again after what Kafka acknowledged: in order, at least once.
      LogWarning(absl::StrCat("decision log Kafka sink: ", error,
                              "; sending again from sequence ",
                              checkpoint_.sequence + 1));
      publish(true);
      producer = std::make_unique<Producer>();
      if (absl::Status made = MakeProducer(producer.get()); !made.ok()) {
        fail(std::string(made.message()));
      }
      follower = follow_from(checkpoint_.sequence > 0 ? checkpoint_.sequence + 1
                                                      : oldest());
      check_first = false;
      absl::SleepFor(absl::Seconds(1));
    }
  }
  publish(true);
  producer.reset();  // purges what was not acknowledged
  std::lock_guard<std::mutex> lock(mu_);
  stats_.in_flight = 0;
}

void KafkaSink::Stop(absl::Duration drain) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    drain_until_ = absl::Now() + drain;
  }
  if (thread_.joinable()) thread_.join();
}

KafkaSinkStats KafkaSink::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace importgate::decisionlog
