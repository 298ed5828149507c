#include "server/compiler/hs_index.h"

#include <bit>

namespace importgate::compiler {

HsIndex::HsIndex(
    const absl::flat_hash_map<uint64_t, std::vector<Posting>>& buckets) {
  key_count_ = buckets.size();
  if (key_count_ == 0) return;
  const size_t capacity = std::bit_ceil(key_count_ * 2);
  slots_.resize(capacity);
  mask_ = capacity - 1;
  shift_ = 64 - std::countr_zero(capacity);
  size_t total = 0;
  for (const auto& [key, postings] : buckets) total += postings.size();
  postings_.reserve(total);
  for (const auto& [key, postings] : buckets) {
    size_t i = Home(key);
    while (slots_[i].key != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{key, static_cast<uint32_t>(postings_.size()),
                     static_cast<uint32_t>(postings.size())};
    postings_.insert(postings_.end(), postings.begin(), postings.end());
  }
}

}  // namespace importgate::compiler
