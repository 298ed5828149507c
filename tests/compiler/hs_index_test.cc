#include "server/compiler/hs_index.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "server/compiler/snapshot.h"

namespace importgate::compiler {
namespace {

Posting PostingFor(uint32_t rule) {
  Posting p;
  p.rule = rule;
  return p;
}

TEST(HsIndexTest, EmptyIndexFindsNothing) {
  HsIndex index;
  EXPECT_TRUE(index.Find(HsKey(61, 2)).empty());
  index.PrefetchSlot(HsKey(61, 2));  // must not touch memory it lacks
  EXPECT_EQ(index.key_count(), 0u);
}

TEST(HsIndexTest, EveryKeyFindsItsOwnPostingsInOrder) {
  // Enough keys of every length, with values that differ only in the low
  // digits, that probe chains form and wrap around the table.
  absl::flat_hash_map<uint64_t, std::vector<Posting>> buckets;
  uint32_t rule = 0;
  for (int digits : {2, 4, 6, 8}) {
    for (uint64_t value = 0; value < 3000; ++value) {
      auto& bucket = buckets[HsKey(value, digits)];
      for (uint64_t n = 0; n <= value % 3; ++n)
        bucket.push_back(PostingFor(rule++));
    }
  }
  const HsIndex index(buckets);
  EXPECT_EQ(index.key_count(), buckets.size());
  EXPECT_EQ(index.posting_count(), rule);
  for (const auto& [key, want] : buckets) {
    auto got = index.Find(key);
    ASSERT_EQ(got.size(), want.size()) << key;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].rule, want[i].rule) << key;
    }
  }
  // Same values at lengths no rule uses, and values past the range.
  EXPECT_TRUE(index.Find(HsKey(61, 3)).empty());
  EXPECT_TRUE(index.Find(HsKey(3000, 2)).empty());
  EXPECT_TRUE(index.Find(HsKey(99999999, 8)).empty());
}

}  // namespace
}  // namespace importgate::compiler
