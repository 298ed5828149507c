// librdkafka's mock Kafka cluster (rdkafka_mock.h, Debian librdkafka-dev),
// for tests of the decision log's Kafka sink: real Kafka protocol on
// loopback ports, with brokers that can be taken down and brought back,
// a reader that consumes a whole topic from the beginning, and the
// decision log sink's messages split into their entries as a consumer
// would (ForEachShippedEntry).
//
// The cluster lives in the test process on a handle of its own, so it
// outlives any producer under test, in this process or another
// (importgate-server given bootstraps()).
#ifndef IMPORTGATE_TESTS_TESTING_KAFKA_MOCK_H_
#define IMPORTGATE_TESTS_TESTING_KAFKA_MOCK_H_

#include <librdkafka/rdkafka.h>
// rdkafka_mock.h must follow rdkafka.h.
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "server/decisionlog/kafka_sink.h"

namespace importgate::testing {

// One message as consumed.
struct KafkaMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
};

// One decision log entry of a shipped message.
struct ShippedLogEntry {
  int32_t partition = 0;
  int64_t offset = 0;  // of its message
  std::string key;
  uint64_t sequence = 0;
  std::string bytes;  // the LogEntry
  decisionlog::Chain chain{};
  // The message's first entry (its prev chain is the header's).
  bool first_of_message = false;
};

// The entries of the sink's `messages`, in order, each message checked
// with decisionlog::ForEachShippedEntry; a message that fails its check
// is a test failure (its entries before the failure are kept).
inline std::vector<ShippedLogEntry> ShippedEntries(
    const std::vector<KafkaMessage>& messages) {
  std::vector<ShippedLogEntry> entries;
  for (const KafkaMessage& m : messages) {
    auto header = [&](const char* name) -> std::string {
      auto it = m.headers.find(name);
      return it == m.headers.end() ? std::string() : it->second;
    };
    bool first = true;
    const absl::StatusOr<decisionlog::Chain> checked =
        decisionlog::ForEachShippedEntry(
            m.value, header(decisionlog::kFirstSequenceHeader),
            header(decisionlog::kPrevChainHeader),
            [&](const decisionlog::ShippedEntry& e) {
              entries.push_back({m.partition, m.offset, m.key, e.sequence,
                                 std::string(e.bytes), e.chain, first});
              first = false;
            });
    EXPECT_TRUE(checked.ok())
        << "message at offset " << m.offset << ": " << checked.status();
  }
  return entries;
}

class KafkaMockCluster {
 public:
  explicit KafkaMockCluster(int brokers = 3) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, nullptr);  // no bootstrap.servers: quiet
    host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    cluster_ = rd_kafka_mock_cluster_new(host_, brokers);
  }
  ~KafkaMockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);  // before its host handle
    rd_kafka_destroy(host_);
  }
  KafkaMockCluster(const KafkaMockCluster&) = delete;
  KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;

  std::string bootstraps() const {
    return rd_kafka_mock_cluster_bootstraps(cluster_);
  }
  bool CreateTopic(const std::string& topic, int partitions) {
    return rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1) ==
           RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  // Every broker down (connections closed, new ones refused), or back up.
  void SetDown() { rd_kafka_mock_broker_set_down(cluster_, -1); }
  void SetUp() { rd_kafka_mock_broker_set_up(cluster_, -1); }

  // Every message of `topic`'s `partitions`, from the beginning to the end
  // as it stands, in partition then offset order.
  std::vector<KafkaMessage> ReadAll(const std::string& topic,
                                    int partitions) const {
    std::vector<KafkaMessage> messages;
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, nullptr);
    const std::string servers = bootstraps();
    for (const auto& [name, value] :
         std::vector<std::pair<const char*, const char*>>{
             {"bootstrap.servers", servers.c_str()},
             {"group.id", "importgate-test-reader"},  // assign() needs one
             {"enable.auto.commit", "false"},
             {"enable.partition.eof", "true"}}) {
      rd_kafka_conf_set(conf, name, value, error, sizeof(error));
    }
    rd_kafka_t* consumer =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    std::vector<bool> at_end(partitions, false);
    int ended = 0;
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (ended < partitions && std::chrono::steady_clock::now() < give_up) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (!at_end[m->partition]) {
          at_end[m->partition] = true;
          ++ended;
        }
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (at_end[m->partition]) {
          at_end[m->partition] = false;
          --ended;
        }
        KafkaMessage message;
        message.partition = m->partition;
        message.offset = m->offset;
        message.key.assign(static_cast<const char*>(m->key), m->key_len);
        message.value.assign(static_cast<const char*>(m->payload), m->len);
        rd_kafka_headers_t* headers = nullptr;
        if (rd_kafka_message_headers(m, &headers) ==
            RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* name = nullptr;
          const void* value = nullptr;
          size_t size = 0;
          for (size_t i = 0;
               rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
               RD_KAFKA_RESP_ERR_NO_ERROR;
               ++i) {
            message.headers[name].assign(static_cast<const char*>(value), size);
          }
        }
        messages.push_back(std::move(message));
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    std::sort(messages.begin(), messages.end(),
              [](const KafkaMessage& a, const KafkaMessage& b) {
                return std::tie(a.partition, a.offset) <
                       std::tie(b.partition, b.offset);
              });
    return messages;
  }

 private:
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_KAFKA_MOCK_H_
