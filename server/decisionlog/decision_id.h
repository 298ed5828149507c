// DecisionIdGenerator: time-ordered, unique decision ids, UUIDv7 (RFC 9562
// section 5.7) in the canonical 36-character form, e.g.
// "019ad3f2-6c41-7a3e-9b1c-2f0d00000001".
//
// Layout: 48 bits of Unix time in milliseconds; version 7; 12 bits and 30
// bits drawn at random once per generator (so that replicas differ); the
// variant; and a 32-bit counter that every id takes the next value of. So
// ids of one process sort by the millisecond they were made in, then by
// the order they were made in, and two ids of one process never repeat
// (unless 2^32 are made in one millisecond).
//
// Thread safety: Next() may be called from any thread; it is wait-free.
#ifndef IMPORTGATE_SERVER_DECISIONLOG_DECISION_ID_H_
#define IMPORTGATE_SERVER_DECISIONLOG_DECISION_ID_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace importgate::decisionlog {

// One id's text.
using DecisionId = std::array<char, 36>;

class DecisionIdGenerator {
 public:
  // Random bits from OpenSSL's RAND_bytes.
  DecisionIdGenerator();
  // Fixed random bits, for tests.
  explicit DecisionIdGenerator(uint64_t random_bits);

  // The next id, stamped with `now`.
  DecisionId Next(absl::Time now);

  // True when `text` is a UUIDv7 in the canonical lower-case form.
  static bool IsValid(absl::string_view text);
  // The millisecond an id was made in; `id` must be IsValid.
  static absl::Time TimeOf(absl::string_view id);
  // Its last 64 bits (variant, random bits and counter); `id` must be 36
  // characters.
  static uint64_t LowBits(absl::string_view id);

 private:
  const uint64_t random_;  // 12 bits for rand_a, 30 for rand_b
  std::atomic<uint32_t> counter_{0};
};

inline absl::string_view View(const DecisionId& id) {
  return absl::string_view(id.data(), id.size());
}

}  // namespace importgate::decisionlog

#endif  // IMPORTGATE_SERVER_DECISIONLOG_DECISION_ID_H_
