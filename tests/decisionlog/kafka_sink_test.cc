// The decision log's Kafka sink against librdkafka's mock cluster: every
// entry shipped once at least, in order, with its sequence and chain; a
// restart resuming from the checkpoint; an outage only delaying; retention
// waiting for the sink and the writer holding at the cap; a checkpoint the
// log does not match stopping the sink. And the LogFollower it reads with.
#include "server/decisionlog/kafka_sink.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/decisionlog/follower.h"
#include "tests/decisionlog/decision_log_fixture.h"
#include "tests/testing/kafka_mock.h"

namespace importgate::decisionlog {
namespace {

namespace lv1 = ::importgate::decisionlog::v1;
using ::importgate::testing::KafkaMessage;
using ::importgate::testing::KafkaMockCluster;
using ::importgate::testing::ShippedEntries;
using ::importgate::testing::ShippedLogEntry;
using ::testing::HasSubstr;

// Every entry of the log directory, by sequence: its bytes and chain.
std::map<uint64_t, std::pair<std::string, Chain>> Entries(
    const std::string& dir) {
  std::map<uint64_t, std::pair<std::string, Chain>> entries;
  LogFollower follower(dir, 1);
  while (true) {
    auto read = follower.Poll(
        [&](const LogFollower::Entry& e) {
          entries[e.sequence] = {std::string(e.bytes), e.chain};
        },
        size_t{64} << 20);
    EXPECT_TRUE(read.ok()) << read.status();
    if (!read.ok() || *read == 0) break;
  }
  return entries;
}

class KafkaSinkTest : public DecisionLogTest {
 protected:
  // Eventually, with the log's (fake) clock moving a second per try: the
  // writer fsyncs a second after it writes, and the sink ships only what
  // is fsynced.
  template <typename Done>
  bool Shipped(Done done) {
    return Eventually([&] {
      clock_.Set(clock_.Now() + absl::Seconds(1));
      return done();
    });
  }

  KafkaSinkOptions SinkOptions() {
    KafkaSinkOptions options;
    options.dir = dir_;
    options.brokers = kafka_.bootstraps();
    options.topic = "decisions";
    options.key = "replica-1";
    options.checkpoint_interval = absl::Milliseconds(100);
    options.shipped_through = shipped_;
    options.durable_through = durable_;
    return options;
  }
  std::unique_ptr<KafkaSink> StartSink(KafkaSinkOptions options) {
    auto sink = KafkaSink::Start(std::move(options));
    EXPECT_TRUE(sink.ok()) << sink.status();
    return sink.ok() ? *std::move(sink) : nullptr;
  }
  // A sink paced over `pace`, started over a log of 1,000 decisions
  // (sequences 1 to 1002) written and closed, of which none is durable
  // yet: the test raises durable_ itself.
  std::unique_ptr<KafkaSink> StartPacedOverAWrittenLog(absl::Duration pace) {
    EXPECT_TRUE(kafka_.CreateTopic("decisions", 3));
    auto log = Open(Options());  // publishes nothing
    Write(*log, 0, 1000);
    log->Close();
    KafkaSinkOptions options = SinkOptions();
    options.pace = pace;
    return StartSink(options);
  }
  DecisionLogOptions LogOptions() {
    DecisionLogOptions options = Options();
    options.shipped_through = shipped_;
    options.durable_through = durable_;
    return options;
  }

  // Checks what the topic holds against the log: every sequence of the
  // log at least once, each shipped entry exactly the log's bytes and
  // chain (every message checked as a consumer would), one partition, and
  // sequences in order within it apart from a resend starting again after
  // the checkpoint.
  void ExpectTopicHoldsTheLog(size_t* duplicates = nullptr) {
    const auto entries = Entries(dir_);
    const std::vector<ShippedLogEntry> shipped =
        ShippedEntries(kafka_.ReadAll("decisions", 3));
    std::map<uint64_t, int> seen;
    int32_t partition = -1;
    uint64_t previous = 0;
    size_t repeated = 0;
    for (const ShippedLogEntry& m : shipped) {
      if (partition == -1) partition = m.partition;
      EXPECT_EQ(m.partition, partition) << "one key, one partition";
      EXPECT_EQ(m.key, "replica-1");
      auto entry = entries.find(m.sequence);
      ASSERT_NE(entry, entries.end()) << m.sequence;
      EXPECT_EQ(m.bytes, entry->second.first) << m.sequence;
      EXPECT_EQ(m.chain, entry->second.second) << m.sequence;
      if (m.sequence <= previous) {
        ++repeated;  // a resend after a restart
        EXPECT_TRUE(m.first_of_message) << "a resend begins a message";
      }
      previous = m.sequence;
      ++seen[m.sequence];
    }
    for (const auto& [sequence, entry] : entries) {
      EXPECT_EQ(seen.count(sequence), 1u) << "sequence " << sequence;
    }
    if (duplicates != nullptr) *duplicates = repeated;
  }

  KafkaMockCluster kafka_{3};
  std::shared_ptr<std::atomic<uint64_t>> shipped_ =
      std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<std::atomic<uint64_t>> durable_ =
      std::make_shared<std::atomic<uint64_t>>(0);
};

TEST_F(KafkaSinkTest, ShipsEveryEntryInOrderAndResumesFromItsCheckpoint) {
  ASSERT_TRUE(kafka_.CreateTopic("decisions", 3));
  auto log = Open(LogOptions());
  auto sink = StartSink(SinkOptions());
  ASSERT_NE(sink, nullptr);
  Write(*log, 0, 1000);
  ASSERT_TRUE(Shipped([&] {
    return sink->Stats().last_shipped == log->Stats().last_sequence &&
           shipped_->load() == log->Stats().last_sequence;
  })) << sink->Stats().last_shipped
      << " of " << log->Stats().last_sequence;
  log->Close();
  sink->Stop(absl::Seconds(10));
  const uint64_t last = log->Stats().last_sequence;  // 1000 + 2 events
  EXPECT_EQ(last, 1002u);
  EXPECT_EQ(sink->Stats().last_shipped, last);
  EXPECT_EQ(ReadCheckpoint(KafkaSink::CheckpointPath(dir_))->sequence, last);

  // A restart: the writer and the sink continue from where they stopped,
  // the sink told (as the server tells it) which entries this writer
  // chained.
  log = Open(LogOptions());
  EXPECT_EQ(log->first_sequence(), last + 1);
  KafkaSinkOptions restarted = SinkOptions();
  restarted.chained_from = log->first_sequence();
  sink = StartSink(std::move(restarted));
  Write(*log, 1000, 1500);
  log->Close();
  sink->Stop(absl::Seconds(30));
  EXPECT_EQ(sink->Stats().last_shipped, log->Stats().last_sequence);
  EXPECT_EQ(sink->Stats().shipped, log->Stats().last_sequence - last);
  size_t duplicates = 0;
  ExpectTopicHoldsTheLog(&duplicates);
  EXPECT_EQ(duplicates, 0u);  // the checkpoint was current at the stop
}

TEST_F(KafkaSinkTest, AnOutageOnlyDelays) {
  ASSERT_TRUE(kafka_.CreateTopic("decisions", 3));
  auto log = Open(LogOptions());
  auto sink = StartSink(SinkOptions());
  Write(*log, 0, 300);
  ASSERT_TRUE(Shipped([&] {
    return sink->Stats().last_shipped == log->Stats().last_sequence;
  }));
  kafka_.SetDown();
  Write(*log, 300, 1300);  // written to the files meanwhile
  ASSERT_TRUE(Eventually([&] { return log->Stats().records_written == 1300; }));
  absl::SleepFor(absl::Seconds(1));
  const uint64_t during = sink->Stats().last_shipped;
  EXPECT_LT(during, log->Stats().last_sequence);
  kafka_.SetUp();
  ASSERT_TRUE(Shipped([&] {
    return sink->Stats().last_shipped == log->Stats().last_sequence;
  })) << sink->Stats().last_error;
  log->Close();
  sink->Stop(absl::Seconds(30));
  ExpectTopicHoldsTheLog();
}

TEST_F(KafkaSinkTest, RetentionWaitsForTheSinkAndTheWriterHoldsAtTheCap) {
  ASSERT_TRUE(kafka_.CreateTopic("decisions", 3));
  DecisionLogOptions options = LogOptions();
  options.max_total_bytes = 2 << 20;  // two 1 MiB segments
  auto log = Open(options);
  auto sink = StartSink(SinkOptions());
  ASSERT_TRUE(Shipped([&] { return sink->Stats().last_shipped >= 1; }));
  kafka_.SetDown();
  // Records of about 1,000 bytes, each call waiting at most 100 ms for
  // room, until the writer holds at the cap and a call is refused. (A
  // call may also be refused earlier, by a writer slowed down on a busy
  // machine: only a refusal while held ends the loop.)
  int accepted = 0, refused = 0;
  bool held = false;
  for (int n = 0; n < 20000 && !held; ++n) {
    absl::Status s =
        log->Submit(Call(*log, n, 700), absl::Now() + absl::Milliseconds(100));
    if (s.ok()) {
      ++accepted;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
      ++refused;
      held = log->Stats().held;
    }
  }
  ASSERT_TRUE(held) << refused << " calls refused, none while held";
  const uint64_t on_disk = DiskBytes();
  // Nothing unshipped was removed; the files stopped at the cap (the
  // total plus a segment), which counts the held batch (at most the
  // queue's 1 MiB of calls) as if it were written; what is written is
  // fsynced, for the sink to ship.
  EXPECT_EQ(log->Stats().segments_removed, 0u);
  EXPECT_GE(on_disk, options.max_total_bytes + options.max_segment_bytes -
                         options.max_queue_bytes * 5 / 4);
  EXPECT_LE(on_disk, options.max_total_bytes + options.max_segment_bytes);
  EXPECT_EQ(durable_->load(), log->Stats().last_sequence);
  kafka_.SetUp();
  // Shipped, then removed: the writer goes on, and the log still verifies
  // from the first sequence it keeps.
  ASSERT_TRUE(Shipped([&] {
    const DecisionLogStats stats = log->Stats();
    return !stats.held &&
           stats.records_written == static_cast<uint64_t>(accepted) &&
           sink->Stats().last_shipped == stats.last_sequence;
  })) << sink->Stats().last_shipped
      << " of " << log->Stats().last_sequence;
  Write(*log, 20000, 21000);  // room again
  log->Close();
  sink->Stop(absl::Seconds(30));
  const DecisionLogStats stats = log->Stats();
  EXPECT_EQ(stats.records_written, static_cast<uint64_t>(accepted) + 1000);
  EXPECT_EQ(sink->Stats().last_shipped, stats.last_sequence);
  EXPECT_GT(stats.segments_removed, 0u);
  const VerifyReport report = Verify();
  EXPECT_FALSE(report.problem.has_value()) << *report.problem;
  EXPECT_GT(report.first_sequence, 1u);

  // Regression: retention keeps the segment that holds the checkpoint's
  // entry, so a restarted sink can check its chain and go on (it used to
  // find the entry removed and stop for good).
  log = Open(options);
  sink = StartSink(SinkOptions());
  Write(*log, 30000, 30100);
  log->Close();
  sink->Stop(absl::Seconds(30));
  EXPECT_FALSE(sink->Stats().stopped) << sink->Stats().last_error;
  EXPECT_EQ(sink->Stats().last_shipped, log->Stats().last_sequence);
}

TEST_F(KafkaSinkTest, ClosingWhileHeldWritesEverythingAccepted) {
  ASSERT_TRUE(kafka_.CreateTopic("decisions", 3));
  DecisionLogOptions options = LogOptions();
  options.max_total_bytes = 2 << 20;
  auto log = Open(options);
  auto sink = StartSink(SinkOptions());
  kafka_.SetDown();
  int accepted = 0;
  for (int n = 0; n < 20000; ++n) {
    if (!log->Submit(Call(*log, n, 700), absl::Now() + absl::Milliseconds(100))
             .ok()) {
      break;
    }
    ++accepted;
  }
  ASSERT_TRUE(log->Stats().held);
  // SIGTERM now: the cap is soft at exit, so nothing accepted is lost.
  log->Close();
  const DecisionLogStats stats = log->Stats();
  EXPECT_EQ(stats.lost, 0u);
  EXPECT_EQ(stats.records_written, static_cast<uint64_t>(accepted));
  sink->Stop(absl::ZeroDuration());
  EXPECT_FALSE(Verify().problem.has_value());
}

TEST_F(KafkaSinkTest, OnlyWhatTheWriterFsyncedIsShipped) {
  ASSERT_TRUE(kafka_.CreateTopic("decisions", 3));
  auto log = Open(Options());  // publishes nothing: the test sets it
  Write(*log, 0, 100);
  log->Close();
  durable_->store(40);
  auto sink = StartSink(SinkOptions());
  ASSERT_TRUE(Eventually([&] { return sink->Stats().last_shipped == 40; }));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(sink->Stats().last_shipped, 40u);  // not one more
  durable_->store(102);
  ASSERT_TRUE(Eventually([&] { return sink->Stats().last_shipped == 102; }));
  sink->Stop(absl::Seconds(10));
  ExpectTopicHoldsTheLog();
}

// Paced, a stretch made durable at once is handed on over the pace
// window, not at once; stopping ships the rest without waiting for it.
TEST_F(KafkaSinkTest, APacedSinkSpreadsAStretchOverItsWindow) {
  auto sink = StartPacedOverAWrittenLog(kMaxKafkaSinkPace);  // 10 s
  ASSERT_NE(sink, nullptr);
  const absl::Time start = absl::Now();
  durable_->store(1002);  // the whole log, durable at once
  ASSERT_TRUE(Eventually([&] { return sink->Stats().last_shipped >= 1; }));
  absl::SleepFor(absl::Milliseconds(500));
  // At most the window's share of the time passed and a step (20 ms),
  // rounded up: far from all of it.
  const uint64_t shipped = sink->Stats().last_shipped;
  const double share = absl::FDivDuration(
      absl::Now() - start + absl::Milliseconds(20), kMaxKafkaSinkPace);
  EXPECT_LE(shipped, static_cast<uint64_t>(1002 * share) + 2);
  EXPECT_LT(shipped, 1002u / 2);
  sink->Stop(absl::Seconds(30));
  EXPECT_EQ(sink->Stats().last_shipped, 1002u);
  ExpectTopicHoldsTheLog();
}

// A log that makes entries durable more often than the sink steps (each
// turn a new stretch) is still shipped as it goes: each step lets on a
// step's share. (Regression: each new stretch began at a share of zero.)
TEST_F(KafkaSinkTest, APacedSinkShipsWhileTheLogFsyncsFasterThanItSteps) {
  auto sink = StartPacedOverAWrittenLog(absl::Seconds(1));
  ASSERT_NE(sink, nullptr);
  for (uint64_t durable = 1; durable <= 1002; ++durable) {
    durable_->store(durable);  // one more every 2 ms, for 2 s
    absl::SleepFor(absl::Milliseconds(2));
  }
  // Shipped as it went (the lag about a window's worth), not only once
  // the log stood still.
  EXPECT_GT(sink->Stats().last_shipped, 0u);
  ASSERT_TRUE(Eventually([&] { return sink->Stats().last_shipped == 1002; }));
  sink->Stop(absl::Seconds(10));
  ExpectTopicHoldsTheLog();
}

TEST(PacedThroughTest, AShareOfTheStretchForTheShareOfTheWindow) {
  const absl::Duration kWindow = absl::Seconds(1);
  struct Case {
    uint64_t from, to;
    absl::Duration elapsed;
    uint64_t want;
  } cases[] = {
      {1, 100, absl::ZeroDuration(), 0},         // none yet
      {1, 100, -absl::Seconds(1), 0},            // a clock that went back
      {1, 100, absl::Milliseconds(10), 1},       // 1%
      {1, 100, absl::Milliseconds(11), 2},       // 1.1%, rounded up
      {1, 100, absl::Milliseconds(500), 50},     // half
      {1, 100, absl::Milliseconds(999), 100},    // 99.9%, rounded up
      {1, 100, kWindow, 100},                    // the window is over
      {1, 100, absl::Hours(1), 100},             // long over
      {51, 150, absl::Milliseconds(500), 100},   // from the middle
      {7, 7, absl::Milliseconds(1), 7},          // a single entry
      {101, 100, absl::Milliseconds(500), 100},  // nothing new
      {1, uint64_t{1} << 40, absl::Milliseconds(250), uint64_t{1} << 38},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PacedThrough(c.from, c.to, c.elapsed, kWindow), c.want)
        << c.from << ".." << c.to << " at " << c.elapsed;
  }
  // No window: all at once.
  EXPECT_EQ(PacedThrough(1, 100, absl::ZeroDuration(), absl::ZeroDuration()),
            100u);
}

TEST_F(KafkaSinkTest, WithoutACheckpointItStartsAtTheOldestEntryKept) {
  ASSERT_TRUE(kafka_.CreateTopic("decisions", 3));
  DecisionLogOptions options = Options();  // no sink yet: plain retention
  options.max_total_bytes = 2 << 20;
  auto log = Open(options);
  Write(*log, 0, 12000, 200);
  log->Close();
  ASSERT_GT(log->Stats().segments_removed, 0u);
  durable_->store(log->Stats().last_sequence);
  auto sink = StartSink(SinkOptions());
  ASSERT_TRUE(Eventually([&] {
    return sink->Stats().last_shipped == log->Stats().last_sequence ||
           sink->Stats().stopped;
  }));
  EXPECT_FALSE(sink->Stats().stopped) << sink->Stats().last_error;
  sink->Stop(absl::Seconds(10));
}

TEST_F(KafkaSinkTest, ACheckpointTheLogDoesNotMatchStopsTheSink) {
  auto log = Open(LogOptions());
  Write(*log, 0, 10);
  log->Close();
  durable_->store(log->Stats().last_sequence);
  SinkCheckpoint wrong;
  wrong.sequence = 5;
  wrong.chain[0] = 1;
  ASSERT_TRUE(WriteCheckpoint(KafkaSink::CheckpointPath(dir_), wrong).ok());
  auto sink = StartSink(SinkOptions());
  ASSERT_TRUE(Eventually([&] { return sink->Stats().stopped; }));
  EXPECT_THAT(sink->Stats().last_error, HasSubstr("replaced or rewritten"));
  EXPECT_EQ(sink->Stats().shipped, 0u);
  // Retention no longer waits for a sink that stopped for good.
  EXPECT_EQ(shipped_->load(), UINT64_MAX);
  sink->Stop(absl::ZeroDuration());

  std::ofstream(KafkaSink::CheckpointPath(dir_)) << "sequence x\n";
  auto refused = KafkaSink::Start(SinkOptions());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(refused.status().message(), HasSubstr("kafka-sink.checkpoint"));
}

// Runs of entries: at load a message holds many entries, never more than
// max_message_bytes of frames, and each message's prev chain is the chain
// after the message before it (nothing missing between them).
TEST_F(KafkaSinkTest, AMessageHoldsARunOfEntriesUpToItsBound) {
  ASSERT_TRUE(kafka_.CreateTopic("decisions", 3));
  auto log = Open(LogOptions());
  Write(*log, 0, 2000);  // in the files before the sink starts
  ASSERT_TRUE(Eventually([&] { return log->Stats().records_written == 2000; }));
  KafkaSinkOptions options = SinkOptions();
  options.max_message_bytes = 16 << 10;
  auto sink = StartSink(options);
  ASSERT_TRUE(Shipped([&] {
    return sink->Stats().last_shipped == log->Stats().last_sequence;
  }));
  log->Close();
  sink->Stop(absl::Seconds(10));
  const std::vector<KafkaMessage> messages = kafka_.ReadAll("decisions", 3);
  const std::vector<ShippedLogEntry> shipped = ShippedEntries(messages);
  ASSERT_EQ(shipped.size(), log->Stats().last_sequence);
  EXPECT_LT(messages.size() * 10, shipped.size()) << "runs, not single entries";
  for (const KafkaMessage& m : messages) {
    EXPECT_LE(m.value.size(), options.max_message_bytes);
  }
  Chain after{};  // the directory's first segment starts from zeros
  size_t i = 0;   // the message's first entry in `shipped`
  for (const KafkaMessage& m : messages) {
    ASSERT_LT(i, shipped.size());
    EXPECT_EQ(m.headers.at(kFirstSequenceHeader),
              absl::StrCat(shipped[i].sequence));
    EXPECT_EQ(m.headers.at(kPrevChainHeader), ChainHex(after));
    do {
      after = shipped[i++].chain;
    } while (i < shipped.size() && !shipped[i].first_of_message);
  }
  EXPECT_EQ(i, shipped.size());
  ExpectTopicHoldsTheLog();
}

// A message as a consumer checks it: the frames against the prev chain
// header, numbered from the first sequence header. Each kind of damage is
// named with the sequence it hits.
// Entries this process's writer chained are shipped with their stored
// chains, not hashed again: one altered on disk before it is read reaches
// Kafka as it is, and the consumer's check names it.
TEST_F(KafkaSinkTest, AConsumerSeesAnEntryAlteredAfterItsWriterChainedIt) {
  ASSERT_TRUE(kafka_.CreateTopic("decisions", 1));
  auto log = Open(LogOptions());
  const uint64_t chained_from = log->first_sequence();
  Write(*log, 0, 300);
  log->Close();
  const std::vector<std::string> segments = Segments();
  ASSERT_EQ(segments.size(), 1u);
  std::string bytes = Read(segments[0]);
  const size_t at = bytes.find("SKU-42");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 5] = '3';  // SKU-43, the chain left as it was
  Rewrite(segments[0], bytes);

  KafkaSinkOptions options = SinkOptions();
  options.chained_from = chained_from;
  auto sink = StartSink(std::move(options));
  ASSERT_NE(sink, nullptr);
  sink->Stop(absl::Seconds(30));
  EXPECT_EQ(sink->Stats().last_shipped, log->Stats().last_sequence);
  EXPECT_FALSE(sink->Stats().stopped);

  std::vector<std::string> refusals;
  for (const KafkaMessage& m : kafka_.ReadAll("decisions", 1)) {
    auto checked = ForEachShippedEntry(
        m.value, m.headers.at(kFirstSequenceHeader),
        m.headers.at(kPrevChainHeader), [](const ShippedEntry&) {});
    if (!checked.ok()) refusals.emplace_back(checked.status().message());
  }
  ASSERT_EQ(refusals.size(), 1u);
  // SKU-42 is the 43rd record, after the STARTED event.
  EXPECT_THAT(refusals[0], HasSubstr(absl::StrCat("sequence ", 44)));
}

TEST(ForEachShippedEntryTest, ChecksAMessageOnItsOwn) {
  auto frame = [](absl::string_view entry, const Chain& prev, Chain* after) {
    std::string out;
    const uint32_t n = static_cast<uint32_t>(entry.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(n >> (8 * i)));
    out.append(entry.data(), entry.size());
    *after = NextChain(prev, entry);
    out.append(reinterpret_cast<const char*>(after->data()), after->size());
    return out;
  };
  Chain prev{};
  prev[0] = 0xab;  // hex with letters
  Chain c1{}, c2{}, c3{};
  std::string good = frame("first", prev, &c1);  // in order: c1 first
  good += frame("second", c1, &c2);
  good += frame("third", c2, &c3);
  std::vector<uint64_t> sequences;
  std::vector<std::string> bytes;
  auto visit = [&](const ShippedEntry& e) {
    sequences.push_back(e.sequence);
    bytes.emplace_back(e.bytes);
  };
  auto after = ForEachShippedEntry(good, "41", ChainHex(prev), visit);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, c3);
  EXPECT_EQ(sequences, (std::vector<uint64_t>{41, 42, 43}));
  EXPECT_EQ(bytes, (std::vector<std::string>{"first", "second", "third"}));

  std::string flipped = good;
  flipped[FrameBytes(5) + 4 + 1] ^= 1;  // a byte of "second"
  std::string zero_length = good;
  zero_length.replace(FrameBytes(5), 4, std::string(4, '\0'));
  std::string huge_length = good;
  huge_length[FrameBytes(5) + 3] = '\x7f';
  const struct {
    const char* name;
    std::string value, first, prev_hex;
    const char* message;
    size_t visited;
  } cases[] = {
      {"a flipped byte", flipped, "41", ChainHex(prev),
       "sequence 42: its chain does not match", 1},
      {"the wrong prev chain", good, "41", ChainHex(c1),
       "sequence 41: its chain does not match", 0},
      {"cut short in a chain", good.substr(0, good.size() - 1), "41",
       ChainHex(prev), "sequence 43 at byte", 2},
      {"cut short in a length", good.substr(0, FrameBytes(5) + 2), "41",
       ChainHex(prev), "a frame is cut short", 1},
      {"a zero length", zero_length, "41", ChainHex(prev),
       "frame's length 0 is not 1 to", 1},
      {"a length over the bound", huge_length, "41", ChainHex(prev),
       "is not 1 to", 1},
      {"an empty value", "", "41", ChainHex(prev), "holds no frame", 0},
      {"no first sequence", good, "", ChainHex(prev), kFirstSequenceHeader, 0},
      {"a first sequence of 0", good, "0", ChainHex(prev), kFirstSequenceHeader,
       0},
      {"a signed first sequence", good, "-1", ChainHex(prev),
       kFirstSequenceHeader, 0},
      {"an upper-case chain", good, "41", absl::AsciiStrToUpper(ChainHex(prev)),
       kPrevChainHeader, 0},
      {"a short chain", good, "41", ChainHex(prev).substr(2), kPrevChainHeader,
       0},
  };
  for (const auto& c : cases) {
    sequences.clear();
    bytes.clear();
    auto checked = ForEachShippedEntry(c.value, c.first, c.prev_hex, visit);
    EXPECT_EQ(checked.status().code(), absl::StatusCode::kDataLoss) << c.name;
    EXPECT_THAT(checked.status().message(), HasSubstr(c.message)) << c.name;
    EXPECT_EQ(sequences.size(), c.visited) << c.name;
  }
}

TEST(KafkaSinkOptionsTest, MistakesNameTheFlag) {
  KafkaSinkOptions options;
  options.dir = ::testing::TempDir();
  options.topic = "t";
  EXPECT_THAT(KafkaSink::Start(options).status().message(),
              HasSubstr("--decision_log_kafka_brokers"));
  options.brokers = "127.0.0.1:1";
  options.pace = -absl::Seconds(1);
  EXPECT_THAT(KafkaSink::Start(options).status().message(),
              HasSubstr("--decision_log_kafka_pace: -1s is not 0 (at once) to "
                        "10s"));
  options.pace = absl::InfiniteDuration();
  EXPECT_THAT(KafkaSink::Start(options).status().message(),
              HasSubstr("--decision_log_kafka_pace: inf is not"));
  options.pace = absl::Seconds(1);
  options.properties = {{"acks", "sometimes"}};
  auto refused = KafkaSink::Start(options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("--decision_log_kafka_config: acks=sometimes"));

  auto parsed = ParseKafkaConfig(
      "# TLS to the brokers\n security.protocol = "
      "ssl\n\nssl.ca.location=/ca\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed,
            (std::vector<std::pair<std::string, std::string>>{
                {"security.protocol", "ssl"}, {"ssl.ca.location", "/ca"}}));
  EXPECT_THAT(ParseKafkaConfig("acks=all\nlinger.ms\n").status().message(),
              HasSubstr("line 2"));
  EXPECT_THAT(ParseKafkaConfig("=x\n").status().message(),
              HasSubstr("--decision_log_kafka_config: line 1"));
}

// ---- the follower ----

// Let on as far as it likes, and in steps of 7 entries (as a paced sink
// lets it on), stopping mid-chunk while the writer appends.
class FollowerStepTest : public DecisionLogTest,
                         public ::testing::WithParamInterface<uint64_t> {};

TEST_P(FollowerStepTest, TheFollowerFollowsALiveWriterAcrossSegments) {
  const uint64_t step = GetParam();  // 0: no limit
  auto log = Open(Options());
  LogFollower follower(dir_, 1);
  std::vector<uint64_t> sequences;
  // Each entry comes with its whole frame as on disk and the chain before
  // it, which is the chain after the entry before.
  Chain after{};
  size_t frames_checked = 0;
  // Reads what is there (in steps: until a step finds nothing).
  auto poll = [&] {
    for (;;) {
      if (step > 0) follower.set_last(follower.next_sequence() - 1 + step);
      auto read = follower.Poll(
          [&](const LogFollower::Entry& e) {
            sequences.push_back(e.sequence);
            Frame frame;
            uint64_t length = 0;
            if (DecodeFrame(e.frame, &frame, &length) == FrameFound::kWhole &&
                e.frame.size() == FrameBytes(length) &&
                frame.entry == e.bytes && frame.chain == e.chain &&
                e.prev_chain == after && NextChain(after, e.bytes) == e.chain) {
              ++frames_checked;
            }
            after = e.chain;
          },
          size_t{1} << 30);
      EXPECT_TRUE(read.ok()) << read.status();
      if (!read.ok() || step == 0 || *read == 0) return;
    }
  };
  poll();  // the STARTED event, or nothing yet
  for (int round = 0; round < 4; ++round) {
    Write(*log, round * 4000, (round + 1) * 4000);  // a segment or so each
    poll();  // while the writer may still be appending
    ASSERT_TRUE(Eventually([&] {
      return log->Stats().records_written ==
             static_cast<uint64_t>((round + 1) * 4000);
    }));
    poll();
    poll();
  }
  log->Close();
  poll();
  ASSERT_GT(Segments().size(), 2u);
  ASSERT_EQ(sequences.size(), log->Stats().last_sequence);
  EXPECT_EQ(frames_checked, sequences.size());
  for (size_t i = 0; i < sequences.size(); ++i) {
    ASSERT_EQ(sequences[i], i + 1);
  }
  // From the middle of a later segment.
  LogFollower from(dir_, 5000);
  std::vector<uint64_t> later;
  auto read = from.Poll(
      [&](const LogFollower::Entry& e) { later.push_back(e.sequence); },
      size_t{1} << 30);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_FALSE(later.empty());
  EXPECT_EQ(later.front(), 5000u);
}

INSTANTIATE_TEST_SUITE_P(Steps, FollowerStepTest,
                         ::testing::Values(uint64_t{0}, uint64_t{7}));

// Regression: a segment with no frame yet (just made by a rotation, or a
// new log's first) starts at the sequence the follower waits for; taking
// it for the next segment made Poll reopen it in a loop forever.
TEST_F(DecisionLogTest, TheFollowerWaitsAtASegmentWithNoFrameYet) {
  std::filesystem::create_directories(dir_);
  {
    auto first = SegmentWriter::Create(dir_, Chain{}, 1);
    ASSERT_TRUE(first.ok()) << first.status();
  }
  LogFollower follower(dir_, 1);
  auto polled = std::async(std::launch::async, [&] {
    return follower.Poll([](const LogFollower::Entry&) {}, 1 << 20);
  });
  ASSERT_EQ(polled.wait_for(std::chrono::seconds(10)),
            std::future_status::ready)
      << "Poll did not return";
  auto read = polled.get();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, 0u);
}

// The bytes this process has read through read(2) and pread(2) so far;
// nullopt where /proc/self/io is not kept.
std::optional<uint64_t> BytesRead() {
  std::ifstream io("/proc/self/io");
  std::string name;
  uint64_t value = 0;
  while (io >> name >> value) {
    if (name == "rchar:") return value;
  }
  return std::nullopt;
}

// A follower let on a few entries at a time (a paced sink) reads each byte
// of the files about once, not a whole chunk per call. (Regression: each
// call read a 1 MiB chunk afresh and kept only what it handed on.)
TEST_F(DecisionLogTest, TheFollowerLetOnInStepsReadsEachByteOnce) {
  auto log = Open(Options());
  Write(*log, 0, 3000);
  log->Close();
  const uint64_t on_disk = DiskBytes();
  const uint64_t last = log->Stats().last_sequence;
  LogFollower follower(dir_, 1);
  uint64_t next = 1;
  // (The log is closed: no other thread of this process reads.)
  const std::optional<uint64_t> before = BytesRead();
  if (!before.has_value()) GTEST_SKIP() << "no rchar in /proc/self/io";
  for (uint64_t through = 10; next <= last; through += 10) {
    follower.set_last(through);
    auto read = follower.Poll(
        [&](const LogFollower::Entry& e) {
          EXPECT_EQ(e.sequence, next);
          next = e.sequence + 1;
        },
        size_t{1} << 30);
    ASSERT_TRUE(read.ok()) << read.status();
  }
  EXPECT_EQ(next, last + 1);
  // Each segment's bytes once, and a frame cut by a chunk's end twice.
  EXPECT_LT(*BytesRead() - *before, on_disk + on_disk / 4);
}

TEST_F(DecisionLogTest, TheFollowerRefusesWhatTheLogDoesNotHold) {
  auto log = Open(Options());
  Write(*log, 0, 8000);
  log->Close();
  const std::vector<std::string> segments = Segments();
  ASSERT_GT(segments.size(), 1u);
  // An altered frame.
  std::string bytes = Read(segments[0]);
  const size_t at = bytes.find("SKU-5");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 4] = '6';
  Rewrite(segments[0], bytes);
  LogFollower altered(dir_, 1);
  absl::StatusOr<size_t> read = 0;
  while (read.ok() && (read = altered.Poll([](const auto&) {}, 1 << 20)).ok() &&
         *read > 0) {
  }
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(), HasSubstr(segments[0]));
  // Told that this process chained the entries from the altered one on
  // (SKU-5's record, after the STARTED event and SKU-0 to SKU-4), the
  // follower hands it on with its stored chain, for a consumer to check;
  // told any later sequence, it checks the altered entry itself.
  constexpr uint64_t kAltered = 7;
  for (const uint64_t chained_from : {uint64_t{1}, kAltered}) {
    LogFollower trusting(dir_, 1);
    trusting.set_chained_from(chained_from);
    std::vector<uint64_t> unmatched;  // chains not matching their bytes
    while ((read = trusting.Poll(
                [&](const LogFollower::Entry& e) {
                  if (NextChain(e.prev_chain, e.bytes) != e.chain) {
                    unmatched.push_back(e.sequence);
                  }
                },
                1 << 20))
               .ok() &&
           *read > 0) {
    }
    ASSERT_TRUE(read.ok()) << chained_from << ": " << read.status();
    EXPECT_THAT(unmatched, ::testing::ElementsAre(kAltered)) << chained_from;
  }
  for (const uint64_t chained_from : {kAltered + 1, uint64_t{100}}) {
    LogFollower checking(dir_, 1);
    checking.set_chained_from(chained_from);
    while ((read = checking.Poll([](const auto&) {}, 1 << 20)).ok() &&
           *read > 0) {
    }
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss)
        << chained_from;
    EXPECT_THAT(read.status().message(), HasSubstr("(sequence 7)"));
  }
  // A segment header that does not continue the chain before it is
  // refused whoever chained the entries.
  {
    std::string second = Read(segments[1]);
    second[8] ^= 1;  // its prev chain
    Rewrite(segments[1], second);
    Rewrite(segments[0], Read(segments[0]).replace(at + 4, 1, "5"));
    LogFollower trusting(dir_, 1);
    trusting.set_chained_from(1);
    while ((read = trusting.Poll([](const auto&) {}, 1 << 20)).ok() &&
           *read > 0) {
    }
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(read.status().message(), HasSubstr(segments[1]));
  }
  // A whole frame removed from the middle of a segment: the entries after
  // it are not in their places, and that is seen without any hashing.
  {
    const std::vector<uint64_t> frames = FrameOffsets(segments[0]);
    ASSERT_GT(frames.size(), 20u);
    std::string first = Read(segments[0]);
    first.erase(frames[10], frames[11] - frames[10]);
    Rewrite(segments[0], first);
    LogFollower trusting(dir_, 1);
    trusting.set_chained_from(1);
    std::vector<uint64_t> handed;
    while (
        (read = trusting.Poll(
             [&](const LogFollower::Entry& e) { handed.push_back(e.sequence); },
             1 << 20))
            .ok() &&
        *read > 0) {
    }
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(read.status().message(), HasSubstr("is not sequence 11"));
    EXPECT_EQ(handed.size(), 10u);
  }
  // Entries removed (by retention) before they were read.
  std::filesystem::remove(segments[0]);
  LogFollower removed(dir_, 1);
  EXPECT_EQ(removed.Poll([](const auto&) {}, 1 << 20).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace importgate::decisionlog
