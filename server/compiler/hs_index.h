// HsIndex: HS prefix key -> the postings of the rules listed under it.
//
// The candidate lookup of every decision probes this table once per HS
// prefix length in use, and in a bundle of a million rules each probe is a
// cache miss. A general hash map costs two (its control bytes, then the
// slot) and a third for a bucket stored as its own vector. Here a slot
// holds the key and where its postings start, so a probe reads one cache
// line, all buckets sit in one array, and a caller can prefetch the slot
// and then the bucket of every length before reading any of them.
//
// Open addressing with linear probing, at most half full, keys never 0
// (HsKey always carries the prefix length, which is at least 2).
//
// Thread safety: built once, then immutable.
#ifndef IMPORTGATE_SERVER_COMPILER_HS_INDEX_H_
#define IMPORTGATE_SERVER_COMPILER_HS_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/base/internal/prefetch.h"
#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "server/common/huge_page_allocator.h"
#include "server/compiler/posting.h"

namespace importgate::compiler {

class HsIndex {
 public:
  HsIndex() = default;

  // Builds the table from every key's postings. Keys must not be 0.
  explicit HsIndex(
      const absl::flat_hash_map<uint64_t, std::vector<Posting>>& buckets);

  // The postings listed under `key`; empty when there are none.
  absl::Span<const Posting> Find(uint64_t key) const {
    if (slots_.empty()) return {};
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.key == key) {
        return absl::MakeConstSpan(postings_.data() + slot.begin, slot.count);
      }
      if (slot.key == 0) return {};
    }
  }

  // Starts loading the slot where `key` would be, without waiting for it.
  void PrefetchSlot(uint64_t key) const {
    if (!slots_.empty()) absl::base_internal::PrefetchT0(&slots_[Home(key)]);
  }

  size_t key_count() const { return key_count_; }
  size_t posting_count() const { return postings_.size(); }

 private:
  struct Slot {
    uint64_t key = 0;  // 0: empty
    uint32_t begin = 0;
    uint32_t count = 0;
  };

  size_t Home(uint64_t key) const {
    // Fibonacci hashing: the top bits of key * 2^64/phi.
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> shift_);
  }

  std::vector<Slot, HugePageAllocator<Slot>> slots_;  // a power of two
  size_t mask_ = 0;
  int shift_ = 64;
  size_t key_count_ = 0;
  // Every bucket, one after another.
  std::vector<Posting, HugePageAllocator<Posting>> postings_;
};

}  // namespace importgate::compiler

#endif  // IMPORTGATE_SERVER_COMPILER_HS_INDEX_H_
