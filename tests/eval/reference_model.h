// ReferenceModel: a brute-force evaluator written from docs/policy-format.md
// alone, for differential testing of the real engine (server/eval).
//
// The engine decides through a compiled snapshot: HS keys, category and
// posting indices, packed screening filters, rules pre-sorted into
// resolution order. This model uses none of it. It keeps the bundle's proto
// messages as parsed and, for every request, checks every rule against the
// request's own fields the way the format document states each condition
// (string prefixes on digits for HS codes and ranges, whole-segment prefixes
// for categories, exact rational price comparison, absl::Time windows valid
// for any year), then sorts what matched by the documented resolution order.
// It is slow on purpose: simple enough to be checked by reading.
//
// Shared with the engine, deliberately: policy::ParseBundle (the text
// format parser) and eval::NormalizeRequest (the owner of request
// validation: whether a request is well-formed is not what is tested here).
// The model assumes the bundle compiles (compiler::Compile accepts it);
// it does not repeat the compiler's checks.
//
// Thread safety: immutable after Create(); Decide() may run concurrently.
#ifndef IMPORTGATE_TESTS_EVAL_REFERENCE_MODEL_H_
#define IMPORTGATE_TESTS_EVAL_REFERENCE_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "importgate/policy/v1/bundle.pb.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/policy/bundle_source.h"
#include "server/refdata/iso_codes.h"

namespace importgate::testing {

// The model's answer to one request: a decision, or the rejection.
struct ReferenceAnswer {
  // OK when decided; otherwise the INVALID_ARGUMENT of a malformed request
  // or of a missing fact (docs/policy-format.md sections 10 and 12), and
  // the fields below are unset.
  absl::Status status;
  importgate::v1::Effect effect = importgate::v1::EFFECT_UNSPECIFIED;
  std::string rule_id;      // "" when the manifest default decided
  std::string reason_code;  // the deciding rule's, or the default's
  std::vector<std::string> matched_rule_ids;  // in resolution order
  bool matched_rule_ids_truncated = false;    // more matched than listed
  absl::Duration cache_ttl;
  // Decision.price_conversion: the first price converted in resolution
  // order (docs/policy-format.md section 8), unset when none was.
  std::optional<importgate::v1::PriceConversion> price_conversion;

  // One line: "DENY by \"r1\" (R_1) matched [r1, r2] ttl 60s", or the
  // status.
  std::string DebugString() const;
};

class ReferenceModel {
 public:
  // One rate table, as section 8 describes it.
  struct Table {
    std::optional<absl::Time> from, until;  // unset: unbounded
    std::string base;
    bool per_base = true;  // else base_per_unit
    // Currency -> the rate in micro units, and its decimal text.
    absl::flat_hash_map<std::string, std::pair<int64_t, std::string>> rates;
    std::string source;
    std::string location;
  };

  // Reads `bundle`, which must compile; `iso_codes` validates requests.
  // Returns INVALID_ARGUMENT when a window edge or an FX rate cannot be
  // read (a bundle the compiler would refuse).
  static absl::StatusOr<ReferenceModel> Create(
      const policy::ParsedBundle& bundle,
      std::shared_ptr<const IsoCodes> iso_codes);

  // Decides `request` at its evaluation_time, or at `now` when unset.
  // Effective windows compare absl::Time instants, exact for any year.
  ReferenceAnswer Decide(const importgate::v1::IsImportAllowedRequest& request,
                         absl::Time now) const;

 private:
  struct Rule {
    importgate::policy::v1::Rule proto;
    std::optional<absl::Time> from;   // unset: since always
    std::optional<absl::Time> until;  // unset: open-ended
    int specificity = 0;
  };

  ReferenceModel() = default;

  // The table in force at `t` and the window it is in force for (a dated
  // table's own; in a gap, Manifest.fx and the gap's bounds); null when no
  // table is in force (`window` is then still the gap).
  const Table* TableAt(absl::Time t, Table* window) const;

  importgate::policy::v1::Manifest manifest_;
  std::vector<Rule> rules_;  // in source order
  std::vector<Table> dated_;
  std::optional<Table> fallback_;  // Manifest.fx
  std::shared_ptr<const IsoCodes> iso_codes_;
};

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_EVAL_REFERENCE_MODEL_H_
