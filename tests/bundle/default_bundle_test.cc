// The default bundle in policies/ loads, passes its own test cases (the
// loader runs them), has the coverage the product promises, and decides the
// headline cases as the README shows them.
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/bundle/loader.h"
#include "server/bundle/source_reader.h"
#include "server/eval/evaluator.h"
#include "server/policy/bundle_source.h"
#include "tests/testing/test_bundles.h"

namespace importgate::bundle {
namespace {

namespace it = ::importgate::testing;
namespace v1 = ::importgate::v1;

class DefaultBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded =
        LoadBundleDirectory(it::DefaultBundleDirectory(), it::RealIsoCodes());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    bundle_ = *loaded;
    auto files = ReadSourceDirectory(it::DefaultBundleDirectory());
    ASSERT_TRUE(files.ok());
    auto parsed = policy::ParseBundle(*files);
    ASSERT_TRUE(parsed.ok());
    parsed_ = *std::move(parsed);
  }

  v1::Decision Decide(const std::string& hs, v1::SellerKind kind,
                      int64_t usd_units, const std::string& at) {
    v1::IsImportAllowedRequest request;
    request.mutable_item()->set_hs_code(hs);
    request.mutable_item()->set_origin_country("CN");
    request.mutable_item()->mutable_unit_price()->set_currency_code("USD");
    request.mutable_item()->mutable_unit_price()->set_units(usd_units);
    request.mutable_seller()->set_kind(kind);
    request.set_destination_country("ID");
    request.set_channel(v1::CHANNEL_CHECKOUT);
    absl::Time t;
    std::string error;
    EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, at, &t, &error)) << error;
    request.mutable_evaluation_time()->set_seconds(absl::ToUnixSeconds(t));
    v1::Decision decision;
    absl::Status s = eval::Evaluate(*bundle_->snapshot, request,
                                    absl::UnixEpoch(), &decision);
    EXPECT_TRUE(s.ok()) << s;
    return decision;
  }

  std::shared_ptr<const LoadedBundle> bundle_;
  policy::ParsedBundle parsed_;
};

TEST_F(DefaultBundleTest, LoadsWithAtLeastFortyPassingCases) {
  EXPECT_EQ(bundle_->snapshot->name, "marketplace-id");
  EXPECT_GE(bundle_->test_case_count, 40u);
}

TEST_F(DefaultBundleTest, EveryRuleCarriesLegalBasisAndIsEffectiveDated) {
  ASSERT_GE(bundle_->snapshot->rules.size(), 4u);
  for (const auto& rule : bundle_->snapshot->rules) {
    SCOPED_TRACE(rule.id);
    EXPECT_FALSE(rule.legal_basis.empty());
    EXPECT_FALSE(rule.message.empty());
    EXPECT_NE(rule.effective_from, absl::InfinitePast());
  }
}

TEST_F(DefaultBundleTest, TestCasesCoverWhatTheProductPromises) {
  std::set<std::string> deciding_rules;
  bool listing = false, checkout = false, domestic = false, idr = false,
       usd = false, error = false, default_decides = false;
  for (const auto& source : parsed_.tests) {
    const auto& t = source.test;
    if (!t.expect_error().empty()) {
      error = true;
      continue;
    }
    deciding_rules.insert(t.expect_rule_id());
    default_decides |= t.expect_rule_id().empty();
    listing |= t.request().channel() == v1::CHANNEL_LISTING;
    checkout |= t.request().channel() == v1::CHANNEL_CHECKOUT;
    domestic |= t.request().seller().kind() == v1::SELLER_KIND_DOMESTIC;
    idr |= t.request().item().unit_price().currency_code() == "IDR";
    usd |= t.request().item().unit_price().currency_code() == "USD";
  }
  for (const auto& rule : bundle_->snapshot->rules) {
    EXPECT_TRUE(deciding_rules.count(rule.id)) << rule.id << " decides no case";
  }
  EXPECT_TRUE(listing && checkout && domestic && idr && usd && error &&
              default_decides);
}

TEST_F(DefaultBundleTest, CrossBorderTeeIsDeniedAfterTheClosure) {
  v1::Decision d = Decide("6109.10.00", v1::SELLER_KIND_CROSS_BORDER, 150,
                          "2024-01-15T10:00:00+07:00");
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.effect(), v1::EFFECT_DENY);
  EXPECT_EQ(d.rule_id(), "id-2021-cross-border-textiles-apparel");
  EXPECT_EQ(d.reason_code(), "CROSS_BORDER_CATEGORY_CLOSED");
  EXPECT_FALSE(d.legal_basis().empty());
}

TEST_F(DefaultBundleTest, DomesticTeeIsAllowed) {
  v1::Decision d = Decide("6109.10.00", v1::SELLER_KIND_DOMESTIC, 5,
                          "2024-01-15T10:00:00+07:00");
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(d.rule_id(), "");
  EXPECT_EQ(d.reason_code(), "NO_RULE_MATCHED");
}

TEST_F(DefaultBundleTest, EarlierEvaluationTimeGetsTheEarlierAnswer) {
  EXPECT_TRUE(Decide("6109", v1::SELLER_KIND_CROSS_BORDER, 150,
                     "2021-08-02T23:59:59+07:00")
                  .allowed());
  EXPECT_FALSE(Decide("6109", v1::SELLER_KIND_CROSS_BORDER, 150,
                      "2021-08-03T00:00:00+07:00")
                   .allowed());
}

}  // namespace
}  // namespace importgate::bundle
