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

// Random bundles and requests for differential testing
// (tests/eval/differential_test.cc), where the engine's answers are compared
// with a brute-force reference model. Unlike SyntheticBundle, which has the
// shape of a real tariff policy, these aim at the corners of the format:
// every matcher kind and the inline and full paths of the candidate index
// (HS prefixes of 2-10 digits, dotted and with leading zeros, and HS ranges;
// nested categories; origin in / not in and destination lists of 1-4
// countries; seller kinds, channels and seller countries; unit prices below /
// at least thresholds in USD, IDR, CNY and JPY through a seeded FX table;
// attributes equals / in / present / absent; `unless` exceptions; effective
// windows with open ends and edges at the extremes of time, such as
// 0001-01-01, 1677-09-21T00:12:43.145224192Z, 1970-01-01,
// 2262-04-11T23:47:16.854775807Z and 9999-12-31, each with its neighbours;
// priorities with ties and ids whose order matters).
//
// Both are pure functions of their arguments, the same on every platform (no
// std:: distributions), so a seed printed by a failing test reproduces it.

// The source files of a valid bundle (it compiles) named "random-<seed>"
// with `rule_count` rules, split over one to three rule files; no test
// files.
std::vector<policy::SourceFile> RandomBundle(uint64_t seed, size_t rule_count);

// Valid requests aimed at RandomBundle(seed, any rule count): HS codes and
// categories that hit and just miss the rules' selectors, range ends and
// their neighbours; absent origin, seller country and price; prices at,
// just below and just above the thresholds, and in currencies the FX table
// lacks; evaluation times at and one nanosecond or second either side of
// every window edge, at the ends of the Timestamp range (years 1 and 9999)
// and unset (the caller's `now`); attributes present and absent.
std::vector<importgate::v1::IsImportAllowedRequest> RandomRequests(
    uint64_t seed, size_t request_count);

}  // namespace importgate::bench

#endif  // IMPORTGATE_BENCH_SYNTHETIC_BUNDLE_H_
