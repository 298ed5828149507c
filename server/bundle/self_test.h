// Runs a bundle's own test cases against its compiled snapshot. A bundle
// whose tests fail must never become active.
#ifndef IMPORTGATE_SERVER_BUNDLE_SELF_TEST_H_
#define IMPORTGATE_SERVER_BUNDLE_SELF_TEST_H_

#include <vector>

#include "absl/status/status.h"
#include "server/compiler/snapshot.h"
#include "server/policy/bundle_source.h"

namespace importgate::bundle {

// Decides every case's request against `snapshot` and compares the outcome
// with the case's expectations.
//
// Returns OK when all pass; FAILED_PRECONDITION listing each failed case as
//   "<file>:<line>: test \"<name>\": expected ..., got ..."
// (at most 50); INVALID_ARGUMENT when a case itself is malformed (no name,
// duplicate name, no evaluation time, no expected effect).
absl::Status RunSelfTests(const compiler::PolicySnapshot& snapshot,
                          const std::vector<policy::TestSource>& tests);

}  // namespace importgate::bundle

#endif  // IMPORTGATE_SERVER_BUNDLE_SELF_TEST_H_
