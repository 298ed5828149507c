// Posting: one entry of the policy snapshot's candidate index.
#ifndef IMPORTGATE_SERVER_COMPILER_POSTING_H_
#define IMPORTGATE_SERVER_COMPILER_POSTING_H_

#include <cstdint>

#include "server/refdata/iso_codes.h"

namespace importgate::compiler {

// One entry of the candidate index: a rule and its cheap conditions, packed
// into 32 bytes so that scanning a bucket reads memory sequentially. The
// evaluator screens a candidate here first: most are rejected, and a rule
// whose every condition is here (`complete`) is known to match without
// reading the CompiledRule at all.
struct Posting {
  int64_t from_ns = INT64_MIN;   // effective window, Unix nanoseconds
  int64_t until_ns = INT64_MAX;  // exclusive
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

}  // namespace importgate::compiler

#endif  // IMPORTGATE_SERVER_COMPILER_POSTING_H_
