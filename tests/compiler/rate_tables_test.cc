// Dated exchange-rate tables (rates/*.textproto): what the compiler refuses,
// naming file and line, and the periods it builds (docs/policy-format.md
// section 8).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/compiler/compiler.h"
#include "server/policy/bundle_source.h"
#include "tests/testing/test_bundles.h"

namespace importgate {
namespace {

namespace it = ::importgate::testing;
using ::testing::HasSubstr;

// A manifest without Manifest.fx, so that only rates/ supplies rates.
constexpr char kManifest[] = R"pb(
  name: "test"
  revision: 1
  default_effect: EFFECT_ALLOW
  default_reason_code: "NO_RULE_MATCHED"
  default_message: "no rule matched"
)pb";

// A price rule whose threshold is in `currency`, from `from` (RFC 3339,
// or "" for always).
std::string PriceRule(const std::string& currency = "USD",
                      const std::string& from = "") {
  return absl::StrCat(
      "rules {\n  id: \"min\"\n  effect: EFFECT_DENY\n  reason_code: \"MIN\"\n"
      "  message: \"m\"\n  match { unit_price { below { currency_code: \"",
      currency, "\" units: 100 } } }\n",
      from.empty() ? "" : absl::StrCat("  effective_from: \"", from, "\"\n"),
      "}\n");
}

// One dated table in rupiah per unit.
std::string Table(const std::string& from, const std::string& until,
                  const std::string& usd = "15589",
                  const std::string& source = "KMK test") {
  std::string out =
      absl::StrCat("tables {\n  effective_from: \"", from, "\"\n");
  if (!until.empty()) {
    absl::StrAppend(&out, "  effective_until: \"", until, "\"\n");
  }
  if (!source.empty()) absl::StrAppend(&out, "  source: \"", source, "\"\n");
  absl::StrAppend(&out, "  base_currency: \"IDR\"\n",
                  "  rates { currency_code: \"USD\" base_per_unit: \"", usd,
                  "\" }\n}\n");
  return out;
}

absl::StatusOr<std::shared_ptr<const compiler::PolicySnapshot>> Compile(
    const std::vector<policy::SourceFile>& files) {
  auto parsed = policy::ParseBundle(files);
  if (!parsed.ok()) return parsed.status();
  return compiler::Compile(*parsed, it::RealIsoCodes());
}

std::vector<policy::SourceFile> Files(const std::string& rates,
                                      const std::string& manifest = kManifest,
                                      const std::string& rules = PriceRule()) {
  return {{"manifest.textproto", manifest},
          {"rules/r.textproto", rules},
          {"rates/kmk.textproto", rates}};
}

constexpr char kW1[] = "2023-09-20T00:00:00+07:00";
constexpr char kW2[] = "2023-09-27T00:00:00+07:00";
constexpr char kW3[] = "2023-10-04T00:00:00+07:00";
constexpr char kW4[] = "2023-10-11T00:00:00+07:00";

TEST(RateTablesCompileTest, EachErrorNamesFileLineAndField) {
  struct Case {
    const char* name;
    std::vector<policy::SourceFile> files;
    std::string want;  // a substring of the error
  };
  const std::string two_rates = absl::StrCat(
      "tables {\n  effective_from: \"", kW1, "\"\n  source: \"s\"\n",
      "  base_currency: \"IDR\"\n",
      "  rates { currency_code: \"USD\" base_per_unit: \"15589\" }\n",
      "  rates { currency_code: \"CNY\" per_base: \"2150\" }\n}\n");
  const std::string both_quotes = absl::StrCat(
      "tables {\n  effective_from: \"", kW1, "\"\n  source: \"s\"\n",
      "  base_currency: \"IDR\"\n  rates { currency_code: \"USD\" "
      "base_per_unit: \"15589\" per_base: \"1\" }\n}\n");
  const std::vector<Case> cases = {
      {"overlapping windows", Files(Table(kW1, kW3) + Table(kW2, kW4)),
       absl::StrCat("rates/kmk.textproto:8: table.effective_from: ",
                    "2023-09-26T17:00:00Z overlaps the table at "
                    "rates/kmk.textproto:1, in force until "
                    "2023-10-03T17:00:00Z")},
      {"overlap across files",
       {{"manifest.textproto", kManifest},
        {"rules/r.textproto", PriceRule()},
        {"rates/a.textproto", Table(kW1, "")},
        {"rates/b.textproto", Table(kW3, kW4)}},
       "rates/b.textproto:1: table.effective_from: 2023-10-03T17:00:00Z "
       "overlaps the table at rates/a.textproto:1"},
      {"tables out of date order in a file",
       Files(Table(kW3, kW4) + Table(kW1, kW2)),
       "rates/kmk.textproto:8: table.effective_from: \"2023-09-20T00:00:00+07:"
       "00\" is not after the previous table's (rates/kmk.textproto:1): list "
       "a file's tables in date order"},
      {"empty window", Files(Table(kW2, kW1)),
       "rates/kmk.textproto:1: table.effective_until: \"2023-09-20T00:00:00+"
       "07:00\" is not after effective_from"},
      {"no effective_from", Files(Table("", kW1)),
       "table.effective_from: is required for a dated table"},
      {"bad effective_until", Files(Table(kW1, "next week")),
       "table.effective_until: \"next week\""},
      {"year 0000", Files(Table("0000-06-01T00:00:00Z", kW1)),
       "must be in year 0001 or later"},
      {"an end in year 10000 UTC",
       Files(Table(kW1, "9999-12-31T23:59:59-05:00")),
       "table.effective_until: must be in year 9999 or earlier in UTC"},
      {"no source", Files(Table(kW1, kW2, "15589", "")),
       "table.source: is required"},
      {"rate not a decimal", Files(Table(kW1, kW2, "15.589,00")),
       "table.rates[0].base_per_unit: \"15.589,00\""},
      {"quotes mixed in a table", Files(two_rates),
       "table.rates[1].per_base: every rate of a table uses the same quote"},
      {"both quotes on one rate", Files(both_quotes),
       "table.rates[0]: set exactly one of per_base or base_per_unit"},
      {"threshold currency not rated by a table in the rule's window",
       Files(Table(kW1, kW2), kManifest, PriceRule("EUR")),
       "rules/r.textproto:1: rule \"min\": match.unit_price.below."
       "currency_code: \"EUR\" has no rate in the rate table at "
       "rates/kmk.textproto:1, which is in force within the rule's window"},
      {"manifest fx with a window",
       Files(Table(kW1, kW2), absl::StrCat(kManifest,
                                           "fx { base_currency: \"USD\" "
                                           "effective_from: \"",
                                           kW1, "\" }")),
       "manifest.textproto: fx: applies at every instant no dated table "
       "covers"},
      {"a source that is not UTF-8",
       Files(Table(kW1, kW2, "15589", "KMK \\351")),
       "table.source: is not valid UTF-8"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto snapshot = Compile(c.files);
    ASSERT_FALSE(snapshot.ok());
    EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(snapshot.status().message()), HasSubstr(c.want));
  }
}

// One error is reported once: a bad first rate does not make the table's
// other rates wrong, and a bundle with a broken manifest or rate table does
// not also claim that its price rules have no rates.
TEST(RateTablesCompileTest, ErrorsDoNotCascade) {
  const std::string bad_first_rate = absl::StrCat(
      "tables {\n  effective_from: \"", kW1, "\"\n  source: \"s\"\n",
      "  base_currency: \"IDR\"\n",
      "  rates { currency_code: \"XYZ\" base_per_unit: \"1\" }\n",
      "  rates { currency_code: \"USD\" base_per_unit: \"15589\" }\n}\n");
  auto snapshot = Compile(Files(bad_first_rate));
  ASSERT_FALSE(snapshot.ok());
  const std::string message(snapshot.status().message());
  EXPECT_THAT(message, HasSubstr("\"XYZ\" is not an ISO 4217 currency code"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("same quote")));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("no exchange-rate table")));

  auto bad_manifest = Compile(
      Files(Table(kW1, kW2),
            absl::StrCat(kManifest, "default_cache_ttl { seconds: -1 }")));
  ASSERT_FALSE(bad_manifest.ok());
  EXPECT_THAT(std::string(bad_manifest.status().message()),
              ::testing::Not(HasSubstr("no exchange-rate table")));
  EXPECT_THAT(std::string(bad_manifest.status().message()),
              HasSubstr("default_cache_ttl"));
}

TEST(RateTablesCompileTest, ThresholdCurrencyOutsideTheRulesWindowIsFine) {
  // The EUR rule starts after the only table that lacks EUR ends.
  const std::string eur_table = absl::StrCat(
      "tables {\n  effective_from: \"", kW2, "\"\n  source: \"s\"\n",
      "  base_currency: \"IDR\"\n",
      "  rates { currency_code: \"USD\" base_per_unit: \"15589\" }\n",
      "  rates { currency_code: \"EUR\" base_per_unit: \"16866.78\" }\n}\n");
  auto snapshot = Compile(
      Files(Table(kW1, kW2) + eur_table, kManifest, PriceRule("EUR", kW2)));
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
}

TEST(RateTablesCompileTest, ARuleWindowInAGapCompiles) {
  // No table covers 2030, yet the bundle holds tables: a foreign price is
  // then refused at decision time (tests/eval/dated_fx_test.cc).
  auto snapshot = Compile(Files(Table(kW1, kW2), kManifest,
                                PriceRule("USD", "2030-01-01T00:00:00Z")));
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
}

TEST(RateTablesCompileTest, PeriodsAreDatedTablesWithTheFallbackInTheGaps) {
  const std::string manifest = absl::StrCat(
      kManifest,
      "fx { base_currency: \"USD\" rates { currency_code: \"IDR\" per_base: "
      "\"15500\" } }");
  // Two files, listed out of order; a gap between W2 and W3.
  auto snapshot = Compile({{"manifest.textproto", manifest},
                           {"rules/r.textproto", PriceRule()},
                           {"rates/b.textproto", Table(kW3, kW4, "15700")},
                           {"rates/a.textproto", Table(kW1, kW2, "15589.50")}});
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  const auto& periods = (*snapshot)->rate_periods;
  auto at = [](const char* text) { return *policy::ParseRfc3339(text); };
  struct Want {
    absl::Time from, until;
    std::string location;
    std::string usd;  // the USD rate's text in that table
  };
  const std::vector<Want> want = {
      {absl::InfinitePast(), at(kW1), "manifest.textproto", "15500"},
      {at(kW1), at(kW2), "rates/a.textproto:1", "15589.5"},
      {at(kW2), at(kW3), "manifest.textproto", "15500"},
      {at(kW3), at(kW4), "rates/b.textproto:1", "15700"},
      {at(kW4), absl::InfiniteFuture(), "manifest.textproto", "15500"},
  };
  ASSERT_EQ(periods.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(periods[i].from, want[i].from);
    EXPECT_EQ(periods[i].until, want[i].until);
    EXPECT_EQ(periods[i].table->location, want[i].location);
    const auto& rates = periods[i].table->rates;
    const auto key =
        PackCurrency(want[i].location == "manifest.textproto" ? "IDR" : "USD");
    ASSERT_TRUE(rates.contains(key));
    EXPECT_EQ(rates.at(key).text, want[i].usd);
  }
  EXPECT_EQ(periods[1].table->quote, compiler::RateTable::Quote::kBasePerUnit);
  EXPECT_EQ(periods[1].table->source, "KMK test");
  EXPECT_EQ(periods[0].table->quote, compiler::RateTable::Quote::kPerBase);
}

TEST(RateTablesCompileTest, WithoutAFallbackGapsStayEmpty) {
  auto snapshot = Compile(Files(Table(kW1, kW2) + Table(kW3, "")));
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  const auto& periods = (*snapshot)->rate_periods;
  ASSERT_EQ(periods.size(), 2u);
  EXPECT_EQ(periods[0].until, *policy::ParseRfc3339(kW2));
  EXPECT_EQ(periods[1].from, *policy::ParseRfc3339(kW3));
  EXPECT_EQ(periods[1].until, absl::InfiniteFuture());
}

TEST(RateTablesCompileTest, LayoutAcceptsRatesFiles) {
  EXPECT_TRUE(policy::CheckLayoutPath("rates", true).ok());
  EXPECT_TRUE(policy::CheckLayoutPath("rates/kmk_2024.textproto", false).ok());
  EXPECT_TRUE(policy::CheckLayoutPath("rates/kmk_2024.txtpb", false).ok());
  EXPECT_FALSE(policy::CheckLayoutPath("rates/2024/kmk.textproto", false).ok());
  EXPECT_FALSE(policy::CheckLayoutPath("rate/kmk.textproto", false).ok());
  EXPECT_FALSE(policy::CheckLayoutPath("rates/kmk.csv", false).ok());
}

}  // namespace
}  // namespace importgate
