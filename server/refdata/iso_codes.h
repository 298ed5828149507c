// IsoCodes: the set of valid ISO 3166-1 alpha-2 country codes and ISO 4217
// currency codes, read from Debian's `iso-codes` JSON files rather than
// typed by hand. Lookups are a bit test on a packed code: no hashing, no
// allocation, suitable for the request path.
//
// Thread safety: immutable after construction; share it as
// std::shared_ptr<const IsoCodes>.
#ifndef IMPORTGATE_SERVER_REFDATA_ISO_CODES_H_
#define IMPORTGATE_SERVER_REFDATA_ISO_CODES_H_

#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace importgate {

// A country code packed into 1..676; 0 means "no country".
using CountryCode = uint16_t;
// A currency code packed into 1..17576; 0 means "no currency".
using CurrencyCode = uint16_t;

// Packs "ID" into a CountryCode; returns 0 unless `code` is two ASCII
// upper-case letters. Says nothing about whether the code is assigned.
CountryCode PackCountry(absl::string_view code);
// Packs "IDR" into a CurrencyCode; returns 0 unless `code` is three ASCII
// upper-case letters.
CurrencyCode PackCurrency(absl::string_view code);
// The inverse of PackCountry / PackCurrency (for messages); "" for 0.
std::string UnpackCountry(CountryCode code);
std::string UnpackCurrency(CurrencyCode code);

class IsoCodes {
 public:
  // The Debian path of the iso-codes JSON files.
  static constexpr absl::string_view kDebianDirectory =
      "/usr/share/iso-codes/json";

  // Reads iso_3166-1.json and iso_4217.json from `directory`.
  // Returns NOT_FOUND when a file is missing (install the iso-codes
  // package), INVALID_ARGUMENT when a file does not parse or holds a
  // malformed code.
  static absl::StatusOr<std::shared_ptr<const IsoCodes>> LoadFromDirectory(
      absl::string_view directory);

  // Builds a table from explicit lists (tests use small ones). Returns
  // INVALID_ARGUMENT for a malformed code.
  static absl::StatusOr<std::shared_ptr<const IsoCodes>> FromLists(
      const std::vector<std::string>& countries,
      const std::vector<std::string>& currencies);

  // The packed code of an assigned country, or 0 when `code` is not one.
  CountryCode Country(absl::string_view code) const;
  // The packed code of an active currency, or 0 when `code` is not one.
  CurrencyCode Currency(absl::string_view code) const;

  size_t country_count() const { return countries_.count(); }
  size_t currency_count() const { return currencies_.count(); }

 private:
  IsoCodes() = default;

  std::bitset<26 * 26 + 1> countries_;
  std::bitset<26 * 26 * 26 + 1> currencies_;
};

}  // namespace importgate

#endif  // IMPORTGATE_SERVER_REFDATA_ISO_CODES_H_
