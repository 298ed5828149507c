#include "tests/testing/test_bundles.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "server/bundle/artifact.h"
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

std::shared_ptr<const compiler::PolicySnapshot> MustCompile(
    const std::string& rules, const std::string& manifest) {
  auto snapshot = CompileRules(rules, manifest);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return snapshot.ok() ? *snapshot : nullptr;
}

const char kDenyTeesRules[] = R"pb(
  rules {
    id: "deny-tees"
    effect: EFFECT_DENY
    reason_code: "CLOSED"
    message: "closed"
    match {
      hs_codes: [ "6109" ]
      seller_kinds: [ SELLER_KIND_CROSS_BORDER ]
    }
  }
)pb";

std::string TeeTestCase(const std::string& name, const std::string& kind,
                        const std::string& effect, const std::string& rule_id) {
  return absl::StrCat(
      "cases {\n  name: \"", name, "\"\n  at: \"2024-01-01T00:00:00Z\"\n",
      "  request {\n    item { hs_code: \"6109.10\" }\n",
      "    seller { kind: ", kind, " }\n", "    destination_country: \"ID\"\n",
      "    channel: CHANNEL_CHECKOUT\n  }\n", "  expect_effect: ", effect, "\n",
      "  expect_rule_id: \"", rule_id, "\"\n}\n");
}

std::vector<policy::SourceFile> SmallBundle(uint64_t revision,
                                            bool failing_test) {
  std::string test =
      failing_test ? TeeTestCase("cross-border tee", "SELLER_KIND_CROSS_BORDER",
                                 "EFFECT_ALLOW", "")
                   : TeeTestCase("cross-border tee", "SELLER_KIND_CROSS_BORDER",
                                 "EFFECT_DENY", "deny-tees");
  return BundleFiles(TestManifest(revision), kDenyTeesRules, test);
}

std::string PackedSmallBundle(uint64_t revision, bool failing_test) {
  return bundle::PackArtifact(SmallBundle(revision, failing_test), "test",
                              revision, absl::FromUnixSeconds(1'700'000'000),
                              "test");
}

std::string SignatureText(const bundle::SigningKey& key,
                          const std::string& artifact) {
  auto unpacked = bundle::UnpackArtifact(artifact);
  EXPECT_TRUE(unpacked.ok()) << unpacked.status();
  if (!unpacked.ok()) return "";
  auto signature =
      key.Sign(unpacked->manifest.name(), unpacked->manifest.revision(),
               unpacked->manifest.content_digest());
  EXPECT_TRUE(signature.ok()) << signature.status();
  if (!signature.ok()) return "";
  policy::v1::BundleSignatures signatures;
  *signatures.add_signatures() = *signature;
  std::string text;
  google::protobuf::TextFormat::PrintToString(signatures, &text);
  return text;
}

std::string PackedScheduledBundle(uint64_t revision,
                                  const std::string& not_before,
                                  bool failing_test) {
  std::vector<policy::SourceFile> files = SmallBundle(revision, failing_test);
  for (policy::SourceFile& file : files) {
    if (file.path == policy::kManifestPath) {
      absl::StrAppend(&file.content, "not_before: \"", not_before, "\"\n");
    }
  }
  return bundle::PackArtifact(files, "test", revision,
                              absl::FromUnixSeconds(1'700'000'000), "test");
}

std::vector<BadBundle> BadBundles(uint64_t active) {
  const std::string good = PackedSmallBundle(active + 1);
  return {
      {"torn write", good.substr(0, good.size() / 2), "truncated"},
      {"failing bundle tests",
       PackedSmallBundle(active + 1, /*failing_test=*/true),
       "bundle tests failed"},
      {"syntax error",
       bundle::PackArtifact(BundleFiles(TestManifest(active + 1), "rules {"),
                            "test", active + 1, absl::UnixEpoch(), "test"),
       "parse failed"},
      {"not a bundle", "<html>maintenance</html>", "bad magic"},
      {"older revision", PackedSmallBundle(active - 1), "not newer"},
  };
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

absl::StatusOr<std::shared_ptr<const bundle::LoadedBundle>>
LoadDefaultBundle() {
  return bundle::LoadBundleDirectory(DefaultBundleDirectory(), RealIsoCodes());
}

}  // namespace importgate::testing
