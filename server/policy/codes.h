// The domain's small vocabularies, parsed the same way for bundle authors
// (compiler) and for callers (request validation): HS codes, category paths,
// money amounts and RFC 3339 times. Error messages describe the value, not
// the field: callers prefix the field name ("item.hs_code: ...").
//
// Every function here is pure and allocation-free on success.
#ifndef IMPORTGATE_SERVER_POLICY_CODES_H_
#define IMPORTGATE_SERVER_POLICY_CODES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace importgate::policy {

// An HS code or prefix: "6109.10" is value 610910, digits 6.
struct HsCode {
  uint64_t value = 0;
  int digits = 0;
};

inline constexpr int kMinHsDigits = 2;
inline constexpr int kMaxHsDigits = 10;
inline constexpr size_t kMaxCategoryBytes = 256;

// Request attributes, as a request may carry them and a rule may test them.
inline constexpr int kMaxAttributes = 64;
inline constexpr size_t kMaxAttributeKeyBytes = 64;
inline constexpr size_t kMaxAttributeValueBytes = 256;

// An exact amount of money in nano-units (10^-9 of a currency unit).
using NanoAmount = __int128;

// Money units are limited so that FX cross-multiplication cannot overflow.
inline constexpr int64_t kMaxMoneyUnits = 10'000'000'000'000;  // 10^13

// Parses an HS code written with optional dots ("6109.10.00", "610910").
// Returns INVALID_ARGUMENT unless it holds 2 to 10 digits and only digits
// and single dots between them.
absl::StatusOr<HsCode> ParseHsCode(absl::string_view text);

// The first `digits` digits of `code` (digits <= code.digits).
inline uint64_t HsPrefixValue(const HsCode& code, int digits) {
  uint64_t v = code.value;
  for (int i = code.digits; i > digits; --i) v /= 10;
  return v;
}

// Checks a category path: 1 to 256 bytes of '/'-separated, non-empty
// segments of [a-z0-9_-]. Returns INVALID_ARGUMENT naming the problem.
absl::Status ValidateCategory(absl::string_view path);

// Converts units + nanos (google.type.Money) to nano-units. Returns
// INVALID_ARGUMENT when |nanos| >= 10^9, the signs differ, or |units|
// exceeds kMaxMoneyUnits.
absl::StatusOr<NanoAmount> ToNanoAmount(int64_t units, int32_t nanos);

// Parses an RFC 3339 time with an explicit offset
// ("2021-08-03T00:00:00+07:00", "2021-08-02T17:00:00Z"): a four-digit
// year (0000 to 9999, as RFC 3339 writes it) and at most nine fractional
// digits, so every time is a whole number of nanoseconds. absl::Time holds
// every such instant exactly.
absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text);

// Formats `t` as ParseRfc3339 reads it, in UTC with a four-digit year and
// only the fractional digits needed: "2023-09-26T17:00:00Z",
// "0001-01-01T00:00:00.5Z". Allocates the result.
std::string FormatRfc3339(absl::Time t);

// An instant as google.protobuf.Timestamp holds it: whole seconds since
// the Unix epoch (rounded toward the past) and 0 to 999999999 nanos. Exact
// for every finite instant of years 0001 to 9999, unlike int64 nanoseconds.
struct UnixTime {
  int64_t seconds = 0;
  int32_t nanos = 0;
};
UnixTime SplitUnixTime(absl::Time t);

// Parses a positive decimal with at most 6 decimals ("15500", "7.2") into
// millionths; at most 10^9. Returns INVALID_ARGUMENT otherwise.
absl::StatusOr<int64_t> ParseMicroDecimal(absl::string_view text);

}  // namespace importgate::policy

#endif  // IMPORTGATE_SERVER_POLICY_CODES_H_
