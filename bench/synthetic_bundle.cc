#include "bench/synthetic_bundle.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace importgate::bench {
namespace {

constexpr size_t kRulesPerFile = 10'000;
constexpr const char* kCountries[] = {"CN", "VN", "TH", "MY", "SG",
                                      "JP", "KR", "US", "DE", "IN"};

// A deterministic, well-spread number for rule i.
uint64_t Mix(uint64_t i) {
  i ^= i >> 33;
  i *= 0xff51afd7ed558ccdULL;
  i ^= i >> 33;
  return i;
}

// Like a real tariff-based policy: few rules on whole chapters, most on
// 6-digit subheadings and 8-digit national lines.
int HsDigits(size_t i) {
  size_t bucket = Mix(i + 7) % 1000;
  if (bucket < 2) return 2;    // 0.2%
  if (bucket < 50) return 4;   // 4.8%
  if (bucket < 450) return 6;  // 40%
  return 8;                    // 55%
}

std::string HsPrefix(size_t i) {
  int digits = HsDigits(i);
  uint64_t mod = 1;
  for (int d = 0; d < digits; ++d) mod *= 10;
  std::string s = absl::StrCat(Mix(i) % mod);
  return std::string(static_cast<size_t>(digits) - s.size(), '0') + s;
}

std::string Category(size_t i) {
  return absl::StrCat("cat", Mix(i) % 2000, "/sub", Mix(i + 1) % 50);
}

void AppendRule(size_t i, std::string* out) {
  absl::StrAppend(out, "rules {\n  id: \"r", i,
                  "\"\n  effect: ", i % 5 == 0 ? "EFFECT_ALLOW" : "EFFECT_DENY",
                  "\n  priority: ", i % 10, "\n  reason_code: \"R", i % 100,
                  "\"\n  message: \"synthetic rule\"\n  match {");
  if (i % 3 == 0) {
    absl::StrAppend(out, " categories: \"", Category(i), "\"");
  } else {
    absl::StrAppend(out, " hs_codes: \"", HsPrefix(i), "\"");
  }
  absl::StrAppend(out, " destination_countries: \"", i % 2 == 0 ? "ID" : "MY",
                  "\"");
  if (i % 2 == 0)
    absl::StrAppend(out, " seller_kinds: SELLER_KIND_CROSS_BORDER");
  if (i % 5 == 0) {
    absl::StrAppend(out, " origin_countries: \"", kCountries[i % 10], "\"");
  }
  if (i % 10 == 0) {
    absl::StrAppend(out, " unit_price { below { currency_code: \"USD\" units: ",
                    50 + i % 100, " } }");
  }
  absl::StrAppend(out, " }\n");
  if (i % 4 == 0) {
    absl::StrAppend(out, "  effective_from: \"20", 20 + i % 5,
                    "-01-01T00:00:00+07:00\"\n");
  }
  if (i % 20 == 0) {
    absl::StrAppend(
        out, "  unless { attributes { key: \"exempt\" present: true } }\n");
  }
  absl::StrAppend(out, "}\n");
}

}  // namespace

std::vector<policy::SourceFile> SyntheticBundle(size_t rule_count,
                                                uint64_t revision) {
  std::vector<policy::SourceFile> files;
  files.push_back(
      {"manifest.textproto",
       absl::StrCat("name: \"synthetic\"\nrevision: ", revision,
                    "\ndefault_effect: EFFECT_ALLOW\n"
                    "default_reason_code: \"NO_RULE_MATCHED\"\n"
                    "default_cache_ttl { seconds: 300 }\n"
                    "fx { base_currency: \"USD\" rates { "
                    "currency_code: \"IDR\" per_base: \"15500\" } }\n")});
  for (size_t start = 0; start < rule_count; start += kRulesPerFile) {
    std::string text;
    text.reserve(kRulesPerFile * 220);
    for (size_t i = start; i < std::min(rule_count, start + kRulesPerFile);
         ++i) {
      AppendRule(i, &text);
    }
    files.push_back(
        {absl::StrCat("rules/r", start / kRulesPerFile, ".textproto"),
         std::move(text)});
  }
  // Self-tests: a miss decided by the default, checked on every load.
  std::string tests;
  for (int t = 0; t < 5; ++t) {
    absl::StrAppend(&tests, "cases { name: \"default ", t,
                    "\" at: \"2026-01-01T00:00:00Z\" request { item { hs_code: "
                    "\"99",
                    t,
                    "\" category: \"nomatch/x\" origin_country: \"CN\" "
                    "unit_price { currency_code: \"USD\" units: 500 } } "
                    "seller { kind: SELLER_KIND_DOMESTIC } "
                    "destination_country: \"FR\" channel: CHANNEL_CHECKOUT } "
                    "expect_effect: EFFECT_ALLOW }\n");
  }
  files.push_back({"tests/t.textproto", std::move(tests)});
  return files;
}

std::shared_ptr<const IsoCodes> DebianIsoCodes() {
  static auto* iso = new std::shared_ptr<const IsoCodes>(
      *IsoCodes::LoadFromDirectory(IsoCodes::kDebianDirectory));
  return *iso;
}

std::vector<importgate::v1::IsImportAllowedRequest> SyntheticRequests(
    size_t rule_count, size_t request_count) {
  std::vector<importgate::v1::IsImportAllowedRequest> requests;
  for (size_t k = 0; k < request_count; ++k) {
    importgate::v1::IsImportAllowedRequest r;
    size_t i = Mix(k + 12345) % std::max<size_t>(rule_count, 1);
    bool hit = k % 2 == 0;
    auto* item = r.mutable_item();
    if (hit && i % 3 == 0) {
      item->set_category(absl::StrCat(Category(i), "/leaf"));
    } else if (hit) {
      std::string hs = HsPrefix(i);
      item->set_hs_code(hs + std::string(10 - hs.size(), '1'));
    } else {
      item->set_hs_code(absl::StrCat(9900000000ULL + k % 99999));
      item->set_category("nomatch/leaf");
    }
    item->set_origin_country(kCountries[k % 10]);
    item->mutable_unit_price()->set_currency_code(k % 3 == 0 ? "IDR" : "USD");
    item->mutable_unit_price()->set_units(k % 3 == 0 ? 1'000'000 : 80);
    r.mutable_seller()->set_kind(
        k % 4 == 0 ? importgate::v1::SELLER_KIND_DOMESTIC
                   : importgate::v1::SELLER_KIND_CROSS_BORDER);
    r.set_destination_country(k % 2 == 0 ? "ID" : "MY");
    r.set_channel(importgate::v1::CHANNEL_CHECKOUT);
    r.mutable_evaluation_time()->set_seconds(1'767'225'600);  // 2026-01-01
    requests.push_back(std::move(r));
  }
  return requests;
}

}  // namespace importgate::bench
