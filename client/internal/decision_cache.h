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

  // The server's limit on item.sku and seller.id, in bytes
  // (server/eval/request.h kMaxIdBytes; tests/client/client_test.cc checks
  // the two agree against a real server).
  static constexpr size_t kMaxIdBytes = 128;

  // The cache key of a request: every field that can change the decision or
  // its validity (not the sku, the seller id or min_bundle_revision), each
  // exactly as written, attributes sorted. Not normalised: an entry is only
  // made from a server's answer, so a key is only found for a request the
  // server accepted in this very form.
  static std::string Key(const importgate::v1::IsImportAllowedRequest& request);

  // Whether `request` may be answered from the cache: the fields the key
  // leaves out are within the server's limits, so a cached answer is what
  // the server would say. Otherwise the request goes to the server.
  static bool Cacheable(const importgate::v1::IsImportAllowedRequest& request);

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
