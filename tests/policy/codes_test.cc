#include "server/policy/codes.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace importgate {
namespace {

using policy::NanoAmount;
using ::testing::HasSubstr;

// NanoAmount is __int128, which gtest cannot print; failures show this.
std::string ToString(NanoAmount v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  std::string digits;
  while (v != 0) {
    int d = static_cast<int>(v % 10);
    digits.insert(digits.begin(), static_cast<char>('0' + (d < 0 ? -d : d)));
    v /= 10;
  }
  return negative ? "-" + digits : digits;
}

// --- ParseHsCode ----------------------------------------------------------

struct HsCase {
  std::string name;
  std::string text;
  uint64_t value;
  int digits;
};

TEST(ParseHsCodeTest, AcceptsDigitsWithSingleDots) {
  const std::vector<HsCase> cases = {
      {"chapter", "61", 61, 2},
      {"heading", "6109", 6109, 4},
      {"dotted tariff line", "6109.10.00", 61091000, 8},
      {"undotted subheading", "610910", 610910, 6},
      {"dotted subheading", "6109.10", 610910, 6},
      {"leading zero is a digit", "0101", 101, 4},
      {"leading zero chapter", "01", 1, 2},
      {"ten digits", "6109100010", 6109100010ull, 10},
      {"ten digits dotted", "6109.10.00.10", 6109100010ull, 10},
      {"dots between every digit", "6.1.0.9", 6109, 4},
  };
  for (const HsCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto code = policy::ParseHsCode(c.text);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(code->value, c.value);
    EXPECT_EQ(code->digits, c.digits);
  }
}

TEST(ParseHsCodeTest, RejectsMalformedCodes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"one digit", "6"},
      {"letters", "abc"},
      {"digits then letter", "61a"},
      {"double dot", "61..09"},
      {"leading dot", ".61"},
      {"trailing dot", "61."},
      {"only a dot", "."},
      {"eleven digits", "61091000001"},
      {"eleven digits dotted", "6109.10.00.001"},
      {"dash", "61-09"},
      {"leading space", " 61"},
      {"trailing space", "61 "},
      {"sign", "+61"},
  };
  for (const auto& [name, text] : cases) {
    SCOPED_TRACE(name);
    auto code = policy::ParseHsCode(text);
    ASSERT_FALSE(code.ok()) << "parsed as " << code->value;
    EXPECT_EQ(code.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(code.status().message()),
                HasSubstr("is not an HS code"));
  }
}

TEST(HsPrefixValueTest, TakesTheLeadingDigits) {
  struct Case {
    std::string name;
    policy::HsCode code;
    int digits;
    uint64_t want;
  };
  const std::vector<Case> cases = {
      {"chapter of tariff line", {61091000, 8}, 2, 61},
      {"heading of tariff line", {61091000, 8}, 4, 6109},
      {"subheading of tariff line", {61091000, 8}, 6, 610910},
      {"whole code", {61091000, 8}, 8, 61091000},
      {"leading zero kept as a position", {10121, 6}, 2, 1},
      {"leading zero heading", {10121, 6}, 4, 101},
      {"ten digits to two", {6109100010ull, 10}, 2, 61},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(policy::HsPrefixValue(c.code, c.digits), c.want);
  }
}

// --- ValidateCategory -----------------------------------------------------

TEST(ValidateCategoryTest, AcceptsLowerCasePaths) {
  const std::vector<std::string> valid = {
      "fashion",
      "fashion/women/dresses",
      "a",
      "home-decor/wall_art",
      "x9/0",
      std::string(256, 'a'),
      std::string(127, 'a') + "/" + std::string(128, 'b'),
  };
  for (const std::string& path : valid) {
    SCOPED_TRACE(path.substr(0, 40));
    EXPECT_TRUE(policy::ValidateCategory(path).ok())
        << policy::ValidateCategory(path);
  }
}

TEST(ValidateCategoryTest, RejectsMalformedPaths) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"upper case first segment", "Fashion"},
      {"upper case later segment", "fashion/Women"},
      {"empty segment", "fashion//women"},
      {"leading slash", "/fashion"},
      {"trailing slash", "fashion/"},
      {"only a slash", "/"},
      {"space", "fashion women"},
      {"dot", "fashion.women"},
      {"backslash", "fashion\\women"},
      {"non-ASCII", "caf\xc3\xa9"},
      {"257 bytes", std::string(257, 'a')},
  };
  for (const auto& [name, path] : cases) {
    SCOPED_TRACE(name);
    absl::Status status = policy::ValidateCategory(path);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ValidateCategoryTest, LengthErrorNamesTheLimit) {
  absl::Status status = policy::ValidateCategory(std::string(257, 'a'));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("1 to 256 bytes"));
}

// --- ToNanoAmount ---------------------------------------------------------

TEST(ToNanoAmountTest, CombinesUnitsAndNanos) {
  struct Case {
    std::string name;
    int64_t units;
    int32_t nanos;
    NanoAmount want;
  };
  const NanoAmount kMax =
      static_cast<NanoAmount>(policy::kMaxMoneyUnits) * 1'000'000'000;
  const std::vector<Case> cases = {
      {"zero", 0, 0, 0},
      {"whole units", 100, 0, static_cast<NanoAmount>(100'000'000'000)},
      {"units and nanos", 99, 990'000'000, 99'990'000'000},
      {"negative units and nanos", -1, -500'000'000, -1'500'000'000},
      {"negative nanos only", 0, -1, -1},
      {"largest nanos", 0, 999'999'999, 999'999'999},
      {"largest units", policy::kMaxMoneyUnits, 0, kMax},
      {"most negative units", -policy::kMaxMoneyUnits, 0, -kMax},
      {"largest units and nanos", policy::kMaxMoneyUnits, 999'999'999,
       kMax + 999'999'999},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto amount = policy::ToNanoAmount(c.units, c.nanos);
    ASSERT_TRUE(amount.ok()) << amount.status();
    EXPECT_TRUE(*amount == c.want)
        << "got " << ToString(*amount) << ", want " << ToString(c.want);
  }
}

TEST(ToNanoAmountTest, RejectsMalformedMoney) {
  struct Case {
    std::string name;
    int64_t units;
    int32_t nanos;
    std::string detail;
  };
  const std::vector<Case> cases = {
      {"positive units, negative nanos", 1, -1, "differ in sign"},
      {"negative units, positive nanos", -1, 1, "differ in sign"},
      {"nanos of one unit", 0, 1'000'000'000, "out of range"},
      {"nanos of minus one unit", 0, -1'000'000'000, "out of range"},
      {"largest int32 nanos", 0, std::numeric_limits<int32_t>::max(),
       "out of range"},
      {"units over 10^13", policy::kMaxMoneyUnits + 1, 0, "out of range"},
      {"units under -10^13", -policy::kMaxMoneyUnits - 1, 0, "out of range"},
      {"largest int64 units", std::numeric_limits<int64_t>::max(), 0,
       "out of range"},
      {"smallest int64 units", std::numeric_limits<int64_t>::min(), 0,
       "out of range"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto amount = policy::ToNanoAmount(c.units, c.nanos);
    ASSERT_FALSE(amount.ok()) << "got " << ToString(*amount);
    EXPECT_EQ(amount.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(amount.status().message()), HasSubstr(c.detail));
  }
}

// --- ParseRfc3339 ---------------------------------------------------------

absl::Time Utc(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s),
                         absl::UTCTimeZone());
}

TEST(ParseRfc3339Test, AcceptsTimesWithAnOffset) {
  struct Case {
    std::string name;
    std::string text;
    absl::Time want;
  };
  const std::vector<Case> cases = {
      {"positive offset", "2021-08-03T00:00:00+07:00",
       Utc(2021, 8, 2, 17, 0, 0)},
      {"Z", "2021-08-02T17:00:00Z", Utc(2021, 8, 2, 17, 0, 0)},
      {"negative offset", "2021-08-02T12:00:00-05:00",
       Utc(2021, 8, 2, 17, 0, 0)},
      {"zero offset", "2021-08-02T17:00:00+00:00", Utc(2021, 8, 2, 17, 0, 0)},
      {"fractional seconds", "2021-08-02T17:00:00.25Z",
       Utc(2021, 8, 2, 17, 0, 0) + absl::Milliseconds(250)},
      {"nanoseconds", "2021-08-02T17:00:00.000000001Z",
       Utc(2021, 8, 2, 17, 0, 0) + absl::Nanoseconds(1)},
      {"year 1", "0001-01-01T00:00:00Z", Utc(1, 1, 1, 0, 0, 0)},
      {"before int64 nanoseconds", "1677-09-21T00:12:43.145224191Z",
       absl::FromUnixNanos(INT64_MIN) - absl::Nanoseconds(1)},
      {"after int64 nanoseconds", "2262-04-11T23:47:16.854775808Z",
       absl::FromUnixNanos(INT64_MAX) + absl::Nanoseconds(1)},
      {"end of year 9999", "9999-12-31T23:59:59.999999999Z",
       Utc(9999, 12, 31, 23, 59, 59) + absl::Nanoseconds(999'999'999)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto t = policy::ParseRfc3339(c.text);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(*t, c.want);
  }
}

TEST(ParseRfc3339Test, RejectsTimesWithoutAnOffset) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"date only", "2021-08-03"},
      {"no offset", "2021-08-03T00:00:00"},
      {"empty", ""},
      {"not a time", "yesterday"},
      {"day first", "03/08/2021"},
      {"month 13", "2021-13-01T00:00:00Z"},
      {"February 30", "2021-02-30T00:00:00Z"},
      {"trailing garbage", "2021-08-03T00:00:00Z junk"},
      {"five-digit year", "10000-01-01T00:00:00Z"},
      {"three-digit year", "999-01-01T00:00:00Z"},
      {"signed year", "+2021-08-03T00:00:00Z"},
      {"below a nanosecond", "2021-08-03T00:00:00.0000000001Z"},
  };
  for (const auto& [name, text] : cases) {
    SCOPED_TRACE(name);
    auto t = policy::ParseRfc3339(text);
    ASSERT_FALSE(t.ok()) << "parsed as " << *t;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(t.status().message()),
                HasSubstr("is not an RFC 3339 time with offset"));
  }
}

// Regression: absl::ParseTime accepts the literals "infinite-future" /
// "infinite-past" and skips surrounding white space, none of which is
// RFC 3339.
TEST(ParseRfc3339Test, RejectsAbseilLiteralsAndPadding) {
  for (const char* text : {"infinite-future", "infinite-past",
                           " 2021-08-02T17:00:00Z", "2021-08-02T17:00:00Z "}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(policy::ParseRfc3339(text).ok());
  }
}

// --- ParseMicroDecimal ----------------------------------------------------

TEST(ParseMicroDecimalTest, ParsesPositiveDecimalsIntoMillionths) {
  struct Case {
    std::string text;
    int64_t want;
  };
  const std::vector<Case> cases = {
      {"15500", 15'500'000'000},
      {"7.2", 7'200'000},
      {"0.000001", 1},
      {"0.92", 920'000},
      {"1.350000", 1'350'000},
      {"1", 1'000'000},
      {"1000000000", 1'000'000'000'000'000},
      {"999999999.999999", 999'999'999'999'999},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto micros = policy::ParseMicroDecimal(c.text);
    ASSERT_TRUE(micros.ok()) << micros.status();
    EXPECT_EQ(*micros, c.want);
  }
}

TEST(ParseMicroDecimalTest, RejectsAnythingElse) {
  const std::vector<std::string> rejected = {
      "0",          "0.0",         "0.000000",
      "-1",         "1.2345678",   "",
      "1.",         ".5",          "abc",
      "1000000001", "1e3",         "+1",
      "1,5",        "1.2.3",       " 1",
      "1 ",         "10000000000", "1000000000.000001",
  };
  for (const std::string& text : rejected) {
    SCOPED_TRACE("\"" + text + "\"");
    auto micros = policy::ParseMicroDecimal(text);
    ASSERT_FALSE(micros.ok()) << "parsed as " << *micros;
    EXPECT_EQ(micros.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace importgate

namespace importgate::policy {
namespace {

// Timestamps in answers and status: seconds rounded toward the past and
// non-negative nanos, exact at the ends of the Timestamp range, where int64
// nanoseconds would overflow.
TEST(SplitUnixTimeTest, SecondsTowardThePastAndNonNegativeNanos) {
  struct Case {
    absl::Time t;
    int64_t seconds;
    int32_t nanos;
  };
  const Case cases[] = {
      {absl::UnixEpoch(), 0, 0},
      {absl::FromUnixNanos(1), 0, 1},
      {absl::FromUnixNanos(-1), -1, 999'999'999},
      {absl::FromUnixSeconds(-62135596800), -62135596800, 0},  // 0001-01-01
      {absl::FromUnixSeconds(253402300799) + absl::Nanoseconds(999'999'999),
       253402300799, 999'999'999},  // 9999-12-31T23:59:59.999999999Z
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(FormatRfc3339(c.t));
    const UnixTime split = SplitUnixTime(c.t);
    EXPECT_EQ(split.seconds, c.seconds);
    EXPECT_EQ(split.nanos, c.nanos);
  }
}

}  // namespace
}  // namespace importgate::policy
