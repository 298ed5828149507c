#include "server/bundle/loader.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/bundle/source_reader.h"
#include "tests/testing/test_bundles.h"

namespace importgate::bundle {
namespace {

namespace it = ::importgate::testing;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(LoadBundleTest, PassingBundleLoadsWithDigestAndCounts) {
  std::string tests =
      it::TeeTestCase("cross-border tee denied", "SELLER_KIND_CROSS_BORDER",
                      "EFFECT_DENY", "deny-tees") +
      it::TeeTestCase("domestic tee allowed", "SELLER_KIND_DOMESTIC",
                      "EFFECT_ALLOW", "");
  auto files = it::BundleFiles(it::TestManifest(7), it::kDenyTeesRules, tests);
  auto bundle = LoadBundle("mem", files, it::RealIsoCodes());
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ((*bundle)->snapshot->revision, 7u);
  EXPECT_EQ((*bundle)->test_case_count, 2u);
  EXPECT_EQ((*bundle)->source, "mem");
  EXPECT_TRUE(absl::StartsWith((*bundle)->digest, "sha256:"));
  EXPECT_EQ((*bundle)->digest.size(), 7u + 64u);
}

TEST(LoadBundleTest, FailingTestCaseRefusesBundleAndNamesTheCase) {
  std::string tests =
      it::TeeTestCase("ok case", "SELLER_KIND_CROSS_BORDER", "EFFECT_DENY",
                      "deny-tees") +
      it::TeeTestCase("wrong expectation", "SELLER_KIND_CROSS_BORDER",
                      "EFFECT_ALLOW", "");
  auto bundle = LoadBundle(
      "mem", it::BundleFiles(it::TestManifest(), it::kDenyTeesRules, tests),
      it::RealIsoCodes());
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(bundle.status().message(), HasSubstr("bundle tests failed"));
  EXPECT_THAT(bundle.status().message(), HasSubstr("1 of 2"));
  EXPECT_THAT(bundle.status().message(), HasSubstr("tests/t.textproto:"));
  EXPECT_THAT(bundle.status().message(), HasSubstr("\"wrong expectation\""));
  EXPECT_THAT(bundle.status().message(),
              HasSubstr("expected EFFECT_ALLOW by the bundle default, got "
                        "EFFECT_DENY by rule \"deny-tees\""));
  EXPECT_THAT(bundle.status().message(), Not(HasSubstr("\"ok case\"")));
}

TEST(LoadBundleTest, ExpectedErrorCases) {
  constexpr char kErrorCase[] = R"pb(
    cases {
      name: "no seller kind"
      at: "2024-01-01T00:00:00Z"
      request {
        item { hs_code: "6109" }
        seller {}
        destination_country: "ID"
        channel: CHANNEL_CHECKOUT
      }
      expect_error: "seller.kind:"
    }
  )pb";
  auto ok = LoadBundle(
      "mem",
      it::BundleFiles(it::TestManifest(), it::kDenyTeesRules, kErrorCase),
      it::RealIsoCodes());
  EXPECT_TRUE(ok.ok()) << ok.status();

  std::string wrong_error = kErrorCase;
  wrong_error.replace(wrong_error.find("seller.kind:"), 12, "item.hs_code");
  auto bad = LoadBundle(
      "mem",
      it::BundleFiles(it::TestManifest(), it::kDenyTeesRules, wrong_error),
      it::RealIsoCodes());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("expected an error containing \"item.hs_code\", got "
                        "error \"seller.kind:"));
}

TEST(LoadBundleTest, MalformedTestCasesAreReported) {
  struct Case {
    const char* name;
    std::string tests;
    const char* expected;
  } cases[] = {
      {"no evaluation time",
       R"pb(cases {
              name: "t"
              request { item { hs_code: "61" } }
              expect_effect: EFFECT_ALLOW
            })pb",
       "at: is required"},
      {"no expected effect",
       R"pb(cases {
              name: "t"
              at: "2024-01-01T00:00:00Z"
              request { item { hs_code: "61" } }
            })pb",
       "expect_effect: must be EFFECT_ALLOW or EFFECT_DENY"},
      {"error and effect together",
       R"pb(cases {
              name: "t"
              at: "2024-01-01T00:00:00Z"
              expect_error: "x"
              expect_effect: EFFECT_DENY
            })pb",
       "expect_error: cannot be combined"},
      {"duplicate names",
       it::TeeTestCase("same", "SELLER_KIND_DOMESTIC", "EFFECT_ALLOW", "") +
           it::TeeTestCase("same", "SELLER_KIND_DOMESTIC", "EFFECT_ALLOW", ""),
       "name: duplicate test name"},
      {"bad at",
       R"pb(cases { name: "t" at: "yesterday" expect_effect: EFFECT_ALLOW })pb",
       "at: \"yesterday\" is not an RFC 3339 time"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto bundle = LoadBundle(
        "mem", it::BundleFiles(it::TestManifest(), it::kDenyTeesRules, c.tests),
        it::RealIsoCodes());
    ASSERT_FALSE(bundle.ok());
    EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(bundle.status().message(), HasSubstr(c.expected));
    EXPECT_THAT(bundle.status().message(), HasSubstr("tests/t.textproto:"));
  }
}

TEST(LoadBundleTest, EachStepNamesItself) {
  auto syntax =
      LoadBundle("mem", it::BundleFiles(it::TestManifest(), "rules {"),
                 it::RealIsoCodes());
  ASSERT_FALSE(syntax.ok());
  EXPECT_THAT(syntax.status().message(), HasSubstr("parse failed"));
  EXPECT_THAT(syntax.status().message(), HasSubstr("rules/r.textproto:1:"));

  auto compile = LoadBundle(
      "mem", it::BundleFiles(it::TestManifest(), R"pb(rules { id: "x" })pb"),
      it::RealIsoCodes());
  ASSERT_FALSE(compile.ok());
  EXPECT_EQ(compile.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(compile.status().message(), HasSubstr("compile failed"));
  EXPECT_THAT(compile.status().message(), HasSubstr("rule \"x\""));
}

TEST(ContentDigestTest, DependsOnContentAndPathsNotOrder) {
  std::vector<policy::SourceFile> a = {{"a.textproto", "x"},
                                       {"b.textproto", "y"}};
  std::vector<policy::SourceFile> reordered = {a[1], a[0]};
  std::vector<policy::SourceFile> edited = {{"a.textproto", "x"},
                                            {"b.textproto", "z"}};
  std::vector<policy::SourceFile> moved = {{"a.textproto", "xy"},
                                           {"b.textproto", ""}};
  std::vector<policy::SourceFile> renamed = {{"a.textproto", "x"},
                                             {"c.textproto", "y"}};
  EXPECT_EQ(ContentDigest(a), ContentDigest(reordered));
  EXPECT_NE(ContentDigest(a), ContentDigest(edited));
  EXPECT_NE(ContentDigest(a), ContentDigest(moved));
  EXPECT_NE(ContentDigest(a), ContentDigest(renamed));
  // The SHA-256 of the framing of no files is the SHA-256 of "".
  EXPECT_EQ(ContentDigest({}),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
            "7852b855");
}

TEST(LoadBundleDirectoryTest, ReadsTheSameBundleFromDisk) {
  std::string tests = it::TeeTestCase("tee", "SELLER_KIND_CROSS_BORDER",
                                      "EFFECT_DENY", "deny-tees");
  auto files = it::BundleFiles(it::TestManifest(), it::kDenyTeesRules, tests);
  std::string dir = it::WriteBundleDirectory(files);
  // Hidden entries are not part of a bundle: an editor's swap file.
  std::ofstream(dir + "/rules/.r.textproto.swp") << "garbage {";
  auto from_disk = LoadBundleDirectory(dir, it::RealIsoCodes());
  ASSERT_TRUE(from_disk.ok()) << from_disk.status();
  auto in_memory = LoadBundle("mem", files, it::RealIsoCodes());
  ASSERT_TRUE(in_memory.ok());
  EXPECT_EQ((*from_disk)->digest, (*in_memory)->digest);
  EXPECT_EQ((*from_disk)->source, dir);
  std::filesystem::remove_all(dir);
}

// Anything else is refused by name, files and directories alike: the
// issue's rules/cosmetics_2024.txtpb is read, and each stray entry listed.
TEST(LoadBundleDirectoryTest, StrayFilesAndDirectoriesAreRefusedByName) {
  auto files = it::BundleFiles(it::TestManifest(), it::kDenyTeesRules);
  std::string dir = it::WriteBundleDirectory(files);
  std::filesystem::create_directories(dir + "/rules/2023");
  std::filesystem::create_directories(dir + "/docs");
  std::ofstream(dir + "/README.md") << "not a bundle file";
  std::ofstream(dir + "/rules/r.textproto.bak") << "rules {}";
  std::ofstream(dir + "/rules/2023/old.textproto") << "rules {}";
  auto bundle = LoadBundleDirectory(dir, it::RealIsoCodes());
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* named :
       {"README.md: not part", "rules/r.textproto.bak: not part",
        "rules/2023 (a directory): not part", "docs (a directory): not part"}) {
    EXPECT_THAT(bundle.status().message(), HasSubstr(named));
  }
  std::filesystem::remove_all(dir + "/rules/2023");
  std::filesystem::remove_all(dir + "/docs");
  std::filesystem::remove(dir + "/README.md");
  std::filesystem::remove(dir + "/rules/r.textproto.bak");
  std::ofstream(dir + "/rules/cosmetics_2024.txtpb")
      << "rules { id: \"deny-cosmetics\" effect: EFFECT_DENY reason_code: "
         "\"COSMETICS\" message: \"no\" match { hs_codes: [\"3304\"] } }";
  bundle = LoadBundleDirectory(dir, it::RealIsoCodes());
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ((*bundle)->snapshot->rules.size(), 2u);
  std::filesystem::remove_all(dir);
}

TEST(LoadBundleDirectoryTest, MissingDirectoryIsNotFound) {
  auto bundle =
      LoadBundleDirectory("/nonexistent/importgate/bundle", it::RealIsoCodes());
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(bundle.status().message(),
              HasSubstr("/nonexistent/importgate/bundle"));
}

}  // namespace
}  // namespace importgate::bundle
