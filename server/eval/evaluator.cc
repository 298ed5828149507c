#include "server/eval/evaluator.h"

#include <algorithm>
#include <limits>

#include "absl/base/internal/prefetch.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace importgate::eval {
namespace {

namespace v1 = importgate::v1;
using compiler::AttributeTest;
using compiler::CompiledMatch;
using compiler::CompiledRule;
using compiler::PolicySnapshot;
using compiler::PriceBound;

// A fact a condition needed but the request lacked.
enum class Missing {
  kNone,
  kOrigin,
  kSellerCountry,
  kPrice,
  kPriceCurrency,  // the rates in force do not rate the price's currency
  kRates,          // no rates are in force at the decision's instant
};

// The outcome of a conjunction: false as soon as one condition is false;
// otherwise "missing" when a condition needed an absent fact.
struct Outcome {
  bool holds = true;
  Missing missing = Missing::kNone;
};

// The exchange rates of one decision: the period in force at its instant,
// found the first time a price needs converting, and the first conversion.
class Rates {
 public:
  Rates(const PolicySnapshot& snapshot, absl::Time at)
      : snapshot_(snapshot), at_(at) {}

  // The period in force, or null when none is.
  const compiler::RatePeriod* Period() {
    if (!looked_up_) {
      looked_up_ = true;
      const auto& periods = snapshot_.rate_periods;
      auto it =
          std::upper_bound(periods.begin(), periods.end(), at_,
                           [](absl::Time t, const compiler::RatePeriod& p) {
                             return t < p.until;
                           });
      if (it == periods.end()) {
        next_change_ = absl::InfiniteFuture();
      } else if (it->from <= at_) {
        period_ = &*it;
        next_change_ = it->until;
      } else {
        next_change_ = it->from;  // in a gap: rates start there
      }
    }
    return period_;
  }

  // Whether a price needed the rates (converted or not: a missing rate
  // left a rule out, which may change too); then the answer may change
  // at NextChange().
  bool Consulted() const { return looked_up_; }
  absl::Time NextChange() const { return next_change_; }

  eval::PriceConversion first;         // the first conversion, if any
  CurrencyCode missing_threshold = 0;  // for the kRates error

 private:
  const PolicySnapshot& snapshot_;
  const absl::Time at_;
  bool looked_up_ = false;
  const compiler::RatePeriod* period_ = nullptr;
  absl::Time next_change_ = absl::InfiniteFuture();
};

// The largest amount google.type.Money holds, in nanos.
constexpr policy::NanoAmount kMaxConvertedNanos =
    static_cast<policy::NanoAmount>(std::numeric_limits<int64_t>::max()) *
        1'000'000'000 +
    999'999'999;

// Whether price `p` of `in` is below the bound `b`, exactly; converts with
// `rates` when the currencies differ. Returns kNone with the answer in
// `*below`, or the fact that is missing.
Missing PriceBelow(const PriceBound& b, const DecisionInput& in, Rates* rates,
                   bool* below) {
  if (in.price_currency == b.currency) {
    *below = in.price < b.amount;
    return Missing::kNone;
  }
  const compiler::RatePeriod* period = rates->Period();
  if (period == nullptr) {
    rates->missing_threshold = b.currency;
    return Missing::kRates;
  }
  const auto& table_rates = period->table->rates;
  auto price_rate = table_rates.find(in.price_currency);
  auto bound_rate = table_rates.find(b.currency);
  if (price_rate == table_rates.end() || bound_rate == table_rates.end()) {
    return Missing::kPriceCurrency;  // the compiler checked the bound's
  }
  // Both sides in the base currency, cross-multiplied (snapshot.h).
  const int64_t r_price = price_rate->second.micros;
  const int64_t r_bound = bound_rate->second.micros;
  const bool per_base =
      period->table->quote == compiler::RateTable::Quote::kPerBase;
  const policy::NanoAmount num = per_base ? r_bound : r_price;
  const policy::NanoAmount den = per_base ? r_price : r_bound;
  *below = in.price * num < b.amount * den;
  if (rates->first.period == nullptr) {
    rates->first.period = period;
    rates->first.price_currency = in.price_currency;
    rates->first.threshold_currency = b.currency;
    // Non-negative, so division rounds down; saturated at the largest
    // Money, which is still above every threshold (kMaxMoneyUnits).
    rates->first.converted = std::min(in.price * num / den, kMaxConvertedNanos);
  }
  return Missing::kNone;
}

bool Contains(const std::vector<CountryCode>& sorted, CountryCode code) {
  return std::binary_search(sorted.begin(), sorted.end(), code);
}

bool HsMatches(const std::vector<compiler::HsPrefix>& prefixes,
               const policy::HsCode& hs) {
  if (prefixes.size() <= 8) {
    for (const auto& p : prefixes) {
      if (hs.digits >= p.digits &&
          policy::HsPrefixValue(hs, p.digits) == p.value) {
        return true;
      }
    }
    return false;
  }
  // Long lists (ranges such as "01-36" expand to a prefix each): the
  // compiler sorted them by HsKey, so look up each prefix of the item.
  auto key_less = [](const compiler::HsPrefix& p, uint64_t key) {
    return compiler::HsKey(p.value, p.digits) < key;
  };
  for (int d = policy::kMinHsDigits; d <= hs.digits; ++d) {
    const uint64_t key = compiler::HsKey(policy::HsPrefixValue(hs, d), d);
    auto it = std::lower_bound(prefixes.begin(), prefixes.end(), key, key_less);
    if (it != prefixes.end() && compiler::HsKey(it->value, it->digits) == key) {
      return true;
    }
  }
  return false;
}

bool ProductMatches(const CompiledMatch& m, const DecisionInput& in) {
  if (HsMatches(m.hs_prefixes, in.hs)) return true;
  for (const std::string& c : m.categories) {
    if (absl::StartsWith(in.category, c) &&
        (in.category.size() == c.size() || in.category[c.size()] == '/')) {
      return true;
    }
  }
  return false;
}

bool AttributeHolds(const AttributeTest& t, const DecisionInput& in) {
  auto it = in.attributes->find(t.key);
  bool present = it != in.attributes->end();
  switch (t.kind) {
    case AttributeTest::Kind::kPresent:
      return present;
    case AttributeTest::Kind::kAbsent:
      return !present;
    case AttributeTest::Kind::kEquals:
    case AttributeTest::Kind::kIn:
      if (!present) return false;
      return std::find(t.values.begin(), t.values.end(), it->second) !=
             t.values.end();
  }
  return false;
}

// Conditions a caller has already checked, so Evaluate skips them.
enum Checked : uint32_t {
  kCheckedNothing = 0,
  kCheckedProduct = 1,      // the index matched the product selector
  kCheckedDestination = 2,  // the posting's inline destinations
  kCheckedOrigin = 4,       // the posting's inline origin list
};

// Evaluates every condition of `m` except those in `checked`.
Outcome Evaluate(const CompiledMatch& m, const DecisionInput& in,
                 uint32_t checked, Rates* rates) {
  Outcome out;
  auto need = [&out](Missing what) {
    if (out.missing == Missing::kNone) out.missing = what;
  };
  if ((checked & kCheckedDestination) == 0 && !m.destinations.empty() &&
      !Contains(m.destinations, in.destination)) {
    return {false, Missing::kNone};
  }
  if (m.seller_kinds != 0 && (m.seller_kinds & (1u << in.seller_kind)) == 0) {
    return {false, Missing::kNone};
  }
  if (m.channels != 0 && (m.channels & (1u << in.channel)) == 0) {
    return {false, Missing::kNone};
  }
  if ((checked & kCheckedProduct) == 0 && m.has_product() &&
      !ProductMatches(m, in)) {
    return {false, Missing::kNone};
  }
  if (!m.seller_countries.empty()) {
    if (in.seller_country == 0) {
      need(Missing::kSellerCountry);
    } else if (!Contains(m.seller_countries, in.seller_country)) {
      return {false, Missing::kNone};
    }
  }
  if ((checked & kCheckedOrigin) == 0 &&
      (!m.origin_in.empty() || !m.origin_not_in.empty())) {
    if (in.origin == 0) {
      need(Missing::kOrigin);
    } else if ((!m.origin_in.empty() && !Contains(m.origin_in, in.origin)) ||
               Contains(m.origin_not_in, in.origin)) {
      return {false, Missing::kNone};
    }
  }
  for (const AttributeTest& t : m.attributes) {
    if (!AttributeHolds(t, in)) return {false, Missing::kNone};
  }
  if (m.price.has_value()) {
    bool below = false;
    if (!in.has_price) {
      need(Missing::kPrice);
    } else if (Missing missing = PriceBelow(*m.price, in, rates, &below);
               missing != Missing::kNone) {
      need(missing);
    } else if (below != (m.price->kind == PriceBound::Kind::kBelow)) {
      return {false, Missing::kNone};
    }
  }
  return out;
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const policy::UnixTime split = policy::SplitUnixTime(t);
  out->set_seconds(split.seconds);
  out->set_nanos(split.nanos);
}

absl::Status MissingFactError(const PolicySnapshot& snapshot,
                              const CompiledRule& rule, Missing missing,
                              const DecisionInput& in, Rates& rates) {
  switch (missing) {
    case Missing::kOrigin:
      return absl::InvalidArgumentError(
          absl::StrCat("item.origin_country: is required here: rule \"",
                       rule.id, "\" tests the origin country"));
    case Missing::kSellerCountry:
      return absl::InvalidArgumentError(
          absl::StrCat("seller.country: is required here: rule \"", rule.id,
                       "\" tests the seller's country"));
    case Missing::kPrice:
      return absl::InvalidArgumentError(
          absl::StrCat("item.unit_price: is required here: rule \"", rule.id,
                       "\" tests the unit price"));
    case Missing::kPriceCurrency: {
      const compiler::RatePeriod* period = rates.Period();
      return absl::InvalidArgumentError(absl::StrCat(
          "item.unit_price.currency_code: \"",
          UnpackCurrency(in.price_currency),
          "\" has no exchange rate in bundle \"", snapshot.name, "\" revision ",
          snapshot.revision, " at ", policy::FormatRfc3339(in.at),
          " (rate table ", period->table->location, "), which rule \"", rule.id,
          "\" needs"));
    }
    case Missing::kRates:
      return absl::FailedPreconditionError(absl::StrCat(
          "item.unit_price: bundle \"", snapshot.name, "\" revision ",
          snapshot.revision, " has no exchange rates in force at ",
          policy::FormatRfc3339(in.at), ", so \"",
          UnpackCurrency(in.price_currency), "\" cannot be converted to \"",
          UnpackCurrency(rates.missing_threshold), "\" for rule \"", rule.id,
          "\"; a newer revision may carry them"));
    case Missing::kNone:
      break;
  }
  return absl::OkStatus();
}

// What screening a posting says about its rule.
enum class Screen {
  kReject,  // some inline condition fails: the rule does not match
  kMatch,   // the posting is complete and every condition holds
  kCheck,   // the inline conditions hold; the rest needs the full rule
};

// The decision's instant, as postings screen it.
struct ScreenTime {
  // True when the instant's Unix nanoseconds fit an int64
  // (compiler::InNanosRange): postings check the window. Otherwise Decide
  // compares each candidate's own absl::Time window instead.
  bool screened = true;
  int64_t at_ns = 0;  // when `screened`
};

Screen ScreenPosting(const compiler::Posting& p, const DecisionInput& in,
                     ScreenTime time) {
  using Origin = compiler::Posting::Origin;
  if (time.screened && (time.at_ns < p.from_ns || time.at_ns >= p.until_ns)) {
    return Screen::kReject;
  }
  if (p.seller_kinds != 0 && (p.seller_kinds & (1u << in.seller_kind)) == 0) {
    return Screen::kReject;
  }
  if (p.channels != 0 && (p.channels & (1u << in.channel)) == 0) {
    return Screen::kReject;
  }
  bool complete = p.complete;
  if (p.dest_inline && p.dest[0] != 0 && p.dest[0] != in.destination &&
      p.dest[1] != in.destination) {
    return Screen::kReject;
  }
  if (p.origin == Origin::kIn || p.origin == Origin::kNotIn) {
    if (in.origin == 0) {
      complete = false;  // the full check reports the missing origin
    } else if ((p.origin_list[0] == in.origin ||
                p.origin_list[1] == in.origin) != (p.origin == Origin::kIn)) {
      return Screen::kReject;
    }
  }
  return complete ? Screen::kMatch : Screen::kCheck;
}

// A candidate: the rule index shifted left by three, plus kNeedsCheck when
// its conditions still need the full check, plus what screening already
// checked (kCheckedDestination, kCheckedOrigin). Sorting candidates sorts
// them by rule; a rule listed in several buckets screens the same in each.
using Candidates = absl::InlinedVector<uint32_t, 32>;
constexpr uint32_t kNeedsCheck = 1;
constexpr int kCandidateShift = 3;
static_assert((kNeedsCheck | kCheckedDestination | kCheckedOrigin) <
              (1u << kCandidateShift));
static_assert(compiler::kMaxRules - 1 <=
                  (uint32_t{0xffffffff} >> kCandidateShift),
              "a candidate must hold every rule index");

// Appends the rules of `postings` that screening does not reject.
void AppendPassing(absl::Span<const compiler::Posting> postings,
                   const DecisionInput& in, ScreenTime time, Candidates* to) {
  using Origin = compiler::Posting::Origin;
  for (const compiler::Posting& p : postings) {
    Screen screen = ScreenPosting(p, in, time);
    if (screen == Screen::kReject) continue;
    uint32_t candidate = p.rule << kCandidateShift;
    if (screen == Screen::kCheck) {
      candidate |= kNeedsCheck;
      if (p.dest_inline) candidate |= kCheckedDestination;
      if ((p.origin == Origin::kIn || p.origin == Origin::kNotIn) &&
          in.origin != 0) {
        candidate |= kCheckedOrigin;
      }
    }
    to->push_back(candidate);
  }
}

}  // namespace

absl::Status Decide(const PolicySnapshot& snapshot, const DecisionInput& in,
                    Verdict* verdict) {
  // Candidates: the rules indexed under the item's HS prefixes and
  // category path prefixes, and the rules with no product selector, each
  // screened by its posting (see compiler::Posting) before the rule itself
  // is read, if at all.
  ScreenTime time;
  time.screened = compiler::InNanosRange(in.at);
  if (time.screened) time.at_ns = absl::ToUnixNanos(in.at);
  // In a large bundle each HS lookup is a cache miss, and they are
  // independent. So they run in three passes: compute every key and
  // prefetch its slot; read the slots and prefetch their buckets; then scan
  // the buckets. The misses of one pass overlap instead of queueing.
  uint64_t hs_keys[policy::kMaxHsDigits + 1];
  int hs_key_count = 0;
  for (int d = policy::kMinHsDigits; d <= in.hs.digits; ++d) {
    if ((snapshot.hs_lengths & (1u << d)) == 0) continue;
    hs_keys[hs_key_count] = compiler::HsKey(policy::HsPrefixValue(in.hs, d), d);
    snapshot.hs_index.PrefetchSlot(hs_keys[hs_key_count++]);
  }
  absl::Span<const compiler::Posting> buckets[policy::kMaxHsDigits + 1];
  int bucket_count = 0;
  for (int i = 0; i < hs_key_count; ++i) {
    auto bucket = snapshot.hs_index.Find(hs_keys[i]);
    if (bucket.empty()) continue;
    absl::base_internal::PrefetchT0(bucket.data());
    buckets[bucket_count++] = bucket;
  }
  Candidates candidates;
  for (int i = 0; i < bucket_count; ++i) {
    AppendPassing(buckets[i], in, time, &candidates);
  }
  if (!in.category.empty()) {
    for (size_t end = 0; end != absl::string_view::npos;) {
      end = in.category.find('/', end + 1);
      auto it = snapshot.category_index.find(in.category.substr(0, end));
      if (it != snapshot.category_index.end()) {
        AppendPassing(it->second, in, time, &candidates);
      }
    }
  }
  AppendPassing(snapshot.unindexed, in, time, &candidates);
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()),
                   candidates.end());
  // Every candidate's rule is read below (its id at least): start loading
  // them all at once.
  for (uint32_t candidate : candidates) {
    absl::base_internal::PrefetchT0(
        &snapshot.rules[candidate >> kCandidateShift]);
  }

  verdict->rule = nullptr;
  verdict->matched.clear();
  verdict->matched_truncated = false;
  Rates rates(snapshot, in.at);
  for (uint32_t candidate : candidates) {
    const uint32_t index = candidate >> kCandidateShift;
    const CompiledRule& rule = snapshot.rules[index];
    if (!time.screened &&
        (in.at < rule.effective_from || in.at >= rule.effective_until)) {
      continue;
    }
    if ((candidate & kNeedsCheck) != 0) {
      Outcome outcome =
          Evaluate(rule.match, in,
                   kCheckedProduct |
                       (candidate & (kCheckedDestination | kCheckedOrigin)),
                   &rates);
      if (!outcome.holds) continue;
      bool exempt = false;
      for (const CompiledMatch& exception : rule.unless) {
        Outcome e = Evaluate(exception, in, kCheckedNothing, &rates);
        if (e.holds && e.missing == Missing::kNone) {
          exempt = true;
          break;
        }
        if (e.holds && outcome.missing == Missing::kNone)
          outcome.missing = e.missing;
      }
      if (exempt) continue;
      if (outcome.missing != Missing::kNone) {
        // Undecidable: an error only if this rule could decide the outcome.
        if (verdict->rule == nullptr) {
          return MissingFactError(snapshot, rule, outcome.missing, in, rates);
        }
        continue;
      }
    }
    if (verdict->rule == nullptr) verdict->rule = &rule;
    if (verdict->matched.size() == kMaxMatchedRuleIds) {
      // The deciding rule is known and errors come only from rules ranked
      // above it: nothing later changes the answer.
      verdict->matched_truncated = true;
      break;
    }
    verdict->matched.push_back(index);
  }

  verdict->effect =
      verdict->rule ? verdict->rule->effect : snapshot.default_effect;
  verdict->cache_ttl =
      verdict->rule ? verdict->rule->cache_ttl : snapshot.default_cache_ttl;
  // Never cache an answer past the next effective date in the bundle.
  auto edge = std::upper_bound(snapshot.window_edges.begin(),
                               snapshot.window_edges.end(), in.at);
  if (edge != snapshot.window_edges.end()) {
    verdict->cache_ttl = std::min(verdict->cache_ttl, *edge - in.at);
  }
  // Nor, when a price needed the rates, past the next change of rates.
  verdict->conversion = rates.first;
  if (rates.Consulted()) {
    verdict->cache_ttl =
        std::min(verdict->cache_ttl, rates.NextChange() - in.at);
  }
  return absl::OkStatus();
}

void FillDecision(const PolicySnapshot& snapshot, const Verdict& verdict,
                  v1::Decision* decision) {
  decision->set_effect(verdict.effect);
  decision->set_allowed(verdict.effect == v1::EFFECT_ALLOW);
  if (verdict.rule != nullptr) {
    decision->set_rule_id(verdict.rule->id);
    decision->set_reason_code(verdict.rule->reason_code);
    decision->set_message(verdict.rule->message);
    decision->set_legal_basis(verdict.rule->legal_basis);
  } else {
    decision->clear_rule_id();
    decision->set_reason_code(snapshot.default_reason_code);
    decision->set_message(snapshot.default_message);
    decision->clear_legal_basis();
  }
  decision->clear_matched_rule_ids();
  for (uint32_t index : verdict.matched) {
    decision->add_matched_rule_ids(snapshot.rules[index].id);
  }
  decision->set_matched_rule_ids_truncated(verdict.matched_truncated);
  int64_t nanos = absl::ToInt64Nanoseconds(verdict.cache_ttl);
  decision->mutable_cache_ttl()->set_seconds(nanos / 1'000'000'000);
  decision->mutable_cache_ttl()->set_nanos(
      static_cast<int32_t>(nanos % 1'000'000'000));
  if (verdict.conversion.period == nullptr) {
    decision->clear_price_conversion();
  } else {
    FillPriceConversion(verdict.conversion,
                        decision->mutable_price_conversion());
  }
}

void FillPriceConversion(const PriceConversion& conversion,
                         v1::PriceConversion* out) {
  // Field by field rather than Clear(): a reused message keeps its
  // submessages and string buffers, so a hot loop does not allocate.
  const compiler::RatePeriod& period = *conversion.period;
  const compiler::RateTable& table = *period.table;
  v1::Money* converted = out->mutable_converted_price();
  converted->set_currency_code(UnpackCurrency(conversion.threshold_currency));
  converted->set_units(
      static_cast<int64_t>(conversion.converted / 1'000'000'000));
  converted->set_nanos(
      static_cast<int32_t>(conversion.converted % 1'000'000'000));
  out->mutable_rates()->Clear();  // keeps the elements for reuse
  for (CurrencyCode currency :
       {conversion.price_currency, conversion.threshold_currency}) {
    if (currency == table.base) continue;
    v1::ExchangeRate* rate = out->add_rates();
    const bool per_base = table.quote == compiler::RateTable::Quote::kPerBase;
    rate->set_unit_currency(UnpackCurrency(per_base ? table.base : currency));
    rate->set_quote_currency(UnpackCurrency(per_base ? currency : table.base));
    rate->set_rate(table.rates.at(currency).text);
  }
  out->set_rate_source(table.source);
  if (period.from != absl::InfinitePast()) {
    SetTimestamp(period.from, out->mutable_rates_effective_from());
  } else {
    out->clear_rates_effective_from();
  }
  if (period.until != absl::InfiniteFuture()) {
    SetTimestamp(period.until, out->mutable_rates_effective_until());
  } else {
    out->clear_rates_effective_until();
  }
}

absl::Status DecideRequest(const PolicySnapshot& snapshot,
                           const v1::IsImportAllowedRequest& request,
                           absl::Time now, Verdict* verdict) {
  DecisionInput input;
  absl::Status status =
      NormalizeRequest(request, *snapshot.iso_codes, now, &input);
  return status.ok() ? Decide(snapshot, input, verdict) : status;
}

absl::Status Evaluate(const PolicySnapshot& snapshot,
                      const v1::IsImportAllowedRequest& request, absl::Time now,
                      v1::Decision* decision) {
  Verdict verdict;
  absl::Status status = DecideRequest(snapshot, request, now, &verdict);
  if (status.ok()) FillDecision(snapshot, verdict, decision);
  return status;
}

}  // namespace importgate::eval
