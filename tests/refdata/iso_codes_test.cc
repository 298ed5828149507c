#include "server/refdata/iso_codes.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_bundles.h"

namespace importgate {
namespace {

namespace it = ::importgate::testing;
using ::testing::HasSubstr;

TEST(PackCountryTest, EveryTwoLetterCodeRoundTripsToADistinctValue) {
  absl::flat_hash_set<CountryCode> seen;
  for (char a = 'A'; a <= 'Z'; ++a) {
    for (char b = 'A'; b <= 'Z'; ++b) {
      const std::string code = {a, b};
      const CountryCode packed = PackCountry(code);
      EXPECT_GE(packed, 1) << code;
      EXPECT_LE(packed, 26 * 26) << code;
      EXPECT_EQ(UnpackCountry(packed), code);
      seen.insert(packed);
    }
  }
  EXPECT_EQ(seen.size(), 676u);
  EXPECT_EQ(PackCountry("AA"), 1);
  EXPECT_EQ(PackCountry("ZZ"), 676);
}

TEST(PackCountryTest, RejectsAnythingButTwoUpperCaseLetters) {
  const std::vector<std::string> rejected = {
      "", "I", "IDN", "id", "Id", "iD", "I1", "1D", "@A", "A[", " I", "I ",
  };
  for (const std::string& code : rejected) {
    SCOPED_TRACE("\"" + code + "\"");
    EXPECT_EQ(PackCountry(code), 0);
  }
}

TEST(PackCurrencyTest, EveryThreeLetterCodeRoundTripsToADistinctValue) {
  absl::flat_hash_set<CurrencyCode> seen;
  for (char a = 'A'; a <= 'Z'; ++a) {
    for (char b = 'A'; b <= 'Z'; ++b) {
      for (char c = 'A'; c <= 'Z'; ++c) {
        const std::string code = {a, b, c};
        const CurrencyCode packed = PackCurrency(code);
        ASSERT_GE(packed, 1) << code;
        ASSERT_LE(packed, 26 * 26 * 26) << code;
        ASSERT_EQ(UnpackCurrency(packed), code);
        seen.insert(packed);
      }
    }
  }
  EXPECT_EQ(seen.size(), 17576u);
  EXPECT_EQ(PackCurrency("AAA"), 1);
  EXPECT_EQ(PackCurrency("ZZZ"), 17576);
}

TEST(PackCurrencyTest, RejectsAnythingButThreeUpperCaseLetters) {
  const std::vector<std::string> rejected = {
      "", "US", "USDX", "usd", "Usd", "uSD", "US1", "@SD", "US[", " USD",
  };
  for (const std::string& code : rejected) {
    SCOPED_TRACE("\"" + code + "\"");
    EXPECT_EQ(PackCurrency(code), 0);
  }
}

TEST(UnpackTest, ZeroUnpacksToEmpty) {
  EXPECT_EQ(UnpackCountry(0), "");
  EXPECT_EQ(UnpackCurrency(0), "");
}

TEST(IsoCodesLoadTest, DebianTablesKnowAssignedCountries) {
  auto codes = IsoCodes::LoadFromDirectory(IsoCodes::kDebianDirectory);
  ASSERT_TRUE(codes.ok()) << codes.status();
  const IsoCodes& iso = **codes;
  for (const char* known : {"ID", "CN", "GB", "SG", "US"}) {
    SCOPED_TRACE(known);
    EXPECT_EQ(iso.Country(known), PackCountry(known));
    EXPECT_NE(iso.Country(known), 0);
  }
  // "UK" is not the ISO code of the United Kingdom ("GB"); "XX" is
  // unassigned; lower case is never a code.
  for (const char* unknown : {"UK", "XX", "ZZ", "id", "IDN", ""}) {
    SCOPED_TRACE(unknown);
    EXPECT_EQ(iso.Country(unknown), 0);
  }
  EXPECT_GT(iso.country_count(), 200u);
  EXPECT_LE(iso.country_count(), 676u);
}

TEST(IsoCodesLoadTest, DebianTablesKnowActiveCurrencies) {
  auto codes = IsoCodes::LoadFromDirectory(IsoCodes::kDebianDirectory);
  ASSERT_TRUE(codes.ok()) << codes.status();
  const IsoCodes& iso = **codes;
  for (const char* known : {"IDR", "USD", "CNY", "EUR", "SGD"}) {
    SCOPED_TRACE(known);
    EXPECT_EQ(iso.Currency(known), PackCurrency(known));
    EXPECT_NE(iso.Currency(known), 0);
  }
  for (const char* unknown : {"XYZ", "usd", "US", ""}) {
    SCOPED_TRACE(unknown);
    EXPECT_EQ(iso.Currency(unknown), 0);
  }
  EXPECT_GT(iso.currency_count(), 100u);
}

TEST(IsoCodesLoadTest, MissingDirectoryIsNotFound) {
  auto codes =
      IsoCodes::LoadFromDirectory("/nonexistent/importgate-iso-codes-test");
  ASSERT_FALSE(codes.ok());
  EXPECT_EQ(codes.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(codes.status().message()),
              HasSubstr("iso_3166-1.json"));
}

TEST(IsoCodesLoadTest, MissingCurrencyFileIsNotFound) {
  std::string dir = it::WriteBundleDirectory(
      {{"iso_3166-1.json", R"json({"3166-1": [{"alpha_2": "ID"}]})json"}});
  auto codes = IsoCodes::LoadFromDirectory(dir);
  ASSERT_FALSE(codes.ok());
  EXPECT_EQ(codes.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(codes.status().message()),
              HasSubstr("iso_4217.json"));
}

TEST(IsoCodesLoadTest, UnparsableJsonIsInvalidArgument) {
  std::string dir = it::WriteBundleDirectory(
      {{"iso_3166-1.json", "this is not json"},
       {"iso_4217.json", R"json({"4217": [{"alpha_3": "IDR"}]})json"}});
  auto codes = IsoCodes::LoadFromDirectory(dir);
  ASSERT_FALSE(codes.ok());
  EXPECT_EQ(codes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(codes.status().message()),
              HasSubstr("iso_3166-1.json"));
}

TEST(IsoCodesLoadTest, MalformedCodeInFileIsInvalidArgument) {
  std::string dir = it::WriteBundleDirectory(
      {{"iso_3166-1.json", R"json({"3166-1": [{"alpha_2": "id"}]})json"},
       {"iso_4217.json", R"json({"4217": [{"alpha_3": "IDR"}]})json"}});
  auto codes = IsoCodes::LoadFromDirectory(dir);
  ASSERT_FALSE(codes.ok());
  EXPECT_EQ(codes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(codes.status().message()), HasSubstr("\"id\""));
}

TEST(IsoCodesLoadTest, SmallJsonFilesAreRead) {
  std::string dir = it::WriteBundleDirectory(
      {{"iso_3166-1.json",
        R"json({"3166-1": [{"alpha_2": "ID", "name": "Indonesia",
                            "numeric": "360"}, {"alpha_2": "SG"}]})json"},
       {"iso_4217.json", R"json({"4217": [{"alpha_3": "IDR"}]})json"}});
  auto codes = IsoCodes::LoadFromDirectory(dir);
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_NE((*codes)->Country("ID"), 0);
  EXPECT_NE((*codes)->Country("SG"), 0);
  EXPECT_EQ((*codes)->Country("GB"), 0);
  EXPECT_NE((*codes)->Currency("IDR"), 0);
  EXPECT_EQ((*codes)->Currency("USD"), 0);
  EXPECT_EQ((*codes)->country_count(), 2u);
  EXPECT_EQ((*codes)->currency_count(), 1u);
}

TEST(IsoCodesFromListsTest, KnowsExactlyTheListedCodes) {
  auto codes = IsoCodes::FromLists({"ID", "GB"}, {"IDR", "USD"});
  ASSERT_TRUE(codes.ok()) << codes.status();
  EXPECT_EQ((*codes)->Country("ID"), PackCountry("ID"));
  EXPECT_EQ((*codes)->Country("GB"), PackCountry("GB"));
  EXPECT_EQ((*codes)->Country("CN"), 0);
  EXPECT_EQ((*codes)->Currency("USD"), PackCurrency("USD"));
  EXPECT_EQ((*codes)->Currency("CNY"), 0);
  EXPECT_EQ((*codes)->country_count(), 2u);
  EXPECT_EQ((*codes)->currency_count(), 2u);
}

TEST(IsoCodesFromListsTest, RejectsAMalformedCountry) {
  auto codes = IsoCodes::FromLists({"ID", "id"}, {"IDR"});
  ASSERT_FALSE(codes.ok());
  EXPECT_EQ(codes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(codes.status().message()), HasSubstr("\"id\""));
}

TEST(IsoCodesFromListsTest, RejectsAMalformedCurrency) {
  auto codes = IsoCodes::FromLists({"ID"}, {"IDR", "US"});
  ASSERT_FALSE(codes.ok());
  EXPECT_EQ(codes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(codes.status().message()), HasSubstr("\"US\""));
}

}  // namespace
}  // namespace importgate
