#include "server/policy/codes.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "server/common/utf8.h"

namespace importgate::policy {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsCategoryChar(char c) {
  return (c >= 'a' && c <= 'z') || IsDigit(c) || c == '_' || c == '-';
}

}  // namespace

absl::StatusOr<HsCode> ParseHsCode(absl::string_view text) {
  HsCode code;
  bool previous_was_digit = false;
  for (char c : text) {
    if (IsDigit(c)) {
      if (++code.digits > kMaxHsDigits) break;
      code.value = code.value * 10 + static_cast<uint64_t>(c - '0');
      previous_was_digit = true;
    } else if (c == '.' && previous_was_digit) {
      previous_was_digit = false;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(QuoteForMessage(text),
                       " is not an HS code: only digits and "
                       "single dots between digits are allowed"));
    }
  }
  if (code.digits < kMinHsDigits || code.digits > kMaxHsDigits ||
      !previous_was_digit) {
    return absl::InvalidArgumentError(
        absl::StrCat(QuoteForMessage(text),
                     " is not an HS code: it must hold 2 to 10 digits"));
  }
  return code;
}

absl::Status ValidateCategory(absl::string_view path) {
  if (path.empty() || path.size() > kMaxCategoryBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "must be 1 to ", kMaxCategoryBytes, " bytes, got ", path.size()));
  }
  bool segment_empty = true;
  for (char c : path) {
    if (c == '/') {
      if (segment_empty) break;
      segment_empty = true;
    } else if (IsCategoryChar(c)) {
      segment_empty = false;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(QuoteForMessage(path),
                       " is not a category path: segments use only "
                       "lower-case a-z, 0-9, '_' and '-'"));
    }
  }
  if (segment_empty) {
    return absl::InvalidArgumentError(
        absl::StrCat(QuoteForMessage(path),
                     " is not a category path: empty segment (no leading, "
                     "trailing or double '/')"));
  }
  return absl::OkStatus();
}

absl::StatusOr<NanoAmount> ToNanoAmount(int64_t units, int32_t nanos) {
  if (nanos <= -1'000'000'000 || nanos >= 1'000'000'000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "nanos ", nanos, " is out of range (-999999999..999999999)"));
  }
  if ((units > 0 && nanos < 0) || (units < 0 && nanos > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("units ", units, " and nanos ", nanos, " differ in sign"));
  }
  if (units > kMaxMoneyUnits || units < -kMaxMoneyUnits) {
    return absl::InvalidArgumentError(absl::StrCat(
        "units ", units, " is out of range (at most 10^13 in magnitude)"));
  }
  return static_cast<NanoAmount>(units) * 1'000'000'000 + nanos;
}

absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text) {
  absl::Time t;
  std::string error;
  // absl::ParseTime also takes "infinite-future"/"infinite-past" and skips
  // surrounding whitespace; RFC 3339 allows neither.
  // %Y takes any number of digits and a sign, and %E*S any number of
  // fractional digits; RFC 3339 has a four-digit year, and a time here is
  // a whole number of nanoseconds.
  bool shaped = text.size() >= 5 && IsDigit(text[0]) && IsDigit(text[1]) &&
                IsDigit(text[2]) && IsDigit(text[3]) && text[4] == '-' &&
                text.find_first_of(" \t\n\r") == absl::string_view::npos;
  if (shaped) {
    size_t dot = text.find('.');
    if (dot != absl::string_view::npos) {
      size_t digits = 0;
      while (dot + 1 + digits < text.size() && IsDigit(text[dot + 1 + digits]))
        ++digits;
      shaped = digits <= 9;
    }
  }
  if (!shaped || !absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat(QuoteForMessage(text),
                     " is not an RFC 3339 time with offset (e.g. "
                     "\"2021-08-03T00:00:00+07:00\"): ",
                     error));
  }
  return t;
}

UnixTime SplitUnixTime(absl::Time t) {
  UnixTime out;
  out.seconds = absl::ToUnixSeconds(t);
  out.nanos = static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(out.seconds)));
  return out;
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%E4Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<int64_t> ParseMicroDecimal(absl::string_view text) {
  constexpr int64_t kMax = 1'000'000'000LL * 1'000'000;  // 10^9, in micros
  int64_t whole = 0;
  int64_t fraction = 0;
  int fraction_digits = -1;  // -1: no '.' seen
  int whole_digits = 0;
  for (char c : text) {
    if (c == '.' && fraction_digits < 0 && whole_digits > 0) {
      fraction_digits = 0;
    } else if (IsDigit(c) && fraction_digits < 0) {
      whole = whole * 10 + (c - '0');
      if (++whole_digits > 10) break;
    } else if (IsDigit(c) && fraction_digits < 6) {
      fraction = fraction * 10 + (c - '0');
      ++fraction_digits;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          QuoteForMessage(text), " is not a decimal with at most 6 decimals"));
    }
  }
  if (whole_digits == 0 || whole_digits > 10 || fraction_digits == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        QuoteForMessage(text), " is not a decimal with at most 6 decimals"));
  }
  for (int i = fraction_digits < 0 ? 0 : fraction_digits; i < 6; ++i) {
    fraction *= 10;
  }
  int64_t micros = whole * 1'000'000 + fraction;
  if (micros <= 0 || micros > kMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        QuoteForMessage(text), " must be > 0 and at most 1000000000"));
  }
  return micros;
}

}  // namespace importgate::policy
