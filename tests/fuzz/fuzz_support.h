// Shared pieces of the libFuzzer targets in tests/fuzz: the checks that turn
// a broken property into a crash libFuzzer records, a strict UTF-8 check
// over every string of a message, the framing that turns one fuzzer input
// into the files of a bundle, and the fixtures (ISO tables, the test key,
// the bundles under test) read once from the source tree.
//
// Why a framing of our own: libFuzzer hands a target one byte string, and a
// bundle is several files. Text framing keeps the seeds readable and lets
// the fuzzer move bytes between files, rename them and add or drop files.
//
// Not thread-safe; libFuzzer calls a target from one thread.
#ifndef IMPORTGATE_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define IMPORTGATE_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "server/bundle/loader.h"
#include "server/bundle/signing.h"
#include "server/policy/bundle_source.h"
#include "server/refdata/iso_codes.h"

// Reports `what` and aborts, which libFuzzer records as a crash with the
// input that caused it. For properties the code under test must keep.
#define IMPORTGATE_FUZZ_CHECK(condition, what)                          \
  do {                                                                  \
    if (!(condition)) {                                                 \
      ::importgate::fuzz::Fail(__FILE__, __LINE__, #condition, (what)); \
    }                                                                   \
  } while (false)

namespace importgate::fuzz {

// Prints "file:line: check failed: <condition>: <what>" and aborts.
[[noreturn]] void Fail(const char* file, int line, const char* condition,
                       absl::string_view what);

// True when `text` is well-formed UTF-8 as RFC 3629 defines it (no
// overlong forms, no surrogates, nothing above U+10FFFF): what proto3
// `string` fields must hold and what Go, Java and Python runtimes enforce.
// Written from the RFC, independently of server/common/utf8.h (which uses
// protobuf's validator) on purpose: an oracle for what the server sends.
bool IsValidUtf8(absl::string_view text);

// Aborts (through IMPORTGATE_FUZZ_CHECK) naming the field when any `string`
// field of `message`, at any depth, is not valid UTF-8. `bytes` fields are
// not checked.
void CheckStringsAreUtf8(const google::protobuf::Message& message);

// Silences protobuf's non-fatal log lines (a rejected input is normal
// here, and logging each one slows the fuzzer down).
void QuietProtobufLogs();

// The framing of bundle_fuzzer's input:
//   - input that starts with kFileHeader is a sequence of files, each
//     introduced by a line "=== <path>" and running to the next such line
//     (or the end); the newline that ends a file's last line belongs to it;
//   - any other input is the text of one rule file, rules/fuzz.textproto,
//     under the fixed manifest FuzzManifest().
inline constexpr absl::string_view kFileHeader = "=== ";
std::vector<policy::SourceFile> SplitBundleInput(absl::string_view input);
// The inverse for the framed form: "=== path\n" + content for each file.
std::string JoinBundleFiles(const std::vector<policy::SourceFile>& files);

// A manifest with an FX table (USD base; IDR, CNY, JPY), default ALLOW.
std::string FuzzManifest();

// The repository root the fuzzers were built from (IMPORTGATE_SOURCE_DIR).
std::string SourceDir();

// Debian's ISO tables; aborts when they cannot be read.
std::shared_ptr<const IsoCodes> IsoTables();

// The test-only Ed25519 key pair in tests/fuzz/testdata (never a real key).
std::string TestPrivateKeyPath();
std::string TestPublicKeyPath();

// Loads (parse, compile, self-test) a bundle directory under the source
// tree, e.g. "policies/default"; aborts when it does not load, since every
// fuzzer assumption rests on it.
std::shared_ptr<const bundle::LoadedBundle> MustLoadBundle(
    absl::string_view relative_directory);

}  // namespace importgate::fuzz

#endif  // IMPORTGATE_TESTS_FUZZ_FUZZ_SUPPORT_H_
