// The largest messages the decision API can carry, every field at its
// documented limit, for the tests of the byte budgets (service/limits.h,
// the client's copy). Header-only.
#ifndef IMPORTGATE_TESTS_TESTING_LARGEST_MESSAGES_H_
#define IMPORTGATE_TESTS_TESTING_LARGEST_MESSAGES_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/compiler/compiler.h"
#include "server/eval/evaluator.h"
#include "server/eval/request.h"
#include "server/policy/codes.h"
#include "tests/testing/tee_request.h"
#include "tests/testing/test_bundles.h"

namespace importgate::testing {

// A valid request with every field at its longest: sku and seller id of
// eval::kMaxIdBytes, a 19-character HS code, a 256-byte category path,
// the largest price and quantity, a year-1 evaluation time (a 10-byte
// varint), and `attributes` attributes (at most policy::kMaxAttributes)
// of the longest keys and values.
inline importgate::v1::IsImportAllowedRequest LargestRequest(
    int attributes = policy::kMaxAttributes) {
  importgate::v1::IsImportAllowedRequest r = TeeRequest();
  importgate::v1::Item* item = r.mutable_item();
  item->set_sku(std::string(eval::kMaxIdBytes, 's'));
  item->set_hs_code("6.1.0.9.1.0.0.0.9.9");
  std::string category;
  while (category.size() + 8 <= policy::kMaxCategoryBytes) {
    absl::StrAppend(&category, category.empty() ? "" : "/", "fashion");
  }
  category.resize(policy::kMaxCategoryBytes, 'x');
  item->set_category(category);
  item->mutable_unit_price()->set_units(policy::kMaxMoneyUnits);
  item->mutable_unit_price()->set_nanos(999'999'999);
  item->set_quantity(std::numeric_limits<int64_t>::max());
  r.mutable_seller()->set_id(std::string(eval::kMaxIdBytes, 'x'));
  r.mutable_evaluation_time()->set_seconds(-62'135'596'800);  // year 1
  r.mutable_evaluation_time()->set_nanos(999'999'999);
  r.set_min_bundle_revision(std::numeric_limits<uint64_t>::max());
  for (int i = 0; i < attributes; ++i) {
    std::string key = absl::StrFormat("%0*d", policy::kMaxAttributeKeyBytes, i);
    (*r.mutable_attributes())[key] =
        std::string(policy::kMaxAttributeValueBytes, 'v');
  }
  return r;
}

// Rules (a RuleFile in text format) that make the longest answers for a
// T-shirt (HS 6109): more than eval::kMaxMatchedRuleIds rules deny it, each
// with an id of 128 bytes, a reason code of 64, and a message and legal
// basis at the compiler's bounds. The first also converts the price (see
// LongestAnswerRates).
inline std::string LongestAnswerRules() {
  std::string rules;
  for (size_t i = 0; i < eval::kMaxMatchedRuleIds + 8; ++i) {
    absl::StrAppend(
        &rules, "rules {\n  id: \"", absl::StrFormat("%0128d", i),
        "\"\n  effect: EFFECT_DENY\n  reason_code: \"", std::string(64, 'R'),
        "\"\n  message: \"", std::string(compiler::kMaxMessageBytes, 'm'),
        "\"\n  legal_basis: \"",
        std::string(compiler::kMaxLegalBasisBytes, 'l'),
        "\"\n  match { hs_codes: [\"6109\"]",
        i == 0 ? " unit_price { at_least { currency_code: \"CNY\" "
                 "} }"
               : "",
        " }\n", "  cache_ttl { seconds: 86399 nanos: 999999999 }\n}\n");
  }
  return rules;
}

// A rate table (a RateFile in text format) that makes the longest
// Decision.price_conversion for LongestAnswerRules: a source at the
// compiler's bound, a window from year 1 to year 9999 (10-byte varints),
// two rates of the longest text, and a converted price that saturates.
inline std::string LongestAnswerRates() {
  return absl::StrCat(
      "tables {\n  effective_from: \"0001-01-01T00:00:00.000000001Z\"\n"
      "  effective_until: \"9999-12-31T23:59:59.999999999Z\"\n  source: \"",
      std::string(compiler::kMaxRateSourceBytes, 's'),
      "\"\n  base_currency: \"IDR\"\n"
      "  rates { currency_code: \"USD\" base_per_unit: \"999999999.999999\" }\n"
      "  rates { currency_code: \"CNY\" base_per_unit: \"0.000001\" }\n}\n");
}

// The files of the longest-answer bundle: TestManifest(),
// LongestAnswerRules() and LongestAnswerRates().
inline std::vector<policy::SourceFile> LongestAnswerFiles() {
  return {{"manifest.textproto", TestManifest()},
          {"rules/r.textproto", LongestAnswerRules()},
          {"rates/r.textproto", LongestAnswerRates()}};
}

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_LARGEST_MESSAGES_H_
