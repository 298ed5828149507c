// PolicySnapshot: a compiled, validated, indexed policy bundle. Built once by
// Compile() (compiler.h), then only read: the evaluator decides requests
// against it, and every request holds the one snapshot it started with.
//
// Rules are stored in resolution order (see docs/policy-format.md): the rule
// at a lower index always beats a matching rule at a higher index. Since the
// order is static, deciding is "the matching rule with the smallest index",
// and matched_rule_ids is the matching indices in ascending order.
//
// Thread safety: immutable; share as std::shared_ptr<const PolicySnapshot>.
#ifndef IMPORTGATE_SERVER_COMPILER_SNAPSHOT_H_
#define IMPORTGATE_SERVER_COMPILER_SNAPSHOT_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/compiler/hs_index.h"
#include "server/compiler/posting.h"
#include "server/policy/codes.h"
#include "server/refdata/iso_codes.h"

namespace importgate::compiler {

using policy::NanoAmount;

// FX rates scaled by 10^6 ("micro units of currency per base unit").
inline constexpr int64_t kFxScale = 1'000'000;

// An HS prefix, e.g. "6109": value 6109, digits 4.
using HsPrefix = policy::HsCode;

// The key of an HS prefix in the index (value and length in one integer).
inline uint64_t HsKey(uint64_t value, int digits) {
  return value * 16 + static_cast<uint64_t>(digits);
}

// A price threshold: an amount in its currency. The rate that converts a
// price into it depends on the decision's instant (RatePeriod).
struct PriceBound {
  enum class Kind { kBelow, kAtLeast };
  Kind kind = Kind::kBelow;
  NanoAmount amount = 0;
  CurrencyCode currency = 0;
};

// One currency's rate in a RateTable: micro units (kFxScale = 1), in the
// table's quote, and the decimal text answers report ("15589", "2150.27").
struct FxRate {
  int64_t micros = kFxScale;
  std::string text;
};

// The compiled form of an FxTable: every rate against one base currency.
// Comparing price p (currency c) with threshold b (currency d) is one exact
// cross-multiplication, whichever the quote:
//   kPerBase      (r = units of the currency per base unit): p*r_d < b*r_c
//   kBasePerUnit  (v = base units per unit of the currency): p*v_c < b*v_d
// With amounts of at most 10^22 nanos and rates of at most 10^15 micros,
// every product fits an int128.
struct RateTable {
  enum class Quote { kPerBase, kBasePerUnit };
  CurrencyCode base = 0;
  Quote quote = Quote::kPerBase;
  // Every currency the table converts, the base included (micros
  // kFxScale, text "1").
  absl::flat_hash_map<CurrencyCode, FxRate> rates;
  std::string source;    // FxTable.source; may be empty for Manifest.fx
  std::string location;  // "rates/kmk_2024.textproto:12" or the manifest
};

// A stretch of time in which one table's rates are in force:
// [from, until). Periods are sorted, never overlap, and may leave gaps
// (instants at which no rate is known).
struct RatePeriod {
  absl::Time from = absl::InfinitePast();
  absl::Time until = absl::InfiniteFuture();
  const RateTable* table = nullptr;  // into PolicySnapshot::rate_tables
};

struct AttributeTest {
  enum class Kind { kEquals, kIn, kPresent, kAbsent };
  std::string key;
  Kind kind = Kind::kPresent;
  std::vector<std::string> values;  // one for kEquals; several for kIn
};

// The compiled form of a Match: every set condition must hold.
struct CompiledMatch {
  // Product selector (hs_prefixes OR categories); empty: any product.
  // hs_prefixes are sorted by HsKey and unique (the evaluator binary-
  // searches long lists).
  std::vector<HsPrefix> hs_prefixes;
  std::vector<std::string> categories;
  // Sorted country lists; empty: unconstrained.
  std::vector<CountryCode> origin_in;
  std::vector<CountryCode> origin_not_in;
  std::vector<CountryCode> destinations;
  std::vector<CountryCode> seller_countries;
  // Bit (1 << enum value) per allowed value; 0: unconstrained.
  uint32_t seller_kinds = 0;
  uint32_t channels = 0;
  std::optional<PriceBound> price;
  std::vector<AttributeTest> attributes;

  bool has_product() const {
    return !hs_prefixes.empty() || !categories.empty();
  }
};

struct CompiledRule {
  std::string id;
  std::string reason_code;
  std::string message;
  std::string legal_basis;
  importgate::v1::Effect effect = importgate::v1::EFFECT_UNSPECIFIED;
  int32_t priority = 0;
  int specificity = 0;  // number of condition fields set in `match`
  CompiledMatch match;
  std::vector<CompiledMatch> unless;
  absl::Time effective_from = absl::InfinitePast();
  absl::Time effective_until = absl::InfiniteFuture();
  absl::Duration cache_ttl;  // the rule's own, or the manifest default
  std::string location;      // "rules/file.textproto:12", for explanations
};

// The most rules a bundle may hold: the evaluator packs a rule index and
// three flags into 32 bits per candidate.
inline constexpr size_t kMaxRules = size_t{1} << 29;

struct PolicySnapshot {
  // From the manifest.
  std::string name;
  uint64_t revision = 0;
  std::string description;
  importgate::v1::Effect default_effect = importgate::v1::EFFECT_UNSPECIFIED;
  std::string default_reason_code;
  std::string default_message;
  absl::Duration default_cache_ttl;
  // Manifest.not_before: the first instant this revision may answer
  // (InfinitePast: at once).
  absl::Time not_before = absl::InfinitePast();

  // Rules in resolution order; indices below refer to this vector.
  std::vector<CompiledRule> rules;

  // Candidate index. A rule whose match has a product selector is listed
  // under each of its HS prefix keys and categories; every other rule is
  // in `unindexed`. Each list is ascending by rule index.
  HsIndex hs_index;
  // Bit d set when some rule has an HS prefix of d digits: lookups skip the
  // lengths no rule uses.
  uint32_t hs_lengths = 0;
  absl::flat_hash_map<std::string, std::vector<Posting>> category_index;
  std::vector<Posting> unindexed;

  // Exchange rates: the dated tables (rates/) in date order, then
  // Manifest.fx if set. `rate_periods` says which is in force when: each
  // dated table for its window, Manifest.fx in every gap between them.
  // A deque, so that the periods' table pointers stay valid.
  std::deque<RateTable> rate_tables;
  std::vector<RatePeriod> rate_periods;

  // Every effective_from / effective_until, sorted and unique: a decision
  // may not be cached past the next one.
  std::vector<absl::Time> window_edges;

  // The code tables that requests are validated against.
  std::shared_ptr<const IsoCodes> iso_codes;
};

}  // namespace importgate::compiler

#endif  // IMPORTGATE_SERVER_COMPILER_SNAPSHOT_H_
