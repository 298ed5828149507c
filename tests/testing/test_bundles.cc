#include "tests/testing/test_bundles.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "server/compiler/compiler.h"

#ifndef IMPORTGATE_SOURCE_DIR
#error "IMPORTGATE_SOURCE_DIR must be defined by the build"
#endif

namespace importgate::testing {

std::string TestManifest(uint64_t revision) {
  return absl::StrCat("name: \"test\"\nrevision: ", revision, "\n", R"pb(
    default_effect: EFFECT_ALLOW
    default_reason_code: "NO_RULE_MATCHED"
    default_message: "no rule matched"
    default_cache_ttl { seconds: 60 }
    fx {
      base_currency: "USD"
      rates { currency_code: "IDR" per_base: "15500" }
      rates { currency_code: "CNY" per_base: "7.2" }
    }
  )pb");
}

std::shared_ptr<const IsoCodes> RealIsoCodes() {
  static const auto* codes = new std::shared_ptr<const IsoCodes>(
      *IsoCodes::LoadFromDirectory(IsoCodes::kDebianDirectory));
  return *codes;
}

std::vector<policy::SourceFile> BundleFiles(const std::string& manifest,
                                            const std::string& rules,
                                            const std::string& tests) {
  std::vector<policy::SourceFile> files = {{"manifest.textproto", manifest},
                                           {"rules/r.textproto", rules}};
  if (!tests.empty()) files.push_back({"tests/t.textproto", tests});
  return files;
}

absl::StatusOr<std::shared_ptr<const compiler::PolicySnapshot>> CompileRules(
    const std::string& rules, const std::string& manifest) {
  auto parsed = policy::ParseBundle(BundleFiles(manifest, rules));
  if (!parsed.ok()) return parsed.status();
  return compiler::Compile(*parsed, RealIsoCodes());
}

std::string WriteBundleDirectory(const std::vector<policy::SourceFile>& files) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "importgate-test-XXXXXX")
          .string();
  std::string dir = mkdtemp(pattern.data());
  for (const auto& f : files) {
    std::filesystem::path path = std::filesystem::path(dir) / f.path;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << f.content;
  }
  return dir;
}

std::string DefaultBundleDirectory() {
  return absl::StrCat(IMPORTGATE_SOURCE_DIR, "/policies/default");
}

}  // namespace importgate::testing
