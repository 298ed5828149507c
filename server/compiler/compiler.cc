#include "server/compiler/compiler.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/common/utf8.h"
#include "server/policy/codes.h"

namespace importgate::compiler {
namespace {

namespace pv1 = importgate::policy::v1;
namespace v1 = importgate::v1;
using policy::SourceLocation;

constexpr absl::Duration kMaxCacheTtl = absl::Hours(24);

bool MatchesCharset(absl::string_view s, size_t max_len, bool upper_ok,
                    bool lower_ok, absl::string_view extra) {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (upper_ok && c >= 'A' && c <= 'Z') ||
              (lower_ok && c >= 'a' && c <= 'z') ||
              extra.find(c) != absl::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// The first instant a google.protobuf.Timestamp holds: 0001-01-01T00:00:00Z.
constexpr absl::Time kMinTimestamp = absl::FromUnixSeconds(-62135596800);
// And the last: 9999-12-31T23:59:59.999999999Z.
absl::Time MaxTimestamp() {
  return absl::FromUnixSeconds(253402300799) + absl::Nanoseconds(999'999'999);
}

// Micro units as the shortest decimal: 15589000000 -> "15589",
// 2150270000 -> "2150.27".
std::string FormatMicros(int64_t micros) {
  std::string text = absl::StrCat(micros / kFxScale);
  int64_t fraction = micros % kFxScale;
  if (fraction != 0) {
    std::string digits = absl::StrCat(fraction + kFxScale).substr(1);
    while (digits.back() == '0') digits.pop_back();
    absl::StrAppend(&text, ".", digits);
  }
  return text;
}

bool IsDecisionEffect(v1::Effect e) {
  return e == v1::EFFECT_ALLOW || e == v1::EFFECT_DENY;
}

// Accumulates the errors of one bundle, each pointing at its source.
class Errors {
 public:
  void Add(const SourceLocation& where, absl::string_view rule_id,
           absl::string_view field, absl::string_view what) {
    ++count_;
    if (lines_.size() >= static_cast<size_t>(kMaxReportedErrors)) return;
    std::string line = policy::FormatLocation(where);
    if (!rule_id.empty()) {
      absl::StrAppend(&line, ": rule ", QuoteForMessage(rule_id, 128));
    }
    absl::StrAppend(&line, ": ", field, ": ", what);
    lines_.push_back(std::move(line));
  }
  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }
  absl::Status ToStatus() const {
    std::string text = absl::StrJoin(lines_, "\n");
    if (count_ > lines_.size()) {
      absl::StrAppend(&text, "\n... and ", count_ - lines_.size(),
                      " more errors");
    }
    return absl::InvalidArgumentError(text);
  }

 private:
  size_t count_ = 0;
  std::vector<std::string> lines_;
};

// Where an error is reported: a location, a rule id and a field prefix.
struct Context {
  const SourceLocation* where;
  absl::string_view rule_id;
  std::string field;  // e.g. "match" or "unless[1]"
};

class Compiler {
 public:
  Compiler(const policy::ParsedBundle& bundle,
           std::shared_ptr<const IsoCodes> iso_codes)
      : bundle_(bundle), iso_(std::move(iso_codes)) {}

  absl::StatusOr<std::shared_ptr<const PolicySnapshot>> Run() {
    if (bundle_.rules.size() > kMaxRules) {
      return absl::InvalidArgumentError(
          absl::StrCat("rules: the bundle has ", bundle_.rules.size(),
                       " rules; at most ", kMaxRules, " are supported"));
    }
    auto snapshot = std::make_shared<PolicySnapshot>();
    snapshot_ = snapshot.get();
    snapshot_->iso_codes = iso_;
    CompileManifest();
    CompileRates();
    CompileRules();
    if (!errors_.empty()) return errors_.ToStatus();
    BuildIndex();
    return std::shared_ptr<const PolicySnapshot>(std::move(snapshot));
  }

 private:
  void Error(const Context& ctx, absl::string_view field,
             absl::string_view what) {
    std::string full = ctx.field.empty() || field.empty()
                           ? absl::StrCat(ctx.field, field)
                           : absl::StrCat(ctx.field, ".", field);
    errors_.Add(*ctx.where, ctx.rule_id, full, what);
  }

  // Free text that reaches callers or the admin API: well-formed UTF-8
  // (protobuf clients reject a whole response otherwise) and at most
  // `max_bytes`, so that every answer fits the response budget.
  void CheckText(const Context& ctx, absl::string_view field,
                 absl::string_view text, size_t max_bytes) {
    if (size_t valid = ValidUtf8Prefix(text); valid != text.size()) {
      Error(ctx, field,
            absl::StrCat("is not valid UTF-8: byte ", valid, " of ",
                         QuoteForMessage(text.substr(0, valid + 4)),
                         " (save the file as UTF-8)"));
    } else if (text.size() > max_bytes) {
      Error(ctx, field,
            absl::StrCat("must be at most ", max_bytes, " bytes, got ",
                         text.size()));
    }
  }

  bool ToDuration(const google::protobuf::Duration& d, const Context& ctx,
                  absl::string_view field, absl::Duration* out) {
    if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() >= 1'000'000'000) {
      Error(ctx, field, "must be a non-negative duration");
      return false;
    }
    *out = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
    if (*out > kMaxCacheTtl) {
      Error(ctx, field, "must be at most 24h");
      return false;
    }
    return true;
  }

  void CompileManifest() {
    const pv1::Manifest& m = bundle_.manifest;
    SourceLocation where{policy::kManifestPath, 0};
    Context ctx{&where, "", ""};
    if (!MatchesCharset(m.name(), 64, false, true, "._-")) {
      Error(ctx, "name",
            absl::StrCat(QuoteForMessage(m.name()),
                         " must be 1 to 64 of [a-z0-9._-]"));
    }
    if (m.revision() == 0) Error(ctx, "revision", "must be > 0");
    if (!IsDecisionEffect(m.default_effect())) {
      Error(ctx, "default_effect", "must be EFFECT_ALLOW or EFFECT_DENY");
    }
    if (!MatchesCharset(m.default_reason_code(), 64, true, false, "_")) {
      Error(ctx, "default_reason_code", "must be 1 to 64 of [A-Z0-9_]");
    }
    CheckText(ctx, "description", m.description(), kMaxDescriptionBytes);
    CheckText(ctx, "default_message", m.default_message(), kMaxMessageBytes);
    snapshot_->name = m.name();
    snapshot_->revision = m.revision();
    snapshot_->description = m.description();
    snapshot_->default_effect = m.default_effect();
    snapshot_->default_reason_code = m.default_reason_code();
    snapshot_->default_message = m.default_message();
    if (m.has_default_cache_ttl()) {
      ToDuration(m.default_cache_ttl(), ctx, "default_cache_ttl",
                 &snapshot_->default_cache_ttl);
    }
    if (!m.not_before().empty()) {
      if (auto t = policy::ParseRfc3339(m.not_before()); !t.ok()) {
        Error(ctx, "not_before", t.status().message());
      } else {
        snapshot_->not_before = *t;
      }
    }
  }

  // Compiles one FxTable's base and rates into `out`. `field` prefixes
  // error fields ("fx" or "tables[3]").
  void CompileRateTable(const pv1::FxTable& fx, const Context& ctx,
                        const std::string& field, RateTable* out) {
    out->base = iso_->Currency(fx.base_currency());
    if (out->base == 0) {
      Error(ctx, absl::StrCat(field, ".base_currency"),
            absl::StrCat(QuoteForMessage(fx.base_currency()),
                         " is not an ISO 4217 currency code"));
      return;
    }
    out->rates[out->base] = {kFxScale, "1"};
    CheckText(ctx, absl::StrCat(field, ".source"), fx.source(),
              kMaxRateSourceBytes);
    out->source = fx.source();
    out->location = policy::FormatLocation(*ctx.where);
    int quoted_by = -1;  // the first rate that set the table's quote
    for (int i = 0; i < fx.rates_size(); ++i) {
      const pv1::FxRate& rate = fx.rates(i);
      const std::string rate_field = absl::StrCat(field, ".rates[", i, "]");
      CurrencyCode code = iso_->Currency(rate.currency_code());
      if (code == 0) {
        Error(ctx, absl::StrCat(rate_field, ".currency_code"),
              absl::StrCat(QuoteForMessage(rate.currency_code()),
                           " is not an ISO 4217 currency code"));
        continue;
      }
      const bool per_base = !rate.per_base().empty();
      if (per_base == !rate.base_per_unit().empty()) {
        Error(ctx, rate_field, "set exactly one of per_base or base_per_unit");
        continue;
      }
      const RateTable::Quote quote = per_base ? RateTable::Quote::kPerBase
                                              : RateTable::Quote::kBasePerUnit;
      const char* quote_field = per_base ? "per_base" : "base_per_unit";
      if (quoted_by < 0) {
        out->quote = quote;
        quoted_by = i;
      } else if (quote != out->quote) {
        Error(ctx, absl::StrCat(rate_field, ".", quote_field),
              absl::StrCat("every rate of a table uses the same quote, and "
                           "rates[",
                           quoted_by, "] uses ",
                           per_base ? "base_per_unit" : "per_base"));
        continue;
      }
      auto micros = policy::ParseMicroDecimal(per_base ? rate.per_base()
                                                       : rate.base_per_unit());
      if (!micros.ok()) {
        Error(ctx, absl::StrCat(rate_field, ".", quote_field),
              micros.status().message());
        continue;
      }
      if (!out->rates.emplace(code, FxRate{*micros, FormatMicros(*micros)})
               .second) {
        Error(ctx, absl::StrCat(rate_field, ".currency_code"),
              absl::StrCat(QuoteForMessage(rate.currency_code()),
                           " is listed twice (or is the base currency)"));
      }
    }
  }

  // The dated tables of rates/ and Manifest.fx, as RatePeriods: each dated
  // table in force for its window, Manifest.fx in every gap.
  void CompileRates() {
    const size_t errors_before = ErrorCount();
    CompileRatePeriods();
    // Price conditions are checked against the periods only when the rate
    // tables compiled: otherwise each would repeat their errors.
    rates_failed_ = ErrorCount() != errors_before;
  }

  void CompileRatePeriods() {
    const size_t errors_at_start = ErrorCount();
    struct Dated {
      absl::Time from, until;
      const RateTable* table;
      const policy::SourceLocation* where;
    };
    std::vector<Dated> dated;
    const policy::SourceLocation* previous_where = nullptr;
    absl::Time previous_from = absl::InfinitePast();
    if (bundle_.rate_tables.size() > kMaxRateTables) {
      errors_.Add(
          bundle_.rate_tables[kMaxRateTables].location, "", "tables",
          absl::StrCat("a bundle holds at most ", kMaxRateTables,
                       " rate tables, got ", bundle_.rate_tables.size()));
      return;
    }
    for (const policy::RateTableSource& source : bundle_.rate_tables) {
      Context ctx{&source.location, "", ""};
      const pv1::FxTable& fx = source.table;
      const size_t errors_before = ErrorCount();
      RateTable table;
      CompileRateTable(fx, ctx, "table", &table);
      if (fx.source().empty()) {
        Error(ctx, "table.source",
              "is required: name the rates' source and the period they "
              "stand for");
      }
      absl::Time from = absl::InfinitePast(), until = absl::InfiniteFuture();
      if (fx.effective_from().empty()) {
        Error(ctx, "table.effective_from", "is required for a dated table");
      } else if (auto t = policy::ParseRfc3339(fx.effective_from()); !t.ok()) {
        Error(ctx, "table.effective_from", t.status().message());
      } else {
        from = *t;
      }
      if (!fx.effective_until().empty()) {
        if (auto t = policy::ParseRfc3339(fx.effective_until()); !t.ok()) {
          Error(ctx, "table.effective_until", t.status().message());
        } else {
          until = *t;
        }
      }
      if (ErrorCount() != errors_before) continue;
      // Answers carry the window as google.protobuf.Timestamp, whose range
      // starts in year 0001 (ParseRfc3339 also reads year 0000).
      if (from < kMinTimestamp) {
        Error(ctx, "table.effective_from",
              "must be in year 0001 or later (google.protobuf.Timestamp)");
        continue;
      }
      if (until != absl::InfiniteFuture() && until > MaxTimestamp()) {
        Error(ctx, "table.effective_until",
              "must be in year 9999 or earlier in UTC "
              "(google.protobuf.Timestamp)");
        continue;
      }
      if (until <= from) {
        Error(ctx, "table.effective_until",
              absl::StrCat(QuoteForMessage(fx.effective_until()),
                           " is not after effective_from ",
                           QuoteForMessage(fx.effective_from()),
                           ": the window is empty"));
        continue;
      }
      if (previous_where != nullptr &&
          previous_where->file == source.location.file &&
          from <= previous_from) {
        Error(ctx, "table.effective_from",
              absl::StrCat(QuoteForMessage(fx.effective_from()),
                           " is not after the previous table's (",
                           policy::FormatLocation(*previous_where),
                           "): list a file's tables in date order"));
        continue;
      }
      previous_where = &source.location;
      previous_from = from;
      snapshot_->rate_tables.push_back(std::move(table));
      dated.push_back(
          {from, until, &snapshot_->rate_tables.back(), &source.location});
    }
    std::stable_sort(
        dated.begin(), dated.end(),
        [](const Dated& a, const Dated& b) { return a.from < b.from; });
    for (size_t i = 1; i < dated.size(); ++i) {
      if (dated[i].from < dated[i - 1].until) {
        Context ctx{dated[i].where, "", ""};
        Error(ctx, "table.effective_from",
              absl::StrCat(policy::FormatRfc3339(dated[i].from),
                           " overlaps the table at ",
                           policy::FormatLocation(*dated[i - 1].where),
                           ", in force until ",
                           policy::FormatRfc3339(dated[i - 1].until),
                           ": tables' windows must not overlap"));
      }
    }
    const RateTable* fallback = nullptr;
    if (bundle_.manifest.has_fx()) {
      SourceLocation where{policy::kManifestPath, 0};
      Context ctx{&where, "", ""};
      const pv1::FxTable& fx = bundle_.manifest.fx();
      if (!fx.effective_from().empty() || !fx.effective_until().empty()) {
        Error(ctx, "fx",
              "applies at every instant no dated table covers: put a dated "
              "table in rates/ instead of setting effective_from or "
              "effective_until");
      }
      snapshot_->rate_tables.emplace_back();
      CompileRateTable(fx, ctx, "fx", &snapshot_->rate_tables.back());
      fallback = &snapshot_->rate_tables.back();
    }
    if (ErrorCount() != errors_at_start) return;
    // Dated windows, with the fallback in the gaps around them.
    auto& periods = snapshot_->rate_periods;
    absl::Time covered = absl::InfinitePast();
    for (const Dated& d : dated) {
      if (fallback != nullptr && covered < d.from) {
        periods.push_back({covered, d.from, fallback});
      }
      periods.push_back({d.from, d.until, d.table});
      covered = d.until;
    }
    if (fallback != nullptr && covered < absl::InfiniteFuture()) {
      periods.push_back({covered, absl::InfiniteFuture(), fallback});
    }
  }

  void CompileRules() {
    absl::flat_hash_set<absl::string_view> ids;
    std::vector<CompiledRule> rules;
    rules.reserve(bundle_.rules.size());
    for (const policy::RuleSource& source : bundle_.rules) {
      CompiledRule rule;
      if (CompileRule(source, &rule)) rules.push_back(std::move(rule));
      const std::string& id = source.rule.id();
      if (!id.empty() && !ids.insert(id).second) {
        errors_.Add(source.location, id, "id", "duplicate rule id");
      }
    }
    // Resolution order: priority, specificity, deny over allow, id. Sort
    // indices, then move each rule once: a CompiledRule is large.
    std::vector<uint32_t> order(rules.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&rules](uint32_t x, uint32_t y) {
      const CompiledRule& a = rules[x];
      const CompiledRule& b = rules[y];
      if (a.priority != b.priority) return a.priority > b.priority;
      if (a.specificity != b.specificity) return a.specificity > b.specificity;
      if (a.effect != b.effect) return a.effect == v1::EFFECT_DENY;
      return a.id < b.id;
    });
    std::vector<CompiledRule> sorted;
    sorted.reserve(rules.size());
    for (uint32_t i : order) sorted.push_back(std::move(rules[i]));
    rules = std::move(sorted);
    snapshot_->rules = std::move(rules);
  }

  bool CompileRule(const policy::RuleSource& source, CompiledRule* out) {
    const pv1::Rule& r = source.rule;
    Context ctx{&source.location, r.id(), ""};
    size_t errors_before = ErrorCount();
    if (!MatchesCharset(r.id(), 128, true, true, "._-")) {
      Error(ctx, "id",
            absl::StrCat(QuoteForMessage(r.id()),
                         " must be 1 to 128 of [A-Za-z0-9._-]"));
    }
    if (!IsDecisionEffect(r.effect())) {
      Error(ctx, "effect", "must be EFFECT_ALLOW or EFFECT_DENY");
    }
    if (!MatchesCharset(r.reason_code(), 64, true, false, "_")) {
      Error(ctx, "reason_code", "must be 1 to 64 of [A-Z0-9_]");
    }
    if (r.message().empty()) Error(ctx, "message", "is required");
    CheckText(ctx, "message", r.message(), kMaxMessageBytes);
    CheckText(ctx, "legal_basis", r.legal_basis(), kMaxLegalBasisBytes);
    CheckText(ctx, "description", r.description(), kMaxDescriptionBytes);
    out->id = r.id();
    out->reason_code = r.reason_code();
    out->message = r.message();
    out->legal_basis = r.legal_basis();
    out->effect = r.effect();
    out->priority = r.priority();
    out->location = policy::FormatLocation(source.location);

    if (!r.has_match()) {
      Error(ctx, "match",
            "is required (a rule with no condition is a default)");
    } else {
      Context match_ctx{ctx.where, ctx.rule_id, "match"};
      out->specificity = CompileMatch(r.match(), match_ctx, &out->match);
    }
    for (int i = 0; i < r.unless_size(); ++i) {
      Context unless_ctx{ctx.where, ctx.rule_id,
                         absl::StrCat("unless[", i, "]")};
      out->unless.emplace_back();
      CompileMatch(r.unless(i), unless_ctx, &out->unless.back());
    }

    if (!r.effective_from().empty()) {
      auto t = policy::ParseRfc3339(r.effective_from());
      if (t.ok())
        out->effective_from = *t;
      else
        Error(ctx, "effective_from", t.status().message());
    }
    if (!r.effective_until().empty()) {
      auto t = policy::ParseRfc3339(r.effective_until());
      if (t.ok())
        out->effective_until = *t;
      else
        Error(ctx, "effective_until", t.status().message());
    }
    if (out->effective_until <= out->effective_from) {
      Error(ctx, "effective_until",
            absl::StrCat(QuoteForMessage(r.effective_until()),
                         " is not after effective_from ",
                         QuoteForMessage(r.effective_from()),
                         ": the window is empty"));
    }
    if (ErrorCount() == errors_before) {
      if (r.match().has_unit_price()) {
        CheckPriceRates(ctx, "match.unit_price", r.match().unit_price(), *out);
      }
      for (int i = 0; i < r.unless_size(); ++i) {
        if (r.unless(i).has_unit_price()) {
          CheckPriceRates(ctx, absl::StrCat("unless[", i, "].unit_price"),
                          r.unless(i).unit_price(), *out);
        }
      }
    }
    out->cache_ttl = snapshot_->default_cache_ttl;
    if (r.has_cache_ttl())
      ToDuration(r.cache_ttl(), ctx, "cache_ttl", &out->cache_ttl);
    return ErrorCount() == errors_before;
  }

  size_t ErrorCount() const { return errors_.count(); }

  // A price threshold converts a price in another currency with the rates
  // in force at the decision's instant: every table in force during the
  // rule's window must rate the threshold's currency, and the bundle must
  // hold some table. (An instant no table covers is a decision-time
  // error: FAILED_PRECONDITION.)
  void CheckPriceRates(const Context& ctx, absl::string_view field,
                       const pv1::PriceCondition& condition,
                       const CompiledRule& rule) {
    const v1::Money& money =
        condition.has_below() ? condition.below() : condition.at_least();
    const std::string currency_field =
        absl::StrCat(field, condition.has_below() ? ".below" : ".at_least",
                     ".currency_code");
    if (rates_failed_) return;
    if (snapshot_->rate_periods.empty()) {
      Error(ctx, currency_field,
            "the bundle has no exchange-rate table (manifest fx or rates/), "
            "so no price in another currency could be compared");
      return;
    }
    const CurrencyCode currency = iso_->Currency(money.currency_code());
    for (const RatePeriod& period : snapshot_->rate_periods) {
      if (period.until <= rule.effective_from ||
          period.from >= rule.effective_until) {
        continue;
      }
      if (!period.table->rates.contains(currency)) {
        Error(ctx, currency_field,
              absl::StrCat(QuoteForMessage(money.currency_code()),
                           " has no rate in the rate table at ",
                           period.table->location,
                           ", which is in force within the rule's window"));
        return;
      }
    }
  }

  // Compiles one Match; returns its specificity (number of condition
  // fields set, the product selector counting once).
  int CompileMatch(const pv1::Match& m, const Context& ctx,
                   CompiledMatch* out) {
    int specificity = 0;
    for (int i = 0; i < m.hs_codes_size(); ++i) {
      CompileHsPattern(m.hs_codes(i), ctx, absl::StrCat("hs_codes[", i, "]"),
                       &out->hs_prefixes);
    }
    std::sort(out->hs_prefixes.begin(), out->hs_prefixes.end(),
              [](const HsPrefix& a, const HsPrefix& b) {
                return HsKey(a.value, a.digits) < HsKey(b.value, b.digits);
              });
    out->hs_prefixes.erase(
        std::unique(out->hs_prefixes.begin(), out->hs_prefixes.end(),
                    [](const HsPrefix& a, const HsPrefix& b) {
                      return a.value == b.value && a.digits == b.digits;
                    }),
        out->hs_prefixes.end());
    for (int i = 0; i < m.categories_size(); ++i) {
      absl::Status s = policy::ValidateCategory(m.categories(i));
      if (!s.ok()) {
        Error(ctx, absl::StrCat("categories[", i, "]"), s.message());
      } else {
        out->categories.push_back(m.categories(i));
      }
    }
    std::sort(out->categories.begin(), out->categories.end());
    out->categories.erase(
        std::unique(out->categories.begin(), out->categories.end()),
        out->categories.end());
    if (m.hs_codes_size() > 0 || m.categories_size() > 0) ++specificity;

    specificity += CompileCountries(m.origin_countries(), ctx,
                                    "origin_countries", &out->origin_in);
    specificity +=
        CompileCountries(m.origin_countries_not(), ctx, "origin_countries_not",
                         &out->origin_not_in);
    specificity +=
        CompileCountries(m.destination_countries(), ctx,
                         "destination_countries", &out->destinations);
    specificity += CompileCountries(m.seller_countries(), ctx,
                                    "seller_countries", &out->seller_countries);
    for (int i = 0; i < m.seller_kinds_size(); ++i) {
      int k = m.seller_kinds(i);
      if (k == v1::SELLER_KIND_UNSPECIFIED || !v1::SellerKind_IsValid(k)) {
        Error(ctx, absl::StrCat("seller_kinds[", i, "]"),
              "must be SELLER_KIND_DOMESTIC or SELLER_KIND_CROSS_BORDER");
      } else {
        out->seller_kinds |= 1u << k;
      }
    }
    if (m.seller_kinds_size() > 0) ++specificity;
    for (int i = 0; i < m.channels_size(); ++i) {
      int c = m.channels(i);
      if (c == v1::CHANNEL_UNSPECIFIED || !v1::Channel_IsValid(c)) {
        Error(ctx, absl::StrCat("channels[", i, "]"),
              "must be CHANNEL_LISTING or CHANNEL_CHECKOUT");
      } else {
        out->channels |= 1u << c;
      }
    }
    if (m.channels_size() > 0) ++specificity;
    if (m.has_unit_price()) {
      CompilePrice(m.unit_price(), ctx, out);
      ++specificity;
    }
    for (int i = 0; i < m.attributes_size(); ++i) {
      CompileAttribute(m.attributes(i), ctx,
                       absl::StrCat("attributes[", i, "]"), out);
    }
    if (m.attributes_size() > 0) ++specificity;
    if (specificity == 0) {
      Error(ctx, "", "is empty: set at least one condition");
    }
    return specificity;
  }

  void CompileHsPattern(const std::string& pattern, const Context& ctx,
                        const std::string& field, std::vector<HsPrefix>* out) {
    std::vector<absl::string_view> ends = absl::StrSplit(pattern, '-');
    if (ends.size() > 2) {
      Error(ctx, field,
            absl::StrCat(QuoteForMessage(pattern),
                         " is not an HS prefix or range"));
      return;
    }
    auto low = policy::ParseHsCode(ends[0]);
    if (!low.ok()) {
      Error(ctx, field, low.status().message());
      return;
    }
    if (ends.size() == 1) {
      out->push_back(*low);
      return;
    }
    auto high = policy::ParseHsCode(ends[1]);
    if (!high.ok()) {
      Error(ctx, field, high.status().message());
      return;
    }
    if (high->digits != low->digits || high->value < low->value) {
      Error(ctx, field,
            absl::StrCat(QuoteForMessage(pattern),
                         ": a range needs two ends of equal length, low "
                         "to high (e.g. \"50-63\")"));
      return;
    }
    if (high->value - low->value >= static_cast<uint64_t>(kMaxHsRangeSize)) {
      Error(ctx, field,
            absl::StrCat(QuoteForMessage(pattern), " expands to more than ",
                         kMaxHsRangeSize, " prefixes"));
      return;
    }
    for (uint64_t v = low->value; v <= high->value; ++v) {
      out->push_back({v, low->digits});
    }
  }

  // Returns 1 when the list is non-empty (one condition), else 0.
  int CompileCountries(
      const google::protobuf::RepeatedPtrField<std::string>& in,
      const Context& ctx, absl::string_view name,
      std::vector<CountryCode>* out) {
    for (int i = 0; i < in.size(); ++i) {
      CountryCode code = iso_->Country(in[i]);
      if (code == 0) {
        Error(ctx, absl::StrCat(name, "[", i, "]"),
              absl::StrCat(QuoteForMessage(in[i]),
                           " is not an ISO 3166-1 alpha-2 country code"));
      } else {
        out->push_back(code);
      }
    }
    std::sort(out->begin(), out->end());
    out->erase(std::unique(out->begin(), out->end()), out->end());
    return in.empty() ? 0 : 1;
  }

  void CompilePrice(const pv1::PriceCondition& p, const Context& ctx,
                    CompiledMatch* out) {
    const v1::Money* money = nullptr;
    PriceBound bound;
    std::string field;
    switch (p.bound_case()) {
      case pv1::PriceCondition::kBelow:
        money = &p.below();
        bound.kind = PriceBound::Kind::kBelow;
        field = "unit_price.below";
        break;
      case pv1::PriceCondition::kAtLeast:
        money = &p.at_least();
        bound.kind = PriceBound::Kind::kAtLeast;
        field = "unit_price.at_least";
        break;
      default:
        Error(ctx, "unit_price", "set one of below or at_least");
        return;
    }
    CurrencyCode currency = iso_->Currency(money->currency_code());
    if (currency == 0) {
      Error(ctx, absl::StrCat(field, ".currency_code"),
            absl::StrCat(QuoteForMessage(money->currency_code()),
                         " is not an ISO 4217 currency code"));
      return;
    }
    auto amount = policy::ToNanoAmount(money->units(), money->nanos());
    if (!amount.ok()) {
      Error(ctx, field, amount.status().message());
      return;
    }
    if (*amount < 0) {
      Error(ctx, field, "must not be negative");
      return;
    }
    bound.amount = *amount;
    bound.currency = currency;
    out->price = bound;
  }

  void CompileAttribute(const pv1::AttributeCondition& a, const Context& ctx,
                        const std::string& field, CompiledMatch* out) {
    AttributeTest test;
    test.key = a.key();
    if (a.key().empty() || a.key().size() > policy::kMaxAttributeKeyBytes) {
      Error(ctx, absl::StrCat(field, ".key"),
            absl::StrCat("must be 1 to ", policy::kMaxAttributeKeyBytes,
                         " bytes"));
    } else {
      CheckText(ctx, absl::StrCat(field, ".key"), a.key(),
                policy::kMaxAttributeKeyBytes);
    }
    switch (a.test_case()) {
      case pv1::AttributeCondition::kEquals:
        test.kind = AttributeTest::Kind::kEquals;
        test.values.push_back(a.equals());
        break;
      case pv1::AttributeCondition::kIn:
        test.kind = AttributeTest::Kind::kIn;
        test.values.assign(a.in().values().begin(), a.in().values().end());
        if (test.values.empty()) {
          Error(ctx, absl::StrCat(field, ".in"),
                "must list at least one value");
        }
        break;
      case pv1::AttributeCondition::kPresent:
        test.kind = a.present() ? AttributeTest::Kind::kPresent
                                : AttributeTest::Kind::kAbsent;
        break;
      default:
        Error(ctx, field, "set one of equals, in or present");
        return;
    }
    for (size_t i = 0; i < test.values.size(); ++i) {
      CheckText(ctx,
                test.kind == AttributeTest::Kind::kEquals
                    ? absl::StrCat(field, ".equals")
                    : absl::StrCat(field, ".in.values[", i, "]"),
                test.values[i], policy::kMaxAttributeValueBytes);
    }
    out->attributes.push_back(std::move(test));
  }

  // The cheap conditions of `rule`, as the index stores them.
  static Posting ScreenOf(const CompiledRule& rule) {
    const CompiledMatch& m = rule.match;
    Posting p;
    p.from_ns = ClampedUnixNanos(rule.effective_from);
    p.until_ns = ClampedUnixNanos(rule.effective_until);
    p.dest_inline = m.destinations.size() <= 2;
    if (p.dest_inline) {
      std::copy(m.destinations.begin(), m.destinations.end(), p.dest);
    }
    p.seller_kinds = static_cast<uint8_t>(m.seller_kinds);
    p.channels = static_cast<uint8_t>(m.channels);
    const bool in = !m.origin_in.empty(), not_in = !m.origin_not_in.empty();
    const std::vector<CountryCode>& list = in ? m.origin_in : m.origin_not_in;
    if (!in && !not_in) {
      p.origin = Posting::Origin::kAny;
    } else if (in != not_in && list.size() <= 2) {
      p.origin = in ? Posting::Origin::kIn : Posting::Origin::kNotIn;
      std::copy(list.begin(), list.end(), p.origin_list);
    } else {
      p.origin = Posting::Origin::kFull;
    }
    p.complete = p.dest_inline && p.origin != Posting::Origin::kFull &&
                 m.seller_countries.empty() && !m.price.has_value() &&
                 m.attributes.empty() && rule.unless.empty();
    return p;
  }

  void BuildIndex() {
    absl::flat_hash_map<uint64_t, std::vector<Posting>> hs_buckets;
    for (uint32_t i = 0; i < snapshot_->rules.size(); ++i) {
      const CompiledRule& rule = snapshot_->rules[i];
      Posting posting = ScreenOf(rule);
      posting.rule = i;
      if (!rule.match.has_product()) {
        snapshot_->unindexed.push_back(posting);
      }
      for (const HsPrefix& p : rule.match.hs_prefixes) {
        hs_buckets[HsKey(p.value, p.digits)].push_back(posting);
        snapshot_->hs_lengths |= 1u << p.digits;
      }
      for (const std::string& c : rule.match.categories) {
        snapshot_->category_index[c].push_back(posting);
      }
      for (absl::Time t : {rule.effective_from, rule.effective_until}) {
        if (t != absl::InfinitePast() && t != absl::InfiniteFuture()) {
          snapshot_->window_edges.push_back(t);
        }
      }
    }
    auto& edges = snapshot_->window_edges;
    std::sort(edges.begin(), edges.end());
    edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
    snapshot_->hs_index = HsIndex(hs_buckets);
  }

  const policy::ParsedBundle& bundle_;
  std::shared_ptr<const IsoCodes> iso_;
  PolicySnapshot* snapshot_ = nullptr;
  Errors errors_;
  bool rates_failed_ = false;  // a rate table did not compile
};

}  // namespace

absl::StatusOr<std::shared_ptr<const PolicySnapshot>> Compile(
    const policy::ParsedBundle& bundle,
    std::shared_ptr<const IsoCodes> iso_codes) {
  if (iso_codes == nullptr) {
    return absl::InvalidArgumentError("Compile: iso_codes is null");
  }
  return Compiler(bundle, std::move(iso_codes)).Run();
}

}  // namespace importgate::compiler
