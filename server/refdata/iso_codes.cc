#include "server/refdata/iso_codes.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "importgate/isocodes/v1/iso_codes.pb.h"
#include "server/common/status_macros.h"

namespace importgate {
namespace {

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        "cannot read ", path, " (is the Debian iso-codes package installed?)"));
  }
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

template <typename Message>
absl::Status ParseJsonFile(const std::string& path, Message* message) {
  IMPORTGATE_ASSIGN_OR_RETURN(std::string json, ReadFile(path));
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status =
      google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", status.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

CountryCode PackCountry(absl::string_view code) {
  if (code.size() != 2 || !IsUpper(code[0]) || !IsUpper(code[1])) return 0;
  return static_cast<CountryCode>((code[0] - 'A') * 26 + (code[1] - 'A') + 1);
}

CurrencyCode PackCurrency(absl::string_view code) {
  if (code.size() != 3 || !IsUpper(code[0]) || !IsUpper(code[1]) ||
      !IsUpper(code[2])) {
    return 0;
  }
  return static_cast<CurrencyCode>(
      ((code[0] - 'A') * 26 + (code[1] - 'A')) * 26 + (code[2] - 'A') + 1);
}

std::string UnpackCountry(CountryCode code) {
  if (code == 0) return "";
  int v = code - 1;
  return {static_cast<char>('A' + v / 26), static_cast<char>('A' + v % 26)};
}

std::string UnpackCurrency(CurrencyCode code) {
  if (code == 0) return "";
  int v = code - 1;
  return {static_cast<char>('A' + v / 676),
          static_cast<char>('A' + (v / 26) % 26),
          static_cast<char>('A' + v % 26)};
}

absl::StatusOr<std::shared_ptr<const IsoCodes>> IsoCodes::LoadFromDirectory(
    absl::string_view directory) {
  isocodes::v1::CountryList countries;
  IMPORTGATE_RETURN_IF_ERROR(
      ParseJsonFile(absl::StrCat(directory, "/iso_3166-1.json"), &countries));
  isocodes::v1::CurrencyList currencies;
  IMPORTGATE_RETURN_IF_ERROR(
      ParseJsonFile(absl::StrCat(directory, "/iso_4217.json"), &currencies));
  std::vector<std::string> country_codes;
  for (const auto& c : countries.countries())
    country_codes.push_back(c.alpha_2());
  std::vector<std::string> currency_codes;
  for (const auto& c : currencies.currencies()) {
    currency_codes.push_back(c.alpha_3());
  }
  if (country_codes.empty() || currency_codes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        directory, ": iso_3166-1.json or iso_4217.json holds no codes"));
  }
  return FromLists(country_codes, currency_codes);
}

absl::StatusOr<std::shared_ptr<const IsoCodes>> IsoCodes::FromLists(
    const std::vector<std::string>& countries,
    const std::vector<std::string>& currencies) {
  std::shared_ptr<IsoCodes> codes(new IsoCodes());
  for (const std::string& c : countries) {
    CountryCode packed = PackCountry(c);
    if (packed == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed ISO 3166-1 alpha-2 code \"", c, "\""));
    }
    codes->countries_.set(packed);
  }
  for (const std::string& c : currencies) {
    CurrencyCode packed = PackCurrency(c);
    if (packed == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed ISO 4217 code \"", c, "\""));
    }
    codes->currencies_.set(packed);
  }
  return std::shared_ptr<const IsoCodes>(std::move(codes));
}

CountryCode IsoCodes::Country(absl::string_view code) const {
  CountryCode packed = PackCountry(code);
  return packed != 0 && countries_.test(packed) ? packed : 0;
}

CurrencyCode IsoCodes::Currency(absl::string_view code) const {
  CurrencyCode packed = PackCurrency(code);
  return packed != 0 && currencies_.test(packed) ? packed : 0;
}

}  // namespace importgate
