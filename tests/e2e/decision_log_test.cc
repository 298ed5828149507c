// The decision log end to end: importgate-server with --decision_log_dir,
// 10,000 decisions (unary and batch), SIGTERM, and `importgate log verify`
// accepting exactly those records; verify failing, and naming the place,
// when a byte is flipped or a segment cut; a restart continuing the chain;
// and kill -9 under load losing no more than the queue's bound.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "importgate/admin/v1/policy_admin.grpc.pb.h"
#include "importgate/decisionlog/v1/decision_log.pb.h"
#include "importgate/v1/import_policy.grpc.pb.h"
#include "server/decisionlog/decision_id.h"
#include "server/decisionlog/segment.h"
#include "tests/testing/http_get.h"
#include "tests/testing/kafka_mock.h"
#include "tests/testing/run_command.h"
#include "tests/testing/server_process.h"
#include "tests/testing/tee_request.h"

namespace importgate {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::importgate::v1;
namespace adminv1 = ::importgate::admin::v1;
namespace it = ::importgate::testing;
using ::importgate::testing::RunTool;
using ::importgate::testing::ServerProcess;
using ::testing::HasSubstr;

// Every decision id in the log's segments, and how many events of `kind`.
std::set<std::string> LoggedIds(const std::string& dir, int event_kind = 0,
                                int* events = nullptr) {
  std::set<std::string> ids;
  auto segments = decisionlog::ListSegments(dir);
  EXPECT_TRUE(segments.ok()) << segments.status();
  if (!segments.ok()) return ids;
  importgate::decisionlog::v1::LogEntry entry;
  for (const auto& [first, path] : *segments) {
    auto scan =
        decisionlog::ScanSegment(path, [&](const decisionlog::Frame& frame) {
          ASSERT_TRUE(entry.ParseFromArray(
              frame.entry.data(), static_cast<int>(frame.entry.size())));
          if (entry.has_decision()) {
            ids.insert(entry.decision().decision_id());
          } else if (events != nullptr && entry.event().kind() == event_kind) {
            ++*events;
          }
        });
    EXPECT_TRUE(scan.ok()) << scan.status();
  }
  return ids;
}

class DecisionLogE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("importgate-decision-log-", getpid());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<ServerProcess> Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--listen=127.0.0.1:0",
                                     "--shutdown_grace_seconds=2",
                                     "--decision_log_dir=" + dir_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto server = std::make_unique<ServerProcess>(args);
    const std::string line = server->WaitForLine("serving on ");
    EXPECT_FALSE(line.empty()) << server->output();
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(line.substr(line.rfind(':') + 1), &port));
    port_ = port;
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials());
    stub_ = v1::ImportPolicyService::NewStub(channel);
    admin_ = adminv1::PolicyAdmin::NewStub(channel);
    return server;
  }

  static v1::IsImportAllowedRequest Item(int n) {
    v1::IsImportAllowedRequest r = it::TeeRequest(
        n % 3 == 0 ? v1::SELLER_KIND_DOMESTIC : v1::SELLER_KIND_CROSS_BORDER);
    r.mutable_item()->set_sku(absl::StrCat("SKU-", n));
    return r;
  }

  // Makes decisions for items from..to-1 from 4 callers; adds their ids.
  void Decide(int from, int to, std::set<std::string>* answered) {
    std::mutex mu;
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
      callers.emplace_back([&, t] {
        for (int n = from + t; n < to; n += 4) {
          grpc::ClientContext context;
          v1::IsImportAllowedResponse response;
          grpc::Status status =
              stub_->IsImportAllowed(&context, Item(n), &response);
          ASSERT_TRUE(status.ok()) << status.error_message();
          std::lock_guard<std::mutex> lock(mu);
          answered->insert(response.decision_id());
        }
      });
    }
    for (auto& t : callers) t.join();
  }

  std::string Verify(int* status) {
    std::string output;
    *status = RunTool({"log", "verify", dir_.string()}, &output);
    return output;
  }

  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<v1::ImportPolicyService::Stub> stub_;
  std::unique_ptr<adminv1::PolicyAdmin::Stub> admin_;
};

// What a support engineer does with a decision_id from an answer (or a
// refusal's trailer): pastes it into `importgate log query` or, with the
// README's buf curl command, into the admin API's GetDecision, while the
// server runs, and sees the rule, the reason and the bundle that decided.
TEST_F(DecisionLogE2eTest, ASupportEngineerLooksUpADecisionById) {
  auto server = Start();
  grpc::ClientContext deny_context;
  v1::IsImportAllowedResponse denied;
  ASSERT_TRUE(stub_->IsImportAllowed(&deny_context, Item(1), &denied).ok());
  ASSERT_FALSE(denied.decision().allowed());
  const std::string id = denied.decision_id();
  const std::string rule = denied.decision().rule_id();
  ASSERT_FALSE(rule.empty());
  v1::IsImportAllowedRequest bad = Item(2);
  bad.clear_destination_country();
  grpc::ClientContext bad_context;
  v1::IsImportAllowedResponse unused;
  ASSERT_EQ(stub_->IsImportAllowed(&bad_context, bad, &unused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const auto trailer =
      bad_context.GetServerTrailingMetadata().find("importgate-decision-id");
  ASSERT_NE(trailer, bad_context.GetServerTrailingMetadata().end());
  const std::string refused_id(trailer->second.data(), trailer->second.size());

  // The writer appends within 10 ms; a query right after may miss it.
  auto query = [&](std::vector<std::string> flags) {
    std::vector<std::string> args = {"log", "query", dir_.string()};
    args.insert(args.end(), flags.begin(), flags.end());
    std::string output;
    int status = 1;
    for (int tries = 0; tries < 100 && status != 0; ++tries) {
      status = RunTool(args, &output);
      if (status != 0) absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_EQ(status, 0) << output;
    return output;
  };
  std::string output = query({"--decision_id=" + id});
  EXPECT_THAT(output, HasSubstr(absl::StrCat("\"decisionId\":\"", id, "\"")));
  EXPECT_THAT(output, HasSubstr(absl::StrCat("\"ruleId\":\"", rule, "\"")));
  EXPECT_THAT(output, HasSubstr("\"sku\":\"SKU-1\""));
  EXPECT_THAT(output, HasSubstr("1 record(s) matched"));
  output = query({"--decision_id=" + refused_id});
  EXPECT_THAT(output, HasSubstr("\"code\":3"));
  EXPECT_THAT(output, HasSubstr("destination_country"));
  output = query({"--rule=" + rule, "--outcome=DENY"});
  EXPECT_THAT(output, HasSubstr(id));
  EXPECT_THAT(output, ::testing::Not(HasSubstr(refused_id)));
  output =
      query({"--sku=SKU-2", "--outcome=ERROR", "--from=2020-01-01T00:00:00Z"});
  EXPECT_THAT(output, HasSubstr(refused_id));
  // Mistakes name the flag.
  for (const auto& [flag, named] :
       std::vector<std::pair<std::string, std::string>>{
           {"--from=yesterday", "--from"},
           {"--decision_id=42", "decision_id"},
           {"--outcome=maybe", "outcome"}}) {
    std::string refused;
    EXPECT_EQ(RunTool({"log", "query", dir_.string(), flag}, &refused), 1)
        << flag;
    EXPECT_THAT(refused, HasSubstr(named)) << refused;
  }

  // GetDecision, from a C++ stub and from the README's buf curl command.
  adminv1::GetDecisionRequest request;
  request.set_decision_id(id);
  adminv1::GetDecisionResponse record;
  grpc::ClientContext admin_context;
  grpc::Status got = admin_->GetDecision(&admin_context, request, &record);
  ASSERT_TRUE(got.ok()) << got.error_message();
  EXPECT_EQ(record.record().response().decision().rule_id(), rule);
  // The log left the rule's text out; GetDecision fills it back in from
  // the bundle that decided, exactly as the caller got it.
  EXPECT_TRUE(record.rule_text_from_bundle());
  EXPECT_EQ(record.record().response().decision().message(),
            denied.decision().message());
  EXPECT_EQ(record.record().response().decision().legal_basis(),
            denied.decision().legal_basis());
  EXPECT_FALSE(denied.decision().legal_basis().empty());
  EXPECT_EQ(record.record().response().decision_id(), id);
  EXPECT_EQ(record.record().request().item().sku(), "SKU-1");
  const auto [curl_status, curl_output] = it::RunCommand(absl::StrCat(
      IMPORTGATE_BUF,
      " curl --protocol grpc --http2-prior-knowledge -d '{\"decision_id\":\"",
      id, "\"}' http://127.0.0.1:", port_,
      "/importgate.admin.v1.PolicyAdmin/GetDecision"));
  EXPECT_EQ(curl_status, 0) << curl_output;
  EXPECT_THAT(curl_output,
              HasSubstr(absl::StrCat("\"ruleId\": \"", rule, "\"")));
  EXPECT_THAT(curl_output, HasSubstr("\"reasonCode\": "));
  EXPECT_THAT(curl_output, HasSubstr("\"digest\": \"sha256:"));
  // An id this server never made.
  request.set_decision_id("019ad3f2-6c41-7a3e-9b1c-2f0d00000001");
  grpc::ClientContext missing_context;
  EXPECT_EQ(
      admin_->GetDecision(&missing_context, request, &record).error_code(),
      grpc::StatusCode::NOT_FOUND);

  // `log tail --follow`, for a log shipper: every entry as a JSON line with
  // its chain, and new ones as they are written.
  ServerProcess tail({"log", "tail", dir_.string(), "--follow"},
                     IMPORTGATE_TOOL_BINARY);
  EXPECT_FALSE(tail.WaitForLine(id).empty()) << tail.output();
  grpc::ClientContext later_context;
  v1::IsImportAllowedResponse later;
  ASSERT_TRUE(stub_->IsImportAllowed(&later_context, Item(3), &later).ok());
  const std::string line = tail.WaitForLine(later.decision_id());
  EXPECT_THAT(line, ::testing::StartsWith("{\"chain\":\""));
  EXPECT_THAT(line,
              HasSubstr("\"sequence\":\"4\""));  // after STARTED, 2 records
  tail.Signal(SIGTERM);
  EXPECT_EQ(tail.Stop(0), 0) << tail.output();
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->output();
  std::string from_two;
  ASSERT_EQ(
      RunTool({"log", "tail", dir_.string(), "--from_sequence=2"}, &from_two),
      0)
      << from_two;
  // Sequences 2 to 5: three records, then STOPPED.
  EXPECT_EQ(std::count(from_two.begin(), from_two.end(), '\n'), 4);
  EXPECT_THAT(from_two, ::testing::StartsWith("{\"chain\":\""));
  EXPECT_THAT(from_two, HasSubstr("\"kind\":\"KIND_STOPPED\""));
}

TEST_F(DecisionLogE2eTest, TenThousandDecisionsVerifyAndTamperingIsNamed) {
  auto server = Start();
  std::set<std::string> answered;
  // 5,000 unary calls and 50 batches of 100.
  for (int n = 0; n < 5000; ++n) {
    grpc::ClientContext context;
    v1::IsImportAllowedResponse response;
    ASSERT_TRUE(stub_->IsImportAllowed(&context, Item(n), &response).ok());
    EXPECT_TRUE(
        decisionlog::DecisionIdGenerator::IsValid(response.decision_id()))
        << response.decision_id();
    answered.insert(response.decision_id());
  }
  for (int b = 0; b < 50; ++b) {
    v1::BatchIsImportAllowedRequest batch;
    for (int i = 0; i < 100; ++i)
      *batch.add_requests() = Item(5000 + b * 100 + i);
    grpc::ClientContext context;
    v1::BatchIsImportAllowedResponse response;
    ASSERT_TRUE(stub_->BatchIsImportAllowed(&context, batch, &response).ok());
    for (const auto& result : response.results()) {
      answered.insert(result.response().decision_id());
    }
  }
  ASSERT_EQ(answered.size(), 10000u);  // every id distinct
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->output();
  EXPECT_THAT(server->output(),
              HasSubstr("decision log closed: 10000 records written, 0 "
                        "dropped"));

  int status = 0;
  std::string output = Verify(&status);
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr(" 10000 decision record(s), 2 event(s)"));
  EXPECT_EQ(LoggedIds(dir_.string()), answered);

  // One flipped byte, then a cut segment: verify fails naming the file.
  auto segments = decisionlog::ListSegments(dir_.string());
  ASSERT_TRUE(segments.ok());
  const std::string path = segments->front().second;
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    bytes = text.str();
  }
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x20;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << flipped;
  output = Verify(&status);
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("does NOT verify"));
  EXPECT_THAT(output, HasSubstr(path));
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      << bytes.substr(0, bytes.size() - 10);
  output = Verify(&status);
  EXPECT_EQ(status, 1) << output;
  EXPECT_THAT(output, HasSubstr("cut short"));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;

  // A restart continues the chain.
  server = Start();
  grpc::ClientContext context;
  v1::IsImportAllowedResponse response;
  ASSERT_TRUE(stub_->IsImportAllowed(&context, Item(1), &response).ok());
  EXPECT_EQ(server->Stop(SIGTERM), 0);
  output = Verify(&status);
  EXPECT_EQ(status, 0) << output;
  EXPECT_THAT(output, HasSubstr(" 10001 decision record(s), 4 event(s)"));
}

// kill -9 while 4 threads call: the restarted server repairs whatever tail
// the kill tore, continues the chain, and the log lacks at most what a
// 1 MiB queue holds of the answers sent.
TEST_F(DecisionLogE2eTest, KillDashNineLosesAtMostTheQueue) {
  auto server = Start({"--decision_log_queue_mib=1"});
  std::mutex mu;
  std::set<std::string> answered;
  std::atomic<bool> stop{false};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int n = t; !stop.load(); n += 4) {
        grpc::ClientContext context;
        v1::IsImportAllowedResponse response;
        if (!stub_->IsImportAllowed(&context, Item(n), &response).ok()) return;
        std::lock_guard<std::mutex> lock(mu);
        answered.insert(response.decision_id());
      }
    });
  }
  absl::SleepFor(absl::Seconds(2));
  server->Signal(SIGKILL);
  stop = true;
  for (auto& t : callers) t.join();
  server->Stop(0);
  ASSERT_GT(answered.size(), 1000u);

  server = Start({"--decision_log_queue_mib=1"});
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->output();
  int status = 0;
  const std::string output = Verify(&status);
  EXPECT_EQ(status, 0) << output;
  const std::set<std::string> logged = LoggedIds(dir_.string());
  size_t lost = 0;
  for (const std::string& id : answered) lost += logged.count(id) == 0;
  // A record takes over 1 KiB of the queue (its request and answer): a
  // 1 MiB queue holds fewer than 1,024 of them.
  EXPECT_LT(lost, 1024u) << answered.size() << " answered";
  // Nothing logged that was not answered, but what was in flight.
  EXPECT_LE(logged.size(), answered.size() + 4);
  RecordProperty("answered", static_cast<int>(answered.size()));
  RecordProperty("lost", static_cast<int>(lost));
  std::cerr << "kill -9: " << answered.size() << " answered, " << lost
            << " not in the log\n";
}

// Masking and sampling from the flags: the seller id hashed under a key
// (and found with `log query --seller --mask_key_file`), an attribute
// dropped by name, ALLOWs left out at fraction 0 while the caller still
// gets an id, the count in the metrics; and flag mistakes named at start.
TEST_F(DecisionLogE2eTest, MaskingAndSamplingFromTheFlags) {
  const std::string key =
      (dir_.parent_path() / absl::StrCat("importgate-mask-key-", getpid()))
          .string();
  std::ofstream(key) << "0123456789abcdef0123456789abcdef\n";
  auto server = Start(
      {"--decision_log_seller_id=hash", "--decision_log_mask_key_file=" + key,
       "--decision_log_drop_attributes=buyer_email,phone",
       "--decision_log_allow_fraction=0", "--metrics_listen=127.0.0.1:0"});
  // Start() waited for "serving on", which comes after this line.
  const std::string log = server->output();
  const size_t at = log.find("metrics on http://");
  ASSERT_NE(at, std::string::npos) << log;
  const size_t from = log.find("http://", at);
  const std::string metrics_url =
      log.substr(from, log.find("/metrics", from) + 8 - from);
  std::set<std::string> ids;
  for (int n : {1, 3}) {  // 1: a cross-border DENY; 3: a domestic ALLOW
    v1::IsImportAllowedRequest request = Item(n);
    request.mutable_seller()->set_id("seller-7");
    (*request.mutable_attributes())["buyer_email"] = "a@example.com";
    (*request.mutable_attributes())["campaign"] = "11.11";
    grpc::ClientContext context;
    v1::IsImportAllowedResponse response;
    ASSERT_TRUE(stub_->IsImportAllowed(&context, request, &response).ok());
    EXPECT_EQ(response.decision().allowed(), n == 3);
    ASSERT_TRUE(
        decisionlog::DecisionIdGenerator::IsValid(response.decision_id()));
    ids.insert(response.decision_id());
  }
  auto scrape = it::HttpGet(metrics_url);
  ASSERT_TRUE(scrape.ok()) << scrape.status() << " " << metrics_url;
  EXPECT_THAT(*scrape,
              HasSubstr("importgate_decision_log_sampled_out_total 1\n"));
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->output();
  EXPECT_THAT(server->output(),
              HasSubstr("1 records written, 0 dropped, 1 ALLOWs sampled out"));

  std::string output;
  ASSERT_EQ(RunTool({"log", "query", dir_.string(), "--seller=seller-7",
                     "--mask_key_file=" + key},
                    &output),
            0)
      << output;
  EXPECT_THAT(output, HasSubstr("1 record(s) matched"));
  EXPECT_THAT(output, HasSubstr("\"id\":\"hmac-sha256:"));
  EXPECT_THAT(output, ::testing::Not(HasSubstr("seller-7")));
  EXPECT_THAT(output, ::testing::Not(HasSubstr("buyer_email")));
  EXPECT_THAT(output, HasSubstr("\"campaign\":\"11.11\""));
  EXPECT_THAT(output, HasSubstr("\"ruleId\":"));  // the DENY
  ASSERT_EQ(
      RunTool({"log", "query", dir_.string(), "--seller=seller-7"}, &output),
      0);
  EXPECT_THAT(output, HasSubstr("0 record(s) matched"));  // not in the clear
  std::filesystem::remove(key);

  for (const auto& [flag, named] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--decision_log_allow_fraction=2"},
            "--decision_log_allow_fraction"},
           {{"--decision_log_seller_id=hash"}, "--decision_log_mask_key_file"},
           {{"--decision_log_seller_id=hashed"}, "--decision_log_seller_id"},
           {{"--decision_log_seller_id=hash",
             "--decision_log_mask_key_file=/nonexistent"},
            "--decision_log_mask_key_file"}}) {
    std::vector<std::string> args = {"--listen=127.0.0.1:0",
                                     "--decision_log_dir=" + dir_.string()};
    args.insert(args.end(), flag.begin(), flag.end());
    ServerProcess refused(args);
    EXPECT_EQ(refused.Stop(0), 1) << refused.output();
    EXPECT_THAT(refused.output(), HasSubstr(named)) << flag[0];
  }
}

// A process's resident memory, in bytes (VmRSS of /proc/PID/status).
int64_t ResidentBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmRSS:")) {
      int64_t kib = 0;
      (void)absl::SimpleAtoi(
          absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB"), &kib);
      return kib * 1024;
    }
  }
  return 0;
}

// The Kafka sink end to end: importgate-server ships its decision log to
// librdkafka's mock cluster (run by this test on loopback ports) while 4
// callers make decisions; every broker goes down in the middle of the run
// and comes back; the server is stopped with SIGTERM and started again on
// the same directory; the topic then holds every entry the log holds, each
// decision id a caller got, in sequence order (a resend after the restart
// aside).
TEST_F(DecisionLogE2eTest, KafkaReceivesEveryRecordDespiteAnOutageAndARestart) {
  it::KafkaMockCluster kafka(3);
  ASSERT_TRUE(kafka.CreateTopic("importgate.decisions", 3));
  const std::vector<std::string> flags = {
      "--decision_log_kafka_brokers=" + kafka.bootstraps(),
      "--decision_log_kafka_key=replica-1"};
  auto server = Start(flags);
  std::set<std::string> answered;
  // About 1 KB a record: 3,000 stay within the mock's 5 MB per partition.
  Decide(0, 600, &answered);
  kafka.SetDown();
  Decide(600, 1800, &answered);
  absl::SleepFor(absl::Seconds(1));
  kafka.SetUp();
  Decide(1800, 2400, &answered);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->output();
  EXPECT_THAT(server->output(),
              HasSubstr("decision log Kafka sink stopped: shipped through "
                        "sequence "));
  server = Start(flags);
  Decide(2400, 3000, &answered);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->output();
  ASSERT_EQ(answered.size(), 3000u);

  int status = 0;
  const std::string verified = Verify(&status);
  ASSERT_EQ(status, 0) << verified;
  EXPECT_EQ(LoggedIds(dir_.string()), answered);
  const std::vector<it::KafkaMessage> messages =
      kafka.ReadAll("importgate.decisions", 3);
  const std::vector<it::ShippedLogEntry> shipped = it::ShippedEntries(messages);
  std::set<std::string> shipped_ids;
  std::set<uint64_t> sequences;
  uint64_t newest = 0;
  size_t resent = 0;
  importgate::decisionlog::v1::LogEntry entry;
  for (const it::ShippedLogEntry& m : shipped) {
    EXPECT_EQ(m.partition, shipped.front().partition);
    ASSERT_TRUE(entry.ParseFromString(m.bytes));
    EXPECT_EQ(entry.sequence(), m.sequence);
    if (entry.has_decision())
      shipped_ids.insert(entry.decision().decision_id());
    // In order: each sequence seen for the first time is the next one.
    if (m.sequence <= newest) {
      ++resent;
    } else {
      EXPECT_EQ(m.sequence, newest + 1) << "a gap before " << m.sequence;
      newest = m.sequence;
    }
    sequences.insert(m.sequence);
  }
  EXPECT_EQ(shipped_ids, answered);
  EXPECT_EQ(sequences.size(), newest);
  EXPECT_THAT(verified,
              HasSubstr(absl::StrCat("sequences 1 to ", newest, ",")));
  std::cerr << "Kafka: " << messages.size() << " messages, " << newest
            << " entries, " << resent << " sent again\n";
}

// A stopped sink keeps memory flat: with every broker down, 30,000
// decisions go to the files while the server's resident memory grows by
// little more than the sink's in-flight bound (2 MiB here); when the
// brokers return, the sink ships them all (its lag, from /metrics, drops
// to 0).
TEST_F(DecisionLogE2eTest, AStoppedSinkKeepsMemoryFlat) {
  it::KafkaMockCluster kafka(1);
  ASSERT_TRUE(kafka.CreateTopic("importgate.decisions", 1));
  kafka.SetDown();
  auto server = Start({"--decision_log_kafka_brokers=" + kafka.bootstraps(),
                       "--decision_log_kafka_in_flight_mib=2",
                       "--metrics_listen=127.0.0.1:0"});
  const std::string log = server->output();
  const size_t at = log.find("http://", log.find("metrics on http://"));
  ASSERT_NE(at, std::string::npos) << log;
  const std::string metrics_url =
      log.substr(at, log.find("/metrics", at) + 8 - at);
  std::set<std::string> answered;
  Decide(0, 5000, &answered);
  const int64_t early = ResidentBytes(server->pid());
  Decide(5000, 30000, &answered);
  const int64_t late = ResidentBytes(server->pid());
  ASSERT_GT(early, 0);
  std::cerr << "resident memory with the brokers down: " << early / 1024
            << " KiB after 5,000 decisions, " << late / 1024
            << " KiB after 30,000\n";
  // 25,000 more records (about 25 MB) went to the files, not to memory:
  // the sink's 2 MiB in flight was full after the first 5,000.
  EXPECT_LT(late - early, int64_t{8} << 20);
  auto lag = [&] {
    auto scrape = it::HttpGet(metrics_url);
    if (!scrape.ok()) return std::string("?");
    // The sample's line, not its # HELP line.
    const size_t line =
        scrape->find("\nimportgate_decision_log_sink_lag_entries ");
    if (line == std::string::npos) return std::string("?");
    return scrape->substr(line + 1, scrape->find('\n', line + 1) - line - 1);
  };
  EXPECT_THAT(lag(), ::testing::Not(HasSubstr("_entries 0")));
  kafka.SetUp();
  const absl::Time until = absl::Now() + absl::Minutes(2);
  while (lag() != "importgate_decision_log_sink_lag_entries 0" &&
         absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(lag(), "importgate_decision_log_sink_lag_entries 0");
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->output();
}

}  // namespace
}  // namespace importgate
