// Finding records in a decision log: each filter alone and together, the
// newest-first id search, records that do not verify never answered, and
// the JSON lines `importgate log query` prints.
#include "server/decisionlog/query.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/decisionlog/decision_log_fixture.h"

namespace importgate::decisionlog {
namespace {

namespace v1 = ::importgate::v1;
namespace lv1 = ::importgate::decisionlog::v1;
namespace it = ::importgate::testing;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Logged {
  std::string sku;
  std::string seller;
  v1::Effect effect = v1::EFFECT_DENY;  // EFFECT_UNSPECIFIED: refused
  std::string rule;
  std::vector<std::string> matched;
};

class QueryTest : public DecisionLogTest {
 protected:
  // Logs `calls` one second apart from kNow, and returns their ids.
  std::vector<std::string> Log(const std::vector<Logged>& calls,
                               DecisionLogOptions options) {
    std::vector<std::string> ids;
    auto log = Open(std::move(options));
    if (log == nullptr) return ids;
    for (size_t i = 0; i < calls.size(); ++i) {
      const Logged& c = calls[i];
      clock_.Set(kNow + absl::Seconds(static_cast<int64_t>(i)));
      CallRecord call;
      call.time = clock_.Now();
      v1::IsImportAllowedRequest request = it::TeeRequest();
      request.mutable_item()->set_sku(c.sku);
      request.mutable_seller()->set_id(c.seller);
      if (padding_ > 0) {
        (*request.mutable_attributes())["pad"] = std::string(padding_, 'p');
      }
      call.request = request.SerializeAsString();
      call.ids.push_back(log->ids().Next(call.time));
      ids.emplace_back(View(call.ids[0]));
      if (c.effect == v1::EFFECT_UNSPECIFIED) {
        call.error_code = 9;  // FAILED_PRECONDITION
        call.error_message = "no rates";
      } else {
        v1::IsImportAllowedResponse answer =
            Answer(c.sku, c.effect, ids.back());
        answer.mutable_decision()->set_rule_id(c.rule);
        for (const std::string& m : c.matched) {
          answer.mutable_decision()->add_matched_rule_ids(m);
        }
        call.response = answer.SerializeAsString();
      }
      EXPECT_TRUE(log->Submit(std::move(call), absl::InfiniteFuture()).ok());
    }
    log->Close();
    return ids;
  }

  // The SKUs of the records `query` finds, in the order found.
  std::vector<std::string> Skus(const DecisionQuery& query,
                                QueryStats* stats = nullptr) {
    std::vector<std::string> skus;
    auto found = QueryDirectory(dir_, query, [&](const lv1::DecisionRecord& r) {
      skus.push_back(r.request().item().sku());
      return true;
    });
    EXPECT_TRUE(found.ok()) << found.status();
    if (found.ok() && stats != nullptr) *stats = *found;
    return skus;
  }

  // Attribute bytes added to each request: 60 KiB (under
  // kMaxRecordedRequestBytes): 80 such records fill at least three
  // segments (a segment closes past 1 MiB, after a batch of at most the
  // queue, 1 MiB).
  size_t padding_ = 0;

  const std::vector<Logged> kCalls = {
      {"A", "s1", v1::EFFECT_DENY, "r-textiles", {"r-textiles", "r-min-price"}},
      {"B", "s2", v1::EFFECT_ALLOW, "", {}},
      {"C", "s1", v1::EFFECT_ALLOW, "r-domestic", {"r-domestic"}},
      {"A", "s3", v1::EFFECT_UNSPECIFIED, "", {}},
      {"D", "s2", v1::EFFECT_DENY, "r-min-price", {"r-min-price"}},
  };
};

TEST_F(QueryTest, EachFilterFindsExactlyItsRecords) {
  ASSERT_EQ(Log(kCalls, Options()).size(), kCalls.size());
  struct Case {
    const char* name;
    DecisionQuery query;
    std::vector<std::string> skus;
  };
  auto q = [](auto set) {
    DecisionQuery query;
    set(query);
    return query;
  };
  const std::vector<Case> cases = {
      {"all", DecisionQuery{}, {"A", "B", "C", "A", "D"}},
      {"sku", q([](auto& x) { x.sku = "A"; }), {"A", "A"}},
      {"sku, none", q([](auto& x) { x.sku = "Z"; }), {}},
      {"seller", q([](auto& x) { x.seller_id = "s1"; }), {"A", "C"}},
      // Deciding rule or any matched rule.
      {"rule", q([](auto& x) { x.rule_id = "r-min-price"; }), {"A", "D"}},
      {"rule, deciding", q([](auto& x) { x.rule_id = "r-domestic"; }), {"C"}},
      {"outcome DENY", q([](auto& x) { x.outcome = "DENY"; }), {"A", "D"}},
      {"outcome ALLOW", q([](auto& x) { x.outcome = "ALLOW"; }), {"B", "C"}},
      {"outcome ERROR", q([](auto& x) { x.outcome = "ERROR"; }), {"A"}},
      // [from, until): records at kNow+1s and +2s.
      {"window",
       q([](auto& x) {
         x.from = kNow + absl::Seconds(1);
         x.until = kNow + absl::Seconds(3);
       }),
       {"B", "C"}},
      {"together",
       q([](auto& x) {
         x.seller_id = "s2";
         x.outcome = "DENY";
       }),
       {"D"}},
      {"limit", q([](auto& x) { x.limit = 2; }), {"A", "B"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Skus(c.query), c.skus) << c.name;
  }
}

TEST_F(QueryTest, FindDecisionAnswersEachIdWithItsOwnRecord) {
  padding_ = 60 << 10;  // several segments, searched newest first
  std::vector<Logged> calls;
  for (int i = 0; i < 80; ++i) {
    calls.push_back({absl::StrCat("SKU-", i), "s", v1::EFFECT_DENY, "r", {}});
  }
  const std::vector<std::string> ids = Log(calls, Options());
  ASSERT_EQ(ids.size(), 80u);
  ASSERT_GE(Segments().size(), 3u);
  for (int i : {0, 40, 79}) {
    auto record = FindDecision(dir_, ids[i]);
    ASSERT_TRUE(record.ok()) << record.status();
    EXPECT_EQ(record->decision_id(), ids[i]);
    EXPECT_EQ(record->request().item().sku(), absl::StrCat("SKU-", i));
    EXPECT_EQ(record->response().decision_id(), ids[i]);
  }
  // A well-formed id this log never made.
  DecisionIdGenerator other(99);
  auto missing = FindDecision(dir_, std::string(View(other.Next(kNow))));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("not in the decision log"));
  for (const char* bad :
       {"", "SKU-1", "019AD3F2-6C41-7A3E-9B1C-2F0D00000001"}) {
    auto refused = FindDecision(dir_, bad);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("decision_id")) << bad;
  }
  EXPECT_EQ(FindDecision(dir_ + "-none", ids[0]).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(QueryTest, AnAlteredRecordIsNeverAnsweredAndTheDamageIsReported) {
  padding_ = 60 << 10;
  std::vector<Logged> calls;
  for (int i = 0; i < 80; ++i) {
    calls.push_back({absl::StrCat("SKU-", i), "s", v1::EFFECT_DENY, "r", {}});
  }
  const std::vector<std::string> ids = Log(calls, Options());
  const std::vector<std::string> segments = Segments();
  ASSERT_GE(segments.size(), 3u);
  // Alter the sku of the second record of the second segment, "SKU-n" to
  // "SKV-n".
  const std::string path = segments[1];
  std::string bytes = Read(path);
  lv1::LogEntry original;
  size_t lost = 0;  // decisions from the altered one to the segment's end
  auto scan = ScanSegment(path, [&](const Frame& frame) {
    if (frame.offset == kSegmentHeaderBytes) return;
    lv1::LogEntry entry;
    ASSERT_TRUE(entry.ParseFromArray(frame.entry.data(),
                                     static_cast<int>(frame.entry.size())));
    if (entry.has_decision()) ++lost;
    if (original.sequence() == 0) {
      ASSERT_TRUE(original.ParseFromArray(
          frame.entry.data(), static_cast<int>(frame.entry.size())));
      const size_t at = bytes.find("SKU-", frame.offset);
      ASSERT_LT(at, frame.offset + frame.entry.size());
      bytes[at + 2] = 'V';
    }
  });
  ASSERT_TRUE(scan.ok()) << scan.status();
  ASSERT_TRUE(original.has_decision());
  Rewrite(path, bytes);

  QueryStats stats;
  const std::vector<std::string> skus = Skus(DecisionQuery{}, &stats);
  ASSERT_EQ(stats.problems.size(), 1u);
  EXPECT_THAT(stats.problems[0], HasSubstr(path));
  EXPECT_THAT(stats.problems[0], HasSubstr("not searched"));
  for (const std::string& sku : skus) EXPECT_EQ(sku.substr(0, 4), "SKU-");
  // What precedes the damage and every later segment are still searched;
  // the altered record and those after it in its segment are not.
  EXPECT_EQ(skus.size(), 80u - lost);
  const std::string& sku = original.decision().request().item().sku();
  EXPECT_THAT(skus, ::testing::Not(::testing::Contains(sku)));
  DecisionQuery altered;
  altered.sku = "SKV-" + sku.substr(4);
  EXPECT_THAT(Skus(altered), IsEmpty());
  auto find = FindDecision(dir_, original.decision().decision_id());
  EXPECT_EQ(find.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(find.status().message(), HasSubstr(path));
}

TEST_F(QueryTest, ATornTailOfTheNewestSegmentIsQuiet) {
  const std::vector<std::string> ids = Log(kCalls, Options());
  const std::string path = Segments().back();
  const std::string bytes = Read(path);
  Rewrite(path, bytes.substr(0, bytes.size() - 10));  // a writer mid-append
  QueryStats stats;
  EXPECT_EQ(Skus(DecisionQuery{}, &stats).size(), kCalls.size());
  EXPECT_THAT(stats.problems, IsEmpty());
}

TEST_F(QueryTest, ValidateQueryNamesTheField) {
  struct Case {
    DecisionQuery query;
    const char* field;
  };
  DecisionQuery id, outcome, window;
  id.decision_id = "42";
  outcome.outcome = "deny";
  window.from = kNow;
  window.until = kNow;
  for (const auto& [query, field] : std::vector<Case>{
           {id, "decision_id"}, {outcome, "outcome"}, {window, "from"}}) {
    absl::Status status = ValidateQuery(query);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(status.message(), HasSubstr(field));
  }
  EXPECT_TRUE(ValidateQuery(DecisionQuery{}).ok());
}

TEST_F(QueryTest, RecordJsonIsOneLineThatParsesBack) {
  const std::vector<std::string> ids = Log(kCalls, Options());
  auto record = FindDecision(dir_, ids[0]);
  ASSERT_TRUE(record.ok()) << record.status();
  const std::string json = RecordJson(*record);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_THAT(json, HasSubstr(absl::StrCat("\"decisionId\":\"", ids[0], "\"")));
  EXPECT_THAT(json, HasSubstr("\"ruleId\":\"r-textiles\""));
  lv1::DecisionRecord back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok());
  EXPECT_EQ(back.SerializeAsString(), record->SerializeAsString());
}

}  // namespace
}  // namespace importgate::decisionlog
