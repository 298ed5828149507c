// Request validation and normalisation: turns a wire IsImportAllowedRequest
// into the evaluator's DecisionInput, or into an INVALID_ARGUMENT status
// that names the offending field ("item.hs_code: ...").
//
// Allocation-free on success: the input borrows strings from the request,
// which must outlive it.
#ifndef IMPORTGATE_SERVER_EVAL_REQUEST_H_
#define IMPORTGATE_SERVER_EVAL_REQUEST_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/policy/codes.h"
#include "server/refdata/iso_codes.h"

namespace importgate::eval {

inline constexpr size_t kMaxIdBytes = 128;
using policy::kMaxAttributeKeyBytes;
using policy::kMaxAttributes;
using policy::kMaxAttributeValueBytes;

// The normalised facts a decision is made from.
struct DecisionInput {
  policy::HsCode hs;           // digits == 0: no HS code given
  absl::string_view category;  // empty: no category given
  CountryCode origin = 0;      // 0: not given
  CountryCode seller_country = 0;
  CountryCode destination = 0;
  importgate::v1::SellerKind seller_kind =
      importgate::v1::SELLER_KIND_UNSPECIFIED;
  importgate::v1::Channel channel = importgate::v1::CHANNEL_UNSPECIFIED;
  bool has_price = false;
  CurrencyCode price_currency = 0;
  policy::NanoAmount price = 0;
  absl::Time at;
  const google::protobuf::Map<std::string, std::string>* attributes = nullptr;
};

// Validates `request` against the API contract and the ISO code tables and
// fills `input`; `now` is used when evaluation_time is unset.
//
// Returns OK, or INVALID_ARGUMENT whose message starts with the field path:
// missing item, seller, seller.kind, destination_country or channel; neither
// item.hs_code nor item.category; a malformed HS code or category; an
// unknown country or currency code; a malformed money amount; oversized
// sku, seller.id or attributes; an out-of-range evaluation_time.
absl::Status NormalizeRequest(
    const importgate::v1::IsImportAllowedRequest& request,
    const IsoCodes& iso_codes, absl::Time now, DecisionInput* input);

}  // namespace importgate::eval

#endif  // IMPORTGATE_SERVER_EVAL_REQUEST_H_
