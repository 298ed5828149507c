#include "bench/synthetic_bundle.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "server/policy/codes.h"

namespace importgate::bench {
namespace {

constexpr size_t kRulesPerFile = 10'000;
constexpr const char* kCountries[] = {"CN", "VN", "TH", "MY", "SG",
                                      "JP", "KR", "US", "DE", "IN"};

// A deterministic, well-spread number for rule i.
uint64_t Mix(uint64_t i) {
  i ^= i >> 33;
  i *= 0xff51afd7ed558ccdULL;
  i ^= i >> 33;
  return i;
}

// Like a real tariff-based policy: few rules on whole chapters, most on
// 6-digit subheadings and 8-digit national lines.
int HsDigits(size_t i) {
  size_t bucket = Mix(i + 7) % 1000;
  if (bucket < 2) return 2;    // 0.2%
  if (bucket < 50) return 4;   // 4.8%
  if (bucket < 450) return 6;  // 40%
  return 8;                    // 55%
}

std::string HsPrefix(size_t i) {
  int digits = HsDigits(i);
  uint64_t mod = 1;
  for (int d = 0; d < digits; ++d) mod *= 10;
  std::string s = absl::StrCat(Mix(i) % mod);
  return std::string(static_cast<size_t>(digits) - s.size(), '0') + s;
}

std::string Category(size_t i) {
  return absl::StrCat("cat", Mix(i) % 2000, "/sub", Mix(i + 1) % 50);
}

void AppendRule(size_t i, std::string* out) {
  absl::StrAppend(out, "rules {\n  id: \"r", i,
                  "\"\n  effect: ", i % 5 == 0 ? "EFFECT_ALLOW" : "EFFECT_DENY",
                  "\n  priority: ", i % 10, "\n  reason_code: \"R", i % 100,
                  "\"\n  message: \"synthetic rule\"\n  match {");
  if (i % 3 == 0) {
    absl::StrAppend(out, " categories: \"", Category(i), "\"");
  } else {
    absl::StrAppend(out, " hs_codes: \"", HsPrefix(i), "\"");
  }
  absl::StrAppend(out, " destination_countries: \"", i % 2 == 0 ? "ID" : "MY",
                  "\"");
  if (i % 2 == 0)
    absl::StrAppend(out, " seller_kinds: SELLER_KIND_CROSS_BORDER");
  if (i % 5 == 0) {
    absl::StrAppend(out, " origin_countries: \"", kCountries[i % 10], "\"");
  }
  if (i % 10 == 0) {
    absl::StrAppend(out, " unit_price { below { currency_code: \"USD\" units: ",
                    50 + i % 100, " } }");
  }
  absl::StrAppend(out, " }\n");
  if (i % 4 == 0) {
    absl::StrAppend(out, "  effective_from: \"20", 20 + i % 5,
                    "-01-01T00:00:00+07:00\"\n");
  }
  if (i % 20 == 0) {
    absl::StrAppend(
        out, "  unless { attributes { key: \"exempt\" present: true } }\n");
  }
  absl::StrAppend(out, "}\n");
}

}  // namespace

std::vector<policy::SourceFile> SyntheticBundle(size_t rule_count,
                                                uint64_t revision) {
  std::vector<policy::SourceFile> files;
  files.push_back(
      {"manifest.textproto",
       absl::StrCat("name: \"synthetic\"\nrevision: ", revision,
                    "\ndefault_effect: EFFECT_ALLOW\n"
                    "default_reason_code: \"NO_RULE_MATCHED\"\n"
                    "default_cache_ttl { seconds: 300 }\n"
                    "fx { base_currency: \"USD\" rates { "
                    "currency_code: \"IDR\" per_base: \"15500\" } }\n")});
  for (size_t start = 0; start < rule_count; start += kRulesPerFile) {
    std::string text;
    text.reserve(kRulesPerFile * 220);
    for (size_t i = start; i < std::min(rule_count, start + kRulesPerFile);
         ++i) {
      AppendRule(i, &text);
    }
    files.push_back(
        {absl::StrCat("rules/r", start / kRulesPerFile, ".textproto"),
         std::move(text)});
  }
  // Self-tests: a miss decided by the default, checked on every load.
  std::string tests;
  for (int t = 0; t < 5; ++t) {
    absl::StrAppend(&tests, "cases { name: \"default ", t,
                    "\" at: \"2026-01-01T00:00:00Z\" request { item { hs_code: "
                    "\"99",
                    t,
                    "\" category: \"nomatch/x\" origin_country: \"CN\" "
                    "unit_price { currency_code: \"USD\" units: 500 } } "
                    "seller { kind: SELLER_KIND_DOMESTIC } "
                    "destination_country: \"FR\" channel: CHANNEL_CHECKOUT } "
                    "expect_effect: EFFECT_ALLOW }\n");
  }
  files.push_back({"tests/t.textproto", std::move(tests)});
  return files;
}

std::shared_ptr<const IsoCodes> DebianIsoCodes() {
  static auto* iso = new std::shared_ptr<const IsoCodes>(
      *IsoCodes::LoadFromDirectory(IsoCodes::kDebianDirectory));
  return *iso;
}

std::vector<importgate::v1::IsImportAllowedRequest> SyntheticRequests(
    size_t rule_count, size_t request_count) {
  std::vector<importgate::v1::IsImportAllowedRequest> requests;
  for (size_t k = 0; k < request_count; ++k) {
    importgate::v1::IsImportAllowedRequest r;
    size_t i = Mix(k + 12345) % std::max<size_t>(rule_count, 1);
    bool hit = k % 2 == 0;
    auto* item = r.mutable_item();
    if (hit && i % 3 == 0) {
      item->set_category(absl::StrCat(Category(i), "/leaf"));
    } else if (hit) {
      std::string hs = HsPrefix(i);
      item->set_hs_code(hs + std::string(10 - hs.size(), '1'));
    } else {
      item->set_hs_code(absl::StrCat(9900000000ULL + k % 99999));
      item->set_category("nomatch/leaf");
    }
    item->set_origin_country(kCountries[k % 10]);
    item->mutable_unit_price()->set_currency_code(k % 3 == 0 ? "IDR" : "USD");
    item->mutable_unit_price()->set_units(k % 3 == 0 ? 1'000'000 : 80);
    r.mutable_seller()->set_kind(
        k % 4 == 0 ? importgate::v1::SELLER_KIND_DOMESTIC
                   : importgate::v1::SELLER_KIND_CROSS_BORDER);
    r.set_destination_country(k % 2 == 0 ? "ID" : "MY");
    r.set_channel(importgate::v1::CHANNEL_CHECKOUT);
    r.mutable_evaluation_time()->set_seconds(1'767'225'600);  // 2026-01-01
    requests.push_back(std::move(r));
  }
  return requests;
}

// --- Random bundles and requests (differential testing) -------------------

namespace {

using policy::NanoAmount;

// SplitMix64: a small generator with a fully specified output, so that a
// seed means the same bundle everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // In [0, n), n > 0 (the modulo bias is irrelevant here).
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  // In [low, high].
  size_t Between(size_t low, size_t high) {
    return low + Below(high - low + 1);
  }
  bool Percent(int p) { return Below(100) < static_cast<size_t>(p); }
  template <typename T, size_t N>
  const T& Pick(const T (&values)[N]) {
    return values[Below(N)];
  }
  template <typename T>
  const T& Pick(const std::vector<T>& values) {
    return values[Below(values.size())];
  }

 private:
  uint64_t state_;
};

constexpr const char* kRandomCountries[] = {"ID", "CN", "VN", "MY",
                                            "SG", "US", "JP", "GB"};
// Nested paths, and names that share a prefix without sharing a segment.
constexpr const char* kRandomCategories[] = {"fashion",
                                             "fashion/men",
                                             "fashion/men/t-shirts",
                                             "fashion/women",
                                             "fashion/women/dresses",
                                             "fashionista",
                                             "home",
                                             "home/textiles",
                                             "home/decor/handicrafts",
                                             "books",
                                             "books/fiction",
                                             "food",
                                             "pets/food/dry",
                                             "media/music",
                                             "software",
                                             "a",
                                             "a-b/c_d/0"};
// What a request appends to a category: nothing, deeper segments, or
// characters that extend the last segment (a near miss).
constexpr const char* kCategorySuffixes[] = {"",   "",  "/x", "/x/y-z",
                                             "-x", "s", "_1", "/0"};
// Ten-digit codes rules and requests draw from, with leading zeros and the
// ends of the digit range.
constexpr const char* kRandomHsCodes[] = {
    "6109100000", "0901210000", "9503000000", "4901990000", "8523490000",
    "6912000000", "5007100000", "0000000001", "9999999999", "9701100000"};
constexpr const char* kAttributeKeys[] = {"brand_verified", "halal", "grade"};
constexpr const char* kAttributeValues[] = {"true", "false", "a", ""};
// Currencies with no rate in any random bundle's FX table.
constexpr const char* kUnratedCurrencies[] = {"EUR", "GBP"};

// Window edges as a bundle writes them: the ends of the Timestamp range, the
// ends of what int64 nanoseconds since 1970 can hold (and their neighbours,
// also written with offsets), the epoch, real effective dates, and instants
// beyond the Timestamp range that only an offset can express.
constexpr const char* kEdgeInstants[] = {
    "0001-01-01T00:00:00Z",           "0001-01-01T00:00:00.000000001Z",
    "0001-01-01T00:00:01Z",           "0001-01-01T00:30:00+01:00",
    "1677-09-21T00:12:43.145224191Z", "1677-09-21T00:12:43.145224192Z",
    "1677-09-21T00:12:43.145224193Z", "1677-09-21T07:12:43.145224192+07:00",
    "1677-09-21T00:00:00Z",           "1969-12-31T23:59:59.999999999Z",
    "1970-01-01T00:00:00Z",           "1970-01-01T07:00:00+07:00",
    "2021-08-03T00:00:00+07:00",      "2023-09-26T00:00:00+07:00",
    "2262-04-11T23:47:16.854775806Z", "2262-04-11T23:47:16.854775807Z",
    "2262-04-11T23:47:16.854775808Z", "2262-04-12T06:47:16.854775807+07:00",
    "2262-04-12T00:00:00Z",           "3000-01-01T00:00:00-05:00",
    "9999-12-31T00:00:00Z",           "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999999999-00:30",
};

// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

absl::Time MinTimestamp() {
  return absl::FromUnixSeconds(kMinTimestampSeconds);
}
absl::Time MaxTimestamp() {
  return absl::FromUnixSeconds(kMaxTimestampSeconds) +
         absl::Nanoseconds(999'999'999);
}

struct Instant {
  std::string text;  // RFC 3339, as in a bundle
  absl::Time time;
};

const std::vector<Instant>& EdgeInstants() {
  static const auto* instants = [] {
    auto* v = new std::vector<Instant>();
    for (const char* text : kEdgeInstants) {
      absl::Time t;
      std::string error;
      if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) std::abort();
      v->push_back({text, t});
    }
    return v;
  }();
  return *instants;
}

std::string ZeroPad(int64_t value, size_t width) {
  std::string s = absl::StrCat(value);
  return std::string(width > s.size() ? width - s.size() : 0, '0') + s;
}

// A uniformly random instant of the Timestamp range or, half of the time,
// of 1679-2260 (int64 nanoseconds since 1970 hold those years, and they
// are only 6% of the Timestamp range), written in UTC with nine
// decimals (absl::FormatTime does not pad years below 1000).
Instant RandomInstant(Rng& rng) {
  constexpr int64_t kFrom1679 = -9'183'024'000;  // 1679-01-01T00:00:00Z
  constexpr int64_t kTo2261 = 9'183'110'400;     // 2261-01-01T00:00:00Z
  const bool narrow = rng.Percent(50);
  const int64_t low = narrow ? kFrom1679 : kMinTimestampSeconds;
  const int64_t high = narrow ? kTo2261 : kMaxTimestampSeconds;
  const absl::Time t =
      absl::FromUnixSeconds(
          low + static_cast<int64_t>(rng.Next() %
                                     static_cast<uint64_t>(high - low + 1))) +
      absl::Nanoseconds(static_cast<int64_t>(rng.Below(1'000'000'000)));
  const absl::CivilSecond c = absl::ToCivilSecond(t, absl::UTCTimeZone());
  const int64_t nanos = absl::ToInt64Nanoseconds(
      t - absl::FromUnixSeconds(absl::ToUnixSeconds(t)));
  return {absl::StrCat(ZeroPad(c.year(), 4), "-", ZeroPad(c.month(), 2), "-",
                       ZeroPad(c.day(), 2), "T", ZeroPad(c.hour(), 2), ":",
                       ZeroPad(c.minute(), 2), ":", ZeroPad(c.second(), 2), ".",
                       ZeroPad(nanos, 9), "Z"),
          t};
}

// A currency of a bundle's FX table: micro units per USD, and the same rate
// as the manifest writes it.
struct Currency {
  const char* code;
  int64_t micros;
  const char* per_base;
};

constexpr Currency kIdrRates[] = {{"IDR", 15'500'000'000, "15500"},
                                  {"IDR", 16'250'500'000, "16250.5"},
                                  {"IDR", 15'500'000'001, "15500.000001"}};
constexpr Currency kCnyRates[] = {{"CNY", 7'200'000, "7.2"},
                                  {"CNY", 7'123'456, "7.123456"},
                                  {"CNY", 1, "0.000001"}};
constexpr Currency kJpyRates[] = {{"JPY", 149'500'000, "149.5"},
                                  {"JPY", 1'000'000'000'000'000, "1000000000"}};

// Prices in USD nano-units that thresholds and requests are built around:
// zero, one nano, and either side of USD 100; also the largest amount
// google.type.Money may carry here (policy::kMaxMoneyUnits).
constexpr NanoAmount kNano = 1'000'000'000;
constexpr NanoAmount kMaxAmount =
    static_cast<NanoAmount>(policy::kMaxMoneyUnits) * kNano + (kNano - 1);
const NanoAmount kUsdAnchors[] = {0,
                                  1,
                                  99 * kNano + 990'000'000,
                                  100 * kNano,
                                  100 * kNano + 1,
                                  250 * kNano,
                                  policy::kMaxMoneyUnits* kNano};

// What a bundle and the requests aimed at it share, derived from the seed.
struct World {
  std::vector<std::string> hs_codes;  // 10 digits each
  std::vector<Currency> currencies;   // USD (the base) first
};

World MakeWorld(uint64_t seed) {
  Rng rng(seed ^ 0x6A09E667F3BCC909ULL);
  World world;
  for (int i = 0; i < 6; ++i)
    world.hs_codes.push_back(rng.Pick(kRandomHsCodes));
  for (int i = 0; i < 2; ++i) {
    std::string code;
    for (int d = 0; d < 10; ++d)
      code.push_back(static_cast<char>('0' + rng.Below(10)));
    if (rng.Percent(30)) code[0] = '0';
    world.hs_codes.push_back(code);
  }
  world.currencies.push_back({"USD", 1'000'000, "1"});
  world.currencies.push_back(rng.Pick(kIdrRates));
  world.currencies.push_back(rng.Pick(kCnyRates));
  if (rng.Percent(50)) world.currencies.push_back(rng.Pick(kJpyRates));
  return world;
}

// An amount in a currency of `micros` per USD near one of the anchors:
// exactly its conversion (rounded down), or one nano-unit either side.
NanoAmount AmountNear(Rng& rng, int64_t micros) {
  NanoAmount amount = rng.Pick(kUsdAnchors) * micros / 1'000'000;
  switch (rng.Below(4)) {
    case 0:
      amount -= 1;
      break;
    case 1:
      amount += 1;
      break;
    default:
      break;
  }
  return std::clamp(amount, NanoAmount{0}, kMaxAmount);
}

void SetMoney(absl::string_view currency, NanoAmount amount,
              importgate::v1::Money* money) {
  money->set_currency_code(std::string(currency));
  money->set_units(static_cast<int64_t>(amount / kNano));
  money->set_nanos(static_cast<int32_t>(amount % kNano));
}

std::string MoneyText(absl::string_view currency, NanoAmount amount) {
  return absl::StrCat("{ currency_code: \"", currency,
                      "\" units: ", static_cast<int64_t>(amount / kNano),
                      " nanos: ", static_cast<int64_t>(amount % kNano), " }");
}

// HS digits with dots as tariffs write them ("6109.10.00"), or after the
// chapter ("61.09"), or none.
std::string Dotted(Rng& rng, const std::string& digits) {
  std::string out;
  const bool after_chapter = rng.Percent(30);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (after_chapter ? i == 2 : (i == 4 || i == 6 || i == 8)) out += '.';
    out += digits[i];
  }
  return out;
}

// A prefix of a world code, or a range of equal-length prefixes around one
// (possibly just missing it), possibly dotted.
std::string HsPattern(Rng& rng, const World& world) {
  const size_t digits = rng.Between(2, 10);
  const std::string prefix = rng.Pick(world.hs_codes).substr(0, digits);
  auto spell = [&rng](const std::string& s) {
    return rng.Percent(25) ? Dotted(rng, s) : s;
  };
  if (!rng.Percent(30)) return spell(prefix);
  uint64_t largest = 1;
  for (size_t d = 0; d < digits; ++d) largest *= 10;
  largest -= 1;
  const uint64_t value = std::stoull(prefix);
  const uint64_t width = digits == 2 ? 15 : 4;
  uint64_t low = value - std::min<uint64_t>(value, rng.Below(width));
  uint64_t high = std::min(largest, value + rng.Below(width));
  if (rng.Percent(20)) {  // a range that ends just before or after the value
    if (value < largest && rng.Percent(50)) {
      low = value + 1;
      high = std::min(largest, low + rng.Below(3));
    } else if (value > 0) {
      high = value - 1;
      low = high - std::min<uint64_t>(high, rng.Below(3));
    }
  }
  return absl::StrCat(spell(ZeroPad(static_cast<int64_t>(low), digits)), "-",
                      spell(ZeroPad(static_cast<int64_t>(high), digits)));
}

std::string QuotedList(const std::vector<std::string>& values) {
  return absl::StrCat("[",
                      absl::StrJoin(values, ", ",
                                    [](std::string* out, const std::string& v) {
                                      absl::StrAppend(out, "\"", v, "\"");
                                    }),
                      "]");
}

std::string Countries(Rng& rng, size_t low, size_t high) {
  std::vector<std::string> list;
  for (size_t n = rng.Between(low, high); n > 0; --n) {
    list.push_back(rng.Pick(kRandomCountries));
  }
  return QuotedList(list);
}

void AppendAttributeCondition(Rng& rng, std::string* out) {
  absl::StrAppend(out, " attributes { key: \"", rng.Pick(kAttributeKeys), "\"");
  switch (rng.Below(4)) {
    case 0:
      absl::StrAppend(out, " equals: \"", rng.Pick(kAttributeValues), "\"");
      break;
    case 1: {
      std::vector<std::string> values;
      for (size_t n = rng.Between(1, 3); n > 0; --n) {
        values.push_back(rng.Pick(kAttributeValues));
      }
      absl::StrAppend(out, " in { values: ", QuotedList(values), " }");
      break;
    }
    case 2:
      absl::StrAppend(out, " present: true");
      break;
    default:
      absl::StrAppend(out, " present: false");
      break;
  }
  absl::StrAppend(out, " }");
}

// The conditions of one Match (never empty). An exception sets fewer
// conditions, so that it holds often enough to matter.
void AppendMatch(Rng& rng, const World& world, bool exception,
                 std::string* out) {
  int conditions = 0;
  auto chance = [&](int percent) {
    return rng.Percent(exception ? percent / 2 : percent);
  };
  if (rng.Percent(exception ? 40 : 80)) {
    const size_t kind = rng.Below(10);  // 0-3 HS, 4-6 both, 7-9 category
    if (kind < 7) {
      std::vector<std::string> patterns;
      for (size_t n = rng.Between(1, 3); n > 0; --n) {
        patterns.push_back(HsPattern(rng, world));
      }
      absl::StrAppend(out, " hs_codes: ", QuotedList(patterns));
    }
    if (kind >= 4) {
      std::vector<std::string> categories;
      for (size_t n = rng.Between(1, 2); n > 0; --n) {
        categories.push_back(rng.Pick(kRandomCategories));
      }
      absl::StrAppend(out, " categories: ", QuotedList(categories));
    }
    ++conditions;
  }
  if (chance(25)) {
    absl::StrAppend(out, " origin_countries: ", Countries(rng, 1, 4));
    ++conditions;
  }
  if (chance(20)) {
    absl::StrAppend(out, " origin_countries_not: ", Countries(rng, 1, 4));
    ++conditions;
  }
  if (chance(60)) {
    absl::StrAppend(out, " destination_countries: ", Countries(rng, 1, 4));
    ++conditions;
  }
  if (chance(40)) {
    switch (rng.Below(3)) {
      case 0:
        absl::StrAppend(out, " seller_kinds: [SELLER_KIND_CROSS_BORDER]");
        break;
      case 1:
        absl::StrAppend(out, " seller_kinds: [SELLER_KIND_DOMESTIC]");
        break;
      default:
        absl::StrAppend(out,
                        " seller_kinds: [SELLER_KIND_DOMESTIC, "
                        "SELLER_KIND_CROSS_BORDER]");
        break;
    }
    ++conditions;
  }
  if (chance(25)) {
    absl::StrAppend(out, " channels: ",
                    rng.Percent(50) ? "[CHANNEL_LISTING]"
                                    : "[CHANNEL_CHECKOUT, CHANNEL_LISTING]");
    ++conditions;
  }
  if (chance(15)) {
    absl::StrAppend(out, " seller_countries: ", Countries(rng, 1, 3));
    ++conditions;
  }
  if (chance(25)) {
    const Currency& currency = rng.Pick(world.currencies);
    absl::StrAppend(
        out, " unit_price { ", rng.Percent(50) ? "below " : "at_least ",
        MoneyText(currency.code, AmountNear(rng, currency.micros)), " }");
    ++conditions;
  }
  if (chance(15)) {
    for (size_t n = rng.Between(1, 2); n > 0; --n) {
      AppendAttributeCondition(rng, out);
    }
    ++conditions;
  }
  if (conditions == 0) {
    absl::StrAppend(out, " destination_countries: ", Countries(rng, 1, 4));
  }
}

Instant PickInstant(Rng& rng) {
  return rng.Percent(85) ? rng.Pick(EdgeInstants()) : RandomInstant(rng);
}

// Rates of the world's currencies in rupiah per unit (base_per_unit, base
// IDR), to vary dated tables against the manifest's per-USD quotes.
constexpr const char* kIdrPerUsd[] = {"15589", "16250.5", "15500.000001"};
constexpr const char* kIdrPerCny[] = {"2150.27", "2099.26", "0.000001"};
constexpr const char* kIdrPerJpy[] = {"104.5678", "1000000000"};

// Dated rate tables in one or two files: windows in date order from random
// instants, sometimes with gaps, the last one sometimes open-ended. Each
// table rates every world currency (a price threshold may be in any), per
// USD or in rupiah per unit.
void AppendRandomRateFiles(Rng& rng, const World& world,
                           std::vector<policy::SourceFile>* files) {
  std::vector<Instant> edges;
  for (size_t n = 2 * rng.Between(1, 5); n > 0 || edges.size() < 2; --n) {
    // Rate windows lie in years 0001 to 9999 UTC (Timestamps in answers).
    Instant edge = n > 0 ? PickInstant(rng) : RandomInstant(rng);
    if (edge.time < MinTimestamp() || edge.time > MaxTimestamp()) {
      edge = RandomInstant(rng);
    }
    edges.push_back(edge);
    std::sort(
        edges.begin(), edges.end(),
        [](const Instant& a, const Instant& b) { return a.time < b.time; });
    edges.erase(std::unique(edges.begin(), edges.end(),
                            [](const Instant& a, const Instant& b) {
                              return a.time == b.time;
                            }),
                edges.end());
    if (n == 0) ++n;  // keep going until two distinct edges
  }
  std::string file[2];
  const size_t split = rng.Between(0, edges.size());
  size_t i = 0;
  while (i + 1 < edges.size()) {
    const Instant& from = edges[i];
    // The next edge ends this table; skipping one leaves a gap.
    size_t end = i + 1;
    if (end + 1 < edges.size() && rng.Percent(30)) ++end;
    const bool open = end + 1 >= edges.size() && rng.Percent(30);
    std::string& out = file[i < split ? 0 : 1];
    absl::StrAppend(&out, "tables {\n  effective_from: \"", from.text, "\"\n");
    if (!open) {
      absl::StrAppend(&out, "  effective_until: \"", edges[end].text, "\"\n");
    }
    absl::StrAppend(&out, "  source: \"random table ", i, "\"\n");
    const bool per_usd = rng.Percent(50);
    absl::StrAppend(&out, "  base_currency: \"", per_usd ? "USD" : "IDR",
                    "\"\n");
    for (const Currency& currency : world.currencies) {
      const std::string code = currency.code;
      if (code == (per_usd ? "USD" : "IDR")) continue;
      const char* rate;
      if (per_usd) {
        rate = code == "IDR"   ? rng.Pick(kIdrRates).per_base
               : code == "CNY" ? rng.Pick(kCnyRates).per_base
                               : rng.Pick(kJpyRates).per_base;
      } else {
        rate = code == "USD"   ? rng.Pick(kIdrPerUsd)
               : code == "CNY" ? rng.Pick(kIdrPerCny)
                               : rng.Pick(kIdrPerJpy);
      }
      absl::StrAppend(&out, "  rates { currency_code: \"", code, "\" ",
                      per_usd ? "per_base" : "base_per_unit", ": \"", rate,
                      "\" }\n");
    }
    absl::StrAppend(&out, "}\n");
    i = end;
  }
  for (int f = 0; f < 2; ++f) {
    if (!file[f].empty()) {
      files->push_back(
          {absl::StrCat("rates/random_", f, ".textproto"), std::move(file[f])});
    }
  }
}

constexpr const char* kIdPrefixes[] = {"r", "R", "rule-", "a.", "Z_", "r-0"};
constexpr int32_t kPriorities[] = {0, 0, 1, 1, 2, 3, -1, 100};

void AppendRandomRule(Rng& rng, const World& world, size_t i,
                      std::string* out) {
  absl::StrAppend(
      out, "rules {\n  id: \"", rng.Pick(kIdPrefixes), i,
      "\"\n  effect: ", rng.Percent(50) ? "EFFECT_DENY" : "EFFECT_ALLOW",
      "\n  priority: ", rng.Pick(kPriorities), "\n  reason_code: \"R_", i,
      "\"\n  message: \"random rule ", i, "\"\n  match {");
  AppendMatch(rng, world, /*exception=*/false, out);
  absl::StrAppend(out, " }\n");
  if (rng.Percent(25)) {
    for (size_t n = rng.Between(1, 2); n > 0; --n) {
      absl::StrAppend(out, "  unless {");
      AppendMatch(rng, world, /*exception=*/true, out);
      absl::StrAppend(out, " }\n");
    }
  }
  bool has_from = rng.Percent(40);
  bool has_until = rng.Percent(30);
  Instant from = PickInstant(rng);
  Instant until = PickInstant(rng);
  if (has_from && has_until) {
    if (until.time < from.time) std::swap(from, until);
    if (until.time == from.time) has_until = false;
  }
  if (has_from) absl::StrAppend(out, "  effective_from: \"", from.text, "\"\n");
  if (has_until) {
    absl::StrAppend(out, "  effective_until: \"", until.text, "\"\n");
  }
  if (rng.Percent(20)) {
    const size_t seconds = rng.Below(86'401);
    absl::StrAppend(out, "  cache_ttl { seconds: ", seconds, " nanos: ",
                    seconds == 86'400 ? 0 : rng.Below(1'000'000'000), " }\n");
  }
  absl::StrAppend(out, "}\n");
}

// A request's HS code: a prefix of a world code, sometimes with one digit
// changed (mostly the last, to land just outside a range or prefix).
std::string RequestHsCode(Rng& rng, const World& world) {
  std::string code = rng.Pick(world.hs_codes).substr(0, rng.Between(2, 10));
  if (rng.Percent(25)) {
    const size_t at =
        rng.Percent(50) ? code.size() - 1 : rng.Below(code.size());
    code[at] = static_cast<char>(
        '0' + (code[at] - '0' + (rng.Percent(50) ? 1 : 9)) % 10);
  }
  return rng.Percent(30) ? Dotted(rng, code) : code;
}

// An evaluation time: an edge instant or one nanosecond or second either
// side, an end of the Timestamp range, or anywhere in it.
absl::Time RequestTime(Rng& rng) {
  constexpr int64_t kDeltaNanos[] = {
      0, 0, -1, 1, -1'000'000'000, 1'000'000'000};
  const size_t mode = rng.Below(100);
  absl::Time t;
  if (mode < 65) {
    t = rng.Pick(EdgeInstants()).time;
  } else if (mode < 75) {
    t = rng.Percent(50) ? MinTimestamp() : MaxTimestamp();
  } else {
    t = RandomInstant(rng).time;
  }
  t += absl::Nanoseconds(rng.Pick(kDeltaNanos));
  return std::clamp(t, MinTimestamp(), MaxTimestamp());
}

}  // namespace

std::vector<policy::SourceFile> RandomBundle(uint64_t seed, size_t rule_count) {
  const World world = MakeWorld(seed);
  Rng rng(seed ^ 0xBB67AE8584CAA73BULL);
  std::string manifest =
      absl::StrCat("name: \"random-", seed, "\"\nrevision: 1\ndefault_effect: ",
                   rng.Percent(70) ? "EFFECT_ALLOW" : "EFFECT_DENY",
                   "\ndefault_reason_code: \"NO_RULE_MATCHED\"\n"
                   "default_message: \"no rule matched\"\n");
  if (rng.Percent(80)) {
    absl::StrAppend(&manifest,
                    "default_cache_ttl { seconds: ", rng.Between(1, 3600),
                    " }\n");
  }
  // Half the bundles also hold dated rate tables (rates/), with or without
  // Manifest.fx in the gaps between them.
  const bool dated = rng.Percent(50);
  if (!dated || rng.Percent(50)) {
    absl::StrAppend(&manifest, "fx {\n  base_currency: \"USD\"\n");
    for (size_t c = 1; c < world.currencies.size(); ++c) {
      absl::StrAppend(&manifest, "  rates { currency_code: \"",
                      world.currencies[c].code, "\" per_base: \"",
                      world.currencies[c].per_base, "\" }\n");
    }
    absl::StrAppend(&manifest, "}\n");
  }

  std::vector<policy::SourceFile> files = {{"manifest.textproto", manifest}};
  if (dated) AppendRandomRateFiles(rng, world, &files);
  const size_t file_count = rng.Between(1, 3);
  std::vector<std::string> rule_files(file_count);
  for (size_t i = 0; i < rule_count; ++i) {
    AppendRandomRule(rng, world, i, &rule_files[rng.Below(file_count)]);
  }
  for (size_t f = 0; f < file_count; ++f) {
    files.push_back({absl::StrCat("rules/random_", f, ".textproto"),
                     std::move(rule_files[f])});
  }
  return files;
}

std::vector<importgate::v1::IsImportAllowedRequest> RandomRequests(
    uint64_t seed, size_t request_count) {
  namespace v1 = importgate::v1;
  const World world = MakeWorld(seed);
  Rng rng(seed ^ 0x3C6EF372FE94F82BULL);
  std::vector<v1::IsImportAllowedRequest> requests;
  requests.reserve(request_count);
  for (size_t k = 0; k < request_count; ++k) {
    v1::IsImportAllowedRequest r;
    v1::Item* item = r.mutable_item();
    item->set_sku(absl::StrCat("sku-", k));
    const bool has_hs = rng.Percent(80);
    if (has_hs) item->set_hs_code(RequestHsCode(rng, world));
    if (!has_hs || rng.Percent(45)) {
      item->set_category(absl::StrCat(rng.Pick(kRandomCategories),
                                      rng.Pick(kCategorySuffixes)));
    }
    if (rng.Percent(75)) item->set_origin_country(rng.Pick(kRandomCountries));
    if (rng.Percent(70)) {
      if (rng.Percent(85)) {
        const Currency& currency = rng.Pick(world.currencies);
        SetMoney(currency.code, AmountNear(rng, currency.micros),
                 item->mutable_unit_price());
      } else {
        SetMoney(rng.Pick(kUnratedCurrencies), AmountNear(rng, 1'000'000),
                 item->mutable_unit_price());
      }
    }
    item->set_quantity(static_cast<int64_t>(rng.Between(1, 3)));
    v1::Seller* seller = r.mutable_seller();
    seller->set_id(absl::StrCat("seller-", k % 7));
    seller->set_kind(rng.Percent(50) ? v1::SELLER_KIND_CROSS_BORDER
                                     : v1::SELLER_KIND_DOMESTIC);
    if (rng.Percent(75)) seller->set_country(rng.Pick(kRandomCountries));
    r.set_destination_country(rng.Pick(kRandomCountries));
    r.set_channel(rng.Percent(50) ? v1::CHANNEL_LISTING : v1::CHANNEL_CHECKOUT);
    if (rng.Percent(95)) {
      const absl::Time t = RequestTime(rng);
      const int64_t seconds = absl::ToUnixSeconds(t);
      r.mutable_evaluation_time()->set_seconds(seconds);
      r.mutable_evaluation_time()->set_nanos(static_cast<int32_t>(
          absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
    }
    for (const char* key : kAttributeKeys) {
      if (rng.Percent(40)) {
        (*r.mutable_attributes())[key] = rng.Pick(kAttributeValues);
      }
    }
    requests.push_back(std::move(r));
  }
  return requests;
}

}  // namespace importgate::bench
