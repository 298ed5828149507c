// The decision: a const function of (snapshot, request). No I/O, no locks,
// no knowledge of gRPC or of how the bundle arrived.
//
// Candidate rules come from the snapshot's index (HS prefixes of the item's
// code, category path prefixes, and the rules with no product selector), so
// the cost of a decision depends on how many rules could apply to the item,
// not on the size of the bundle.
//
// Thread safety: every function here is safe to call concurrently on the
// same snapshot.
#ifndef IMPORTGATE_SERVER_EVAL_EVALUATOR_H_
#define IMPORTGATE_SERVER_EVAL_EVALUATOR_H_

#include <cstdint>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/compiler/snapshot.h"
#include "server/eval/request.h"

namespace importgate::eval {

// The most matched rules an answer lists (Decision.matched_rule_ids): with
// rule ids of at most 128 bytes, this bounds the size of every answer (see
// service/limits.h).
inline constexpr size_t kMaxMatchedRuleIds = 32;

// A price converted into a threshold's currency (Decision.price_conversion).
struct PriceConversion {
  // The period whose table's rates were applied; null: no price was
  // converted.
  const compiler::RatePeriod* period = nullptr;
  CurrencyCode price_currency = 0;
  CurrencyCode threshold_currency = 0;
  // The price in the threshold's currency, in nanos, rounded down, at most
  // the largest Money (INT64_MAX units and 999999999 nanos).
  policy::NanoAmount converted = 0;
};

// What decided, as indices into the snapshot (no strings copied).
struct Verdict {
  importgate::v1::Effect effect = importgate::v1::EFFECT_UNSPECIFIED;
  const compiler::CompiledRule* rule = nullptr;  // null: the default decided
  // The first kMaxMatchedRuleIds matching rules, in resolution order.
  absl::InlinedVector<uint32_t, 8> matched;
  bool matched_truncated = false;  // more rules matched than `matched` holds
  absl::Duration cache_ttl;
  // The first price conversion in resolution order, if any. A decision
  // for which a price needed the rates (converted, or left out for want of
  // a rate) is never cached past the next change of rates: the end of the
  // period in force, or the start of the next one.
  PriceConversion conversion;
};

// Decides `input` against `snapshot`.
//
// Returns OK with the verdict, or an error when a rule that could decide
// the outcome needs a fact the request does not carry: INVALID_ARGUMENT
// naming item.unit_price, item.origin_country, seller.country, or a price
// currency that the rates in force do not rate; FAILED_PRECONDITION when
// no exchange rates are in force at the decision's instant (a newer bundle
// revision may carry them). A rule that ranks below the deciding rule
// never causes an error; it is left out of `matched` instead.
absl::Status Decide(const compiler::PolicySnapshot& snapshot,
                    const DecisionInput& input, Verdict* verdict);

// NormalizeRequest + Decide: the verdict for one wire request, or what
// either of them returns.
absl::Status DecideRequest(
    const compiler::PolicySnapshot& snapshot,
    const importgate::v1::IsImportAllowedRequest& request, absl::Time now,
    Verdict* verdict);

// Writes `verdict` as a wire Decision.
void FillDecision(const compiler::PolicySnapshot& snapshot,
                  const Verdict& verdict, importgate::v1::Decision* decision);

// Writes a conversion (period not null) as Decision.price_conversion.
void FillPriceConversion(const PriceConversion& conversion,
                         importgate::v1::PriceConversion* out);

// DecideRequest + FillDecision: the whole decision for one wire request.
absl::Status Evaluate(const compiler::PolicySnapshot& snapshot,
                      const importgate::v1::IsImportAllowedRequest& request,
                      absl::Time now, importgate::v1::Decision* decision);

}  // namespace importgate::eval

#endif  // IMPORTGATE_SERVER_EVAL_EVALUATOR_H_
