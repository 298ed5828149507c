// Posting: one entry of the policy snapshot's candidate index.
#ifndef IMPORTGATE_SERVER_COMPILER_POSTING_H_
#define IMPORTGATE_SERVER_COMPILER_POSTING_H_

#include <cstdint>
#include <limits>

#include "absl/time/time.h"
#include "importgate/v1/import_policy.pb.h"
#include "server/refdata/iso_codes.h"

namespace importgate::compiler {

// One entry of the candidate index: a rule and its cheap conditions, packed
// into 32 bytes so that scanning a bucket reads memory sequentially. The
// evaluator screens a candidate here first: most are rejected, and a rule
// whose every condition is here (`complete`) is known to match without
// reading the CompiledRule at all.
struct Posting {
  // The effective window [from_ns, until_ns), Unix nanoseconds. An edge
  // outside the int64 range (before 1677-09-21 or after 2262-04-11, or
  // open) is clamped to INT64_MIN / INT64_MAX, which compares exactly with
  // every instant strictly inside the range (see InNanosRange). Other
  // instants skip this check and are compared with the rule's absl::Time
  // window instead.
  int64_t from_ns = INT64_MIN;
  int64_t until_ns = INT64_MAX;
  // Up to two destinations inline; {0, 0} = unconstrained. With more than
  // two, `dest_inline` is false and the full check runs.
  CountryCode dest[2] = {0, 0};
  // The origin condition, when it is one list of up to two countries
  // (`origin` says which kind); otherwise kFull and the full check runs.
  CountryCode origin_list[2] = {0, 0};
  uint32_t rule = 0;         // index into PolicySnapshot::rules
  uint8_t seller_kinds = 0;  // bitmask as in CompiledMatch; 0 = any
  uint8_t channels = 0;
  enum class Origin : uint8_t { kAny, kIn, kNotIn, kFull };
  Origin origin = Origin::kAny;
  uint8_t dest_inline : 1 = 1;
  // Nothing but the fields above (and the product, which the index
  // matched) conditions the rule: no seller countries, price, attributes
  // or exceptions.
  uint8_t complete : 1 = 0;
};
static_assert(sizeof(Posting) == 32, "two postings per cache line");

// The enums packed into a posting's bitmasks must fit them.
static_assert(importgate::v1::SellerKind_MAX < 8,
              "Posting::seller_kinds holds one bit per SellerKind");
static_assert(importgate::v1::Channel_MAX < 8,
              "Posting::channels holds one bit per Channel");

// True when `t` is strictly inside the instants whose Unix nanoseconds fit
// an int64: then a posting's clamped window compares exactly.
inline bool InNanosRange(absl::Time t) {
  return t > absl::FromUnixNanos(std::numeric_limits<int64_t>::min()) &&
         t < absl::FromUnixNanos(std::numeric_limits<int64_t>::max());
}

// A window edge as a posting stores it: Unix nanoseconds, clamped to the
// int64 range (infinite past and future included).
inline int64_t ClampedUnixNanos(absl::Time t) {
  if (t <= absl::FromUnixNanos(std::numeric_limits<int64_t>::min())) {
    return std::numeric_limits<int64_t>::min();
  }
  if (t >= absl::FromUnixNanos(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return absl::ToUnixNanos(t);
}

}  // namespace importgate::compiler

#endif  // IMPORTGATE_SERVER_COMPILER_POSTING_H_
