#include "server/policy/bundle_source.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_bundles.h"

namespace importgate {
namespace {

namespace it = ::importgate::testing;
using policy::ParseBundle;
using policy::SourceFile;
using ::testing::HasSubstr;
using ::testing::Not;

// Two rules; the first `rules` starts on line 2, the second on line 7.
constexpr char kTwoRules[] =
    "# proto-message: importgate.policy.v1.RuleFile\n"  // 1
    "rules {\n"                                         // 2
    "  id: \"first\"\n"                                 // 3
    "  effect: EFFECT_DENY\n"                           // 4
    "}\n"                                               // 5
    "\n"                                                // 6
    "rules {\n"                                         // 7
    "  id: \"second\"\n"                                // 8
    "  priority: 7\n"                                   // 9
    "}\n";                                              // 10

// Two test cases, on lines 1 and 4.
constexpr char kTwoCases[] =
    "cases {\n"                  // 1
    "  name: \"c1\"\n"           // 2
    "}\n"                        // 3
    "cases { name: \"c2\" }\n";  // 4

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

std::vector<std::string> RuleIds(const policy::ParsedBundle& bundle) {
  std::vector<std::string> ids;
  for (const policy::RuleSource& r : bundle.rules) ids.push_back(r.rule.id());
  return ids;
}

TEST(ParseBundleTest, GoodBundleYieldsManifestRulesAndTestsWithLocations) {
  std::vector<SourceFile> files = {
      {"manifest.textproto", it::TestManifest(4)},
      {"rules/two.textproto", kTwoRules},
      {"tests/cases.textproto", kTwoCases},
  };
  auto bundle = ParseBundle(files);
  ASSERT_TRUE(bundle.ok()) << bundle.status();

  EXPECT_EQ(bundle->manifest.name(), "test");
  EXPECT_EQ(bundle->manifest.revision(), 4u);

  ASSERT_EQ(bundle->rules.size(), 2u);
  EXPECT_EQ(bundle->rules[0].rule.id(), "first");
  EXPECT_EQ(bundle->rules[0].rule.effect(), importgate::v1::EFFECT_DENY);
  EXPECT_EQ(bundle->rules[0].location.file, "rules/two.textproto");
  EXPECT_EQ(bundle->rules[0].location.line, 2);
  EXPECT_EQ(bundle->rules[1].rule.id(), "second");
  EXPECT_EQ(bundle->rules[1].rule.priority(), 7);
  EXPECT_EQ(bundle->rules[1].location.file, "rules/two.textproto");
  EXPECT_EQ(bundle->rules[1].location.line, 7);

  ASSERT_EQ(bundle->tests.size(), 2u);
  EXPECT_EQ(bundle->tests[0].test.name(), "c1");
  EXPECT_EQ(bundle->tests[0].location.file, "tests/cases.textproto");
  EXPECT_EQ(bundle->tests[0].location.line, 1);
  EXPECT_EQ(bundle->tests[1].test.name(), "c2");
  EXPECT_EQ(bundle->tests[1].location.line, 4);
}

TEST(ParseBundleTest, ManifestAloneIsAValidEmptyBundle) {
  auto bundle = ParseBundle(
      std::vector<SourceFile>{{"manifest.textproto", it::TestManifest()}});
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_TRUE(bundle->rules.empty());
  EXPECT_TRUE(bundle->tests.empty());
}

TEST(ParseBundleTest, SyntaxErrorNamesFileLineAndColumn) {
  constexpr char kBad[] =
      "rules {\n"           // 1
      "  id: \"x\"\n"       // 2
      "  priority: high\n"  // 3: "high" starts in column 13
      "}\n";
  auto bundle = ParseBundle(it::BundleFiles(it::TestManifest(), kBad));
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bundle.status()), HasSubstr("rules/r.textproto:3:13: "));
  EXPECT_THAT(Message(bundle.status()), HasSubstr("high"));
}

TEST(ParseBundleTest, UnterminatedMessageIsAnError) {
  auto bundle = ParseBundle(it::BundleFiles(it::TestManifest(), "rules {"));
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bundle.status()), HasSubstr("rules/r.textproto:1:"));
}

TEST(ParseBundleTest, UnknownFieldIsAnErrorNamingTheFile) {
  constexpr char kMisspelt[] =
      "rules {\n"
      "  id: \"x\"\n"
      "  colour: \"red\"\n"
      "}\n";
  auto bundle = ParseBundle(it::BundleFiles(it::TestManifest(), kMisspelt));
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bundle.status()), HasSubstr("rules/r.textproto:3:"));
  EXPECT_THAT(Message(bundle.status()), HasSubstr("colour"));
}

TEST(ParseBundleTest, UnknownManifestFieldIsAnErrorNamingTheManifest) {
  auto bundle = ParseBundle(std::vector<SourceFile>{
      {"manifest.textproto", "name: \"test\"\nrevison: 2\n"}});
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bundle.status()), HasSubstr("manifest.textproto:2:"));
  EXPECT_THAT(Message(bundle.status()), HasSubstr("revison"));
}

TEST(ParseBundleTest, TestFileOfTheWrongSchemaIsAnError) {
  // A rule file's content in tests/: "rules" is not a TestFile field.
  auto bundle = ParseBundle(it::BundleFiles(it::TestManifest(), "", kTwoRules));
  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(Message(bundle.status()), HasSubstr("tests/t.textproto:2:"));
}

TEST(ParseBundleTest, ErrorsInSeveralFilesAreAllReported) {
  std::vector<SourceFile> files = {
      {"manifest.textproto", it::TestManifest()},
      {"rules/a.textproto", "rules { nope: 1 }"},
      {"rules/b.textproto", "rules { id: }"},
  };
  auto bundle = ParseBundle(files);
  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(Message(bundle.status()), HasSubstr("rules/a.textproto:1:"));
  EXPECT_THAT(Message(bundle.status()), HasSubstr("rules/b.textproto:1:"));
}

TEST(ParseBundleTest, MissingManifestIsAnError) {
  auto bundle =
      ParseBundle(std::vector<SourceFile>{{"rules/r.textproto", kTwoRules}});
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bundle.status()),
              HasSubstr("manifest.textproto: missing"));
}

TEST(ParseBundleTest, ManifestGivenTwiceIsAnError) {
  auto bundle = ParseBundle(
      std::vector<SourceFile>{{"manifest.textproto", it::TestManifest()},
                              {"manifest.textproto", it::TestManifest()}});
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(bundle.status()),
              HasSubstr("manifest.textproto: given twice"));
}

// Every file outside the layout is an error that names it, whatever its
// name: a rule saved under another extension or directory must never be
// silently left out, making the bundle more permissive than written.
TEST(ParseBundleTest, AnyFileOutsideTheLayoutIsRejectedByName) {
  const std::vector<std::string> stray_paths = {
      "rule/x.textproto",       // typo for rules/
      "rules/sub/x.textproto",  // nested directory
      "x.textproto",            // bundle root
      "test/t.textproto",       // typo for tests/
      "rules/.textproto",       // no file name
      "policies/manifest.textproto",
      "README.md",
      "rules/notes.txt",
      "rules/r.textproto.bak",
      "rules/r.textproto~",
      "rules/r.TEXTPROTO",
      "rules/r.pbtxt",
      "rules/r.txtpb.orig",
      "tests/cosmetics.json",
      "Manifest.textproto",
      "manifest.txtpb",
  };
  for (const std::string& path : stray_paths) {
    SCOPED_TRACE(path);
    auto bundle = ParseBundle(
        std::vector<SourceFile>{{"manifest.textproto", it::TestManifest()},
                                {"rules/r.textproto", kTwoRules},
                                {path, kTwoRules}});
    ASSERT_FALSE(bundle.ok());
    EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(bundle.status()),
                HasSubstr(path + ": not part of the bundle layout"));
    // The message says what the layout holds, extensions included.
    EXPECT_THAT(Message(bundle.status()), HasSubstr("*{.textproto,.txtpb}"));
  }
}

// The case: a rule and its test saved as .txtpb (protobuf's
// recommended text-format extension) are read, not ignored.
TEST(ParseBundleTest, TxtpbFilesAreRulesAndTests) {
  auto bundle = ParseBundle(std::vector<SourceFile>{
      {"manifest.textproto", it::TestManifest()},
      {"rules/cosmetics_2024.txtpb", kTwoRules},
      {"tests/cosmetics_2024.txtpb", "cases { name: \"t1\" }\n"}});
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(RuleIds(*bundle), (std::vector<std::string>{"first", "second"}));
  ASSERT_EQ(bundle->tests.size(), 1u);
  EXPECT_EQ(bundle->tests[0].location.file, "tests/cosmetics_2024.txtpb");
}

TEST(CheckLayoutPathTest, DirectoriesOfTheLayoutOnly) {
  EXPECT_TRUE(policy::CheckLayoutPath("rules", true).ok());
  EXPECT_TRUE(policy::CheckLayoutPath("tests", true).ok());
  for (const char* dir : {"rule", "docs", "rules/old", "tests/2023", "x"}) {
    SCOPED_TRACE(dir);
    absl::Status s = policy::CheckLayoutPath(dir, true);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(s),
                HasSubstr(absl::StrCat(dir, " (a directory): not part")));
  }
  EXPECT_FALSE(policy::CheckLayoutPath("rules", false).ok());
  EXPECT_FALSE(policy::CheckLayoutPath("rules/r.textproto", true).ok());
}

TEST(ParseBundleTest, ResultDoesNotDependOnFileOrder) {
  const SourceFile manifest = {"manifest.textproto", it::TestManifest()};
  const SourceFile a = {"rules/a.textproto", "rules { id: \"a1\" }\n"};
  const SourceFile b = {"rules/b.textproto",
                        "rules { id: \"b1\" }\nrules { id: \"b2\" }\n"};
  const SourceFile c = {"rules/c.textproto", "rules { id: \"c1\" }\n"};
  const SourceFile t1 = {"tests/1.textproto", "cases { name: \"t1\" }\n"};
  const SourceFile t2 = {"tests/2.textproto", "cases { name: \"t2\" }\n"};
  const std::vector<std::vector<SourceFile>> orders = {
      {manifest, a, b, c, t1, t2},
      {c, t2, b, manifest, t1, a},
      {t1, a, manifest, c, t2, b},
  };
  for (size_t i = 0; i < orders.size(); ++i) {
    SCOPED_TRACE(i);
    auto bundle = ParseBundle(orders[i]);
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    EXPECT_EQ(RuleIds(*bundle),
              (std::vector<std::string>{"a1", "b1", "b2", "c1"}));
    ASSERT_EQ(bundle->tests.size(), 2u);
    EXPECT_EQ(bundle->tests[0].test.name(), "t1");
    EXPECT_EQ(bundle->tests[1].test.name(), "t2");
    EXPECT_EQ(bundle->rules[2].location.file, "rules/b.textproto");
    EXPECT_EQ(bundle->rules[2].location.line, 2);
  }
}

TEST(ParseBundleTest, CommentsAndBlankLinesCountTowardsLines) {
  constexpr char kRules[] =
      "# proto-file: importgate/policy/v1/bundle.proto\n"  // 1
      "# proto-message: importgate.policy.v1.RuleFile\n"   // 2
      "\n"                                                 // 3
      "# The only rule.\n"                                 // 4
      "rules { id: \"only\" }\n";                          // 5
  auto bundle = ParseBundle(it::BundleFiles(it::TestManifest(), kRules));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  ASSERT_EQ(bundle->rules.size(), 1u);
  EXPECT_EQ(bundle->rules[0].location.file, "rules/r.textproto");
  EXPECT_EQ(bundle->rules[0].location.line, 5);
}

// Regression: the text-format parser records one location per occurrence of
// the field *name*, so rules written in list form ("rules: [{...}, {...}]")
// used to share one location and later rules got the wrong line.
TEST(ParseBundleTest, ListFormRulesGetTheirOwnLines) {
  constexpr char kRules[] =
      "rules: [\n"              // 1
      "  { id: \"a\" },\n"      // 2
      "  { id: \"b\" }\n"       // 3
      "]\n"                     // 4
      "rules { id: \"c\" }\n";  // 5
  auto bundle = ParseBundle(it::BundleFiles(it::TestManifest(), kRules));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  ASSERT_EQ(bundle->rules.size(), 3u);
  EXPECT_EQ(bundle->rules[1].rule.id(), "b");
  EXPECT_GT(bundle->rules[1].location.line, 0);
  EXPECT_NE(bundle->rules[1].location.line, 5);
  EXPECT_EQ(bundle->rules[2].rule.id(), "c");
  EXPECT_EQ(bundle->rules[2].location.line, 5);
}

TEST(ParseBundleTest, ListFormTestCasesGetTheirOwnLines) {
  constexpr char kCases[] =
      "cases: [\n"                // 1
      "  { name: \"first\" },\n"  // 2
      "  { name: \"second\" }\n"  // 3
      "]\n";
  auto bundle = ParseBundle(it::BundleFiles(it::TestManifest(), "", kCases));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  ASSERT_EQ(bundle->tests.size(), 2u);
  EXPECT_EQ(bundle->tests[0].location.file, "tests/t.textproto");
  EXPECT_GE(bundle->tests[0].location.line, 1);
  EXPECT_LE(bundle->tests[0].location.line, 2);
  EXPECT_EQ(bundle->tests[1].location.line, 3);
}

TEST(ParseBundleTest, RulesSharingALineGetThatLine) {
  auto bundle = ParseBundle(it::BundleFiles(
      it::TestManifest(), "\nrules { id: \"a\" } rules { id: \"b\" }\n"));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  ASSERT_EQ(bundle->rules.size(), 2u);
  EXPECT_EQ(bundle->rules[0].location.line, 2);
  EXPECT_EQ(bundle->rules[1].location.line, 2);
}

TEST(FormatLocationTest, FileAndLine) {
  EXPECT_EQ(policy::FormatLocation({"rules/closure.textproto", 12}),
            "rules/closure.textproto:12");
}

TEST(FormatLocationTest, UnknownLineGivesFileOnly) {
  EXPECT_EQ(policy::FormatLocation({"manifest.textproto", 0}),
            "manifest.textproto");
  EXPECT_THAT(policy::FormatLocation({"manifest.textproto", 0}),
              Not(HasSubstr(":")));
}

}  // namespace
}  // namespace importgate
