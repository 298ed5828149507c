// The request most tests and benchmarks send: a T-shirt (HS 6109.10.00,
// made in CN, unit price USD 150, sku "TEE-1") sold at checkout into ID by
// a seller of `kind` (in CN when cross-border, in ID when domestic). The
// default bundle denies it from a cross-border seller (rule
// "id-2021-cross-border-textiles-apparel") and allows it from a domestic
// one. Callers change what their case is about.
#ifndef IMPORTGATE_TESTS_TESTING_TEE_REQUEST_H_
#define IMPORTGATE_TESTS_TESTING_TEE_REQUEST_H_

#include "importgate/v1/import_policy.pb.h"

namespace importgate::testing {

inline importgate::v1::IsImportAllowedRequest TeeRequest(
    importgate::v1::SellerKind kind =
        importgate::v1::SELLER_KIND_CROSS_BORDER) {
  importgate::v1::IsImportAllowedRequest r;
  importgate::v1::Item* item = r.mutable_item();
  item->set_sku("TEE-1");
  item->set_hs_code("6109.10.00");
  item->set_origin_country("CN");
  item->mutable_unit_price()->set_currency_code("USD");
  item->mutable_unit_price()->set_units(150);
  r.mutable_seller()->set_kind(kind);
  r.mutable_seller()->set_country(
      kind == importgate::v1::SELLER_KIND_DOMESTIC ? "ID" : "CN");
  r.set_destination_country("ID");
  r.set_channel(importgate::v1::CHANNEL_CHECKOUT);
  return r;
}

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_TEE_REQUEST_H_
