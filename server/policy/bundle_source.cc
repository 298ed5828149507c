#include "server/policy/bundle_source.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "server/common/status_macros.h"
#include "server/common/utf8.h"

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

absl::Status ParseText(const SourceFile& file, Message* message) {
  ErrorCollector errors(file.path);
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(file.content, message)) {
    std::string joined = errors.Joined();
    return absl::InvalidArgumentError(
        joined.empty() ? absl::StrCat(file.path, ": cannot parse") : joined);
  }
  return absl::OkStatus();
}

// The 1-based line where each element of the top-level repeated message
// field `field` starts, in order, for text that already parsed. Handles
// both block form ("rules { ... }") and list form ("rules: [{...}, {...}]"),
// comments and string literals. A scan instead of protobuf's ParseInfoTree,
// which allocates a tree per nested message and dominated the parse time of
// large bundles.
std::vector<int> ElementLines(absl::string_view text, absl::string_view field) {
  std::vector<int> lines;
  int line = 1;
  int depth = 0;          // { } < > [ ] nesting
  bool in_field = false;  // after the field name at depth 0
  int list_depth = -1;    // depth of the field's '[' list, if any
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '#') {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if (c == '"' || c == '\'') {
      for (++i; i < text.size() && text[i] != c; ++i) {
        if (text[i] == '\\')
          ++i;
        else if (text[i] == '\n')
          ++line;
      }
    } else if (c == '{' || c == '<') {
      if (in_field && (depth == 0 || depth == list_depth))
        lines.push_back(line);
      if (depth == 0) in_field = false;
      ++depth;
    } else if (c == '[') {
      if (in_field && depth == 0) list_depth = 1;
      ++depth;
    } else if (c == '}' || c == '>' || c == ']') {
      --depth;
      if (c == ']' && depth == 0) {
        list_depth = -1;
        in_field = false;
      }
    } else if (depth == 0 &&
               (std::isalpha(static_cast<unsigned char>(c)) || c == '_')) {
      size_t start = i;
      while (i + 1 < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[i + 1])) ||
              text[i + 1] == '_')) {
        ++i;
      }
      in_field = text.substr(start, i - start + 1) == field;
    }
  }
  return lines;
}

// Line of element `index`, or 0 when the scan disagrees with the parser.
int LineAt(const std::vector<int>& lines, int index, int count) {
  return static_cast<int>(lines.size()) == count ? lines[index] : 0;
}

// Parses `file` as a FileMessage whose top-level repeated field `field`
// (reached through `elements`) holds the elements, and appends each to
// `out` with its file and line.
template <typename FileMessage, typename Element, typename Source>
absl::Status ParseElements(
    const SourceFile& file, absl::string_view field,
    google::protobuf::RepeatedPtrField<Element>* (FileMessage::*elements)(),
    std::vector<Source>* out) {
  FileMessage message;
  absl::Status status = ParseText(file, &message);
  if (!status.ok()) return status;
  std::vector<int> lines = ElementLines(file.content, field);
  google::protobuf::RepeatedPtrField<Element>& parsed = *(message.*elements)();
  const int n = parsed.size();
  for (int i = 0; i < n; ++i) {
    out->push_back({std::move(parsed[i]), {file.path, LineAt(lines, i, n)}});
  }
  return absl::OkStatus();
}

// True for "<directory><name><suffix>" with a non-empty name of one path
// segment and a recognised suffix.
bool IsSourceIn(absl::string_view path, absl::string_view directory) {
  if (!absl::StartsWith(path, directory)) return false;
  absl::string_view rest = path.substr(directory.size());
  if (rest.find('/') != absl::string_view::npos) return false;
  for (absl::string_view suffix : kSourceSuffixes) {
    if (rest.size() > suffix.size() && absl::EndsWith(rest, suffix)) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status CheckLayoutPath(absl::string_view path, bool is_directory) {
  if (is_directory
          ? path == absl::StripSuffix(kRulesDirectory, "/") ||
                path == absl::StripSuffix(kRatesDirectory, "/") ||
                path == absl::StripSuffix(kTestsDirectory, "/")
          : path == kManifestPath || IsSourceIn(path, kRulesDirectory) ||
                IsSourceIn(path, kRatesDirectory) ||
                IsSourceIn(path, kTestsDirectory)) {
    return absl::OkStatus();
  }
  std::vector<absl::string_view> suffixes(std::begin(kSourceSuffixes),
                                          std::end(kSourceSuffixes));
  const std::string any = absl::StrCat("*{", absl::StrJoin(suffixes, ","), "}");
  return absl::InvalidArgumentError(absl::StrCat(
      ToValidUtf8(path), is_directory ? " (a directory)" : "",
      ": not part of the bundle layout, which holds only ", kManifestPath, ", ",
      kRulesDirectory, any, ", ", kRatesDirectory, any, " and ",
      kTestsDirectory, any,
      " (hidden names, \".name\", are ignored); move or remove it"));
}

std::string FormatLocation(const SourceLocation& location) {
  if (location.line <= 0) return location.file;
  return absl::StrCat(location.file, ":", location.line);
}

absl::StatusOr<ParsedBundle> ParseBundle(absl::Span<const SourceFile> files) {
  std::vector<const SourceFile*> sorted;
  for (const SourceFile& f : files) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(),
            [](const SourceFile* a, const SourceFile* b) {
              return a->path < b->path;
            });

  ParsedBundle bundle;
  bool have_manifest = false;
  std::vector<std::string> errors;
  for (const SourceFile* file : sorted) {
    // Every file is in the layout or an error; the layout then says which
    // of the three kinds a file is.
    absl::Status status = CheckLayoutPath(file->path, /*is_directory=*/false);
    if (!status.ok()) {
      errors.emplace_back(status.message());
      continue;
    }
    if (file->path == kManifestPath) {
      if (have_manifest) {
        errors.push_back(absl::StrCat(file->path, ": given twice"));
        continue;
      }
      have_manifest = true;
      status = ParseText(*file, &bundle.manifest);
    } else if (absl::StartsWith(file->path, kRulesDirectory)) {
      status = ParseElements<importgate::policy::v1::RuleFile>(
          *file, "rules", &importgate::policy::v1::RuleFile::mutable_rules,
          &bundle.rules);
    } else if (absl::StartsWith(file->path, kRatesDirectory)) {
      status = ParseElements<importgate::policy::v1::RateFile>(
          *file, "tables", &importgate::policy::v1::RateFile::mutable_tables,
          &bundle.rate_tables);
    } else {  // tests/
      status = ParseElements<importgate::policy::v1::TestFile>(
          *file, "cases", &importgate::policy::v1::TestFile::mutable_cases,
          &bundle.tests);
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
