#include "server/policy/bundle_source.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "server/common/status_macros.h"

namespace importgate::policy {
namespace {

using google::protobuf::Message;
using google::protobuf::TextFormat;

// Collects the text-format parser's complaints as "file:line:col: msg".
class ErrorCollector final : public google::protobuf::io::ErrorCollector {
 public:
  explicit ErrorCollector(const std::string& file) : file_(file) {}

  void AddError(int line, int column, const std::string& message) override {
    errors_.push_back(
        absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, int column, const std::string& message) override {
    AddError(line, column, message);
  }

  std::string Joined() const { return absl::StrJoin(errors_, "\n"); }

 private:
  const std::string& file_;
  std::vector<std::string> errors_;
};

absl::Status ParseText(const SourceFile& file, Message* message,
                       TextFormat::ParseInfoTree* tree) {
  ErrorCollector errors(file.path);
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(tree);
  if (!parser.ParseFromString(file.content, message)) {
    std::string joined = errors.Joined();
    return absl::InvalidArgumentError(
        joined.empty() ? absl::StrCat(file.path, ": cannot parse") : joined);
  }
  return absl::OkStatus();
}

// The 1-based line where each of the `count` elements of a repeated message
// field starts. In block form ("rules { ... }") the parser records that line
// per element. In list form ("rules: [{...}, {...}]") it records one
// location per occurrence of the field name, so elements share or borrow
// locations; then the line of the element's `key_field` (a rule's id, a
// case's name) is used instead.
std::vector<int> ElementLines(const TextFormat::ParseInfoTree& tree,
                              const google::protobuf::FieldDescriptor* field,
                              int count, const char* key_field) {
  const auto* key = field->message_type()->FindFieldByName(key_field);
  std::vector<int> starts(count), keys(count, -1);
  for (int i = 0; i < count; ++i) {
    starts[i] = tree.GetLocation(field, i).line;
    const TextFormat::ParseInfoTree* nested = tree.GetTreeForNested(field, i);
    if (nested != nullptr) keys[i] = nested->GetLocation(key, -1).line;
  }
  std::vector<int> lines(count);
  for (int i = 0; i < count; ++i) {
    bool shared = (i > 0 && starts[i - 1] == starts[i]) ||
                  (i + 1 < count && starts[i + 1] == starts[i]);
    bool plausible = starts[i] >= 0 && (keys[i] < 0 || starts[i] <= keys[i]);
    lines[i] = (plausible && !shared ? starts[i] : keys[i]) + 1;
  }
  return lines;
}

bool IsSourceIn(absl::string_view path, absl::string_view directory) {
  if (!absl::StartsWith(path, directory)) return false;
  absl::string_view rest = path.substr(directory.size());
  return rest.find('/') == absl::string_view::npos &&
         rest.size() > sizeof(kSourceSuffix) - 1;
}

}  // namespace

std::string FormatLocation(const SourceLocation& location) {
  if (location.line <= 0) return location.file;
  return absl::StrCat(location.file, ":", location.line);
}

absl::StatusOr<ParsedBundle> ParseBundle(absl::Span<const SourceFile> files) {
  std::vector<const SourceFile*> sorted;
  for (const SourceFile& f : files) {
    if (absl::EndsWith(f.path, kSourceSuffix)) sorted.push_back(&f);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const SourceFile* a, const SourceFile* b) {
              return a->path < b->path;
            });

  ParsedBundle bundle;
  bool have_manifest = false;
  std::vector<std::string> errors;
  for (const SourceFile* file : sorted) {
    TextFormat::ParseInfoTree tree;
    absl::Status status;
    if (file->path == kManifestPath) {
      if (have_manifest) {
        errors.push_back(absl::StrCat(file->path, ": given twice"));
        continue;
      }
      have_manifest = true;
      status = ParseText(*file, &bundle.manifest, &tree);
    } else if (IsSourceIn(file->path, kRulesDirectory)) {
      importgate::policy::v1::RuleFile rule_file;
      status = ParseText(*file, &rule_file, &tree);
      if (status.ok()) {
        std::vector<int> lines = ElementLines(
            tree, rule_file.GetDescriptor()->FindFieldByName("rules"),
            rule_file.rules_size(), "id");
        for (int i = 0; i < rule_file.rules_size(); ++i) {
          bundle.rules.push_back(
              {std::move(*rule_file.mutable_rules(i)), {file->path, lines[i]}});
        }
      }
    } else if (IsSourceIn(file->path, kTestsDirectory)) {
      importgate::policy::v1::TestFile test_file;
      status = ParseText(*file, &test_file, &tree);
      if (status.ok()) {
        std::vector<int> lines = ElementLines(
            tree, test_file.GetDescriptor()->FindFieldByName("cases"),
            test_file.cases_size(), "name");
        for (int i = 0; i < test_file.cases_size(); ++i) {
          bundle.tests.push_back(
              {std::move(*test_file.mutable_cases(i)), {file->path, lines[i]}});
        }
      }
    } else {
      status = absl::InvalidArgumentError(
          absl::StrCat(file->path, ": not part of the bundle layout (expected ",
                       kManifestPath, ", ", kRulesDirectory, "*", kSourceSuffix,
                       " or ", kTestsDirectory, "*", kSourceSuffix, ")"));
    }
    if (!status.ok()) errors.emplace_back(status.message());
  }
  if (!have_manifest) {
    errors.push_back(absl::StrCat(kManifestPath, ": missing"));
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  return bundle;
}

}  // namespace importgate::policy
