// The policy bundle's source model: the files of a bundle, parsed from
// Protobuf text format into the importgate.policy.v1 schema, with the file
// and line of every rule and test case so that later errors can point at
// them. Knows nothing of how the files arrived (directory, packed file) and
// nothing of gRPC.
//
// Layout of a source bundle (paths relative to the bundle root):
//   manifest.textproto   importgate.policy.v1.Manifest
//   rules/*.textproto    importgate.policy.v1.RuleFile (or *.txtpb)
//   rates/*.textproto    importgate.policy.v1.RateFile (or *.txtpb)
//   tests/*.textproto    importgate.policy.v1.TestFile (or *.txtpb)
// and nothing else: any other file or directory is an error, so that a
// file the author meant as a rule is never silently left out. Hidden
// entries (".name") are not part of a bundle.
#ifndef IMPORTGATE_SERVER_POLICY_BUNDLE_SOURCE_H_
#define IMPORTGATE_SERVER_POLICY_BUNDLE_SOURCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "importgate/policy/v1/bundle.pb.h"

namespace importgate::policy {

inline constexpr char kManifestPath[] = "manifest.textproto";
inline constexpr char kRulesDirectory[] = "rules/";
inline constexpr char kRatesDirectory[] = "rates/";
inline constexpr char kTestsDirectory[] = "tests/";
// The file name endings of rule and test files, in the order the error
// messages list them.
inline constexpr absl::string_view kSourceSuffixes[] = {".textproto", ".txtpb"};

// One file of a bundle: its path relative to the bundle root, with '/'
// separators, and its bytes.
struct SourceFile {
  std::string path;
  std::string content;
};

// Where something was written: "rules/closure.textproto:12".
struct SourceLocation {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown.
};

struct RuleSource {
  importgate::policy::v1::Rule rule;
  SourceLocation location;
};

struct RateTableSource {
  importgate::policy::v1::FxTable table;
  SourceLocation location;
};

struct TestSource {
  importgate::policy::v1::TestCase test;
  SourceLocation location;
};

// A parsed (not yet validated) bundle.
struct ParsedBundle {
  importgate::policy::v1::Manifest manifest;
  std::vector<RuleSource> rules;  // in file path order, then file order
  std::vector<RateTableSource> rate_tables;  // likewise
  std::vector<TestSource> tests;             // likewise
};

// "file:line" or "file" when the line is unknown.
std::string FormatLocation(const SourceLocation& location);

// Whether a bundle may hold `path` (relative to the bundle root, '/'
// separators): the manifest, a rule, rate or test file, or
// (`is_directory`) the rules/, rates/ or tests/ directory. Returns
// INVALID_ARGUMENT naming the path and what the layout allows otherwise.
absl::Status CheckLayoutPath(absl::string_view path, bool is_directory);

// Parses the files of a bundle. Files are processed in path order, so the
// result does not depend on the order of `files`.
//
// Returns INVALID_ARGUMENT, naming file, line and column, when a file is not
// valid text format for its schema (unknown fields included); when
// manifest.textproto is missing or given twice; or when a file lies outside
// the layout above (CheckLayoutPath: "rule/x.textproto", "rules/x.txt" and
// "README.md" alike), listing every such file.
absl::StatusOr<ParsedBundle> ParseBundle(absl::Span<const SourceFile> files);

}  // namespace importgate::policy

#endif  // IMPORTGATE_SERVER_POLICY_BUNDLE_SOURCE_H_
