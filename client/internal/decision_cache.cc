#include "client/internal/decision_cache.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace importgate::client::internal {

DecisionCache::DecisionCache(size_t max_entries)
    : per_shard_max_(
          std::max<size_t>(1, (max_entries + kShards - 1) / kShards)) {}

std::string DecisionCache::Key(
    const importgate::v1::IsImportAllowedRequest& request) {
  importgate::v1::IsImportAllowedRequest normalised = request;
  normalised.mutable_item()->clear_sku();
  normalised.clear_min_bundle_revision();
  std::string* hs = normalised.mutable_item()->mutable_hs_code();
  hs->erase(std::remove(hs->begin(), hs->end(), '.'), hs->end());
  std::string key;
  {
    google::protobuf::io::StringOutputStream stream(&key);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);  // map order
    normalised.SerializeToCodedStream(&coded);
  }
  return key;
}

DecisionCache::Shard& DecisionCache::ShardFor(const std::string& key) {
  return shards_[absl::Hash<std::string>{}(key) % kShards];
}

std::shared_ptr<const DecisionResult> DecisionCache::Lookup(
    const std::string& key, absl::Time now, uint64_t min_revision) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.index.find(key);
  if (it == shard.index.end()) return nullptr;
  auto node = it->second;
  if (now >= node->expires || node->result->bundle.revision() < min_revision) {
    shard.index.erase(it);
    shard.lru.erase(node);
    return nullptr;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, node);
  return node->result;
}

void DecisionCache::Insert(const std::string& key,
                           std::shared_ptr<const DecisionResult> result,
                           absl::Time expires) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.index.find(key);
  if (it != shard.index.end()) {
    it->second->result = std::move(result);
    it->second->expires = expires;
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    return;
  }
  shard.lru.push_front({key, std::move(result), expires});
  shard.index.emplace(shard.lru.front().key, shard.lru.begin());
  while (shard.lru.size() > per_shard_max_) {
    shard.index.erase(shard.lru.back().key);
    shard.lru.pop_back();
  }
}

void DecisionCache::Clear() {
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    shard.index.clear();
    shard.lru.clear();
  }
}

size_t DecisionCache::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.lru.size();
  }
  return n;
}

}  // namespace importgate::client::internal
