// The hand-written response encoding must give exactly the bytes of the
// generated messages, built the way the evaluator builds them
// (eval::FillDecision), for every kind of answer.
#include "server/service/response_encoder.h"

#include <cstdlib>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/decisionlog/record.h"
#include "tests/testing/test_bundles.h"

namespace importgate::service {
namespace {

namespace it = importgate::testing;
namespace v1 = importgate::v1;
using google::protobuf::util::MessageDifferencer;

// Rules whose answers cover every field: long and empty strings, several
// matched rules, a TTL with nanoseconds, one without any.
const char kRules[] = R"pb(
  rules {
    id: "deny-tees-cross-border-with-a-rule-id-long-enough"
    effect: EFFECT_DENY
    priority: 10
    reason_code: "CROSS_BORDER_CATEGORY_CLOSED"
    message: "Cross-border listings of apparel are closed to protect domestic small businesses; this message is over 127 bytes long so that its length takes two varint bytes."
    legal_basis: "Permendag 31/2023, art. 19"
    match {
      hs_codes: [ "6109" ]
      seller_kinds: [ SELLER_KIND_CROSS_BORDER ]
    }
    cache_ttl { seconds: 30 nanos: 500000000 }
  }
  rules {
    id: "watch-tees"
    effect: EFFECT_ALLOW
    priority: 1
    reason_code: "WATCHED"
    message: "Watched"
    match { hs_codes: [ "61" ] }
  }
  rules {
    id: "zero-ttl"
    effect: EFFECT_DENY
    priority: 5
    reason_code: "NO_CACHE"
    message: "Not cached"
    match { hs_codes: [ "7113" ] }
    cache_ttl { seconds: 0 }
  }
)pb";

v1::IsImportAllowedRequest Request(const std::string& hs,
                                   const std::string& sku,
                                   v1::SellerKind kind) {
  v1::IsImportAllowedRequest r;
  r.mutable_item()->set_sku(sku);
  r.mutable_item()->set_hs_code(hs);
  r.mutable_item()->set_origin_country("CN");
  r.mutable_seller()->set_kind(kind);
  r.set_destination_country("ID");
  r.set_channel(v1::CHANNEL_CHECKOUT);
  r.mutable_evaluation_time()->set_seconds(1'700'000'000);
  return r;
}

// The decision log's two ways to leave an answer's rule text out agree:
// by the offsets AppendResponse returns (the log's queue), and by parsing
// the answer (decisionlog::StripRuleText, the writer's).
void ExpectTheRuleTextLayoutAgrees(const std::string& bytes,
                                   const ResponseLayout& layout) {
  decisionlog::ResponseWithoutRuleText split;
  ASSERT_TRUE(decisionlog::SplitOutRuleText(
      bytes, {layout.rule_text_begin, layout.rule_text_end}, &split));
  std::string scratch, parsed;
  ASSERT_TRUE(decisionlog::StripRuleText(bytes, &scratch, &parsed));
  EXPECT_EQ(absl::StrCat(absl::string_view(split.head.data(), split.head_size),
                         split.before, split.after),
            parsed);
}

class ResponseEncoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto snapshot = it::CompileRules(kRules);
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    snapshot_ = *snapshot;
  }

  // The decision for `request`, or its error.
  absl::Status Decide(const v1::IsImportAllowedRequest& request,
                      eval::Verdict* verdict) {
    return eval::DecideRequest(*snapshot_, request, absl::UnixEpoch(), verdict);
  }

  // The message the generated code would serialize for `request`.
  void Expected(const eval::Verdict& verdict,
                const v1::IsImportAllowedRequest& request,
                const BundleRefFields& ref, absl::string_view decision_id,
                v1::IsImportAllowedResponse* out) {
    eval::FillDecision(*snapshot_, verdict, out->mutable_decision());
    out->set_decision_id(std::string(decision_id));
    out->mutable_bundle()->set_name(std::string(ref.name));
    out->mutable_bundle()->set_revision(ref.revision);
    out->mutable_bundle()->set_digest(std::string(ref.digest));
    out->set_sku(request.item().sku());
  }

  std::shared_ptr<const compiler::PolicySnapshot> snapshot_;
};

const std::vector<v1::IsImportAllowedRequest>& Requests() {
  static const auto* requests = new std::vector<v1::IsImportAllowedRequest>{
      // Two rules match: the long deny decides.
      Request("6109.10", "TEE-1", v1::SELLER_KIND_CROSS_BORDER),
      // One rule, no legal basis.
      Request("6110", "SWEATER", v1::SELLER_KIND_DOMESTIC),
      // The default decides: no rule id, no legal basis, no matches.
      Request("8517", "PHONE", v1::SELLER_KIND_CROSS_BORDER),
      // A zero TTL; an empty sku.
      Request("7113", "", v1::SELLER_KIND_CROSS_BORDER),
      // Invalid: no destination (an ItemError in batches).
      [] {
        auto r = Request("6109", "BAD", v1::SELLER_KIND_CROSS_BORDER);
        r.clear_destination_country();
        return r;
      }(),
  };
  return *requests;
}

TEST_F(ResponseEncoderTest, UnaryBytesEqualTheGeneratedMessage) {
  const std::string digest(71, 'f');
  for (const BundleRefFields& ref :
       {BundleRefFields{"marketplace-id", 7, digest},
        BundleRefFields{"", 0, ""},
        BundleRefFields{"n", uint64_t{1} << 40, "sha256:00"}}) {
    for (const auto& request : Requests()) {
      SCOPED_TRACE(absl::StrCat(request.item().hs_code(), " ", ref.revision));
      eval::Verdict verdict;
      if (!Decide(request, &verdict).ok()) continue;
      // With and without a decision log's id.
      const std::string id =
          ref.revision == 7 ? "" : "019ad3f2-6c41-7a3e-9b1c-2f0d00000001";
      v1::IsImportAllowedResponse want;
      Expected(verdict, request, ref, id, &want);
      WireBuffer out(1);  // grows on every write
      const ResponseLayout layout = AppendResponse(
          *snapshot_, verdict, ref, request.item().sku(), id, &out);
      const std::string got(out.view());
      EXPECT_EQ(got, want.SerializeAsString());
      ExpectTheRuleTextLayoutAgrees(got, layout);
      v1::IsImportAllowedResponse parsed;
      ASSERT_TRUE(parsed.ParseFromString(got));
      EXPECT_TRUE(MessageDifferencer::Equals(parsed, want))
          << parsed.DebugString();
    }
  }
}

TEST_F(ResponseEncoderTest, BatchBytesEqualTheGeneratedMessage) {
  const BundleRefFields ref{"marketplace-id", 3, "sha256:abc"};
  v1::BatchIsImportAllowedResponse want;
  WireBuffer out(64);
  // Enough items that the batch is longer than 16 KiB, an HTTP/2 frame.
  for (int round = 0; round < 40; ++round) {
    for (const auto& request : Requests()) {
      eval::Verdict verdict;
      absl::Status status = Decide(request, &verdict);
      v1::BatchItemResult* result = want.add_results();
      const std::string id =
          round % 2 ? "" : absl::StrCat("019ad3f2-6c41-7a3e-9b1c-2f0d", round);
      if (status.ok()) {
        Expected(verdict, request, ref, id, result->mutable_response());
        AppendBatchResponse(*snapshot_, verdict, ref, request.item().sku(), id,
                            &out);
      } else {
        result->mutable_error()->set_code(static_cast<int32_t>(status.code()));
        result->mutable_error()->set_message(std::string(status.message()));
        result->mutable_error()->set_decision_id(id);
        AppendBatchError(status, id, &out);
      }
    }
  }
  want.mutable_bundle()->set_name(std::string(ref.name));
  want.mutable_bundle()->set_revision(ref.revision);
  want.mutable_bundle()->set_digest(std::string(ref.digest));
  AppendBatchBundle(ref, &out);
  const std::string got(out.view());
  ASSERT_GT(got.size(), 16u * 1024);
  EXPECT_EQ(got, want.SerializeAsString());
  v1::BatchIsImportAllowedResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(got));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, want));
  EXPECT_EQ(parsed.results(4).error().code(), 3);  // INVALID_ARGUMENT
}

// Verdicts built directly, over every length class of every field (empty,
// short, over 127 and over 16383 bytes, where a varint length grows), with
// random matched rules and TTLs: the bytes must still be the generated
// code's. A fixed seed, so a failure can be replayed.
TEST(ResponseEncoderRandomTest, AnyVerdictEncodesAsTheGeneratedMessage) {
  std::mt19937 random(20261128);
  auto text = [&random]() {
    static constexpr size_t kLengths[] = {0, 1, 15, 16, 127, 128, 300, 16384};
    std::string s(kLengths[random() % std::size(kLengths)], 'x');
    for (char& c : s) c = static_cast<char>('a' + random() % 26);
    return s;
  };
  compiler::PolicySnapshot snapshot;
  snapshot.default_reason_code = text();
  snapshot.default_message = text();
  for (int i = 0; i < 40; ++i) {
    compiler::CompiledRule rule;
    rule.id = text();
    rule.reason_code = text();
    rule.message = text();
    rule.legal_basis = text();
    rule.effect = random() % 2 ? v1::EFFECT_ALLOW : v1::EFFECT_DENY;
    snapshot.rules.push_back(std::move(rule));
  }
  // Rate tables of both quotes, with long and empty sources, in force for
  // bounded and unbounded periods, before and after 1970.
  const CurrencyCode kCurrencies[] = {PackCurrency("USD"), PackCurrency("IDR"),
                                      PackCurrency("CNY")};
  for (int i = 0; i < 4; ++i) {
    compiler::RateTable& table = snapshot.rate_tables.emplace_back();
    table.base = kCurrencies[i % 2];
    table.quote = i < 2 ? compiler::RateTable::Quote::kPerBase
                        : compiler::RateTable::Quote::kBasePerUnit;
    for (CurrencyCode c : kCurrencies) {
      table.rates[c] = {1, c == table.base ? "1" : text()};
    }
    table.source = text();
  }
  const absl::Time kEdges[] = {
      absl::InfinitePast(),
      absl::FromUnixSeconds(-62135596800),
      absl::FromUnixNanos(-1),
      absl::UnixEpoch(),
      absl::FromUnixSeconds(1'700'000'000) + absl::Nanoseconds(7),
      absl::FromUnixSeconds(253402300799),
      absl::InfiniteFuture()};
  for (int i = 0; i < 12; ++i) {
    absl::Time a = kEdges[random() % std::size(kEdges)];
    absl::Time b = kEdges[random() % std::size(kEdges)];
    snapshot.rate_periods.push_back(
        {std::min(a, b), std::max(a, b),
         &snapshot.rate_tables[random() % snapshot.rate_tables.size()]});
  }
  // Up to the largest Money a conversion saturates at.
  const policy::NanoAmount kAmounts[] = {
      0,
      1,
      999'999'999,
      1'000'000'000,
      99'999'999'999,
      static_cast<policy::NanoAmount>(std::numeric_limits<int64_t>::max()) *
              1'000'000'000 +
          999'999'999};
  for (int round = 0; round < 2000; ++round) {
    SCOPED_TRACE(round);
    eval::Verdict verdict;
    if (random() % 2 == 0) {
      verdict.conversion.period =
          &snapshot.rate_periods[random() % snapshot.rate_periods.size()];
      verdict.conversion.price_currency = kCurrencies[random() % 3];
      do {
        verdict.conversion.threshold_currency = kCurrencies[random() % 3];
      } while (verdict.conversion.threshold_currency ==
               verdict.conversion.price_currency);
      verdict.conversion.converted = kAmounts[random() % std::size(kAmounts)];
    }
    if (random() % 4 != 0) {
      verdict.rule = &snapshot.rules[random() % snapshot.rules.size()];
      verdict.effect = verdict.rule->effect;
    } else {
      verdict.effect = random() % 2 ? v1::EFFECT_ALLOW : v1::EFFECT_DENY;
    }
    for (size_t n = random() % 5; n > 0; --n) {
      verdict.matched.push_back(
          static_cast<uint32_t>(random() % snapshot.rules.size()));
    }
    verdict.matched_truncated = random() % 3 == 0;
    verdict.cache_ttl = absl::Nanoseconds(
        random() % 3 == 0 ? 0
                          : static_cast<int64_t>(random() % 5) * 1'000'000'000 +
                                random() % 2 * 500);
    const std::string name = text(), digest = text(), sku = text(), id = text();
    const BundleRefFields ref{name, random() % 2 ? 0 : random(), digest};

    v1::BatchIsImportAllowedResponse want;
    v1::IsImportAllowedResponse* response =
        want.add_results()->mutable_response();
    eval::FillDecision(snapshot, verdict, response->mutable_decision());
    response->mutable_bundle()->set_name(name);
    response->mutable_bundle()->set_revision(ref.revision);
    response->mutable_bundle()->set_digest(digest);
    response->set_sku(sku);
    response->set_decision_id(id);

    WireBuffer unary(1);
    const ResponseLayout layout =
        AppendResponse(snapshot, verdict, ref, sku, id, &unary);
    ASSERT_EQ(std::string(unary.view()), response->SerializeAsString());
    ExpectTheRuleTextLayoutAgrees(std::string(unary.view()), layout);
    WireBuffer batch(1);
    AppendBatchResponse(snapshot, verdict, ref, sku, id, &batch);
    ASSERT_EQ(std::string(batch.view()), want.SerializeAsString());
  }
}

TEST(WireBufferTest, GrowsAndKeepsWhatWasWritten) {
  WireBuffer buffer(1);
  for (char c : std::string("hello, wire")) {
    buffer.Write(1, [c](char* p) {
      *p = c;
      return p + 1;
    });
  }
  EXPECT_EQ(buffer.view(), "hello, wire");
  WireBuffer::Bytes bytes = buffer.Release();
  EXPECT_EQ(std::string(bytes.data, bytes.size), "hello, wire");
  std::free(bytes.data);
  EXPECT_TRUE(buffer.view().empty());
}

// A sizing bug must stop the server, not send bytes that do not parse.
TEST(WireBufferDeathTest, WritingOtherThanTheSizeAborts) {
  WireBuffer buffer(64);
  EXPECT_DEATH(buffer.Write(4, [](char* p) { return p + 3; }),
               "sized 4 bytes but wrote 3");
}

// The encoder writes these messages field by field. When a field is added
// to one of them, this fails until response_encoder.cc writes it too (and
// this list is updated).
TEST(ResponseEncoderFieldsTest, EveryFieldOfTheEncodedMessagesIsKnown) {
  struct Expect {
    const google::protobuf::Descriptor* type;
    std::vector<std::string> fields;
  };
  for (const Expect& e : std::vector<Expect>{
           {v1::Decision::descriptor(),
            {"allowed", "effect", "rule_id", "reason_code", "message",
             "legal_basis", "matched_rule_ids", "cache_ttl",
             "matched_rule_ids_truncated", "price_conversion"}},
           {v1::PriceConversion::descriptor(),
            {"converted_price", "rates", "rate_source", "rates_effective_from",
             "rates_effective_until"}},
           {v1::ExchangeRate::descriptor(),
            {"unit_currency", "quote_currency", "rate"}},
           {v1::Money::descriptor(), {"currency_code", "units", "nanos"}},
           {v1::BundleRef::descriptor(), {"name", "revision", "digest"}},
           {v1::IsImportAllowedResponse::descriptor(),
            {"decision", "bundle", "sku", "decision_id"}},
           {v1::BatchItemResult::descriptor(), {"response", "error"}},
           {v1::ItemError::descriptor(), {"code", "message", "decision_id"}},
           {v1::BatchIsImportAllowedResponse::descriptor(),
            {"results", "bundle"}},
       }) {
    SCOPED_TRACE(e.type->full_name());
    std::vector<std::string> fields;
    for (int i = 0; i < e.type->field_count(); ++i) {
      fields.push_back(e.type->field(i)->name());
      EXPECT_EQ(e.type->field(i)->number(), i + 1);
    }
    EXPECT_EQ(fields, e.fields);
  }
}

}  // namespace
}  // namespace importgate::service
