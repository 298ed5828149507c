// DecisionCache: a bounded, sharded LRU cache of decisions keyed by the
// normalised request, each entry living until the server's cache_ttl runs
// out. Internal to the client library.
//
// Thread safety: all methods are safe to call concurrently; each shard has
// its own mutex, so concurrent hits rarely contend.
#ifndef IMPORTGATE_CLIENT_INTERNAL_DECISION_CACHE_H_
#define IMPORTGATE_CLIENT_INTERNAL_DECISION_CACHE_H_

#include <array>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "importgate/client/client.h"

namespace importgate::client::internal {

class DecisionCache {
 public:
  explicit DecisionCache(size_t max_entries);

  // The cache key of a request: every field that can change the decision
  // (not the sku, the seller id or min_bundle_revision), with the HS code's
  // dots dropped and the attributes sorted.
  static std::string Key(const importgate::v1::IsImportAllowedRequest& request);

  // The cached decision for `key` if it is still fresh at `now` and comes
  // from a bundle revision of at least `min_revision`; else null.
  std::shared_ptr<const DecisionResult> Lookup(const std::string& key,
                                               absl::Time now,
                                               uint64_t min_revision);

  // Caches `result` under `key` until `expires`, evicting the least recently
  // used entry of the shard when it is full.
  void Insert(const std::string& key,
              std::shared_ptr<const DecisionResult> result, absl::Time expires);

  // Drops every entry (a new bundle revision was seen).
  void Clear();

  size_t size() const;

 private:
  struct Node {
    std::string key;
    std::shared_ptr<const DecisionResult> result;
    absl::Time expires;
  };
  struct Shard {
    mutable std::mutex mu;
    std::list<Node> lru;  // most recently used first
    absl::flat_hash_map<absl::string_view, std::list<Node>::iterator> index;
  };
  static constexpr size_t kShards = 16;

  Shard& ShardFor(const std::string& key);

  const size_t per_shard_max_;
  std::array<Shard, kShards> shards_;
};

}  // namespace importgate::client::internal

#endif  // IMPORTGATE_CLIENT_INTERNAL_DECISION_CACHE_H_
