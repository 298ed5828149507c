// Helpers that build small bundles in memory for tests: a manifest plus rule
// and test files written as text-format strings, parsed by the real parser.
#ifndef IMPORTGATE_TESTS_TESTING_TEST_BUNDLES_H_
#define IMPORTGATE_TESTS_TESTING_TEST_BUNDLES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/bundle/loader.h"
#include "server/bundle/signing.h"
#include "server/compiler/snapshot.h"
#include "server/policy/bundle_source.h"
#include "server/refdata/iso_codes.h"

namespace importgate::testing {

// A manifest for tests: name "test", the given revision, default ALLOW with
// reason "NO_RULE_MATCHED", cache TTL 60 s, FX base USD with IDR 15500 and
// CNY 7.2.
std::string TestManifest(uint64_t revision = 1);

// The real ISO tables from Debian's iso-codes (a build dependency).
std::shared_ptr<const IsoCodes> RealIsoCodes();

// Files of a bundle: manifest.textproto = `manifest`, rules/r.textproto =
// `rules` (a RuleFile), tests/t.textproto = `tests` (a TestFile) if given.
std::vector<policy::SourceFile> BundleFiles(const std::string& manifest,
                                            const std::string& rules,
                                            const std::string& tests = "");

// Parses and compiles rules (a RuleFile in text format) under
// TestManifest(); the bundle's tests are not run.
absl::StatusOr<std::shared_ptr<const compiler::PolicySnapshot>> CompileRules(
    const std::string& rules, const std::string& manifest = TestManifest());

// CompileRules for a test that needs the bundle to compile: on an error,
// a test failure naming it, and null.
std::shared_ptr<const compiler::PolicySnapshot> MustCompile(
    const std::string& rules, const std::string& manifest = TestManifest());

// The rules of SmallBundle: "deny-tees" denies HS 6109 from cross-border
// sellers.
extern const char kDenyTeesRules[];

// One test case (text format) for a T-shirt (HS 6109.10) into ID at
// checkout on 2024-01-01, from a seller of `kind` (e.g.
// "SELLER_KIND_CROSS_BORDER"), expecting `effect` by `rule_id` ("" = the
// default).
std::string TeeTestCase(const std::string& name, const std::string& kind,
                        const std::string& effect, const std::string& rule_id);

// A small valid bundle named "test" at `revision`: rule "deny-tees" denies
// HS 6109 from cross-border sellers, and one test case checks it. With
// `failing_test` the case expects the wrong answer, so the bundle must be
// refused.
std::vector<policy::SourceFile> SmallBundle(uint64_t revision,
                                            bool failing_test = false);

// SmallBundle packed as an artifact file's bytes.
std::string PackedSmallBundle(uint64_t revision, bool failing_test = false);

// PackedSmallBundle whose manifest sets not_before to `not_before` (the
// text, RFC 3339 or not).
std::string PackedScheduledBundle(uint64_t revision,
                                  const std::string& not_before,
                                  bool failing_test = false);

// The .sig file's text for packed bundle `artifact`, signed by `key`; ""
// (and a test failure) when it cannot be.
std::string SignatureText(const bundle::SigningKey& key,
                          const std::string& artifact);

// A packed candidate that must be refused, and what the refusal says.
struct BadBundle {
  std::string name;
  std::string bytes;
  std::string why;
};

// One of each kind of bad candidate for a source whose active revision is
// `active` (at least 2): torn, failing its own tests, a syntax error, not
// a bundle at all, and an older revision.
std::vector<BadBundle> BadBundles(uint64_t active);

// Writes `files` under a fresh temporary directory and returns its path.
std::string WriteBundleDirectory(const std::vector<policy::SourceFile>& files);

// The repository's default bundle directory (policies/default).
std::string DefaultBundleDirectory();

// The default bundle, loaded and self-tested as the server loads it.
absl::StatusOr<std::shared_ptr<const bundle::LoadedBundle>> LoadDefaultBundle();

}  // namespace importgate::testing

#endif  // IMPORTGATE_TESTS_TESTING_TEST_BUNDLES_H_
