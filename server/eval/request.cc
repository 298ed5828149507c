#include "server/eval/request.h"

#include "absl/strings/str_cat.h"
#include "server/common/utf8.h"

namespace importgate::eval {
namespace {

namespace v1 = importgate::v1;

// Timestamp bounds of google.protobuf.Timestamp: 0001-01-01 to 9999-12-31.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status CheckCountry(const IsoCodes& iso, absl::string_view field,
                          const std::string& value, bool required,
                          CountryCode* out) {
  if (value.empty()) {
    return required
               ? Invalid(field, "is required (ISO 3166-1 alpha-2, e.g. \"ID\")")
               : absl::OkStatus();
  }
  *out = iso.Country(value);
  if (*out == 0) {
    return Invalid(field,
                   absl::StrCat(QuoteForMessage(value),
                                " is not an ISO 3166-1 alpha-2 "
                                "country code (upper case, e.g. \"ID\")"));
  }
  return absl::OkStatus();
}

absl::Status CheckBytes(absl::string_view field, const std::string& value,
                        size_t max) {
  if (value.size() > max) {
    return Invalid(field, absl::StrCat("must be at most ", max, " bytes, got ",
                                       value.size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status NormalizeRequest(const v1::IsImportAllowedRequest& request,
                              const IsoCodes& iso, absl::Time now,
                              DecisionInput* input) {
  *input = DecisionInput();
  if (!request.has_item()) return Invalid("item", "is required");
  const v1::Item& item = request.item();
  if (absl::Status s = CheckBytes("item.sku", item.sku(), kMaxIdBytes);
      !s.ok()) {
    return s;
  }
  if (item.hs_code().empty() && item.category().empty()) {
    return Invalid("item", "one of item.hs_code or item.category is required");
  }
  if (!item.hs_code().empty()) {
    auto hs = policy::ParseHsCode(item.hs_code());
    if (!hs.ok()) return Invalid("item.hs_code", hs.status().message());
    input->hs = *hs;
  }
  if (!item.category().empty()) {
    if (absl::Status s = policy::ValidateCategory(item.category()); !s.ok()) {
      return Invalid("item.category", s.message());
    }
    input->category = item.category();
  }
  if (absl::Status s =
          CheckCountry(iso, "item.origin_country", item.origin_country(), false,
                       &input->origin);
      !s.ok()) {
    return s;
  }
  if (item.has_unit_price()) {
    const v1::Money& price = item.unit_price();
    input->price_currency = iso.Currency(price.currency_code());
    if (input->price_currency == 0) {
      return Invalid("item.unit_price.currency_code",
                     price.currency_code().empty()
                         ? "is required (ISO 4217, e.g. \"USD\")"
                         : absl::StrCat(QuoteForMessage(price.currency_code()),
                                        " is not an ISO 4217 currency code"));
    }
    auto amount = policy::ToNanoAmount(price.units(), price.nanos());
    if (!amount.ok())
      return Invalid("item.unit_price", amount.status().message());
    if (*amount < 0) return Invalid("item.unit_price", "must not be negative");
    input->price = *amount;
    input->has_price = true;
  }
  if (item.quantity() < 0)
    return Invalid("item.quantity", "must not be negative");

  if (!request.has_seller()) return Invalid("seller", "is required");
  const v1::Seller& seller = request.seller();
  if (absl::Status s = CheckBytes("seller.id", seller.id(), kMaxIdBytes);
      !s.ok()) {
    return s;
  }
  if (seller.kind() == v1::SELLER_KIND_UNSPECIFIED ||
      !v1::SellerKind_IsValid(seller.kind())) {
    return Invalid(
        "seller.kind",
        "is required: SELLER_KIND_DOMESTIC or SELLER_KIND_CROSS_BORDER");
  }
  input->seller_kind = seller.kind();
  if (absl::Status s = CheckCountry(iso, "seller.country", seller.country(),
                                    false, &input->seller_country);
      !s.ok()) {
    return s;
  }

  if (absl::Status s = CheckCountry(iso, "destination_country",
                                    request.destination_country(), true,
                                    &input->destination);
      !s.ok()) {
    return s;
  }
  if (request.channel() == v1::CHANNEL_UNSPECIFIED ||
      !v1::Channel_IsValid(request.channel())) {
    return Invalid("channel",
                   "is required: CHANNEL_LISTING or CHANNEL_CHECKOUT");
  }
  input->channel = request.channel();

  if (request.has_evaluation_time()) {
    const auto& t = request.evaluation_time();
    if (t.seconds() < kMinTimestampSeconds ||
        t.seconds() > kMaxTimestampSeconds || t.nanos() < 0 ||
        t.nanos() >= 1'000'000'000) {
      return Invalid("evaluation_time", "is not a valid timestamp");
    }
    input->at =
        absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
  } else {
    input->at = now;
  }

  if (request.attributes_size() > kMaxAttributes) {
    return Invalid("attributes",
                   absl::StrCat("at most ", kMaxAttributes, " entries, got ",
                                request.attributes_size()));
  }
  for (const auto& [key, value] : request.attributes()) {
    if (key.empty() || key.size() > kMaxAttributeKeyBytes) {
      return Invalid(
          "attributes",
          absl::StrCat("keys must be 1 to ", kMaxAttributeKeyBytes, " bytes"));
    }
    if (value.size() > kMaxAttributeValueBytes) {
      return Invalid(
          absl::StrCat("attributes[", QuoteForMessage(key), "]"),
          absl::StrCat("must be at most ", kMaxAttributeValueBytes, " bytes"));
    }
  }
  input->attributes = &request.attributes();
  return absl::OkStatus();
}

}  // namespace importgate::eval
