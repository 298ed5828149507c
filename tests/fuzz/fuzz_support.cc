// Shared pieces of the libFuzzer targets; see fuzz_support.h.
#include "tests/fuzz/fuzz_support.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/logging.h"

#ifndef IMPORTGATE_SOURCE_DIR
#error "IMPORTGATE_SOURCE_DIR must be defined by the build"
#endif

namespace importgate::fuzz {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void CheckStrings(const Message& message, const std::string& path) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string name = absl::StrCat(path, field->name());
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          std::string scratch;
          const std::string& value = reflection->GetRepeatedStringReference(
              message, field, i, &scratch);
          IMPORTGATE_FUZZ_CHECK(
              IsValidUtf8(value),
              absl::StrCat(name, "[", i, "] is not UTF-8: ", value));
        }
      } else {
        std::string scratch;
        const std::string& value =
            reflection->GetStringReference(message, field, &scratch);
        IMPORTGATE_FUZZ_CHECK(IsValidUtf8(value),
                              absl::StrCat(name, " is not UTF-8: ", value));
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          CheckStrings(reflection->GetRepeatedMessage(message, field, i),
                       absl::StrCat(name, "[", i, "]."));
        }
      } else {
        CheckStrings(reflection->GetMessage(message, field),
                     absl::StrCat(name, "."));
      }
    }
  }
}

void IgnoreLog(google::protobuf::LogLevel, const char*, int,
               const std::string&) {}

}  // namespace

void Fail(const char* file, int line, const char* condition,
          absl::string_view what) {
  // Escaped: `what` may hold the very bytes that broke the check (not
  // UTF-8, NUL).
  std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", file, line, condition,
               absl::CHexEscape(what).c_str());
  std::fflush(stderr);
  std::abort();
}

bool IsValidUtf8(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int length;
    unsigned char low = 0x80, high = 0xbf;  // range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) low = 0xa0;   // no overlong forms
      if (c == 0xed) high = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) low = 0x90;   // no overlong forms
      if (c == 0xf4) high = 0x8f;  // nothing above U+10FFFF
    } else {
      return false;  // a continuation byte, C0, C1 or F5..FF
    }
    if (end - p < length) return false;
    if (p[1] < low || p[1] > high) return false;
    for (int i = 2; i < length; ++i) {
      if (p[i] < 0x80 || p[i] > 0xbf) return false;
    }
    p += length;
  }
  return true;
}

void CheckStringsAreUtf8(const Message& message) {
  CheckStrings(message, absl::StrCat(message.GetTypeName(), "."));
}

void QuietProtobufLogs() { google::protobuf::SetLogHandler(&IgnoreLog); }

std::vector<policy::SourceFile> SplitBundleInput(absl::string_view input) {
  std::vector<policy::SourceFile> files;
  if (input.substr(0, kFileHeader.size()) != kFileHeader) {
    files.push_back({policy::kManifestPath, FuzzManifest()});
    files.push_back({"rules/fuzz.textproto", std::string(input)});
    return files;
  }
  const std::string next_header = absl::StrCat("\n", kFileHeader);
  size_t pos = 0;
  while (pos < input.size()) {
    // `pos` is at a header line.
    const size_t path_start = pos + kFileHeader.size();
    const size_t newline = input.find('\n', path_start);
    if (newline == absl::string_view::npos) {
      files.push_back({std::string(input.substr(path_start)), ""});
      break;
    }
    const size_t content_start = newline + 1;
    const size_t header = input.find(next_header, newline);
    const size_t content_end =
        header == absl::string_view::npos ? input.size() : header + 1;
    files.push_back(
        {std::string(input.substr(path_start, newline - path_start)),
         std::string(
             input.substr(content_start, content_end - content_start))});
    pos = content_end;
  }
  return files;
}

std::string JoinBundleFiles(const std::vector<policy::SourceFile>& files) {
  std::string out;
  for (const policy::SourceFile& file : files) {
    absl::StrAppend(&out, kFileHeader, file.path, "\n", file.content);
    if (!file.content.empty() && file.content.back() != '\n') out += '\n';
  }
  return out;
}

std::string FuzzManifest() {
  return R"pb(name: "fuzz"
              revision: 1
              description: "the fixed manifest of bundle_fuzzer's rule-file inputs"
              default_effect: EFFECT_ALLOW
              default_reason_code: "NO_RULE_MATCHED"
              default_message: "no rule matched"
              default_cache_ttl { seconds: 60 }
              fx {
                base_currency: "USD"
                rates { currency_code: "IDR" per_base: "15500" }
                rates { currency_code: "CNY" per_base: "7.2" }
                rates { currency_code: "JPY" per_base: "150" }
              }
  )pb";
}

std::string SourceDir() { return IMPORTGATE_SOURCE_DIR; }

std::shared_ptr<const IsoCodes> IsoTables() {
  static const auto* codes = [] {
    auto loaded = IsoCodes::LoadFromDirectory(IsoCodes::kDebianDirectory);
    IMPORTGATE_FUZZ_CHECK(loaded.ok(), loaded.status().ToString());
    return new std::shared_ptr<const IsoCodes>(*std::move(loaded));
  }();
  return *codes;
}

std::string TestPrivateKeyPath() {
  return SourceDir() + "/tests/fuzz/testdata/fuzz_signing_key.pem";
}

std::string TestPublicKeyPath() {
  return SourceDir() + "/tests/fuzz/testdata/fuzz_signing_key.pub.pem";
}

std::shared_ptr<const bundle::LoadedBundle> MustLoadBundle(
    absl::string_view relative_directory) {
  const std::string directory =
      absl::StrCat(SourceDir(), "/", relative_directory);
  auto loaded = bundle::LoadBundleDirectory(directory, IsoTables());
  IMPORTGATE_FUZZ_CHECK(loaded.ok(), loaded.status().ToString());
  return *std::move(loaded);
}

}  // namespace importgate::fuzz
