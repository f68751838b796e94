// EmbeddingCache: embeddings per input string, so that a text is embedded
// once per (tenant, model, parameters). The proxy serves POST /v1/embeddings
// through it input by input: a batch with some cached inputs sends only the
// rest upstream.
//
//   EmbeddingCache cache({.max_size = 10000}, clock);
//   Result<std::vector<float>> v = cache.get_embedding("a cat", "text-embedding-3-small",
//       [&](std::string_view text) { return CallEmbedder(text); });   // called on a miss only
//
// Keys: EmbeddingCacheKey = SHA-256 of {tenant, params, text}, where params is
// the canonical JSON of the request without `input` and `user` (model,
// encoding_format, dimensions, ...). Values are the embedding's JSON value as
// the upstream encoded it (an array of floats, or a base64 string).
// Entries never expire by default; the least recently used go when full.
//
// Entries live in an EmbeddingStore: memory (LruCache) by default, Redis
// when configured (src/store/redis_cache_stores.h).
//
// Thread-safety: every method may be called concurrently. Values are shared
// immutable JSON values. `clock` must outlive the cache.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "agentgate/core/clock.h"
#include "agentgate/core/json.h"
#include "agentgate/core/status.h"

namespace agentgate {

struct EmbeddingCacheOptions {
  // Entries (one per input string) kept at most. Default: 10000.
  size_t max_size = 10000;
  // Lifetime of an entry; Nanos(0) = no expiry. Default: 0.
  Nanos ttl = Nanos(0);
};

// EmbeddingCacheKey: 64 hex characters; see above.
std::string EmbeddingCacheKey(std::string_view tenant, std::string_view params, std::string_view text);

// EmbeddingParams: the canonical params of `model` with float encoding, as
// the proxy computes them for {"model": model} without other fields.
std::string EmbeddingParams(std::string_view model);

using EmbeddingValuePtr = std::shared_ptr<const Json>;

// EmbeddingStoreStats: a snapshot of an EmbeddingStore.
struct EmbeddingStoreStats {
  size_t entries = 0;
  size_t max_size = 0;  // 0: bounded by the backend (Redis maxmemory)
  uint64_t evictions = 0;
};

// EmbeddingStore: where embeddings live. Internally synchronized; a broken
// backend is a miss, never an error. The async_ methods default to the plain
// ones; a remote store overrides them (its plain ones block the caller).
class EmbeddingStore {
 public:
  virtual ~EmbeddingStore() = default;
  virtual EmbeddingValuePtr get(const std::string& key) = 0;
  virtual void set(const std::string& key, EmbeddingValuePtr value) = 0;
  // erase: removes `key`; whether a live entry was removed.
  virtual bool erase(const std::string& key) = 0;
  virtual void clear() = 0;
  virtual EmbeddingStoreStats stats() = 0;
  virtual std::string_view kind() const = 0;
  // set_max_size: a new capacity; the default does nothing (remote stores).
  virtual void set_max_size(size_t /*max_size*/) {}

  virtual boost::asio::awaitable<EmbeddingValuePtr> async_get(const std::string& key);
  virtual boost::asio::awaitable<void> async_set(const std::string& key, EmbeddingValuePtr value);
};

// NewMemoryEmbeddingStore: an LruCache bounded by options.max_size, entries
// expiring after options.ttl (never when 0). REQUIRES: clock outlives it.
std::unique_ptr<EmbeddingStore> NewMemoryEmbeddingStore(const EmbeddingCacheOptions& options,
                                                        const Clock& clock);

struct EmbeddingCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  double hit_rate = 0;  // hits / (hits + misses), 0 before any lookup
  size_t entries = 0;
  size_t max_size = 0;
  uint64_t evictions = 0;
};

class EmbeddingCache {
 public:
  using EmbeddingPtr = EmbeddingValuePtr;
  using Embed = std::function<Result<std::vector<float>>(std::string_view text)>;

  // A cache over a memory store.
  EmbeddingCache(const EmbeddingCacheOptions& options, const Clock& clock);
  // A cache over `store` (options only reported in stats).
  EmbeddingCache(std::unique_ptr<EmbeddingStore> store, const EmbeddingCacheOptions& options);

  // lookup: the stored embedding value under `key`, or nullptr.
  EmbeddingPtr lookup(const std::string& key);
  // store: keeps `value` (one embedding's JSON value) under `key`.
  void store(const std::string& key, Json value);
  // async_lookup / async_store: the same through the store's async_ methods
  // (the proxy's path).
  boost::asio::awaitable<EmbeddingPtr> async_lookup(const std::string& key);
  boost::asio::awaitable<void> async_store(const std::string& key, EmbeddingPtr value);

  // get_embedding: the embedding of `text` by `model` (tenant "", float
  // encoding); embed(text) is called only on a miss and its error returned
  // as is (nothing stored).
  Result<std::vector<float>> get_embedding(std::string_view text, std::string_view model,
                                           const Embed& embed);

  void clear() { store_->clear(); }
  EmbeddingCacheStats stats();
  // hit_miss: the hit and miss counters alone (no store access).
  std::pair<uint64_t, uint64_t> hit_miss() const {
    return {hits_.load(std::memory_order_relaxed), misses_.load(std::memory_order_relaxed)};
  }
  // set_max_size: the store's capacity (memory; a smaller one evicts at once).
  void set_max_size(size_t max_size) { store_->set_max_size(max_size); }
  // probe: a store, lookup and erase of a reserved key straight on the store
  // (no counters touched); Ok when the value read back is the one written.
  Status probe();
  std::string_view store_kind() const { return store_->kind(); }

 private:
  const EmbeddingCacheOptions options_;
  const std::unique_ptr<EmbeddingStore> store_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace agentgate
