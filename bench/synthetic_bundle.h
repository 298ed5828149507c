// Synthetic policy bundles of any size with realistic rule shapes, for
// benchmarks: HS prefixes of 2-8 digits (mostly 6 and 8, as tariff-based
// rules are), category paths, origin and
// destination countries, seller kinds, price thresholds in USD, effective
// windows and `unless` exceptions, plus a handful of test cases.
#ifndef IMPORTGATE_BENCH_SYNTHETIC_BUNDLE_H_
#define IMPORTGATE_BENCH_SYNTHETIC_BUNDLE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "importgate/v1/import_policy.pb.h"
#include "server/policy/bundle_source.h"
#include "server/refdata/iso_codes.h"

namespace importgate::bench {

// The source files of a bundle named "synthetic" with `rule_count` rules at
// `revision`, rules split into files of at most 10,000.
std::vector<policy::SourceFile> SyntheticBundle(size_t rule_count,
                                                uint64_t revision = 1);

// Debian's ISO code tables, loaded once (the benchmarks abort without
// them: iso-codes is a build dependency).
std::shared_ptr<const IsoCodes> DebianIsoCodes();

// A mix of requests against SyntheticBundle: about half hit a rule's HS
// prefix or category, the rest miss.
std::vector<importgate::v1::IsImportAllowedRequest> SyntheticRequests(
    size_t rule_count, size_t request_count);

}  // namespace importgate::bench

#endif  // IMPORTGATE_BENCH_SYNTHETIC_BUNDLE_H_
