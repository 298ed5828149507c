#include "client/internal/decision_cache.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace importgate::client::internal {

DecisionCache::DecisionCache(size_t max_entries)
    : per_shard_max_(
          std::max<size_t>(1, (max_entries + kShards - 1) / kShards)) {}

std::string DecisionCache::Key(
    const importgate::v1::IsImportAllowedRequest& request) {
  // Every field that can change a decision, each length-prefixed, in one
  // allocation; not the sku, the seller id or min_bundle_revision. Built by
  // hand rather than by copying and serialising the request: this runs on
  // every cache hit.
  const auto& item = request.item();
  const auto& price = item.unit_price();
  const auto& when = request.evaluation_time();
  std::string key;
  key.reserve(96);
  auto field = [&key](absl::string_view value) {
    absl::StrAppend(&key, value.size(), ":", value, ";");
  };
  // Every field exactly as sent, never normalised: the server validates
  // and normalises ("6109.10" and "610910" are one code to it, "61..09" is
  // invalid), and an entry is only made from its answer. So a key is only
  // ever found for a request the server has accepted in this exact form;
  // the client needs no copy of the server's rules.
  field(item.hs_code());
  field(item.category());
  field(item.origin_country());
  field(price.currency_code());
  absl::StrAppend(&key, item.has_unit_price() ? "p" : "-", price.units(), ".",
                  price.nanos(), ";", item.quantity(), ";",
                  static_cast<int>(request.seller().kind()), ";");
  field(request.seller().country());
  field(request.destination_country());
  absl::StrAppend(&key, static_cast<int>(request.channel()), ";",
                  request.has_evaluation_time() ? "t" : "-", when.seconds(),
                  ".", when.nanos(), ";");
  if (request.attributes_size() > 0) {
    std::vector<std::pair<absl::string_view, absl::string_view>> attributes(
        request.attributes().begin(), request.attributes().end());
    std::sort(attributes.begin(), attributes.end());
    for (const auto& [k, v] : attributes) {
      field(k);
      field(v);
    }
  }
  return key;
}

DecisionCache::Shard& DecisionCache::ShardFor(const std::string& key) {
  return shards_[absl::Hash<std::string>{}(key) % kShards];
}

bool DecisionCache::Cacheable(
    const importgate::v1::IsImportAllowedRequest& request) {
  // The fields left out of the key could still make the request invalid;
  // such a request goes to the server, which says why.
  return request.item().sku().size() <= kMaxIdBytes &&
         request.seller().id().size() <= kMaxIdBytes;
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
