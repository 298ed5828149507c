// What records leave out: seller ids dropped or hashed under a key,
// attributes dropped by name, ALLOWs sampled by their id (DENYs and errors
// never), and the flags' mistakes named.
#include "server/decisionlog/record_policy.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "server/decisionlog/record.h"
#include "tests/decisionlog/decision_log_fixture.h"

namespace importgate::decisionlog {
namespace {

namespace v1 = ::importgate::v1;
namespace lv1 = ::importgate::decisionlog::v1;
namespace it = ::importgate::testing;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";

TEST(RecordPolicyTest, FlagMistakesAreNamed) {
  EXPECT_EQ(*ParseSellerIdMask("keep"), SellerIdMask::kKeep);
  EXPECT_EQ(*ParseSellerIdMask("drop"), SellerIdMask::kDrop);
  EXPECT_EQ(*ParseSellerIdMask("hash"), SellerIdMask::kHash);
  EXPECT_THAT(ParseSellerIdMask("Hash").status().message(),
              HasSubstr("--decision_log_seller_id"));
  for (double fraction : {-0.1, 1.5, std::nan("")}) {
    RecordPolicy policy;
    policy.allow_fraction = fraction;
    EXPECT_THAT(ValidateRecordPolicy(policy).message(),
                HasSubstr("--decision_log_allow_fraction"))
        << fraction;
  }
  RecordPolicy hash;
  hash.seller_id = SellerIdMask::kHash;
  EXPECT_THAT(ValidateRecordPolicy(hash).message(),
              HasSubstr("--decision_log_mask_key_file"));
  hash.hash_key = kKey;
  EXPECT_TRUE(ValidateRecordPolicy(hash).ok());

  const std::string path = ::testing::TempDir() + "/mask-key";
  std::ofstream(path) << "short\n";
  EXPECT_THAT(ReadMaskKey(path).status().message(),
              HasSubstr("--decision_log_mask_key_file"));
  EXPECT_THAT(ReadMaskKey(path + "-none").status().message(),
              HasSubstr("cannot read"));
  std::ofstream(path, std::ios::trunc) << kKey << "\n";
  EXPECT_EQ(*ReadMaskKey(path), kKey);  // one trailing newline removed
}

TEST(RecordPolicyTest, HashSellerIdIsHmacSha256) {
  // RFC 4231, test case 2.
  EXPECT_EQ(HashSellerId("Jefe", "what do ya want for nothing?"),
            "hmac-sha256:"
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_NE(HashSellerId(kKey, "seller-1"), HashSellerId(kKey, "seller-2"));
  EXPECT_NE(HashSellerId(kKey, "seller-1"),
            HashSellerId("another key of 16+ bytes", "seller-1"));
}

TEST(RecordPolicyTest, KeepAllowIsAFunctionOfTheIdAtTheFraction) {
  DecisionIdGenerator ids(7);
  std::vector<DecisionId> made;
  for (int i = 0; i < 100'000; ++i) made.push_back(ids.Next(kNow));
  for (double fraction : {0.0, 0.01, 0.25, 0.5, 1.0}) {
    int kept = 0;
    for (const DecisionId& id : made) kept += KeepAllow(View(id), fraction);
    // Binomial: 5 standard deviations at most (0.8% of 100,000 at 0.5).
    EXPECT_NEAR(kept, fraction * made.size(),
                5 * std::sqrt(made.size() * fraction * (1 - fraction)) + 0.5)
        << fraction;
  }
  // The same id, the same answer; a smaller fraction keeps a subset.
  for (const DecisionId& id : made) {
    ASSERT_EQ(KeepAllow(View(id), 0.3), KeepAllow(View(id), 0.3));
    if (KeepAllow(View(id), 0.1)) {
      ASSERT_TRUE(KeepAllow(View(id), 0.3));
    }
  }
}

TEST(RecordPolicyTest, MaskingRewritesOnlyWhatItNames) {
  v1::IsImportAllowedRequest request = it::TeeRequest();
  request.mutable_seller()->set_id("seller-42");
  (*request.mutable_attributes())["buyer_email"] = "a@example.com";
  (*request.mutable_attributes())["campaign"] = "11.11";
  const std::string bytes = request.SerializeAsString();

  RecordPolicy keep;
  RequestMasker unmasked(&keep);
  EXPECT_EQ(unmasked.Mask(bytes).data(), bytes.data());  // not even copied

  struct Case {
    SellerIdMask seller_id;
    std::vector<std::string> drop;
    std::string seller;
    std::vector<std::string> attributes;
  };
  const std::vector<Case> cases = {
      {SellerIdMask::kDrop, {}, "", {"buyer_email", "campaign"}},
      {SellerIdMask::kHash,
       {},
       HashSellerId(kKey, "seller-42"),
       {"buyer_email", "campaign"}},
      {SellerIdMask::kKeep,
       {"buyer_email", "absent"},
       "seller-42",
       {"campaign"}},
      {SellerIdMask::kHash, {"*"}, HashSellerId(kKey, "seller-42"), {}},
  };
  for (const Case& c : cases) {
    RecordPolicy policy;
    policy.seller_id = c.seller_id;
    policy.hash_key = kKey;
    policy.drop_attributes.insert(c.drop.begin(), c.drop.end());
    RequestMasker masker(&policy);
    v1::IsImportAllowedRequest masked;
    ASSERT_TRUE(masked.ParseFromString(std::string(masker.Mask(bytes))));
    EXPECT_EQ(masked.seller().id(), c.seller);
    std::vector<std::string> names;
    for (const auto& [name, value] : masked.attributes()) names.push_back(name);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, c.attributes);
    // Everything else as sent.
    masked.mutable_seller()->set_id(request.seller().id());
    *masked.mutable_attributes() = request.attributes();
    EXPECT_TRUE(MessageDifferencer::Equals(masked, request));
  }
}

TEST(RecordPolicyTest, TheEncoderSamplesAllowsOnlyAndMasksWhatItKeeps) {
  DecisionIdGenerator ids(3);
  CallRecord call;
  call.method = CallRecord::Method::kBatchIsImportAllowed;
  call.time = kNow;
  v1::BatchIsImportAllowedRequest batch;
  v1::BatchIsImportAllowedResponse answers;
  // 40 ALLOWs, then a DENY and an error.
  for (int i = 0; i < 42; ++i) {
    v1::IsImportAllowedRequest* item = batch.add_requests();
    *item = it::TeeRequest();
    item->mutable_seller()->set_id(absl::StrCat("seller-", i));
    call.ids.push_back(ids.Next(kNow));
    const std::string id(View(call.ids.back()));
    if (i == 41) {
      answers.add_results()->mutable_error()->set_code(3);
    } else {
      *answers.add_results()->mutable_response() =
          Answer("TEE-1", i == 40 ? v1::EFFECT_DENY : v1::EFFECT_ALLOW, id);
    }
  }
  call.request = batch.SerializeAsString();
  call.response = answers.SerializeAsString();
  for (double fraction : {0.0, 0.5, 1.0}) {
    RecordPolicy policy;
    policy.allow_fraction = fraction;
    policy.seller_id = SellerIdMask::kDrop;
    RecordEncoder encoder(&policy);
    std::vector<int> items;
    uint64_t sequence = 1;
    ASSERT_TRUE(
        encoder
            .Encode(call, &sequence,
                    [&](absl::string_view bytes) {
                      lv1::LogEntry entry;
                      ASSERT_TRUE(entry.ParseFromArray(
                          bytes.data(), static_cast<int>(bytes.size())));
                      items.push_back(entry.decision().batch_index());
                      EXPECT_EQ(entry.decision().request().seller().id(), "");
                      EXPECT_EQ(entry.sequence(), items.size());
                    })
            .ok());
    std::vector<int> expected;
    for (int i = 0; i < 42; ++i) {
      if (i >= 40 || KeepAllow(View(call.ids[i]), fraction)) {
        expected.push_back(i);
      }
    }
    EXPECT_EQ(items, expected) << fraction;  // the DENY and the error always
    EXPECT_EQ(encoder.sampled_out(), 42 - expected.size()) << fraction;
    EXPECT_EQ(sequence, 1 + expected.size());  // no gap in the sequence
  }
}

TEST(RecordPolicyTest, RuleTextIsLeftOutByDefaultAndKeptOnRequest) {
  v1::IsImportAllowedResponse answer =
      Answer("TEE-1", v1::EFFECT_DENY, "019ad3f2-6c41-7a3e-9b1c-2f0d00000001");
  v1::Decision* decision = answer.mutable_decision();
  decision->set_rule_id("id-2021-textiles");
  decision->set_message("Cross-border textiles are closed (Lazada, 2021).");
  decision->set_legal_basis("Permendag 50/2020");
  decision->add_matched_rule_ids("id-2021-textiles");
  decision->mutable_cache_ttl()->set_seconds(300);
  decision->mutable_price_conversion()->set_rate_source(
      "KMK 4/KM.10/KF.4/2023");
  const std::string bytes = answer.SerializeAsString();
  std::string scratch, stripped;
  ASSERT_TRUE(StripRuleText(bytes, &scratch, &stripped));
  v1::IsImportAllowedResponse expected = answer;
  expected.mutable_decision()->clear_message();
  expected.mutable_decision()->clear_legal_basis();
  v1::IsImportAllowedResponse got;
  ASSERT_TRUE(got.ParseFromString(stripped));
  EXPECT_TRUE(MessageDifferencer::Equals(got, expected)) << got.DebugString();
  EXPECT_LT(stripped.size(), bytes.size());
  // Nothing to leave out: the same message; malformed bytes: refused.
  const std::string plain = expected.SerializeAsString();
  ASSERT_TRUE(StripRuleText(plain, &scratch, &stripped));
  EXPECT_EQ(stripped, plain);
  EXPECT_FALSE(StripRuleText(std::string("\x0a\x05"
                                         "ab"),
                             &scratch, &stripped));
  // Fields of every wire type (none of ours is fixed-width, but a newer
  // server's may be) are copied byte for byte, only the text left out.
  v1::IsImportAllowedResponse wide = answer;
  auto unknown = [](google::protobuf::Message* m) {
    return m->GetReflection()->MutableUnknownFields(m);
  };
  unknown(wide.mutable_decision())->AddFixed64(90, 7);
  unknown(wide.mutable_decision())->AddFixed32(91, 8);
  unknown(&wide)->AddFixed64(92, 9);
  ASSERT_TRUE(StripRuleText(wide.SerializeAsString(), &scratch, &stripped));
  v1::IsImportAllowedResponse wide_expected = wide;
  wide_expected.mutable_decision()->clear_message();
  wide_expected.mutable_decision()->clear_legal_basis();
  EXPECT_EQ(stripped, wide_expected.SerializeAsString());

  // Through the encoder: the default policy leaves it out, keep keeps it.
  DecisionIdGenerator ids(5);
  CallRecord call;
  call.time = kNow;
  call.request = it::TeeRequest().SerializeAsString();
  call.ids.push_back(ids.Next(kNow));
  call.response = bytes;
  for (bool keep : {false, true}) {
    RecordPolicy policy;
    policy.keep_rule_text = keep;
    RecordEncoder encoder(&policy);
    uint64_t sequence = 1;
    lv1::LogEntry entry;
    ASSERT_TRUE(encoder
                    .Encode(call, &sequence,
                            [&](absl::string_view e) {
                              ASSERT_TRUE(entry.ParseFromArray(
                                  e.data(), static_cast<int>(e.size())));
                            })
                    .ok());
    EXPECT_TRUE(MessageDifferencer::Equals(entry.decision().response(),
                                           keep ? answer : expected))
        << keep;
  }
  EXPECT_FALSE(*ParseKeepRuleText("omit"));
  EXPECT_TRUE(*ParseKeepRuleText("keep"));
  EXPECT_THAT(ParseKeepRuleText("drop").status().message(),
              HasSubstr("--decision_log_rule_text"));
}

// A handler that knows where its answer's rule text lies (the response
// encoder's layout) has the log's queue leave it out by offsets; the
// records are what the writer's parsing (StripRuleText) makes of the
// whole answer. A span that is not within the answer's decision is
// ignored (the writer then parses), and `keep` keeps the text.
TEST_F(DecisionLogTest, TheQueueLeavesOutTheRuleTextAtTheHandlersSpan) {
  v1::IsImportAllowedResponse answer =
      Answer("TEE-1", v1::EFFECT_DENY, "019ad3f2-6c41-7a3e-9b1c-2f0d00000001");
  v1::Decision* decision = answer.mutable_decision();
  decision->set_rule_id("id-2021-textiles");
  decision->set_message(std::string(200, 'm'));  // a 2-byte length
  decision->set_legal_basis("Permendag 50/2020");
  decision->add_matched_rule_ids("id-2021-textiles");
  const std::string bytes = answer.SerializeAsString();
  // Fields 5 and 6, as SerializeAsString writes them: tag, length, text.
  const RuleTextSpan span{
      bytes.find(decision->message()) - 3,
      bytes.find(decision->legal_basis()) + decision->legal_basis().size()};
  v1::IsImportAllowedResponse expected = answer;
  expected.mutable_decision()->clear_message();
  expected.mutable_decision()->clear_legal_basis();

  ResponseWithoutRuleText split;
  ASSERT_TRUE(SplitOutRuleText(bytes, span, &split));
  EXPECT_EQ(absl::StrCat(absl::string_view(split.head.data(), split.head_size),
                         split.before, split.after),
            expected.SerializeAsString());
  // Spans outside the decision, reversed, off a field boundary, holding
  // another field (reason_code "R", the 3 bytes before the message), or
  // leaving a rule text field out; bytes not starting with the decision.
  const size_t legal_basis_field =
      span.end - decision->legal_basis().size() - 2;
  for (const RuleTextSpan bad : {
           RuleTextSpan{0, 4},
           RuleTextSpan{span.end, span.begin},
           RuleTextSpan{span.begin, bytes.size()},
           RuleTextSpan{span.begin + 1, span.end},
           RuleTextSpan{span.begin, span.end - 1},
           RuleTextSpan{span.begin - 3, span.end},
           RuleTextSpan{legal_basis_field, span.end},  // the message left
           RuleTextSpan{span.begin, legal_basis_field},
           RuleTextSpan{span.end, span.end},
       }) {
    EXPECT_FALSE(SplitOutRuleText(bytes, bad, &split))
        << bad.begin << " " << bad.end;
  }
  EXPECT_FALSE(SplitOutRuleText(bytes.substr(1), span, &split));
  EXPECT_FALSE(SplitOutRuleText("", RuleTextSpan{}, &split));

  for (const bool keep : {false, true}) {
    std::filesystem::remove_all(dir_);
    DecisionLogOptions options = Options();
    options.record.keep_rule_text = keep;
    auto log = Open(options);
    ASSERT_NE(log, nullptr);
    for (const std::optional<RuleTextSpan> given :
         {std::optional<RuleTextSpan>(span), std::optional<RuleTextSpan>(),
          std::optional<RuleTextSpan>(RuleTextSpan{0, bytes.size()})}) {
      CallRecord call = Call(*log, 1);
      call.response = bytes;
      call.rule_text = given;
      ASSERT_TRUE(log->Submit(call, absl::InfiniteFuture()).ok());
    }
    // A span that leaves the message out of it is refused: the writer
    // parses, and the record holds neither.
    CallRecord call = Call(*log, 1);
    call.response = bytes;
    call.rule_text = RuleTextSpan{legal_basis_field, span.end};
    ASSERT_TRUE(log->Submit(call, absl::InfiniteFuture()).ok());
    log->Close();
    const auto records = Records();
    ASSERT_EQ(records.size(), 4u);
    for (const auto& record : records) {
      EXPECT_TRUE(MessageDifferencer::Equals(record.response(),
                                             keep ? answer : expected))
          << keep << " " << record.response().DebugString();
    }
  }
}

TEST_F(DecisionLogTest, StatsCountSampledOutAndDiskBytes) {
  DecisionLogOptions options = Options();
  options.record.allow_fraction = 0.0;
  auto log = Open(options);
  ASSERT_NE(log, nullptr);
  Write(*log, 0, 8000);  // DENYs: all recorded, in several segments
  int sampled = 0;
  for (int i = 0; i < 10; ++i) {
    sampled += !log->SampleAllow(View(log->ids().Next(kNow)));
  }
  EXPECT_EQ(sampled, 10);
  log->Close();
  const DecisionLogStats stats = log->Stats();
  EXPECT_EQ(stats.records_written, 8000u);
  EXPECT_EQ(stats.sampled_out, 10u);
  EXPECT_EQ(stats.max_queue_bytes, options.max_queue_bytes);
  const uint64_t on_disk = DiskBytes();
  ASSERT_GT(Segments().size(), 1u);
  EXPECT_EQ(stats.disk_bytes, on_disk);
  EXPECT_EQ(stats.last_sequence, Verify().last_sequence);
  // Reopened: counted from the files.
  auto reopened = Open(options);
  ASSERT_NE(reopened, nullptr);
  EXPECT_GE(reopened->Stats().disk_bytes, on_disk);
  EXPECT_EQ(reopened->Stats().last_sequence, stats.last_sequence + 1);
}

}  // namespace
}  // namespace importgate::decisionlog
