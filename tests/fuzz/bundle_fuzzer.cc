// bundle_fuzzer: bundle text -> policy::ParseBundle -> compiler::Compile ->
// the bundle's own tests (bundle::RunSelfTests): the path every bundle a
// policy author writes takes before it can become active.
//
// The input is split into files by SplitBundleInput (fuzz_support.h): a
// framed sequence of "=== <path>" files, or the text of one rule file under
// a fixed manifest with an FX table. Errors are expected and fine. What
// must never happen, and aborts here so that libFuzzer records the input:
//   - a crash, a sanitizer report, a hang or an out-of-memory;
//   - an error of a code the functions do not document (INVALID_ARGUMENT
//     for parse and compile; FAILED_PRECONDITION or INVALID_ARGUMENT for
//     the self-tests);
//   - a compiled bundle holding a string that can reach a response or the
//     admin API (name, description, default reason and message; each
//     rule's id, reason code, message and legal basis) that is not valid
//     UTF-8: it must have been refused at compile time (issue 9, class 2).
// Error messages are not held to UTF-8 here: they may quote a parser's view
// of the input's raw bytes, and the admin API repairs them before sending
// (server/service/policy_admin_service.cc).
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/bundle/self_test.h"
#include "server/compiler/compiler.h"
#include "server/policy/bundle_source.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace fz = ::importgate::fuzz;

// An error of one of the `allowed` codes.
void CheckError(const absl::Status& status,
                std::initializer_list<absl::StatusCode> allowed) {
  bool known = false;
  for (absl::StatusCode code : allowed) known = known || status.code() == code;
  IMPORTGATE_FUZZ_CHECK(known, status.ToString());
}

void CheckUtf8(absl::string_view what, absl::string_view value) {
  IMPORTGATE_FUZZ_CHECK(fz::IsValidUtf8(value),
                        absl::StrCat("compiled bundle holds a ", what,
                                     " that is not UTF-8: ", value));
}

void CheckWireStrings(const importgate::compiler::PolicySnapshot& snapshot) {
  CheckUtf8("name", snapshot.name);
  CheckUtf8("description", snapshot.description);
  CheckUtf8("default_reason_code", snapshot.default_reason_code);
  CheckUtf8("default_message", snapshot.default_message);
  for (const importgate::compiler::CompiledRule& rule : snapshot.rules) {
    CheckUtf8("rule id", rule.id);
    CheckUtf8("reason_code", rule.reason_code);
    CheckUtf8("message", rule.message);
    CheckUtf8("legal_basis", rule.legal_basis);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace ig = ::importgate;
  static const bool quiet = (fz::QuietProtobufLogs(), true);
  (void)quiet;
  // A bundle of a megabyte is already far past what the fuzzer explores
  // usefully; bigger inputs only slow it down.
  if (size > (1 << 20)) return 0;

  const std::vector<ig::policy::SourceFile> files = fz::SplitBundleInput(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  auto parsed = ig::policy::ParseBundle(files);
  if (!parsed.ok()) {
    CheckError(parsed.status(), {absl::StatusCode::kInvalidArgument});
    return 0;
  }
  auto snapshot = ig::compiler::Compile(*parsed, fz::IsoTables());
  if (!snapshot.ok()) {
    CheckError(snapshot.status(), {absl::StatusCode::kInvalidArgument});
    return 0;
  }
  IMPORTGATE_FUZZ_CHECK(*snapshot != nullptr, "Compile returned null");
  CheckWireStrings(**snapshot);
  absl::Status tested = ig::bundle::RunSelfTests(**snapshot, parsed->tests);
  if (!tested.ok()) {
    CheckError(tested, {absl::StatusCode::kFailedPrecondition,
                        absl::StatusCode::kInvalidArgument});
  }
  return 0;
}
