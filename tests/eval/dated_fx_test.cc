// Prices judged at the exchange rates in force at the decision's instant
// (rates/ tables, with Manifest.fx in the gaps): the comparison, the
// Decision.price_conversion that explains it, the errors when no rate is
// known, and the cache_ttl cap at the next rate change.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/compiler/compiler.h"
#include "server/eval/evaluator.h"
#include "server/policy/bundle_source.h"
#include "server/policy/codes.h"
#include "tests/testing/test_bundles.h"

namespace importgate {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;
using ::testing::HasSubstr;

constexpr char kManifestHead[] = R"pb(
  name: "fx-test"
  revision: 7
  default_effect: EFFECT_ALLOW
  default_reason_code: "NO_RULE_MATCHED"
  default_message: "no rule matched"
  default_cache_ttl { seconds: 3600 }
)pb";

// Manifest.fx: per USD, used in the gaps.
constexpr char kFallback[] = R"pb(
  fx {
    base_currency: "USD"
    source: "fixed example rates"
    rates { currency_code: "IDR" per_base: "15500" }
    rates { currency_code: "CNY" per_base: "0.000001" }
  }
)pb";

// Two weekly tables in rupiah per unit, a gap, then an open-ended one.
constexpr char kRates[] = R"pb(
  tables {
    effective_from: "2023-11-01T00:00:00+07:00"
    effective_until: "2023-11-08T00:00:00+07:00"
    source: "KMK week 1"
    base_currency: "IDR"
    rates { currency_code: "USD" base_per_unit: "15912" }
  }
  tables {
    effective_from: "2023-11-08T00:00:00+07:00"
    effective_until: "2023-11-15T00:00:00+07:00"
    source: "KMK week 2"
    base_currency: "IDR"
    rates { currency_code: "USD" base_per_unit: "15879.00" }
    rates { currency_code: "CNY" base_per_unit: "2168.09" }
  }
  tables {
    effective_from: "2024-01-10T00:00:00+07:00"
    source: "KMK open"
    base_currency: "IDR"
    rates { currency_code: "USD" base_per_unit: "15503" }
  }
)pb";

constexpr char kRules[] = R"pb(
  rules {
    id: "min-price"
    effect: EFFECT_DENY
    reason_code: "BELOW_MIN"
    message: "below the minimum"
    match { unit_price { below { currency_code: "USD" units: 100 } } }
    effective_from: "2023-09-26T00:00:00+07:00"
  }
)pb";

std::shared_ptr<const compiler::PolicySnapshot> Snapshot(bool fallback) {
  std::vector<policy::SourceFile> files = {
      {"manifest.textproto",
       absl::StrCat(kManifestHead, fallback ? kFallback : "")},
      {"rules/r.textproto", kRules},
      {"rates/kmk.textproto", kRates}};
  auto parsed = policy::ParseBundle(files);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return nullptr;
  auto snapshot = compiler::Compile(*parsed, it::RealIsoCodes());
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return snapshot.ok() ? *snapshot : nullptr;
}

absl::Time At(const char* text) { return *policy::ParseRfc3339(text); }

v1::IsImportAllowedRequest Request(const std::string& currency, int64_t units,
                                   int32_t nanos, absl::Time at) {
  v1::IsImportAllowedRequest r;
  r.mutable_item()->set_hs_code("8518.30");
  r.mutable_item()->set_origin_country("CN");
  r.mutable_item()->mutable_unit_price()->set_currency_code(currency);
  r.mutable_item()->mutable_unit_price()->set_units(units);
  r.mutable_item()->mutable_unit_price()->set_nanos(nanos);
  r.mutable_seller()->set_kind(v1::SELLER_KIND_CROSS_BORDER);
  r.set_destination_country("ID");
  r.set_channel(v1::CHANNEL_CHECKOUT);
  r.mutable_evaluation_time()->set_seconds(absl::ToUnixSeconds(at));
  return r;
}

std::string Text(const google::protobuf::Message& m) {
  return m.ShortDebugString();
}

TEST(DatedFxTest, PriceIsJudgedAtTheRateOfItsInstant) {
  auto snapshot = Snapshot(/*fallback=*/true);
  ASSERT_TRUE(snapshot != nullptr);
  struct Case {
    const char* name;
    std::string currency;
    int64_t units;
    int32_t nanos;
    const char* at;
    v1::Effect effect;
    std::string conversion;  // Decision.price_conversion, text format
  };
  const std::vector<Case> cases = {
      {"week 1: IDR 1,591,199 < 100 x 15912", "IDR", 1591199, 0,
       "2023-11-07T23:59:59+07:00", v1::EFFECT_DENY,
       "converted_price { currency_code: \"USD\" units: 99 nanos: 999937154 } "
       "rates { unit_currency: \"USD\" quote_currency: \"IDR\" rate: "
       "\"15912\" } rate_source: \"KMK week 1\" rates_effective_from { "
       "seconds: 1698771600 } rates_effective_until { seconds: 1699376400 }"},
      {"week 2 from its first instant: the same price is above 100 x 15879",
       "IDR", 1591199, 0, "2023-11-08T00:00:00+07:00", v1::EFFECT_ALLOW,
       "converted_price { currency_code: \"USD\" units: 100 nanos: 207758674 } "
       "rates { unit_currency: \"USD\" quote_currency: \"IDR\" rate: "
       "\"15879\" } rate_source: \"KMK week 2\" rates_effective_from { "
       "seconds: 1699376400 } rates_effective_until { seconds: 1699981200 }"},
      {"week 2, exactly IDR 1,587,900: not below", "IDR", 1587900, 0,
       "2023-11-10T10:00:00+07:00", v1::EFFECT_ALLOW,
       "converted_price { currency_code: \"USD\" units: 100 } rates { "
       "unit_currency: \"USD\" quote_currency: \"IDR\" rate: \"15879\" } "
       "rate_source: \"KMK week 2\" rates_effective_from { seconds: "
       "1699376400 } rates_effective_until { seconds: 1699981200 }"},
      {"week 2, one nano below", "IDR", 1587899, 999999999,
       "2023-11-10T10:00:00+07:00", v1::EFFECT_DENY,
       "converted_price { currency_code: \"USD\" units: 99 nanos: 999999999 } "
       "rates { unit_currency: \"USD\" quote_currency: \"IDR\" rate: "
       "\"15879\" } rate_source: \"KMK week 2\" rates_effective_from { "
       "seconds: 1699376400 } rates_effective_until { seconds: 1699981200 }"},
      {"week 2, CNY: both rates in rupiah", "CNY", 732, 390000000,
       "2023-11-10T10:00:00+07:00", v1::EFFECT_DENY,
       "converted_price { currency_code: \"USD\" units: 99 nanos: 999208709 } "
       "rates { unit_currency: \"CNY\" quote_currency: \"IDR\" rate: "
       "\"2168.09\" } rates { unit_currency: \"USD\" quote_currency: \"IDR\" "
       "rate: \"15879\" } rate_source: \"KMK week 2\" rates_effective_from { "
       "seconds: 1699376400 } rates_effective_until { seconds: 1699981200 }"},
      {"the gap: Manifest.fx, per USD, for the gap's window", "IDR", 1549999, 0,
       "2023-12-01T10:00:00+07:00", v1::EFFECT_DENY,
       "converted_price { currency_code: \"USD\" units: 99 nanos: 999935483 } "
       "rates { unit_currency: \"USD\" quote_currency: \"IDR\" rate: "
       "\"15500\" } rate_source: \"fixed example rates\" "
       "rates_effective_from { seconds: 1699981200 } rates_effective_until { "
       "seconds: 1704819600 }"},
      {"the open-ended table: no end", "IDR", 1550300, 0,
       "2025-06-01T10:00:00+07:00", v1::EFFECT_ALLOW,
       "converted_price { currency_code: \"USD\" units: 100 } rates { "
       "unit_currency: \"USD\" quote_currency: \"IDR\" rate: \"15503\" } "
       "rate_source: \"KMK open\" rates_effective_from { seconds: "
       "1704819600 }"},
      {"before the first table: Manifest.fx, no start", "IDR", 1, 0,
       "2023-10-01T10:00:00+07:00", v1::EFFECT_DENY,
       "converted_price { currency_code: \"USD\" nanos: 64516 } rates { "
       "unit_currency: \"USD\" quote_currency: \"IDR\" rate: \"15500\" } "
       "rate_source: \"fixed example rates\" rates_effective_until { "
       "seconds: 1698771600 }"},
      {"a converted price beyond Money saturates", "CNY", 10'000'000'000'000, 0,
       "2023-10-01T10:00:00+07:00", v1::EFFECT_ALLOW,
       "converted_price { currency_code: \"USD\" units: 9223372036854775807 "
       "nanos: 999999999 } rates { unit_currency: \"USD\" quote_currency: "
       "\"CNY\" rate: \"0.000001\" } rate_source: \"fixed example rates\" "
       "rates_effective_until { seconds: 1698771600 }"},
      {"a USD price converts nothing", "USD", 99, 0,
       "2023-11-10T10:00:00+07:00", v1::EFFECT_DENY, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Decision decision;
    absl::Status status = eval::Evaluate(
        *snapshot, Request(c.currency, c.units, c.nanos, At(c.at)),
        absl::UnixEpoch(), &decision);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(decision.effect(), c.effect);
    EXPECT_EQ(decision.has_price_conversion(), !c.conversion.empty());
    EXPECT_EQ(Text(decision.price_conversion()), c.conversion);
  }
}

TEST(DatedFxTest, NoRateInForceIsFailedPrecondition) {
  auto snapshot = Snapshot(/*fallback=*/false);
  ASSERT_TRUE(snapshot != nullptr);
  for (const char* at : {"2023-10-01T10:00:00+07:00",     // before the first
                         "2023-11-15T00:00:00+07:00",     // the gap's start
                         "2024-01-09T23:59:59+07:00"}) {  // its last second
    SCOPED_TRACE(at);
    v1::Decision decision;
    absl::Status status =
        eval::Evaluate(*snapshot, Request("IDR", 1000, 0, At(at)),
                       absl::UnixEpoch(), &decision);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(status.message()),
                HasSubstr(absl::StrCat(
                    "item.unit_price: bundle \"fx-test\" revision 7 has no "
                    "exchange rates in force at ",
                    policy::FormatRfc3339(At(at)),
                    ", so \"IDR\" cannot be converted to \"USD\" for rule "
                    "\"min-price\"")));
  }
  // A USD price needs no rate, even in the gap.
  v1::Decision decision;
  EXPECT_TRUE(eval::Evaluate(*snapshot,
                             Request("USD", 5, 0, At("2023-12-01T00:00:00Z")),
                             absl::UnixEpoch(), &decision)
                  .ok());
  EXPECT_EQ(decision.effect(), v1::EFFECT_DENY);
}

TEST(DatedFxTest, CurrencyTheWeeksTableDoesNotRateIsInvalidArgument) {
  auto snapshot = Snapshot(/*fallback=*/true);
  ASSERT_TRUE(snapshot != nullptr);
  v1::Decision decision;
  absl::Status status = eval::Evaluate(
      *snapshot, Request("CNY", 10, 0, At("2023-11-07T10:00:00+07:00")),
      absl::UnixEpoch(), &decision);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "item.unit_price.currency_code: \"CNY\" has no exchange rate in "
            "bundle \"fx-test\" revision 7 at 2023-11-07T03:00:00Z (rate "
            "table rates/kmk.textproto:2), which rule \"min-price\" needs");
}

TEST(DatedFxTest, CacheTtlEndsAtTheNextRateChangeOnlyWhenAPriceConverted) {
  auto snapshot = Snapshot(/*fallback=*/true);
  ASSERT_TRUE(snapshot != nullptr);
  const absl::Time week2_end = At("2023-11-15T00:00:00+07:00");
  struct Case {
    const char* name;
    std::string currency;
    absl::Time at;
    absl::Duration want;
  };
  const std::vector<Case> cases = {
      {"90 s before the rate changes", "IDR", week2_end - absl::Seconds(90),
       absl::Seconds(90)},
      {"one nano before", "IDR", week2_end - absl::Nanoseconds(1),
       absl::Nanoseconds(1)},
      {"a day before: the default TTL", "IDR", week2_end - absl::Hours(24),
       absl::Hours(1)},
      {"a USD price does not depend on the rate", "USD",
       week2_end - absl::Seconds(90), absl::Hours(1)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::IsImportAllowedRequest request = Request(c.currency, 10, 0, c.at);
    request.mutable_evaluation_time()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(
            c.at - absl::FromUnixSeconds(absl::ToUnixSeconds(c.at)))));
    eval::Verdict verdict;
    ASSERT_TRUE(
        eval::DecideRequest(*snapshot, request, absl::UnixEpoch(), &verdict)
            .ok());
    EXPECT_EQ(verdict.cache_ttl, c.want);
  }
}

// A rule ranked below the deciding one that is left out for want of a rate
// would match once rates are in force: the answer (its matched_rule_ids)
// may change there, so it is not cached past it.
TEST(DatedFxTest, CacheTtlEndsWhereMissingRatesBegin) {
  std::vector<policy::SourceFile> files = {
      {"manifest.textproto", kManifestHead},
      {"rules/r.textproto", absl::StrCat(kRules, R"pb(
         rules {
           id: "tees-closed"
           effect: EFFECT_DENY
           priority: 10
           reason_code: "CLOSED"
           message: "closed"
           match { hs_codes: [ "8518" ] }
         }
       )pb")},
      {"rates/kmk.textproto", kRates}};
  auto parsed = policy::ParseBundle(files);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto snapshot = compiler::Compile(*parsed, it::RealIsoCodes());
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  // In the gap before 2024-01-10 00:00 WIB, 90 s before rates resume.
  const absl::Time at = At("2024-01-10T00:00:00+07:00") - absl::Seconds(90);
  eval::Verdict verdict;
  ASSERT_TRUE(eval::DecideRequest(**snapshot, Request("IDR", 10, 0, at),
                                  absl::UnixEpoch(), &verdict)
                  .ok());
  ASSERT_TRUE(verdict.rule != nullptr);
  EXPECT_EQ(verdict.rule->id, "tees-closed");
  EXPECT_EQ(verdict.matched.size(), 1u);  // min-price left out
  EXPECT_EQ(verdict.cache_ttl, absl::Seconds(90));
  EXPECT_TRUE(verdict.conversion.period == nullptr);
}

}  // namespace
}  // namespace importgate
