#include "server/eval/request.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "importgate/v1/import_policy.pb.h"
#include "tests/testing/test_bundles.h"

namespace importgate {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;

using Request = v1::IsImportAllowedRequest;
using Mutation = std::function<void(Request*)>;

constexpr int64_t kAtSeconds = 1'709'287'200;  // 2024-03-01T10:00:00Z
constexpr int32_t kAtNanos = 250'000'000;

// Used when a request has no evaluation_time.
absl::Time Now() { return absl::FromUnixSeconds(1'700'000'000); }

// A request that passes validation, with every optional fact given.
Request ValidRequest() {
  Request r;
  v1::Item* item = r.mutable_item();
  item->set_sku("SKU-1");
  item->set_hs_code("6109.10.00");
  item->set_category("fashion/men/t-shirts");
  item->set_origin_country("CN");
  item->mutable_unit_price()->set_currency_code("USD");
  item->mutable_unit_price()->set_units(12);
  item->mutable_unit_price()->set_nanos(500'000'000);
  item->set_quantity(2);
  v1::Seller* seller = r.mutable_seller();
  seller->set_id("seller-1");
  seller->set_kind(v1::SELLER_KIND_CROSS_BORDER);
  seller->set_country("SG");
  r.set_destination_country("ID");
  r.set_channel(v1::CHANNEL_CHECKOUT);
  r.mutable_evaluation_time()->set_seconds(kAtSeconds);
  r.mutable_evaluation_time()->set_nanos(kAtNanos);
  (*r.mutable_attributes())["halal"] = "true";
  return r;
}

// Adds attributes "k0", "k1", ... until the request holds `total`.
void FillAttributes(Request* r, int total) {
  for (int i = 0; r->attributes_size() < total; ++i) {
    (*r->mutable_attributes())[absl::StrCat("k", i)] = "v";
  }
}

absl::Status Normalize(const Request& request, eval::DecisionInput* input) {
  return eval::NormalizeRequest(request, *it::RealIsoCodes(), Now(), input);
}

struct InvalidCase {
  std::string name;
  Mutation mutate;
  std::string want_prefix;  // the message starts with the field path
};

TEST(NormalizeRequestTest, BaseOfTheTablesIsValid) {
  eval::DecisionInput input;
  absl::Status status = Normalize(ValidRequest(), &input);
  EXPECT_TRUE(status.ok()) << status;
}

TEST(NormalizeRequestTest, InvalidRequestsNameTheFieldFirst) {
  const std::vector<InvalidCase> cases = {
      {"missing item", [](Request* r) { r->clear_item(); },
       "item: is required"},
      {"sku of 129 bytes",
       [](Request* r) { r->mutable_item()->set_sku(std::string(129, 's')); },
       "item.sku: "},
      {"neither hs_code nor category",
       [](Request* r) {
         r->mutable_item()->clear_hs_code();
         r->mutable_item()->clear_category();
       },
       "item: one of item.hs_code or item.category"},
      {"hs_code with a dash",
       [](Request* r) { r->mutable_item()->set_hs_code("61-09"); },
       "item.hs_code: "},
      {"hs_code of one digit",
       [](Request* r) { r->mutable_item()->set_hs_code("6"); },
       "item.hs_code: "},
      {"hs_code of eleven digits",
       [](Request* r) { r->mutable_item()->set_hs_code("61091000001"); },
       "item.hs_code: "},
      {"hs_code with letters",
       [](Request* r) { r->mutable_item()->set_hs_code("61ab"); },
       "item.hs_code: "},
      {"category in upper case",
       [](Request* r) { r->mutable_item()->set_category("Fashion/men"); },
       "item.category: "},
      {"category with an empty segment",
       [](Request* r) { r->mutable_item()->set_category("fashion//men"); },
       "item.category: "},
      {"category with a leading slash",
       [](Request* r) { r->mutable_item()->set_category("/fashion"); },
       "item.category: "},
      {"category of 257 bytes",
       [](Request* r) {
         r->mutable_item()->set_category(std::string(257, 'a'));
       },
       "item.category: "},
      {"origin in lower case",
       [](Request* r) { r->mutable_item()->set_origin_country("cn"); },
       "item.origin_country: "},
      {"origin unassigned",
       [](Request* r) { r->mutable_item()->set_origin_country("XX"); },
       "item.origin_country: "},
      {"origin UK is not ISO 3166-1",
       [](Request* r) { r->mutable_item()->set_origin_country("UK"); },
       "item.origin_country: "},
      {"price without currency",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->clear_currency_code();
       },
       "item.unit_price.currency_code: is required"},
      {"price currency in lower case",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->set_currency_code("usd");
       },
       "item.unit_price.currency_code: "},
      {"price currency not ISO 4217",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->set_currency_code("XYZ");
       },
       "item.unit_price.currency_code: "},
      {"price units and nanos differ in sign",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->set_units(1);
         r->mutable_item()->mutable_unit_price()->set_nanos(-1);
       },
       "item.unit_price: "},
      {"price nanos of a whole unit",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->set_nanos(1'000'000'000);
       },
       "item.unit_price: "},
      {"price units over 10^13",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->set_units(10'000'000'000'001);
         r->mutable_item()->mutable_unit_price()->set_nanos(0);
       },
       "item.unit_price: "},
      {"negative price",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->set_units(-1);
         r->mutable_item()->mutable_unit_price()->set_nanos(0);
       },
       "item.unit_price: must not be negative"},
      {"negative price below one unit",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->set_units(0);
         r->mutable_item()->mutable_unit_price()->set_nanos(-1);
       },
       "item.unit_price: must not be negative"},
      {"negative quantity",
       [](Request* r) { r->mutable_item()->set_quantity(-1); },
       "item.quantity: "},
      {"missing seller", [](Request* r) { r->clear_seller(); },
       "seller: is required"},
      {"seller id of 129 bytes",
       [](Request* r) { r->mutable_seller()->set_id(std::string(129, 'x')); },
       "seller.id: "},
      {"seller kind unspecified",
       [](Request* r) {
         r->mutable_seller()->set_kind(v1::SELLER_KIND_UNSPECIFIED);
       },
       "seller.kind: "},
      {"seller kind out of range",
       [](Request* r) {
         r->mutable_seller()->set_kind(static_cast<v1::SellerKind>(7));
       },
       "seller.kind: "},
      {"seller country unassigned",
       [](Request* r) { r->mutable_seller()->set_country("ZZ"); },
       "seller.country: "},
      {"seller country in lower case",
       [](Request* r) { r->mutable_seller()->set_country("sg"); },
       "seller.country: "},
      {"destination missing",
       [](Request* r) { r->clear_destination_country(); },
       "destination_country: is required"},
      {"destination UK is not ISO 3166-1",
       [](Request* r) { r->set_destination_country("UK"); },
       "destination_country: "},
      {"destination as lower-case alpha-3",
       [](Request* r) { r->set_destination_country("idn"); },
       "destination_country: "},
      {"destination as alpha-3",
       [](Request* r) { r->set_destination_country("IDN"); },
       "destination_country: "},
      {"destination in lower case",
       [](Request* r) { r->set_destination_country("id"); },
       "destination_country: "},
      {"channel unspecified",
       [](Request* r) { r->set_channel(v1::CHANNEL_UNSPECIFIED); },
       "channel: "},
      {"channel out of range",
       [](Request* r) { r->set_channel(static_cast<v1::Channel>(9)); },
       "channel: "},
      {"evaluation_time nanos of 2e9",
       [](Request* r) {
         r->mutable_evaluation_time()->set_nanos(2'000'000'000);
       },
       "evaluation_time: "},
      {"evaluation_time negative nanos",
       [](Request* r) { r->mutable_evaluation_time()->set_nanos(-1); },
       "evaluation_time: "},
      {"evaluation_time after year 9999",
       [](Request* r) {
         r->mutable_evaluation_time()->set_seconds(253'402'300'800);
       },
       "evaluation_time: "},
      {"evaluation_time before year 1",
       [](Request* r) {
         r->mutable_evaluation_time()->set_seconds(-62'135'596'801);
       },
       "evaluation_time: "},
      {"65 attributes", [](Request* r) { FillAttributes(r, 65); },
       "attributes: "},
      {"empty attribute key",
       [](Request* r) { (*r->mutable_attributes())[""] = "v"; },
       "attributes: "},
      {"attribute key of 65 bytes",
       [](Request* r) {
         (*r->mutable_attributes())[std::string(65, 'k')] = "v";
       },
       "attributes: "},
      {"attribute value of 257 bytes",
       [](Request* r) {
         (*r->mutable_attributes())["k"] = std::string(257, 'v');
       },
       "attributes[\"k\"]: "},
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.name);
    Request request = ValidRequest();
    c.mutate(&request);
    eval::DecisionInput input;
    absl::Status status = Normalize(request, &input);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_TRUE(absl::StartsWith(status.message(), c.want_prefix))
        << "want prefix \"" << c.want_prefix << "\", got: " << status;
  }
}

TEST(NormalizeRequestTest, BoundaryValuesAreAccepted) {
  struct Case {
    std::string name;
    Mutation mutate;
  };
  const std::vector<Case> cases = {
      {"sku of 128 bytes",
       [](Request* r) { r->mutable_item()->set_sku(std::string(128, 's')); }},
      {"hs_code only", [](Request* r) { r->mutable_item()->clear_category(); }},
      {"category only", [](Request* r) { r->mutable_item()->clear_hs_code(); }},
      {"hs_code of two digits",
       [](Request* r) { r->mutable_item()->set_hs_code("61"); }},
      {"hs_code of ten digits",
       [](Request* r) { r->mutable_item()->set_hs_code("6109100010"); }},
      {"category of 256 bytes",
       [](Request* r) {
         r->mutable_item()->set_category(std::string(256, 'a'));
       }},
      {"no origin",
       [](Request* r) { r->mutable_item()->clear_origin_country(); }},
      {"no seller country",
       [](Request* r) { r->mutable_seller()->clear_country(); }},
      {"no price", [](Request* r) { r->mutable_item()->clear_unit_price(); }},
      {"price zero",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->set_units(0);
         r->mutable_item()->mutable_unit_price()->set_nanos(0);
       }},
      {"price of 10^13 units and the largest nanos",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->set_units(10'000'000'000'000);
         r->mutable_item()->mutable_unit_price()->set_nanos(999'999'999);
       }},
      {"price in an ISO currency the bundle may lack",
       [](Request* r) {
         r->mutable_item()->mutable_unit_price()->set_currency_code("EUR");
       }},
      {"quantity zero", [](Request* r) { r->mutable_item()->set_quantity(0); }},
      {"seller id of 128 bytes",
       [](Request* r) { r->mutable_seller()->set_id(std::string(128, 'x')); }},
      {"domestic seller",
       [](Request* r) {
         r->mutable_seller()->set_kind(v1::SELLER_KIND_DOMESTIC);
       }},
      {"listing channel",
       [](Request* r) { r->set_channel(v1::CHANNEL_LISTING); }},
      {"no evaluation_time", [](Request* r) { r->clear_evaluation_time(); }},
      {"evaluation_time at the end of year 9999",
       [](Request* r) {
         r->mutable_evaluation_time()->set_seconds(253'402'300'799);
         r->mutable_evaluation_time()->set_nanos(999'999'999);
       }},
      {"evaluation_time at the start of year 1",
       [](Request* r) {
         r->mutable_evaluation_time()->set_seconds(-62'135'596'800);
         r->mutable_evaluation_time()->set_nanos(0);
       }},
      {"64 attributes", [](Request* r) { FillAttributes(r, 64); }},
      {"attribute key of 64 bytes",
       [](Request* r) {
         (*r->mutable_attributes())[std::string(64, 'k')] = "v";
       }},
      {"attribute value of 256 bytes",
       [](Request* r) {
         (*r->mutable_attributes())["k"] = std::string(256, 'v');
       }},
      {"empty attribute value",
       [](Request* r) { (*r->mutable_attributes())["k"] = ""; }},
      {"no attributes", [](Request* r) { r->clear_attributes(); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Request request = ValidRequest();
    c.mutate(&request);
    eval::DecisionInput input;
    absl::Status status = Normalize(request, &input);
    EXPECT_TRUE(status.ok()) << status;
  }
}

TEST(NormalizeRequestTest, ValidRequestIsNormalised) {
  const Request request = ValidRequest();
  const auto iso = it::RealIsoCodes();
  eval::DecisionInput input;
  absl::Status status = eval::NormalizeRequest(request, *iso, Now(), &input);
  ASSERT_TRUE(status.ok()) << status;

  EXPECT_EQ(input.hs.value, 61091000u);
  EXPECT_EQ(input.hs.digits, 8);
  EXPECT_EQ(input.category, "fashion/men/t-shirts");
  // Borrowed from the request, not copied.
  EXPECT_TRUE(input.category.data() == request.item().category().data());
  EXPECT_NE(input.origin, 0);
  EXPECT_EQ(input.origin, iso->Country("CN"));
  EXPECT_EQ(input.seller_country, iso->Country("SG"));
  EXPECT_EQ(input.destination, iso->Country("ID"));
  EXPECT_EQ(input.seller_kind, v1::SELLER_KIND_CROSS_BORDER);
  EXPECT_EQ(input.channel, v1::CHANNEL_CHECKOUT);
  EXPECT_TRUE(input.has_price);
  EXPECT_EQ(input.price_currency, iso->Currency("USD"));
  EXPECT_TRUE(input.price == policy::NanoAmount{12'500'000'000})
      << "price is not exactly 12.5 units in nanos";
  EXPECT_EQ(input.at,
            absl::FromUnixSeconds(kAtSeconds) + absl::Nanoseconds(kAtNanos));
  EXPECT_TRUE(input.attributes == &request.attributes());
}

TEST(NormalizeRequestTest, UnsetEvaluationTimeUsesNow) {
  Request request = ValidRequest();
  request.clear_evaluation_time();
  eval::DecisionInput input;
  const absl::Time now = absl::FromUnixSeconds(1'234'567'890);
  ASSERT_TRUE(
      eval::NormalizeRequest(request, *it::RealIsoCodes(), now, &input).ok());
  EXPECT_EQ(input.at, now);
}

TEST(NormalizeRequestTest, OptionalFactsLeftOutAreZero) {
  Request request = ValidRequest();
  request.mutable_item()->clear_category();
  request.mutable_item()->clear_origin_country();
  request.mutable_item()->clear_unit_price();
  request.mutable_seller()->clear_country();
  eval::DecisionInput input;
  ASSERT_TRUE(Normalize(request, &input).ok());
  EXPECT_EQ(input.hs.digits, 8);
  EXPECT_TRUE(input.category.empty());
  EXPECT_EQ(input.origin, 0);
  EXPECT_EQ(input.seller_country, 0);
  EXPECT_FALSE(input.has_price);
}

TEST(NormalizeRequestTest, CategoryOnlyHasNoHsCode) {
  Request request = ValidRequest();
  request.mutable_item()->clear_hs_code();
  eval::DecisionInput input;
  ASSERT_TRUE(Normalize(request, &input).ok());
  EXPECT_EQ(input.hs.digits, 0);
  EXPECT_EQ(input.category, "fashion/men/t-shirts");
}

TEST(NormalizeRequestTest, ZeroPriceIsAPrice) {
  Request request = ValidRequest();
  request.mutable_item()->mutable_unit_price()->set_currency_code("IDR");
  request.mutable_item()->mutable_unit_price()->set_units(0);
  request.mutable_item()->mutable_unit_price()->set_nanos(0);
  eval::DecisionInput input;
  ASSERT_TRUE(Normalize(request, &input).ok());
  EXPECT_TRUE(input.has_price);
  EXPECT_TRUE(input.price == 0);
  EXPECT_EQ(input.price_currency, PackCurrency("IDR"));
}

}  // namespace
}  // namespace importgate
