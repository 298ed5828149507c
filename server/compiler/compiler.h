// Compile(): turns a parsed bundle into an immutable, indexed PolicySnapshot.
// Every check that can be done once per bundle is done here, so that the
// request path only looks things up.
#ifndef IMPORTGATE_SERVER_COMPILER_COMPILER_H_
#define IMPORTGATE_SERVER_COMPILER_COMPILER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "server/compiler/snapshot.h"
#include "server/policy/bundle_source.h"
#include "server/refdata/iso_codes.h"

namespace importgate::compiler {

// At most this many errors are reported for one bundle.
inline constexpr int kMaxReportedErrors = 50;
// An HS range may expand to at most this many prefixes.
inline constexpr int kMaxHsRangeSize = 1000;

// Bounds on the free text of a bundle, in bytes. A rule's message and legal
// basis are sent with every decision it makes, so they bound the size of a
// response (see service/limits.h). Attribute keys and values are bounded
// as requests are (policy/codes.h), since a longer one could never match.
inline constexpr size_t kMaxMessageBytes = 1024;
inline constexpr size_t kMaxLegalBasisBytes = 2048;
inline constexpr size_t kMaxDescriptionBytes = 4096;
// A rate table's source is sent with every decision that converts a price.
inline constexpr size_t kMaxRateSourceBytes = 256;
// At most this many dated rate tables (a weekly table for 1,900 years).
inline constexpr size_t kMaxRateTables = 100'000;

// Validates and compiles `bundle` against the code tables in `iso_codes`.
//
// Returns the snapshot, or INVALID_ARGUMENT listing every problem found (up
// to kMaxReportedErrors), one per line as
//   "<file>:<line>: rule \"<id>\": <field>: <what is wrong>"
// e.g. an unknown currency or country, a bad HS pattern or category, a
// duplicate rule id, an empty match, a window that ends before it starts, a
// missing effect or reason code, a price condition whose currency a rate
// table in force during the rule's window does not rate, a rate table
// that overlaps another or is out of date order within its file, text
// that is not UTF-8 or longer than its bound above.
absl::StatusOr<std::shared_ptr<const PolicySnapshot>> Compile(
    const policy::ParsedBundle& bundle,
    std::shared_ptr<const IsoCodes> iso_codes);

}  // namespace importgate::compiler

#endif  // IMPORTGATE_SERVER_COMPILER_COMPILER_H_
