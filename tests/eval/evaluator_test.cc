#include "server/eval/evaluator.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/compiler/snapshot.h"
#include "tests/testing/test_bundles.h"

namespace importgate {
namespace {

namespace it = ::importgate::testing;
using it::MustCompile;
namespace v1 = ::importgate::v1;
using compiler::PolicySnapshot;
using ::testing::HasSubstr;

constexpr char kDeny[] = "EFFECT_DENY";
constexpr char kAllow[] = "EFFECT_ALLOW";

// One rule in text format: `match` is the inside of its match block and
// `extra` any further Rule fields (unless, effective dates, cache_ttl).
std::string Rule(absl::string_view id, absl::string_view effect, int priority,
                 absl::string_view match, absl::string_view extra = "") {
  return absl::StrCat("rules {\n  id: \"", id, "\"\n  effect: ", effect,
                      "\n  priority: ", priority,
                      "\n  reason_code: \"TEST_REASON\"\n  message: \"test\"",
                      "\n  match { ", match, " }\n  ", extra, "\n}\n");
}

absl::Time Rfc3339(absl::string_view text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    ADD_FAILURE() << "bad time in the test itself: " << text << ": " << error;
  }
  return t;
}

// Requests are valid by default: a cross-border seller registered in CN
// listing an item of CN origin into ID, evaluated at kDefaultAt, with no HS
// code, category, price or attributes (each case sets what it needs).
constexpr char kDefaultAt[] = "2024-03-01T10:00:00+07:00";

class RequestBuilder {
 public:
  RequestBuilder() {
    v1::Item* item = request_.mutable_item();
    item->set_sku("sku-1");
    item->set_origin_country("CN");
    item->set_quantity(1);
    v1::Seller* seller = request_.mutable_seller();
    seller->set_id("seller-1");
    seller->set_kind(v1::SELLER_KIND_CROSS_BORDER);
    seller->set_country("CN");
    request_.set_destination_country("ID");
    request_.set_channel(v1::CHANNEL_LISTING);
    At(kDefaultAt);
  }

  RequestBuilder& Hs(const std::string& hs_code) {
    request_.mutable_item()->set_hs_code(hs_code);
    return *this;
  }
  RequestBuilder& Category(const std::string& category) {
    request_.mutable_item()->set_category(category);
    return *this;
  }
  // "" leaves the fact out.
  RequestBuilder& Origin(const std::string& country) {
    request_.mutable_item()->set_origin_country(country);
    return *this;
  }
  RequestBuilder& Kind(v1::SellerKind kind) {
    request_.mutable_seller()->set_kind(kind);
    return *this;
  }
  // "" leaves the fact out.
  RequestBuilder& SellerCountry(const std::string& country) {
    request_.mutable_seller()->set_country(country);
    return *this;
  }
  RequestBuilder& Destination(const std::string& country) {
    request_.set_destination_country(country);
    return *this;
  }
  RequestBuilder& Via(v1::Channel channel) {
    request_.set_channel(channel);
    return *this;
  }
  RequestBuilder& Price(const std::string& currency, int64_t units,
                        int32_t nanos = 0) {
    v1::Money* price = request_.mutable_item()->mutable_unit_price();
    price->set_currency_code(currency);
    price->set_units(units);
    price->set_nanos(nanos);
    return *this;
  }
  RequestBuilder& Attribute(const std::string& key, const std::string& value) {
    (*request_.mutable_attributes())[key] = value;
    return *this;
  }
  RequestBuilder& At(absl::string_view rfc3339) {
    const absl::Time t = Rfc3339(rfc3339);
    const int64_t seconds = absl::ToUnixSeconds(t);
    request_.mutable_evaluation_time()->set_seconds(seconds);
    request_.mutable_evaluation_time()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
    return *this;
  }
  RequestBuilder& NoEvaluationTime() {
    request_.clear_evaluation_time();
    return *this;
  }

  v1::IsImportAllowedRequest Build() const { return request_; }

 private:
  v1::IsImportAllowedRequest request_;
};

// `now` only matters for requests without an evaluation_time.
absl::StatusOr<v1::Decision> EvaluateRequest(
    const PolicySnapshot& snapshot, const v1::IsImportAllowedRequest& request,
    absl::Time now = absl::UnixEpoch()) {
  v1::Decision decision;
  absl::Status status = eval::Evaluate(snapshot, request, now, &decision);
  if (!status.ok()) return status;
  return decision;
}

std::vector<std::string> MatchedIds(const v1::Decision& decision) {
  return std::vector<std::string>(decision.matched_rule_ids().begin(),
                                  decision.matched_rule_ids().end());
}

absl::Duration CacheTtl(const v1::Decision& decision) {
  return absl::Seconds(decision.cache_ttl().seconds()) +
         absl::Nanoseconds(decision.cache_ttl().nanos());
}

struct DecisionCase {
  std::string name;
  v1::IsImportAllowedRequest request;
  std::string want_rule_id;               // "": the bundle default decides
  std::vector<std::string> want_matched;  // in resolution order
};

void ExpectDecisions(const PolicySnapshot& snapshot,
                     const std::vector<DecisionCase>& cases) {
  for (const DecisionCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto decision = EvaluateRequest(snapshot, c.request);
    if (!decision.ok()) {
      ADD_FAILURE() << decision.status();
      continue;
    }
    EXPECT_EQ(decision->rule_id(), c.want_rule_id);
    EXPECT_EQ(MatchedIds(*decision), c.want_matched);
    if (c.want_rule_id.empty()) {
      EXPECT_EQ(decision->effect(), snapshot.default_effect);
      EXPECT_EQ(decision->reason_code(), snapshot.default_reason_code);
    }
    EXPECT_EQ(decision->allowed(), decision->effect() == v1::EFFECT_ALLOW);
  }
}

// --- Matchers -------------------------------------------------------------

TEST(EvaluateMatchersTest, ProductSelector) {
  auto snapshot = MustCompile(
      Rule("hs-6109", kDeny, 0, R"pb(hs_codes: [ "6109" ])pb") +
      Rule("hs-50-52", kDeny, 0, R"pb(hs_codes: [ "50-52" ])pb") +
      Rule("hs-8517.13", kDeny, 0, R"pb(hs_codes: [ "8517.13" ])pb") +
      Rule("hs-0101", kDeny, 0, R"pb(hs_codes: [ "0101" ])pb") +
      Rule("cat-fashion", kDeny, 0, R"pb(categories: [ "fashion" ])pb") +
      Rule("cat-home-textiles", kDeny, 0,
           R"pb(categories: [ "home/textiles" ])pb") +
      Rule("toys-hs-or-cat", kDeny, 0, R"pb(hs_codes: [ "9503" ]
                                            categories: [ "toys" ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  using R = RequestBuilder;
  ExpectDecisions(
      *snapshot,
      {
          {"hs prefix, dotted tariff line",
           R().Hs("6109.10.00").Build(),
           "hs-6109",
           {"hs-6109"}},
          {"hs prefix, undotted subheading",
           R().Hs("610910").Build(),
           "hs-6109",
           {"hs-6109"}},
          {"hs prefix, the heading itself",
           R().Hs("6109").Build(),
           "hs-6109",
           {"hs-6109"}},
          {"hs code shorter than the prefix", R().Hs("61").Build(), "", {}},
          {"hs sibling heading", R().Hs("6110.20").Build(), "", {}},
          {"hs range, low end",
           R().Hs("5001").Build(),
           "hs-50-52",
           {"hs-50-52"}},
          {"hs range, middle", R().Hs("51").Build(), "hs-50-52", {"hs-50-52"}},
          {"hs range, high end",
           R().Hs("5208.11.00").Build(),
           "hs-50-52",
           {"hs-50-52"}},
          {"hs range, just below", R().Hs("4911").Build(), "", {}},
          {"hs range, just above", R().Hs("5301").Build(), "", {}},
          {"dotted pattern",
           R().Hs("8517.13.00").Build(),
           "hs-8517.13",
           {"hs-8517.13"}},
          {"dotted pattern, sibling", R().Hs("8517.12").Build(), "", {}},
          {"leading-zero heading",
           R().Hs("0101.21.00").Build(),
           "hs-0101",
           {"hs-0101"}},
          {"leading zero is significant", R().Hs("1012").Build(), "", {}},
          {"category equal",
           R().Category("fashion").Build(),
           "cat-fashion",
           {"cat-fashion"}},
          {"category below",
           R().Category("fashion/women/dresses").Build(),
           "cat-fashion",
           {"cat-fashion"}},
          {"category sharing a prefix but not a segment",
           R().Category("fashionista").Build(),
           "",
           {}},
          {"category below a non-segment prefix",
           R().Category("fashionista/collectibles").Build(),
           "",
           {}},
          {"category matched from the start only",
           R().Category("pets/fashion").Build(),
           "",
           {}},
          {"two-segment category, below",
           R().Category("home/textiles/curtains").Build(),
           "cat-home-textiles",
           {"cat-home-textiles"}},
          {"parent of a two-segment category",
           R().Category("home").Build(),
           "",
           {}},
          {"sibling of a two-segment category",
           R().Category("home/textile").Build(),
           "",
           {}},
          {"hs or category: by hs",
           R().Hs("9503.00").Build(),
           "toys-hs-or-cat",
           {"toys-hs-or-cat"}},
          {"hs or category: by category",
           R().Category("toys/blocks").Build(),
           "toys-hs-or-cat",
           {"toys-hs-or-cat"}},
          {"hs or category: category matches although hs does not",
           R().Hs("9999").Category("toys").Build(),
           "toys-hs-or-cat",
           {"toys-hs-or-cat"}},
          {"hs and category select two rules",
           R().Hs("6109.10").Category("fashion/men").Build(),
           "cat-fashion",
           {"cat-fashion", "hs-6109"}},
      });
}

// Lists of more than a few prefixes (ranges expand to one each) are
// searched, not scanned: the same answers either way, including codes with
// leading zeros and prefixes of every length.
TEST(EvaluateMatchersTest, LongHsPrefixListsMatchLikeShortOnes) {
  auto snapshot = MustCompile(
      Rule("not-recorded", kDeny, 0,
           R"pb(hs_codes: [ "01-36", "4902", "4904-4999", "8501-8522",
                            "852321", "8523.41" ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  struct Case {
    const char* hs;
    bool matches;
  };
  const std::vector<Case> cases = {
      {"01", true},         {"0101.21", true},  {"36", true},
      {"3601.00", true},    {"37", false},      {"3706.10", false},
      {"4901.99", false},   {"4902.10", true},  {"4903.00", false},
      {"4911.99", true},    {"49", false},      {"8522.90", true},
      {"8523.21.00", true}, {"8523.41", true},  {"8523.49.20", false},
      {"8523.4", false},    {"852341", true},   {"8524.11", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.hs);
    v1::Decision decision;
    ASSERT_TRUE(eval::Evaluate(*snapshot, RequestBuilder().Hs(c.hs).Build(),
                               absl::UnixEpoch(), &decision)
                    .ok());
    EXPECT_EQ(decision.rule_id() == "not-recorded", c.matches);
  }
}

TEST(EvaluateMatchersTest, FactConditions) {
  auto snapshot = MustCompile(
      Rule("origin-in", kDeny, 0, R"pb(hs_codes: [ "10" ]
                                       origin_countries: [ "CN", "VN" ])pb") +
      Rule("origin-not-in", kDeny, 0,
           R"pb(hs_codes: [ "11" ]
                origin_countries_not: [ "CN" ])pb") +
      Rule("seller-domestic", kDeny, 0,
           R"pb(hs_codes: [ "12" ]
                seller_kinds: [ SELLER_KIND_DOMESTIC ])pb") +
      Rule("dest-sg-my", kDeny, 0,
           R"pb(hs_codes: [ "13" ]
                destination_countries: [ "SG", "MY" ])pb") +
      Rule("checkout-only", kDeny, 0,
           R"pb(hs_codes: [ "14" ]
                channels: [ CHANNEL_CHECKOUT ])pb") +
      Rule("seller-in-sg", kDeny, 0, R"pb(hs_codes: [ "15" ]
                                          seller_countries: [ "SG" ])pb") +
      Rule("attr-equals", kDeny, 0,
           R"pb(hs_codes: [ "16" ]
                attributes { key: "halal" equals: "true" })pb") +
      Rule("attr-in", kDeny, 0,
           R"pb(hs_codes: [ "17" ]
                attributes {
                  key: "grade"
                  in { values: [ "a", "b" ] }
                })pb") +
      Rule("attr-present", kDeny, 0,
           R"pb(hs_codes: [ "18" ]
                attributes { key: "brand" present: true })pb") +
      Rule("attr-absent", kDeny, 0,
           R"pb(hs_codes: [ "19" ]
                attributes { key: "license" present: false })pb") +
      Rule("no-product-to-jp", kDeny, 0,
           R"pb(destination_countries: [ "JP" ]
                channels: [ CHANNEL_CHECKOUT ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  using R = RequestBuilder;
  ExpectDecisions(
      *snapshot,
      {
          {"origin in: CN",
           R().Hs("1001").Origin("CN").Build(),
           "origin-in",
           {"origin-in"}},
          {"origin in: VN",
           R().Hs("1001").Origin("VN").Build(),
           "origin-in",
           {"origin-in"}},
          {"origin in: TH is not listed",
           R().Hs("1001").Origin("TH").Build(),
           "",
           {}},
          {"origin not in: VN",
           R().Hs("1101").Origin("VN").Build(),
           "origin-not-in",
           {"origin-not-in"}},
          {"origin not in: CN is excluded",
           R().Hs("1101").Origin("CN").Build(),
           "",
           {}},
          {"seller kind: domestic",
           R().Hs("1201").Kind(v1::SELLER_KIND_DOMESTIC).Build(),
           "seller-domestic",
           {"seller-domestic"}},
          {"seller kind: cross-border",
           R().Hs("1201").Kind(v1::SELLER_KIND_CROSS_BORDER).Build(),
           "",
           {}},
          {"destination: SG",
           R().Hs("1301").Destination("SG").Build(),
           "dest-sg-my",
           {"dest-sg-my"}},
          {"destination: MY",
           R().Hs("1301").Destination("MY").Build(),
           "dest-sg-my",
           {"dest-sg-my"}},
          {"destination: ID", R().Hs("1301").Destination("ID").Build(), "", {}},
          {"channel: checkout",
           R().Hs("1401").Via(v1::CHANNEL_CHECKOUT).Build(),
           "checkout-only",
           {"checkout-only"}},
          {"channel: listing",
           R().Hs("1401").Via(v1::CHANNEL_LISTING).Build(),
           "",
           {}},
          {"seller country: SG",
           R().Hs("1501").SellerCountry("SG").Build(),
           "seller-in-sg",
           {"seller-in-sg"}},
          {"seller country: CN",
           R().Hs("1501").SellerCountry("CN").Build(),
           "",
           {}},
          {"attribute equals",
           R().Hs("1601").Attribute("halal", "true").Build(),
           "attr-equals",
           {"attr-equals"}},
          {"attribute equals is case-sensitive",
           R().Hs("1601").Attribute("halal", "TRUE").Build(),
           "",
           {}},
          {"attribute equals, key is case-sensitive",
           R().Hs("1601").Attribute("Halal", "true").Build(),
           "",
           {}},
          {"attribute equals, absent", R().Hs("1601").Build(), "", {}},
          {"attribute in",
           R().Hs("1701").Attribute("grade", "b").Build(),
           "attr-in",
           {"attr-in"}},
          {"attribute in, other value",
           R().Hs("1701").Attribute("grade", "c").Build(),
           "",
           {}},
          {"attribute in, absent", R().Hs("1701").Build(), "", {}},
          {"attribute present",
           R().Hs("1801").Attribute("brand", "acme").Build(),
           "attr-present",
           {"attr-present"}},
          {"attribute present with an empty value",
           R().Hs("1801").Attribute("brand", "").Build(),
           "attr-present",
           {"attr-present"}},
          {"attribute present, absent", R().Hs("1801").Build(), "", {}},
          {"attribute absent",
           R().Hs("1901").Build(),
           "attr-absent",
           {"attr-absent"}},
          {"attribute absent, present",
           R().Hs("1901").Attribute("license", "x").Build(),
           "",
           {}},
          {"attribute absent, present but empty",
           R().Hs("1901").Attribute("license", "").Build(),
           "",
           {}},
          {"rule without product selector, by hs",
           R().Hs("9999").Destination("JP").Via(v1::CHANNEL_CHECKOUT).Build(),
           "no-product-to-jp",
           {"no-product-to-jp"}},
          {"rule without product selector, by category",
           R().Category("books")
               .Destination("JP")
               .Via(v1::CHANNEL_CHECKOUT)
               .Build(),
           "no-product-to-jp",
           {"no-product-to-jp"}},
          {"rule without product selector, condition fails",
           R().Hs("9999").Destination("JP").Via(v1::CHANNEL_LISTING).Build(),
           "",
           {}},
          {"indexed and unindexed rules merge in resolution order",
           R().Hs("1001").Destination("JP").Via(v1::CHANNEL_CHECKOUT).Build(),
           "no-product-to-jp",
           {"no-product-to-jp", "origin-in"}},
      });
}

// The index screens candidates with conditions packed into each posting:
// up to two destinations, one origin list of up to two countries. Past those
// limits, and for rules with conditions the posting lacks, the full rule is
// checked. Both paths must decide alike, and a missing fact must still be
// reported.
TEST(EvaluateMatchersTest, ScreenedAndFullyCheckedConditionsAgree) {
  auto snapshot = MustCompile(
      Rule("dest-3", kDeny, 0,
           R"pb(hs_codes: [ "20" ]
                destination_countries: [ "SG", "MY", "TH" ])pb") +
      Rule("origin-3", kDeny, 0,
           R"pb(hs_codes: [ "21" ]
                origin_countries: [ "CN", "VN", "TH" ])pb") +
      Rule("origin-not-3", kDeny, 0,
           R"pb(hs_codes: [ "22" ]
                origin_countries_not: [ "CN", "VN", "TH" ])pb") +
      Rule("origin-in-and-not", kDeny, 0,
           R"pb(hs_codes: [ "23" ]
                origin_countries: [ "CN", "VN" ]
                origin_countries_not: [ "VN" ])pb") +
      Rule("origin-and-price", kDeny, 0,
           R"pb(hs_codes: [ "24" ]
                origin_countries: [ "CN" ]
                unit_price { below { currency_code: "USD" units: 10 } })pb") +
      Rule("dest-2-origin-not-2", kDeny, 0,
           R"pb(hs_codes: [ "25" ]
                destination_countries: [ "ID", "MY" ]
                origin_countries_not: [ "CN", "VN" ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  using R = RequestBuilder;
  ExpectDecisions(
      *snapshot,
      {
          {"3 destinations: SG",
           R().Hs("2001").Destination("SG").Build(),
           "dest-3",
           {"dest-3"}},
          {"3 destinations: TH",
           R().Hs("2001").Destination("TH").Build(),
           "dest-3",
           {"dest-3"}},
          {"3 destinations: ID",
           R().Hs("2001").Destination("ID").Build(),
           "",
           {}},
          {"3 origins: TH",
           R().Hs("2101").Origin("TH").Build(),
           "origin-3",
           {"origin-3"}},
          {"3 origins: JP", R().Hs("2101").Origin("JP").Build(), "", {}},
          {"3 origins excluded: JP",
           R().Hs("2201").Origin("JP").Build(),
           "origin-not-3",
           {"origin-not-3"}},
          {"3 origins excluded: TH",
           R().Hs("2201").Origin("TH").Build(),
           "",
           {}},
          {"origin in and not in: CN",
           R().Hs("2301").Origin("CN").Build(),
           "origin-in-and-not",
           {"origin-in-and-not"}},
          {"origin in and not in: VN",
           R().Hs("2301").Origin("VN").Build(),
           "",
           {}},
          {"origin and price: CN, cheap",
           R().Hs("2401").Origin("CN").Price("USD", 5).Build(),
           "origin-and-price",
           {"origin-and-price"}},
          {"origin and price: CN, dear",
           R().Hs("2401").Origin("CN").Price("USD", 50).Build(),
           "",
           {}},
          {"origin and price: VN needs no price",
           R().Hs("2401").Origin("VN").Build(),
           "",
           {}},
          {"2 destinations, 2 excluded origins: MY from TH",
           R().Hs("2501").Destination("MY").Origin("TH").Build(),
           "dest-2-origin-not-2",
           {"dest-2-origin-not-2"}},
          {"2 destinations, 2 excluded origins: MY from VN",
           R().Hs("2501").Destination("MY").Origin("VN").Build(),
           "",
           {}},
          {"2 destinations, 2 excluded origins: SG from TH",
           R().Hs("2501").Destination("SG").Origin("TH").Build(),
           "",
           {}},
      });

  // Facts the request lacks are reported on both paths.
  struct MissingCase {
    std::string name;
    v1::IsImportAllowedRequest request;
    std::string field;
  };
  for (const MissingCase& c : std::vector<MissingCase>{
           {"3 origins", R().Hs("2101").Origin("").Build(),
            "item.origin_country"},
           {"2 excluded origins", R().Hs("2501").Origin("").Build(),
            "item.origin_country"},
           {"price after a screened origin", R().Hs("2401").Build(),
            "item.unit_price"},
       }) {
    SCOPED_TRACE(c.name);
    auto decision = EvaluateRequest(*snapshot, c.request);
    EXPECT_EQ(decision.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(decision.status().message(), c.field + ":"))
        << decision.status();
  }
}

TEST(EvaluateMatchersTest, UnitPriceAcrossCurrencies) {
  // Manifest FX: USD base, IDR 15500, CNY 7.2.
  auto snapshot =
      MustCompile(Rule("below-usd-100", kDeny, 0,
                       R"pb(hs_codes: [ "20" ]
                            unit_price {
                              below { currency_code: "USD" units: 100 }
                            })pb") +
                  Rule("at-least-usd-100", kDeny, 0,
                       R"pb(hs_codes: [ "21" ]
                            unit_price {
                              at_least { currency_code: "USD" units: 100 }
                            })pb") +
                  Rule("below-cny-719.99", kDeny, 0,
                       R"pb(hs_codes: [ "22" ]
                            unit_price {
                              below {
                                currency_code: "CNY"
                                units: 719
                                nanos: 990000000
                              }
                            })pb") +
                  Rule("below-idr-1550000", kDeny, 0,
                       R"pb(hs_codes: [ "23" ]
                            unit_price {
                              below { currency_code: "IDR" units: 1550000 }
                            })pb"));
  ASSERT_TRUE(snapshot != nullptr);
  using R = RequestBuilder;
  const std::vector<std::string> below_usd = {"below-usd-100"};
  const std::vector<std::string> at_least_usd = {"at-least-usd-100"};
  const std::vector<std::string> below_cny = {"below-cny-719.99"};
  const std::vector<std::string> below_idr = {"below-idr-1550000"};
  ExpectDecisions(
      *snapshot,
      {
          // below USD 100
          {"USD 99.99 < USD 100",
           R().Hs("2001").Price("USD", 99, 990'000'000).Build(),
           "below-usd-100", below_usd},
          {"USD 99.999999999 < USD 100",
           R().Hs("2001").Price("USD", 99, 999'999'999).Build(),
           "below-usd-100", below_usd},
          {"USD 100 is not below USD 100",
           R().Hs("2001").Price("USD", 100).Build(),
           "",
           {}},
          {"USD 100.000000001",
           R().Hs("2001").Price("USD", 100, 1).Build(),
           "",
           {}},
          {"USD 0", R().Hs("2001").Price("USD", 0).Build(), "below-usd-100",
           below_usd},
          {"IDR 1549999 < USD 100",
           R().Hs("2001").Price("IDR", 1'549'999).Build(), "below-usd-100",
           below_usd},
          {"IDR 1549999.99 < USD 100",
           R().Hs("2001").Price("IDR", 1'549'999, 990'000'000).Build(),
           "below-usd-100", below_usd},
          {"IDR 1550000 == USD 100",
           R().Hs("2001").Price("IDR", 1'550'000).Build(),
           "",
           {}},
          {"CNY 719.99 < USD 100",
           R().Hs("2001").Price("CNY", 719, 990'000'000).Build(),
           "below-usd-100", below_usd},
          {"CNY 720 == USD 100",
           R().Hs("2001").Price("CNY", 720).Build(),
           "",
           {}},
          // at least USD 100
          {"at least: USD 100", R().Hs("2101").Price("USD", 100).Build(),
           "at-least-usd-100", at_least_usd},
          {"at least: USD 99.99",
           R().Hs("2101").Price("USD", 99, 990'000'000).Build(),
           "",
           {}},
          {"at least: IDR 1550000",
           R().Hs("2101").Price("IDR", 1'550'000).Build(), "at-least-usd-100",
           at_least_usd},
          {"at least: IDR 1549999",
           R().Hs("2101").Price("IDR", 1'549'999).Build(),
           "",
           {}},
          {"at least: CNY 720", R().Hs("2101").Price("CNY", 720).Build(),
           "at-least-usd-100", at_least_usd},
          {"at least: CNY 719.99",
           R().Hs("2101").Price("CNY", 719, 990'000'000).Build(),
           "",
           {}},
          {"at least: USD 1000000",
           R().Hs("2101").Price("USD", 1'000'000).Build(), "at-least-usd-100",
           at_least_usd},
          // below CNY 719.99 (= USD 99.99861..., = IDR 1549978.47...)
          {"CNY 719.98 < CNY 719.99",
           R().Hs("2201").Price("CNY", 719, 980'000'000).Build(),
           "below-cny-719.99", below_cny},
          {"CNY 719.99 is not below CNY 719.99",
           R().Hs("2201").Price("CNY", 719, 990'000'000).Build(),
           "",
           {}},
          {"IDR 1549978 < CNY 719.99",
           R().Hs("2201").Price("IDR", 1'549'978).Build(), "below-cny-719.99",
           below_cny},
          {"IDR 1549979 > CNY 719.99",
           R().Hs("2201").Price("IDR", 1'549'979).Build(),
           "",
           {}},
          {"USD 99.99 < CNY 719.99",
           R().Hs("2201").Price("USD", 99, 990'000'000).Build(),
           "below-cny-719.99", below_cny},
          {"USD 99.999 > CNY 719.99",
           R().Hs("2201").Price("USD", 99, 999'000'000).Build(),
           "",
           {}},
          // below IDR 1550000 (= USD 100 = CNY 720)
          {"USD 99.99 < IDR 1550000",
           R().Hs("2301").Price("USD", 99, 990'000'000).Build(),
           "below-idr-1550000", below_idr},
          {"USD 100 == IDR 1550000",
           R().Hs("2301").Price("USD", 100).Build(),
           "",
           {}},
          {"CNY 720 == IDR 1550000",
           R().Hs("2301").Price("CNY", 720).Build(),
           "",
           {}},
          {"CNY 719.99 < IDR 1550000",
           R().Hs("2301").Price("CNY", 719, 990'000'000).Build(),
           "below-idr-1550000", below_idr},
      });
}

TEST(EvaluateMatchersTest, UnlessExceptions) {
  auto snapshot = MustCompile(
      Rule("textiles", kDeny, 0, R"pb(hs_codes: [ "61" ])pb",
           R"pb(unless { hs_codes: [ "6109" ] }
                unless { attributes { key: "exempt" equals: "yes" } }
                unless {
                  categories: [ "fashion/vintage" ]
                  destination_countries: [ "SG" ]
                })pb"));
  ASSERT_TRUE(snapshot != nullptr);
  using R = RequestBuilder;
  const std::vector<std::string> textiles = {"textiles"};
  ExpectDecisions(
      *snapshot,
      {
          {"no exception holds", R().Hs("6110").Build(), "textiles", textiles},
          {"exempt by hs", R().Hs("6109.10").Build(), "", {}},
          {"exempt by attribute",
           R().Hs("6110").Attribute("exempt", "yes").Build(),
           "",
           {}},
          {"attribute with another value",
           R().Hs("6110").Attribute("exempt", "no").Build(), "textiles",
           textiles},
          {"exception is a conjunction: category alone is not enough",
           R().Hs("6110").Category("fashion/vintage/coats").Build(), "textiles",
           textiles},
          {"exception is a conjunction: destination alone is not enough",
           R().Hs("6110").Destination("SG").Build(), "textiles", textiles},
          {"exempt by category and destination",
           R().Hs("6110")
               .Category("fashion/vintage/coats")
               .Destination("SG")
               .Build(),
           "",
           {}},
      });
}

TEST(EvaluateMatchersTest, EffectiveWindowIsHalfOpen) {
  auto snapshot =
      MustCompile(Rule("window", kDeny, 0, R"pb(hs_codes: [ "30" ])pb",
                       R"pb(effective_from: "2024-01-01T00:00:00+07:00"
                            effective_until: "2024-02-01T00:00:00+07:00")pb"));
  ASSERT_TRUE(snapshot != nullptr);
  using R = RequestBuilder;
  const std::vector<std::string> window = {"window"};
  ExpectDecisions(
      *snapshot,
      {
          {"1 ns before effective_from",
           R().Hs("3001").At("2023-12-31T16:59:59.999999999Z").Build(),
           "",
           {}},
          {"exactly at effective_from",
           R().Hs("3001").At("2023-12-31T17:00:00Z").Build(), "window", window},
          {"effective_from in its own offset",
           R().Hs("3001").At("2024-01-01T00:00:00+07:00").Build(), "window",
           window},
          {"inside the window",
           R().Hs("3001").At("2024-01-15T12:00:00Z").Build(), "window", window},
          {"1 ns before effective_until",
           R().Hs("3001").At("2024-01-31T16:59:59.999999999Z").Build(),
           "window", window},
          {"exactly at effective_until",
           R().Hs("3001").At("2024-01-31T17:00:00Z").Build(),
           "",
           {}},
          {"after the window",
           R().Hs("3001").At("2024-06-01T00:00:00Z").Build(),
           "",
           {}},
      });
}

// --- Resolution order -----------------------------------------------------

TEST(EvaluateResolutionTest, DecidingRuleAndMatchedOrder) {
  struct Case {
    std::string name;
    std::string rules;
    v1::IsImportAllowedRequest request;
    std::string want_rule_id;
    v1::Effect want_effect;
    std::vector<std::string> want_matched;
  };
  constexpr char kHs40[] = R"pb(hs_codes: [ "40" ])pb";
  constexpr char kHs40ToId[] = R"pb(hs_codes: [ "40" ]
                                    destination_countries: [ "ID" ])pb";
  constexpr char kHs40ToIdCrossBorder[] =
      R"pb(hs_codes: [ "40" ]
           destination_countries: [ "ID" ]
           seller_kinds: [ SELLER_KIND_CROSS_BORDER ])pb";
  const v1::IsImportAllowedRequest request =
      RequestBuilder().Hs("4001").Build();
  const std::vector<Case> cases = {
      {"priority beats specificity",
       Rule("low-prio-specific", kDeny, 5, kHs40ToIdCrossBorder) +
           Rule("high-prio-broad", kAllow, 10, kHs40),
       request,
       "high-prio-broad",
       v1::EFFECT_ALLOW,
       {"high-prio-broad", "low-prio-specific"}},
      {"specificity beats effect",
       Rule("broad-deny", kDeny, 0, kHs40) +
           Rule("specific-allow", kAllow, 0, kHs40ToId),
       request,
       "specific-allow",
       v1::EFFECT_ALLOW,
       {"specific-allow", "broad-deny"}},
      {"deny beats allow at equal priority and specificity",
       Rule("a-allow", kAllow, 0, kHs40) + Rule("b-deny", kDeny, 0, kHs40),
       request,
       "b-deny",
       v1::EFFECT_DENY,
       {"b-deny", "a-allow"}},
      {"id breaks the remaining tie",
       Rule("y-deny", kDeny, 0, kHs40) + Rule("x-deny", kDeny, 0, kHs40),
       request,
       "x-deny",
       v1::EFFECT_DENY,
       {"x-deny", "y-deny"}},
      {"negative priority ranks below zero",
       Rule("neg-specific", kDeny, -1, kHs40ToIdCrossBorder) +
           Rule("zero-broad", kAllow, 0, kHs40),
       request,
       "zero-broad",
       v1::EFFECT_ALLOW,
       {"zero-broad", "neg-specific"}},
      {"hs and categories count once towards specificity",
       Rule("hs-or-cat-deny", kDeny, 0, R"pb(hs_codes: [ "40" ]
                                             categories: [ "tools" ])pb") +
           Rule("hs-dest-allow", kAllow, 0, kHs40ToId),
       RequestBuilder().Hs("4001").Category("tools/drills").Build(),
       "hs-dest-allow",
       v1::EFFECT_ALLOW,
       {"hs-dest-allow", "hs-or-cat-deny"}},
      {"a rule without product selector ranks by its own priority",
       Rule("any-product-to-id", kDeny, 1,
            R"pb(destination_countries: [ "ID" ])pb") +
           Rule("hs-allow", kAllow, 0, kHs40),
       request,
       "any-product-to-id",
       v1::EFFECT_DENY,
       {"any-product-to-id", "hs-allow"}},
      {"rules that do not match are not listed",
       Rule("to-sg", kDeny, 9, R"pb(hs_codes: [ "40" ]
                                    destination_countries: [ "SG" ])pb") +
           Rule("a", kDeny, 0, kHs40) + Rule("b", kAllow, 0, kHs40),
       request,
       "a",
       v1::EFFECT_DENY,
       {"a", "b"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto snapshot = MustCompile(c.rules);
    if (snapshot == nullptr) continue;
    auto decision = EvaluateRequest(*snapshot, c.request);
    if (!decision.ok()) {
      ADD_FAILURE() << decision.status();
      continue;
    }
    EXPECT_EQ(decision->rule_id(), c.want_rule_id);
    EXPECT_EQ(decision->effect(), c.want_effect);
    EXPECT_EQ(decision->allowed(), c.want_effect == v1::EFFECT_ALLOW);
    EXPECT_EQ(MatchedIds(*decision), c.want_matched);
  }
}

// --- The decision ---------------------------------------------------------

TEST(EvaluateDecisionTest, DefaultDecidesWhenNoRuleMatches) {
  auto snapshot =
      MustCompile(Rule("tees", kDeny, 0, R"pb(hs_codes: [ "6109" ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  auto decision =
      EvaluateRequest(*snapshot, RequestBuilder().Hs("9503").Build());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->rule_id(), "");
  EXPECT_EQ(decision->effect(), v1::EFFECT_ALLOW);
  EXPECT_TRUE(decision->allowed());
  EXPECT_EQ(decision->reason_code(), "NO_RULE_MATCHED");
  EXPECT_EQ(decision->message(), "no rule matched");
  EXPECT_EQ(decision->legal_basis(), "");
  EXPECT_EQ(decision->matched_rule_ids_size(), 0);
  EXPECT_EQ(CacheTtl(*decision), absl::Seconds(60));
}

TEST(EvaluateDecisionTest, EmptyBundleGivesTheDefault) {
  auto snapshot = MustCompile("");
  ASSERT_TRUE(snapshot != nullptr);
  auto decision =
      EvaluateRequest(*snapshot, RequestBuilder().Category("books").Build());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->rule_id(), "");
  EXPECT_TRUE(decision->allowed());
  EXPECT_EQ(decision->reason_code(), "NO_RULE_MATCHED");
}

TEST(EvaluateDecisionTest, DenyByDefaultBundle) {
  constexpr char kDenyByDefault[] = R"pb(
    name: "allow-list"
    revision: 2
    default_effect: EFFECT_DENY
    default_reason_code: "NOT_ON_ALLOW_LIST"
    default_message: "not on the allow list"
  )pb";
  auto snapshot =
      MustCompile(Rule("books-ok", kAllow, 0, R"pb(hs_codes: [ "4901" ])pb"),
                  kDenyByDefault);
  ASSERT_TRUE(snapshot != nullptr);

  auto other = EvaluateRequest(*snapshot, RequestBuilder().Hs("9503").Build());
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->rule_id(), "");
  EXPECT_EQ(other->effect(), v1::EFFECT_DENY);
  EXPECT_FALSE(other->allowed());
  EXPECT_EQ(other->reason_code(), "NOT_ON_ALLOW_LIST");
  EXPECT_EQ(other->message(), "not on the allow list");
  EXPECT_EQ(CacheTtl(*other), absl::ZeroDuration());

  auto book =
      EvaluateRequest(*snapshot, RequestBuilder().Hs("4901.99").Build());
  ASSERT_TRUE(book.ok()) << book.status();
  EXPECT_EQ(book->rule_id(), "books-ok");
  EXPECT_EQ(book->effect(), v1::EFFECT_ALLOW);
  EXPECT_TRUE(book->allowed());
}

TEST(EvaluateDecisionTest, DecidingRuleSuppliesTheExplanation) {
  constexpr char kRules[] = R"pb(
    rules {
      id: "tees"
      effect: EFFECT_DENY
      priority: 1
      reason_code: "CROSS_BORDER_CATEGORY_CLOSED"
      message: "closed to cross-border sellers"
      legal_basis: "Permendag 50/2020"
      match { hs_codes: [ "6109" ] }
    }
  )pb";
  auto snapshot = MustCompile(kRules);
  ASSERT_TRUE(snapshot != nullptr);
  auto decision =
      EvaluateRequest(*snapshot, RequestBuilder().Hs("6109.10").Build());
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->rule_id(), "tees");
  EXPECT_EQ(decision->effect(), v1::EFFECT_DENY);
  EXPECT_FALSE(decision->allowed());
  EXPECT_EQ(decision->reason_code(), "CROSS_BORDER_CATEGORY_CLOSED");
  EXPECT_EQ(decision->message(), "closed to cross-border sellers");
  EXPECT_EQ(decision->legal_basis(), "Permendag 50/2020");
  EXPECT_EQ(MatchedIds(*decision), std::vector<std::string>{"tees"});
}

TEST(EvaluateDecisionTest, ReusedDecisionIsOverwrittenWhole) {
  constexpr char kRules[] = R"pb(
    rules {
      id: "tees"
      effect: EFFECT_DENY
      reason_code: "CLOSED"
      message: "closed"
      legal_basis: "Reg 1"
      match { hs_codes: [ "6109" ] }
    }
  )pb";
  auto snapshot = MustCompile(kRules);
  ASSERT_TRUE(snapshot != nullptr);
  v1::Decision decision;
  ASSERT_TRUE(eval::Evaluate(*snapshot, RequestBuilder().Hs("6109").Build(),
                             absl::UnixEpoch(), &decision)
                  .ok());
  ASSERT_EQ(decision.rule_id(), "tees");
  ASSERT_TRUE(eval::Evaluate(*snapshot, RequestBuilder().Hs("9503").Build(),
                             absl::UnixEpoch(), &decision)
                  .ok());
  EXPECT_EQ(decision.rule_id(), "");
  EXPECT_EQ(decision.legal_basis(), "");
  EXPECT_EQ(decision.reason_code(), "NO_RULE_MATCHED");
  EXPECT_EQ(decision.matched_rule_ids_size(), 0);
  EXPECT_TRUE(decision.allowed());
}

TEST(EvaluateDecisionTest, InvalidRequestIsRejectedBeforeDeciding) {
  auto snapshot = MustCompile(
      Rule("any", kDeny, 0, R"pb(channels: [ CHANNEL_LISTING ])pb"));
  ASSERT_TRUE(snapshot != nullptr);
  // Neither hs_code nor category.
  auto decision = EvaluateRequest(*snapshot, RequestBuilder().Build());
  ASSERT_FALSE(decision.ok());
  EXPECT_EQ(decision.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(decision.status().message(), "item: "))
      << decision.status();
}

// --- Cache TTL ------------------------------------------------------------

TEST(EvaluateCacheTtlTest, RuleOverrideDefaultAndCapAtNextWindowEdge) {
  // Default TTL 60 s. The only window edge is 2024-06-01T00:00:00Z.
  auto snapshot =
      MustCompile(Rule("ttl-override", kDeny, 0, R"pb(hs_codes: [ "30" ])pb",
                       R"pb(cache_ttl { seconds: 5 })pb") +
                  Rule("no-override", kDeny, 0, R"pb(hs_codes: [ "33" ])pb") +
                  Rule("starts-june", kDeny, 0, R"pb(hs_codes: [ "31" ])pb",
                       R"pb(effective_from: "2024-06-01T00:00:00Z")pb") +
                  Rule("ends-june", kDeny, 0, R"pb(hs_codes: [ "32" ])pb",
                       R"pb(cache_ttl { seconds: 3600 }
                            effective_until: "2024-06-01T00:00:00Z")pb"));
  ASSERT_TRUE(snapshot != nullptr);
  struct Case {
    std::string name;
    v1::IsImportAllowedRequest request;
    std::string want_rule_id;
    absl::Duration want_ttl;
  };
  using R = RequestBuilder;
  const std::vector<Case> cases = {
      {"rule override", R().Hs("3001").At("2024-03-01T00:00:00Z").Build(),
       "ttl-override", absl::Seconds(5)},
      {"rule without override takes the default",
       R().Hs("3301").At("2024-03-01T00:00:00Z").Build(), "no-override",
       absl::Seconds(60)},
      {"bundle default", R().Hs("9999").At("2024-03-01T00:00:00Z").Build(), "",
       absl::Seconds(60)},
      {"default capped 10 s before a rule starts",
       R().Hs("9999").At("2024-05-31T23:59:50Z").Build(), "",
       absl::Seconds(10)},
      {"cap keeps sub-second precision",
       R().Hs("9999").At("2024-05-31T23:59:59.75Z").Build(), "",
       absl::Milliseconds(250)},
      {"rule's own TTL capped at its effective_until",
       R().Hs("3201").At("2024-05-31T23:59:30Z").Build(), "ends-june",
       absl::Seconds(30)},
      {"override shorter than the time to the edge",
       R().Hs("3001").At("2024-05-31T23:59:50Z").Build(), "ttl-override",
       absl::Seconds(5)},
      {"exactly at an edge the next edge counts",
       R().Hs("3101").At("2024-06-01T00:00:00Z").Build(), "starts-june",
       absl::Seconds(60)},
      {"after the last edge", R().Hs("9999").At("2025-01-01T00:00:00Z").Build(),
       "", absl::Seconds(60)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto decision = EvaluateRequest(*snapshot, c.request);
    if (!decision.ok()) {
      ADD_FAILURE() << decision.status();
      continue;
    }
    EXPECT_EQ(decision->rule_id(), c.want_rule_id);
    EXPECT_EQ(CacheTtl(*decision), c.want_ttl);
  }
}

// --- Missing facts --------------------------------------------------------

TEST(EvaluateMissingFactsTest, ErrorOnlyWhenTheUndecidableRuleRanksFirst) {
  struct Case {
    std::string name;
    std::string rules;
    v1::IsImportAllowedRequest request;
    std::string want_error_prefix;  // "": decided without error
    std::string want_error_rule;    // the rule the error names
    std::string want_rule_id;       // when decided
    std::vector<std::string> want_matched;
  };
  const std::string min_price =
      Rule("min-price", kDeny, 50,
           R"pb(seller_kinds: [ SELLER_KIND_CROSS_BORDER ]
                destination_countries: [ "ID" ]
                unit_price { below { currency_code: "USD" units: 100 } })pb",
           R"pb(unless {
                  hs_codes: [ "4901" ]
                  categories: [ "books" ]
                })pb");
  const std::string future_min_price =
      Rule("future-min-price", kDeny, 50,
           R"pb(destination_countries: [ "ID" ]
                unit_price { below { currency_code: "USD" units: 100 } })pb",
           R"pb(effective_from: "2030-01-01T00:00:00Z")pb");
  const std::string closure =
      Rule("closure", kDeny, 100,
           R"pb(hs_codes: [ "61" ]
                seller_kinds: [ SELLER_KIND_CROSS_BORDER ])pb");
  const std::string low_allow =
      Rule("low-allow", kAllow, 10, R"pb(hs_codes: [ "61" ])pb");
  const std::string toys_closed =
      Rule("toys-closed", kDeny, 100, R"pb(hs_codes: [ "95" ])pb");
  const std::string origin_cn =
      Rule("origin-cn", kDeny, 50, R"pb(hs_codes: [ "95" ]
                                        origin_countries: [ "CN" ])pb");
  const std::string origin_not_id = Rule(
      "origin-not-id", kDeny, 50, R"pb(hs_codes: [ "95" ]
                                       origin_countries_not: [ "ID" ])pb");
  const std::string origin_cn_to_sg =
      Rule("origin-cn-to-sg", kDeny, 50,
           R"pb(hs_codes: [ "95" ]
                origin_countries: [ "CN" ]
                destination_countries: [ "SG" ])pb");
  const std::string seller_cn =
      Rule("seller-cn", kDeny, 50, R"pb(hs_codes: [ "95" ]
                                        seller_countries: [ "CN" ])pb");
  const std::string unless_vn =
      Rule("unless-vn", kDeny, 0, R"pb(hs_codes: [ "95" ])pb",
           R"pb(unless { origin_countries: [ "VN" ] })pb");

  using R = RequestBuilder;
  const std::vector<Case> cases = {
      {"no price: the price rule would decide",
       min_price,
       R().Hs("9503.00").Build(),
       "item.unit_price: ",
       "min-price",
       "",
       {}},
      {"no price: a higher-priority rule decides first",
       closure + min_price,
       R().Hs("6109.10").Build(),
       "",
       "",
       "closure",
       {"closure"}},
      {"no price: the price rule outranks a lower matching rule",
       min_price + low_allow,
       R().Hs("6109.10").Build(),
       "item.unit_price: ",
       "min-price",
       "",
       {}},
      {"no price: another condition of the rule fails (seller kind)",
       min_price,
       R().Hs("9503").Kind(v1::SELLER_KIND_DOMESTIC).Build(),
       "",
       "",
       "",
       {}},
      {"no price: another condition of the rule fails (destination)",
       min_price,
       R().Hs("9503").Destination("SG").Build(),
       "",
       "",
       "",
       {}},
      {"no price: an exception holds (hs)",
       min_price,
       R().Hs("4901.99").Build(),
       "",
       "",
       "",
       {}},
      {"no price: an exception holds (category)",
       min_price,
       R().Category("books/fiction").Build(),
       "",
       "",
       "",
       {}},
      {"no price: the rule is not yet effective",
       future_min_price,
       R().Hs("9503").Build(),
       "",
       "",
       "",
       {}},
      {"price given: decided",
       min_price,
       R().Hs("9503").Price("USD", 5).Build(),
       "",
       "",
       "min-price",
       {"min-price"}},
      {"price in a currency without FX rate, price rule would decide",
       min_price,
       R().Hs("9503").Price("EUR", 50).Build(),
       "item.unit_price.currency_code: \"EUR\"",
       "min-price",
       "",
       {}},
      {"price in a currency without FX rate, no price rule applies",
       min_price,
       R().Hs("9503").Price("EUR", 50).Kind(v1::SELLER_KIND_DOMESTIC).Build(),
       "",
       "",
       "",
       {}},
      {"no origin: origin_countries",
       origin_cn,
       R().Hs("9503").Origin("").Build(),
       "item.origin_country: ",
       "origin-cn",
       "",
       {}},
      {"no origin: origin_countries_not",
       origin_not_id,
       R().Hs("9503").Origin("").Build(),
       "item.origin_country: ",
       "origin-not-id",
       "",
       {}},
      {"no origin: another condition of the rule fails",
       origin_cn_to_sg,
       R().Hs("9503").Origin("").Build(),
       "",
       "",
       "",
       {}},
      {"no origin: a higher-priority rule decides, the undecidable rule is "
       "not listed",
       toys_closed + origin_cn,
       R().Hs("9503").Origin("").Build(),
       "",
       "",
       "toys-closed",
       {"toys-closed"}},
      {"origin given: both rules are listed",
       toys_closed + origin_cn,
       R().Hs("9503").Origin("CN").Build(),
       "",
       "",
       "toys-closed",
       {"toys-closed", "origin-cn"}},
      {"no seller country: seller_countries",
       seller_cn,
       R().Hs("9503").SellerCountry("").Build(),
       "seller.country: ",
       "seller-cn",
       "",
       {}},
      {"no origin: an exception needs it",
       unless_vn,
       R().Hs("9503").Origin("").Build(),
       "item.origin_country: ",
       "unless-vn",
       "",
       {}},
      {"origin given: the exception holds",
       unless_vn,
       R().Hs("9503").Origin("VN").Build(),
       "",
       "",
       "",
       {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto snapshot = MustCompile(c.rules);
    if (snapshot == nullptr) continue;
    auto decision = EvaluateRequest(*snapshot, c.request);
    if (!c.want_error_prefix.empty()) {
      if (decision.ok()) {
        ADD_FAILURE() << "decided by \"" << decision->rule_id()
                      << "\", want an error";
        continue;
      }
      EXPECT_EQ(decision.status().code(), absl::StatusCode::kInvalidArgument);
      const std::string message(decision.status().message());
      EXPECT_TRUE(absl::StartsWith(message, c.want_error_prefix)) << message;
      EXPECT_THAT(message, HasSubstr("\"" + c.want_error_rule + "\""));
    } else {
      if (!decision.ok()) {
        ADD_FAILURE() << decision.status();
        continue;
      }
      EXPECT_EQ(decision->rule_id(), c.want_rule_id);
      EXPECT_EQ(MatchedIds(*decision), c.want_matched);
    }
  }
}

// --- Evaluation time ------------------------------------------------------

TEST(EvaluateTimeTest, UnsetEvaluationTimeUsesNow) {
  auto snapshot =
      MustCompile(Rule("from-2024", kDeny, 0, R"pb(hs_codes: [ "30" ])pb",
                       R"pb(effective_from: "2024-01-01T00:00:00Z")pb"));
  ASSERT_TRUE(snapshot != nullptr);
  const v1::IsImportAllowedRequest request =
      RequestBuilder().Hs("3001").NoEvaluationTime().Build();

  auto before =
      EvaluateRequest(*snapshot, request, Rfc3339("2023-12-31T23:59:59Z"));
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->rule_id(), "");
  EXPECT_EQ(CacheTtl(*before), absl::Seconds(1));

  auto after =
      EvaluateRequest(*snapshot, request, Rfc3339("2024-01-01T00:00:00Z"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->rule_id(), "from-2024");
}

TEST(EvaluateTimeTest, EvaluationTimeOverridesNow) {
  auto snapshot =
      MustCompile(Rule("from-2024", kDeny, 0, R"pb(hs_codes: [ "30" ])pb",
                       R"pb(effective_from: "2024-01-01T00:00:00Z")pb"));
  ASSERT_TRUE(snapshot != nullptr);
  auto past = EvaluateRequest(
      *snapshot, RequestBuilder().Hs("3001").At("2023-06-01T00:00:00Z").Build(),
      Rfc3339("2025-01-01T00:00:00Z"));
  ASSERT_TRUE(past.ok()) << past.status();
  EXPECT_EQ(past->rule_id(), "");
}

// Every instant a request or a window can name, years 1 to 9999, compares
// exactly: also past 2262-04-11T23:47:16.854775807Z and before
// 1677-09-21T00:12:43.145224192Z, where Unix nanoseconds leave int64 (the
// index screens in int64 nanoseconds; other instants take the exact path).
TEST(EvaluateTimeTest, EveryInstantFromYearOneTo9999ComparesExactly) {
  const std::vector<std::string> edges = {
      "0001-01-01T00:00:00Z",
      "1677-09-21T00:12:43.145224192Z",  // INT64_MIN ns
      "1677-09-21T00:12:43.145224193Z", "1970-01-01T00:00:00Z",
      "2262-04-11T23:47:16.854775806Z",
      "2262-04-11T23:47:16.854775807Z",  // INT64_MAX ns
      "2262-04-12T00:00:00Z",           "3000-01-01T00:00:00+07:00",
      "9999-12-31T23:59:59.999999999Z",
  };
  // Per edge: a rule from it and a rule until it, each once with a complete
  // posting and once with an exception (the full check). Plus one rule
  // with no window, as the default bundle's closure has no end.
  std::string rules =
      Rule("open", kDeny, 0, R"pb(hs_codes: [ "30" ])pb",
           R"pb(effective_from: "2021-08-03T00:00:00+07:00")pb");
  struct Window {
    std::string id;
    absl::Time from = absl::InfinitePast();
    absl::Time until = absl::InfiniteFuture();
  };
  std::vector<Window> windows = {
      {"open", Rfc3339("2021-08-03T00:00:00+07:00"), absl::InfiniteFuture()}};
  for (size_t i = 0; i < edges.size(); ++i) {
    for (const char* unless :
         {"", "unless { attributes { key: \"x\" present: true } }"}) {
      const std::string suffix = absl::StrCat(i, *unless ? "-full" : "");
      absl::StrAppend(
          &rules,
          Rule(absl::StrCat("from-", suffix), kDeny, 0,
               R"pb(hs_codes: [ "30" ])pb",
               absl::StrCat("effective_from: \"", edges[i], "\" ", unless)),
          Rule(absl::StrCat("until-", suffix), kDeny, 0,
               R"pb(hs_codes: [ "30" ])pb",
               absl::StrCat("effective_until: \"", edges[i], "\" ", unless)));
      windows.push_back({absl::StrCat("from-", suffix), Rfc3339(edges[i])});
      windows.push_back({absl::StrCat("until-", suffix), absl::InfinitePast(),
                         Rfc3339(edges[i])});
    }
  }
  auto snapshot = MustCompile(rules);
  ASSERT_TRUE(snapshot != nullptr);
  const absl::Time first = Rfc3339("0001-01-01T00:00:00Z");
  const absl::Time last = Rfc3339("9999-12-31T23:59:59.999999999Z");
  for (const std::string& edge : edges) {
    for (int delta_ns : {-1, 0, 1}) {
      const absl::Time at = Rfc3339(edge) + absl::Nanoseconds(delta_ns);
      if (at < first || at > last) continue;
      SCOPED_TRACE(absl::StrCat(edge, " ", delta_ns, " ns"));
      std::vector<std::string> want;
      for (const Window& w : windows) {
        if (w.from <= at && at < w.until) want.push_back(w.id);
      }
      std::sort(want.begin(), want.end());  // equal rank: ordered by id
      v1::IsImportAllowedRequest request = RequestBuilder().Hs("3001").Build();
      const int64_t seconds = absl::ToUnixSeconds(at);
      request.mutable_evaluation_time()->set_seconds(seconds);
      request.mutable_evaluation_time()->set_nanos(static_cast<int32_t>(
          absl::ToInt64Nanoseconds(at - absl::FromUnixSeconds(seconds))));
      auto decision = EvaluateRequest(*snapshot, request);
      ASSERT_TRUE(decision.ok()) << decision.status();
      EXPECT_EQ(MatchedIds(*decision), want);
      EXPECT_EQ(decision->rule_id(), want.empty() ? "" : want.front());
    }
  }
}

// The cross-border closure of the README stays in force for every later
// instant the API accepts.
TEST(EvaluateTimeTest, OpenEndedRuleHoldsToTheEndOfYear9999) {
  auto snapshot =
      MustCompile(Rule("closure", kDeny, 0, R"pb(hs_codes: [ "6109" ])pb",
                       R"pb(effective_from: "2021-08-03T00:00:00+07:00")pb"));
  ASSERT_TRUE(snapshot != nullptr);
  for (const char* at :
       {"2262-04-11T23:47:16.854775807Z", "2262-04-12T00:00:00Z",
        "5000-06-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"}) {
    SCOPED_TRACE(at);
    auto decision = EvaluateRequest(
        *snapshot, RequestBuilder().Hs("6109.10.00").At(at).Build());
    ASSERT_TRUE(decision.ok()) << decision.status();
    EXPECT_EQ(decision->rule_id(), "closure");
  }
}

// An answer lists at most kMaxMatchedRuleIds matched rules, the first in
// resolution order, and says when there were more: every answer then fits
// the response budget, however many rules a bundle has for one item.
TEST(EvaluateResolutionTest, MatchedRuleIdsAreCappedAndSayWhenTruncated) {
  for (size_t count :
       {eval::kMaxMatchedRuleIds, eval::kMaxMatchedRuleIds + 1, size_t{200}}) {
    SCOPED_TRACE(count);
    std::string rules;
    std::vector<std::string> ids;
    for (size_t i = 0; i < count; ++i) {
      ids.push_back(absl::StrCat("r", 1000 + i));  // id order = rank order
      absl::StrAppend(&rules,
                      Rule(ids.back(), kDeny, 0, R"pb(hs_codes: [ "94" ])pb"));
    }
    auto snapshot = MustCompile(rules);
    ASSERT_TRUE(snapshot != nullptr);
    auto decision =
        EvaluateRequest(*snapshot, RequestBuilder().Hs("9405.21").Build());
    ASSERT_TRUE(decision.ok()) << decision.status();
    const size_t listed = std::min(count, eval::kMaxMatchedRuleIds);
    EXPECT_EQ(MatchedIds(*decision),
              std::vector<std::string>(ids.begin(), ids.begin() + listed));
    EXPECT_EQ(decision->matched_rule_ids_truncated(),
              count > eval::kMaxMatchedRuleIds);
    EXPECT_EQ(decision->rule_id(), "r1000");
  }
}

// --- Index ----------------------------------------------------------------

TEST(EvaluateIndexTest, ManyRulesOnDistinctCodesStillDecideCorrectly) {
  constexpr int kRules = 2000;
  std::string rules;
  for (int i = 0; i < kRules; ++i) {
    const int code = 100000 + i;  // 100000 .. 101999, 6 digits each
    absl::StrAppend(&rules, Rule(absl::StrCat("r", code), kDeny, 0,
                                 absl::StrCat("hs_codes: [\"", code, "\"]")));
  }
  auto snapshot = MustCompile(rules);
  ASSERT_TRUE(snapshot != nullptr);
  ASSERT_EQ(snapshot->rules.size(), static_cast<size_t>(kRules));
  EXPECT_EQ(snapshot->hs_index.key_count(), static_cast<size_t>(kRules));
  EXPECT_TRUE(snapshot->unindexed.empty());

  using R = RequestBuilder;
  ExpectDecisions(
      *snapshot,
      {
          {"8-digit code under one 6-digit rule",
           R().Hs("1012.34.56").Build(),
           "r101234",
           {"r101234"}},
          {"first rule", R().Hs("100000").Build(), "r100000", {"r100000"}},
          {"last rule", R().Hs("101999.99").Build(), "r101999", {"r101999"}},
          {"code shorter than every rule", R().Hs("1012").Build(), "", {}},
          {"code past the last rule", R().Hs("102000").Build(), "", {}},
      });
}

}  // namespace
}  // namespace importgate
