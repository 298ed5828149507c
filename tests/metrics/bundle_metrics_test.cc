#include "server/metrics/bundle_metrics.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/metrics/families.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_bundles.h"

namespace importgate::metrics {
namespace {

namespace it = ::importgate::testing;
using ::importgate::metrics::testing::FindFamily;
using ::importgate::metrics::testing::Value;

// A test bundle; with `rate_file`, that file is its only exchange rates
// (the manifest's fallback rates are dropped, so the rates end).
std::shared_ptr<const bundle::LoadedBundle> Bundle(
    uint64_t revision, const std::string& rate_file = "") {
  std::string manifest = it::TestManifest(revision);
  if (!rate_file.empty()) manifest.erase(manifest.find("fx {"));
  std::vector<policy::SourceFile> files =
      it::BundleFiles(manifest, it::kDenyTeesRules);
  if (!rate_file.empty()) {
    files.push_back({"rates/kmk.textproto", rate_file});
  }
  auto bundle = bundle::LoadBundle(absl::StrCat("rev", revision), files,
                                   it::RealIsoCodes());
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

class BundleMetricsTest : public ::testing::Test {
 protected:
  double Loads(const std::string& outcome) {
    return Value(metrics_.Collect(), "importgate_bundle_loads_total",
                 {{"outcome", outcome}})
        .value_or(-1);
  }
  it::FakeClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  bundle::PolicyStore store_{&clock_};
  BundleMetrics metrics_{&store_};
};

TEST_F(BundleMetricsTest, BeforeAnyBundle) {
  const auto families = metrics_.Collect();
  EXPECT_EQ(FindFamily(families, "importgate_bundle_revision"), nullptr);
  EXPECT_EQ(
      FindFamily(families,
                 "importgate_bundle_source_last_success_timestamp_seconds"),
      nullptr);
  EXPECT_EQ(Value(families, "importgate_bundle_stale"), 0);
  EXPECT_EQ(Loads("activated"), 0);
  EXPECT_EQ(Loads("unchanged"), 0);
  EXPECT_EQ(Loads("refused"), 0);
}

TEST_F(BundleMetricsTest, FollowsActivationsReadsAndRefusals) {
  ASSERT_TRUE(store_.Activate(Bundle(3)).ok());
  auto families = metrics_.Collect();
  EXPECT_EQ(Value(families, "importgate_bundle_revision", {{"bundle", "test"}}),
            3);
  EXPECT_EQ(Value(families, "importgate_bundle_activation_timestamp_seconds",
                  {{"bundle", "test"}}),
            1'700'000'000);
  EXPECT_EQ(Value(families,
                  "importgate_bundle_source_last_success_timestamp_seconds"),
            1'700'000'000);
  // TestManifest's rates have no end.
  EXPECT_EQ(
      FindFamily(families,
                 "importgate_bundle_rates_in_force_until_timestamp_seconds"),
      nullptr);

  clock_.Set(absl::FromUnixSeconds(1'700'000'010));
  store_.RecordSourceRead();
  clock_.Set(absl::FromUnixSeconds(1'700'000'020));
  store_.RecordFailure("src", absl::InvalidArgumentError("torn"));
  EXPECT_FALSE(store_.Activate(Bundle(2)).ok());  // not newer: refused
  families = metrics_.Collect();
  EXPECT_EQ(Loads("activated"), 1);
  EXPECT_EQ(Loads("unchanged"), 1);
  EXPECT_EQ(Loads("refused"), 2);
  EXPECT_EQ(Value(families,
                  "importgate_bundle_source_last_success_timestamp_seconds"),
            1'700'000'010);
  EXPECT_EQ(Value(families, "importgate_bundle_revision", {{"bundle", "test"}}),
            3);
  EXPECT_EQ(Value(families, "importgate_bundle_stale"), 0);  // no max set
}

TEST_F(BundleMetricsTest, StaleFollowsFreshness) {
  store_.SetMaxStaleness(absl::Minutes(5));
  ASSERT_TRUE(store_.Activate(Bundle(1)).ok());
  store_.RecordFailure("src", absl::UnavailableError("gone"));
  clock_.Set(absl::FromUnixSeconds(1'700'000'000 + 299));
  EXPECT_EQ(Value(metrics_.Collect(), "importgate_bundle_stale"), 0);
  clock_.Set(absl::FromUnixSeconds(1'700'000'000 + 301));
  EXPECT_EQ(Value(metrics_.Collect(), "importgate_bundle_stale"), 1);
  store_.RecordSourceRead();
  EXPECT_EQ(Value(metrics_.Collect(), "importgate_bundle_stale"), 0);
}

TEST_F(BundleMetricsTest, RestoredLastKnownGoodIsStaleAndNotASourceSuccess) {
  ASSERT_TRUE(store_
                  .Activate(Bundle(4),
                            {.allow_rollback = true, .last_known_good = true})
                  .ok());
  store_.RecordFailure("src", absl::InvalidArgumentError("bad signature"));
  const auto families = metrics_.Collect();
  EXPECT_EQ(Value(families, "importgate_bundle_stale"), 1);
  EXPECT_EQ(Value(families, "importgate_bundle_revision", {{"bundle", "test"}}),
            4);
  EXPECT_EQ(
      FindFamily(families,
                 "importgate_bundle_source_last_success_timestamp_seconds"),
      nullptr);
}

TEST_F(BundleMetricsTest, RatesInForceUntilIsTheLastTablesEnd) {
  ASSERT_TRUE(store_
                  .Activate(Bundle(1, R"pb(
                    tables {
                      effective_from: "2023-11-14T22:13:20Z"
                      effective_until: "2027-01-15T08:00:00Z"
                      source: "test"
                      base_currency: "USD"
                      rates { currency_code: "IDR" per_base: "15500" }
                      rates { currency_code: "CNY" per_base: "7.2" }
                    }
                  )pb"))
                  .ok());
  EXPECT_EQ(Value(metrics_.Collect(),
                  "importgate_bundle_rates_in_force_until_timestamp_seconds",
                  {{"bundle", "test"}}),
            1'800'000'000);  // 2027-01-15T08:00:00Z
}

}  // namespace
}  // namespace importgate::metrics
