// The policy bundle's source model: the files of a bundle, parsed from
// Protobuf text format into the importgate.policy.v1 schema, with the file
// and line of every rule and test case so that later errors can point at
// them. Knows nothing of how the files arrived (directory, packed file) and
// nothing of gRPC.
//
// Layout of a source bundle (paths relative to the bundle root):
//   manifest.textproto   importgate.policy.v1.Manifest
//   rules/*.textproto    importgate.policy.v1.RuleFile
//   tests/*.textproto    importgate.policy.v1.TestFile
#ifndef IMPORTGATE_SERVER_POLICY_BUNDLE_SOURCE_H_
#define IMPORTGATE_SERVER_POLICY_BUNDLE_SOURCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "importgate/policy/v1/bundle.pb.h"

namespace importgate::policy {

inline constexpr char kManifestPath[] = "manifest.textproto";
inline constexpr char kRulesDirectory[] = "rules/";
inline constexpr char kTestsDirectory[] = "tests/";
inline constexpr char kSourceSuffix[] = ".textproto";

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

struct TestSource {
  importgate::policy::v1::TestCase test;
  SourceLocation location;
};

// A parsed (not yet validated) bundle.
struct ParsedBundle {
  importgate::policy::v1::Manifest manifest;
  std::vector<RuleSource> rules;  // in file path order, then file order
  std::vector<TestSource> tests;  // likewise
};

// "file:line" or "file" when the line is unknown.
std::string FormatLocation(const SourceLocation& location);

// Parses the files of a bundle. Files are processed in path order, so the
// result does not depend on the order of `files`.
//
// Returns INVALID_ARGUMENT, naming file, line and column, when a file is not
// valid text format for its schema (unknown fields included); when
// manifest.textproto is missing or given twice; or when a *.textproto file
// lies outside the layout above (a typo such as "rule/x.textproto" must not
// silently drop rules). Files that are not *.textproto are ignored.
absl::StatusOr<ParsedBundle> ParseBundle(absl::Span<const SourceFile> files);

}  // namespace importgate::policy

#endif  // IMPORTGATE_SERVER_POLICY_BUNDLE_SOURCE_H_
