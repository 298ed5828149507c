#include "tests/eval/reference_model.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/eval/request.h"

namespace importgate::testing {
namespace {

namespace pv1 = ::importgate::policy::v1;
namespace v1 = ::importgate::v1;

// Money in nano-units (10^-9): up to 10^22, times a rate in micro units of
// up to 10^15, stays far below 2^127, so cross-multiplying is exact.
using Amount = __int128;
constexpr int64_t kMicrosPerUnit = 1'000'000;

// The request's facts, read straight from its wire fields.
struct Facts {
  std::string hs;  // the HS code's digits, dots removed; "" when absent
  absl::string_view category;
  absl::string_view origin;          // "" when absent
  absl::string_view seller_country;  // "" when absent
  absl::string_view destination;
  v1::SellerKind seller_kind = v1::SELLER_KIND_UNSPECIFIED;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  const v1::Money* price = nullptr;  // null when absent
  absl::Time at;
  const google::protobuf::Map<std::string, std::string>* attributes = nullptr;
};

// A fact a condition needs and the request lacks. docs/policy-format.md
// does not say which one an error names when several are missing; the
// model names the first in this order (seller country, origin, price),
// which is also the engine's.
enum class Fact { kNone, kSellerCountry, kOrigin, kPrice, kPriceRate, kRates };

using Table = ReferenceModel::Table;

// The rates of one decision (section 8): the table in force at its instant
// (null when none is), the window it stands for, and the first conversion.
struct Rates {
  const Table* table = nullptr;
  Table window;  // from/until: when `table` is in force around the instant
  std::optional<v1::PriceConversion> first;
  std::string missing_threshold;  // for Fact::kRates
  bool consulted = false;         // a price needed the rates
};

// A Match against the facts: it fails (some condition is false), or it
// holds, or it would hold but for a missing fact.
struct MatchResult {
  bool fails = false;
  Fact missing = Fact::kNone;
};

std::string Digits(absl::string_view text) {
  std::string digits;
  for (char c : text) {
    if (c != '.') digits += c;
  }
  return digits;
}

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& list,
              absl::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool ContainsEnum(const google::protobuf::RepeatedField<int>& list, int value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Section 6: the item's digits start with the prefix; a range "low-high"
// of equal-length prefixes holds every prefix between its ends, and digit
// strings of equal length compare like the numbers they spell.
bool HsPatternMatches(absl::string_view pattern, const std::string& item) {
  std::vector<std::string> ends = absl::StrSplit(pattern, '-');
  const std::string low = Digits(ends.front());
  const std::string high = Digits(ends.back());
  if (item.size() < low.size()) return false;
  const std::string head = item.substr(0, low.size());
  return low <= head && head <= high;
}

// Section 6: equal, or below it on whole segments.
bool CategoryMatches(absl::string_view listed, absl::string_view item) {
  return item == listed || absl::StartsWith(item, absl::StrCat(listed, "/"));
}

bool AttributeHolds(const pv1::AttributeCondition& condition,
                    const Facts& facts) {
  auto it = facts.attributes->find(condition.key());
  const bool present = it != facts.attributes->end();
  switch (condition.test_case()) {
    case pv1::AttributeCondition::kEquals:
      return present && it->second == condition.equals();
    case pv1::AttributeCondition::kIn:
      return present && Contains(condition.in().values(), it->second);
    case pv1::AttributeCondition::kPresent:
      return present == condition.present();
    case pv1::AttributeCondition::TEST_NOT_SET:
      break;
  }
  return false;
}

Amount ToAmount(const v1::Money& money) {
  return static_cast<Amount>(money.units()) * 1'000'000'000 + money.nanos();
}

// Section 5, one Match: a conjunction of the conditions that are set.
// A Timestamp of `t`.
void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const absl::Duration since = t - absl::UnixEpoch();
  const int64_t seconds =
      absl::ToInt64Seconds(absl::Floor(since, absl::Seconds(1)));
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(since - absl::Seconds(seconds))));
}

// Section 8: the price against a threshold. Sets *below, or returns the
// missing fact.
Fact ComparePrice(const v1::Money& price, const v1::Money& bound, Rates* rates,
                  bool* below) {
  if (price.currency_code() == bound.currency_code()) {
    *below = ToAmount(price) < ToAmount(bound);
    return Fact::kNone;
  }
  rates->consulted = true;
  if (rates->table == nullptr) {
    rates->missing_threshold = bound.currency_code();
    return Fact::kRates;
  }
  const Table& table = *rates->table;
  auto p = table.rates.find(price.currency_code());
  auto b = table.rates.find(bound.currency_code());
  if (p == table.rates.end() || b == table.rates.end()) return Fact::kPriceRate;
  // Value in the base currency: amount / per_base, or amount *
  // base_per_unit. Cross-multiplied, so nothing is rounded.
  const Amount p_rate = p->second.first, b_rate = b->second.first;
  const Amount lhs = ToAmount(price) * (table.per_base ? b_rate : p_rate);
  const Amount rhs = ToAmount(bound) * (table.per_base ? p_rate : b_rate);
  *below = lhs < rhs;
  if (!rates->first.has_value()) {
    v1::PriceConversion c;
    // The price in the threshold's currency, rounded down to the nano.
    // Saturated at the largest Money: larger amounts exceed every threshold.
    const Amount kLargestMoney =
        static_cast<Amount>(std::numeric_limits<int64_t>::max()) *
            1'000'000'000 +
        999'999'999;
    const Amount converted =
        std::min(lhs / (table.per_base ? p_rate : b_rate), kLargestMoney);
    c.mutable_converted_price()->set_currency_code(bound.currency_code());
    c.mutable_converted_price()->set_units(
        static_cast<int64_t>(converted / 1'000'000'000));
    c.mutable_converted_price()->set_nanos(
        static_cast<int32_t>(converted % 1'000'000'000));
    for (const std::string& currency :
         {price.currency_code(), bound.currency_code()}) {
      if (currency == table.base) continue;
      v1::ExchangeRate* rate = c.add_rates();
      rate->set_unit_currency(table.per_base ? table.base : currency);
      rate->set_quote_currency(table.per_base ? currency : table.base);
      rate->set_rate(table.rates.at(currency).second);
    }
    c.set_rate_source(table.source);
    if (rates->window.from.has_value()) {
      SetTime(*rates->window.from, c.mutable_rates_effective_from());
    }
    if (rates->window.until.has_value()) {
      SetTime(*rates->window.until, c.mutable_rates_effective_until());
    }
    rates->first = std::move(c);
  }
  return Fact::kNone;
}

MatchResult EvaluateMatch(const pv1::Match& m, const Facts& facts,
                          Rates* rates) {
  MatchResult result;
  bool seller_country_missing = false;
  bool origin_missing = false;
  Fact price_missing = Fact::kNone;

  // The product selector: an HS prefix OR a category.
  if (m.hs_codes_size() > 0 || m.categories_size() > 0) {
    bool product = false;
    if (!facts.hs.empty()) {
      for (const std::string& pattern : m.hs_codes()) {
        product = product || HsPatternMatches(pattern, facts.hs);
      }
    }
    if (!facts.category.empty()) {
      for (const std::string& category : m.categories()) {
        product = product || CategoryMatches(category, facts.category);
      }
    }
    if (!product) result.fails = true;
  }
  if (m.origin_countries_size() > 0 || m.origin_countries_not_size() > 0) {
    if (facts.origin.empty()) {
      origin_missing = true;
    } else if ((m.origin_countries_size() > 0 &&
                !Contains(m.origin_countries(), facts.origin)) ||
               Contains(m.origin_countries_not(), facts.origin)) {
      result.fails = true;
    }
  }
  if (m.destination_countries_size() > 0 &&
      !Contains(m.destination_countries(), facts.destination)) {
    result.fails = true;
  }
  if (m.seller_kinds_size() > 0 &&
      !ContainsEnum(m.seller_kinds(), facts.seller_kind)) {
    result.fails = true;
  }
  if (m.channels_size() > 0 && !ContainsEnum(m.channels(), facts.channel)) {
    result.fails = true;
  }
  if (m.seller_countries_size() > 0) {
    if (facts.seller_country.empty()) {
      seller_country_missing = true;
    } else if (!Contains(m.seller_countries(), facts.seller_country)) {
      result.fails = true;
    }
  }
  for (const pv1::AttributeCondition& condition : m.attributes()) {
    if (!AttributeHolds(condition, facts)) result.fails = true;
  }
  // The price is tested (and converted) only when every other condition
  // holds or lacks a fact, as the engine stops at the first false one.
  if (m.has_unit_price() && !result.fails) {
    const pv1::PriceCondition& condition = m.unit_price();
    const bool below = condition.has_below();
    const v1::Money& bound = below ? condition.below() : condition.at_least();
    bool is_below = false;
    if (facts.price == nullptr) {
      price_missing = Fact::kPrice;
    } else if (Fact f = ComparePrice(*facts.price, bound, rates, &is_below);
               f != Fact::kNone) {
      price_missing = f;
    } else if (is_below != below) {
      result.fails = true;
    }
  }

  if (result.fails) return result;
  if (seller_country_missing) {
    result.missing = Fact::kSellerCountry;
  } else if (origin_missing) {
    result.missing = Fact::kOrigin;
  } else {
    result.missing = price_missing;
  }
  return result;
}

// Section 11, step 2: each field set in `match` counts once, the product
// selector (hs_codes, categories) once for both.
int Specificity(const pv1::Match& m) {
  return (m.hs_codes_size() > 0 || m.categories_size() > 0) +
         (m.origin_countries_size() > 0) + (m.origin_countries_not_size() > 0) +
         (m.seller_kinds_size() > 0) + (m.destination_countries_size() > 0) +
         (m.channels_size() > 0) + m.has_unit_price() +
         (m.attributes_size() > 0) + (m.seller_countries_size() > 0);
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%E4Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

absl::Status MissingFactError(const pv1::Manifest& manifest,
                              const pv1::Rule& rule, Fact fact,
                              const Facts& facts, const Rates& rates) {
  switch (fact) {
    case Fact::kSellerCountry:
      return absl::InvalidArgumentError(
          absl::StrCat("seller.country: is required here: rule \"", rule.id(),
                       "\" tests the seller's country"));
    case Fact::kOrigin:
      return absl::InvalidArgumentError(
          absl::StrCat("item.origin_country: is required here: rule \"",
                       rule.id(), "\" tests the origin country"));
    case Fact::kPrice:
      return absl::InvalidArgumentError(
          absl::StrCat("item.unit_price: is required here: rule \"", rule.id(),
                       "\" tests the unit price"));
    case Fact::kPriceRate:
      return absl::InvalidArgumentError(absl::StrCat(
          "item.unit_price.currency_code: \"", facts.price->currency_code(),
          "\" has no exchange rate in bundle \"", manifest.name(),
          "\" revision ", manifest.revision(), " at ", Rfc3339(facts.at),
          " (rate table ", rates.table->location, "), which rule \"", rule.id(),
          "\" needs"));
    case Fact::kRates:
      return absl::FailedPreconditionError(absl::StrCat(
          "item.unit_price: bundle \"", manifest.name(), "\" revision ",
          manifest.revision(), " has no exchange rates in force at ",
          Rfc3339(facts.at), ", so \"", facts.price->currency_code(),
          "\" cannot be converted to \"", rates.missing_threshold,
          "\" for rule \"", rule.id(), "\"; a newer revision may carry them"));
    case Fact::kNone:
      break;
  }
  return absl::OkStatus();
}

// A positive decimal with at most 6 decimals, in millionths (section 8).
absl::StatusOr<int64_t> ParseMicros(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() > 2 || parts[0].empty() ||
      (parts.size() == 2 && (parts[1].empty() || parts[1].size() > 6))) {
    return absl::InvalidArgumentError(absl::StrCat("bad rate \"", text, "\""));
  }
  std::string digits(parts[0]);
  std::string fraction(parts.size() == 2 ? parts[1] : "");
  fraction.resize(6, '0');
  int64_t micros = 0;
  for (char c : digits + fraction) {
    if (c < '0' || c > '9' || micros > (int64_t{1} << 60)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad rate \"", text, "\""));
    }
    micros = micros * 10 + (c - '0');
  }
  return micros;
}

// A rate's decimal as answers show it: no leading or trailing zeros
// ("015500.50" -> "15500.5", "7.0" -> "7").
std::string Canonical(absl::string_view text) {
  std::string s(text);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  size_t zeros = 0;
  while (zeros + 1 < s.size() && s[zeros] == '0' && s[zeros + 1] != '.') {
    ++zeros;
  }
  return s.substr(zeros);
}

absl::StatusOr<std::optional<absl::Time>> ParseEdge(const std::string& text) {
  if (text.empty()) return std::nullopt;
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad time \"", text, "\": ", error));
  }
  return t;
}

}  // namespace

std::string ReferenceAnswer::DebugString() const {
  if (!status.ok()) return status.ToString();
  return absl::StrCat(
      v1::Effect_Name(effect), " by ",
      rule_id.empty() ? "the default" : absl::StrCat("\"", rule_id, "\""), " (",
      reason_code, ") matched [", absl::StrJoin(matched_rule_ids, ", "),
      "] ttl ", absl::FormatDuration(cache_ttl),
      price_conversion.has_value()
          ? absl::StrCat(" converted {", price_conversion->ShortDebugString(),
                         "}")
          : "");
}

absl::StatusOr<ReferenceModel> ReferenceModel::Create(
    const policy::ParsedBundle& bundle,
    std::shared_ptr<const IsoCodes> iso_codes) {
  ReferenceModel model;
  model.manifest_ = bundle.manifest;
  model.iso_codes_ = std::move(iso_codes);
  auto read_table = [](const pv1::FxTable& fx,
                       std::string location) -> absl::StatusOr<Table> {
    Table table;
    table.base = fx.base_currency();
    table.rates[fx.base_currency()] = {kMicrosPerUnit, "1"};
    table.source = fx.source();
    table.location = std::move(location);
    for (const pv1::FxRate& rate : fx.rates()) {
      table.per_base = !rate.per_base().empty();
      const std::string& text =
          table.per_base ? rate.per_base() : rate.base_per_unit();
      absl::StatusOr<int64_t> micros = ParseMicros(text);
      if (!micros.ok()) return micros.status();
      table.rates[rate.currency_code()] = {*micros, Canonical(text)};
    }
    absl::StatusOr<std::optional<absl::Time>> from =
        ParseEdge(fx.effective_from());
    if (!from.ok()) return from.status();
    absl::StatusOr<std::optional<absl::Time>> until =
        ParseEdge(fx.effective_until());
    if (!until.ok()) return until.status();
    table.from = *from;
    table.until = *until;
    return table;
  };
  if (bundle.manifest.has_fx()) {
    absl::StatusOr<Table> table =
        read_table(bundle.manifest.fx(), policy::kManifestPath);
    if (!table.ok()) return table.status();
    model.fallback_ = std::move(*table);
  }
  for (const policy::RateTableSource& source : bundle.rate_tables) {
    absl::StatusOr<Table> table =
        read_table(source.table, policy::FormatLocation(source.location));
    if (!table.ok()) return table.status();
    model.dated_.push_back(std::move(*table));
  }
  for (const policy::RuleSource& source : bundle.rules) {
    Rule rule;
    rule.proto = source.rule;
    absl::StatusOr<std::optional<absl::Time>> from =
        ParseEdge(rule.proto.effective_from());
    if (!from.ok()) return from.status();
    absl::StatusOr<std::optional<absl::Time>> until =
        ParseEdge(rule.proto.effective_until());
    if (!until.ok()) return until.status();
    rule.from = *from;
    rule.until = *until;
    rule.specificity = Specificity(rule.proto.match());
    model.rules_.push_back(std::move(rule));
  }
  return model;
}

const ReferenceModel::Table* ReferenceModel::TableAt(absl::Time t,
                                                     Table* window) const {
  // A dated table in force at t wins (section 8).
  for (const Table& table : dated_) {
    if ((!table.from.has_value() || *table.from <= t) &&
        (!table.until.has_value() || t < *table.until)) {
      window->from = table.from;
      window->until = table.until;
      return &table;
    }
  }
  // In a gap between the dated tables around t: Manifest.fx, if any.
  window->from.reset();
  window->until.reset();
  for (const Table& table : dated_) {
    if (table.until.has_value() && *table.until <= t &&
        (!window->from.has_value() || *window->from < *table.until)) {
      window->from = table.until;
    }
    if (table.from.has_value() && t < *table.from &&
        (!window->until.has_value() || *table.from < *window->until)) {
      window->until = table.from;
    }
  }
  return fallback_.has_value() ? &*fallback_ : nullptr;
}

ReferenceAnswer ReferenceModel::Decide(
    const v1::IsImportAllowedRequest& request, absl::Time now) const {
  ReferenceAnswer answer;
  {
    // Section 12 belongs to NormalizeRequest; only its verdict is used.
    eval::DecisionInput unused;
    answer.status = eval::NormalizeRequest(request, *iso_codes_, now, &unused);
    if (!answer.status.ok()) return answer;
  }
  Facts facts;
  facts.hs = Digits(request.item().hs_code());
  facts.category = request.item().category();
  facts.origin = request.item().origin_country();
  facts.seller_country = request.seller().country();
  facts.destination = request.destination_country();
  facts.seller_kind = request.seller().kind();
  facts.channel = request.channel();
  if (request.item().has_unit_price())
    facts.price = &request.item().unit_price();
  facts.at = request.has_evaluation_time()
                 ? absl::FromUnixSeconds(request.evaluation_time().seconds()) +
                       absl::Nanoseconds(request.evaluation_time().nanos())
                 : now;
  facts.attributes = &request.attributes();

  // Section 7: from <= t < until.
  auto in_window = [&](const Rule& rule) {
    return (!rule.from.has_value() || *rule.from <= facts.at) &&
           (!rule.until.has_value() || facts.at < *rule.until);
  };

  Rates rates;
  rates.table = TableAt(facts.at, &rates.window);

  // Section 11: the rules in their windows, in resolution order: priority,
  // specificity, DENY over ALLOW, id.
  std::vector<const Rule*> ordered;
  for (const Rule& rule : rules_) {
    if (in_window(rule)) ordered.push_back(&rule);
  }
  std::sort(ordered.begin(), ordered.end(), [](const Rule* x, const Rule* y) {
    const Rule& a = *x;
    const Rule& b = *y;
    if (a.proto.priority() != b.proto.priority()) {
      return a.proto.priority() > b.proto.priority();
    }
    if (a.specificity != b.specificity) return a.specificity > b.specificity;
    const bool a_denies = a.proto.effect() == v1::EFFECT_DENY;
    const bool b_denies = b.proto.effect() == v1::EFFECT_DENY;
    if (a_denies != b_denies) return a_denies;
    return a.proto.id() < b.proto.id();
  });

  // In that order, each rule whose match holds (possibly but for a missing
  // fact) and none of whose exceptions holds (section 9). Section 10: an
  // undecidable rule ranked above every matching rule rejects the request;
  // one ranked below the decider is left out. Decision.matched_rule_ids:
  // "at most 32", then the truncated flag, and nothing after it is looked
  // at (so it converts no price).
  const Rule* decider = nullptr;
  for (const Rule* rule : ordered) {
    MatchResult match = EvaluateMatch(rule->proto.match(), facts, &rates);
    if (match.fails) continue;
    bool exempt = false;
    Fact exception_missing = Fact::kNone;
    for (const pv1::Match& exception : rule->proto.unless()) {
      MatchResult e = EvaluateMatch(exception, facts, &rates);
      if (e.fails) continue;
      if (e.missing == Fact::kNone) {
        exempt = true;
        break;
      }
      if (exception_missing == Fact::kNone) exception_missing = e.missing;
    }
    if (exempt) continue;
    const Fact missing =
        match.missing != Fact::kNone ? match.missing : exception_missing;
    if (missing != Fact::kNone) {
      if (decider == nullptr) {
        answer.status =
            MissingFactError(manifest_, rule->proto, missing, facts, rates);
        return answer;
      }
      continue;
    }
    if (decider == nullptr) decider = rule;
    if (answer.matched_rule_ids.size() == 32) {
      answer.matched_rule_ids_truncated = true;
      break;
    }
    answer.matched_rule_ids.push_back(rule->proto.id());
  }

  // Sections 3 and 4: the decider's effect and reason, else the default.
  if (decider != nullptr) {
    answer.effect = decider->proto.effect();
    answer.rule_id = decider->proto.id();
    answer.reason_code = decider->proto.reason_code();
  } else {
    answer.effect = manifest_.default_effect();
    answer.reason_code = manifest_.default_reason_code();
  }
  const google::protobuf::Duration& ttl =
      decider != nullptr && decider->proto.has_cache_ttl()
          ? decider->proto.cache_ttl()
          : manifest_.default_cache_ttl();
  answer.cache_ttl =
      absl::Seconds(ttl.seconds()) + absl::Nanoseconds(ttl.nanos());
  // README: a cached answer never outlives the bundle's next effective
  // date, the first window edge after t.
  for (const Rule& rule : rules_) {
    for (const std::optional<absl::Time>& edge : {rule.from, rule.until}) {
      if (edge.has_value() && *edge > facts.at) {
        answer.cache_ttl = std::min(answer.cache_ttl, *edge - facts.at);
      }
    }
  }
  // Section 8: nor, when a price needed the rates, the rates' window (or
  // the gap's).
  answer.price_conversion = rates.first;
  if (rates.consulted && rates.window.until.has_value()) {
    answer.cache_ttl =
        std::min(answer.cache_ttl, *rates.window.until - facts.at);
  }
  return answer;
}

}  // namespace importgate::testing
