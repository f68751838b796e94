// ResponseCache: the exact response cache. Answers that upstreams gave to a
// request, stored under the request's ResponseCacheKey (cache_key.h) for a
// TTL, in a swappable ResponseStore (memory by default).
//
//   ResponseCache cache(NewMemoryResponseStore({.max_size = 10000}, clock), {});
//   Result<CachedResponsePtr> r = cache.get_or_compute(key, [&] { return CallUpstream(); });
//
// Only successful (2xx), complete answers are stored: an error, or a stream
// that did not end with [DONE], never is (store() says so by returning
// false), so an error is never replayed as a success.
//
// Thread-safety: every method may be called concurrently; the store is
// internally synchronized. Ownership: the cache owns its store; entries are
// shared immutable values (a hit is a shared_ptr copy, never a deep copy).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"

namespace agentgate {

// CachedResponse: one stored answer.
struct CachedResponse {
  int status = 200;                           // HTTP status the upstream answered
  std::string content_type = "application/json";
  std::string body;                           // the whole body (non-streamed answers)
  bool streamed = false;                      // captured from a Server-Sent Events stream
  std::vector<std::string> events;            // streamed: each event's data, "[DONE]" left out
  bool complete = true;                       // streamed: the stream ended with [DONE]
};

using CachedResponsePtr = std::shared_ptr<const CachedResponse>;

// Cacheable: 2xx and complete.
bool Cacheable(const CachedResponse& r);

// ResponseCacheOptions: what CacheConfig holds for the exact cache.
struct ResponseCacheOptions {
  // Lifetime of an entry stored without an explicit ttl. Default: 300 s.
  Nanos default_ttl = std::chrono::seconds(300);
  // Entries kept at most; the least recently used go first. Default: 10000.
  size_t max_size = 10000;
};

// ResponseStoreStats: a snapshot of a store.
struct ResponseStoreStats {
  size_t entries = 0;    // live entries
  size_t max_size = 0;   // capacity in entries
  size_t bytes = 0;      // approximate payload bytes of the live entries (0 if unknown)
  uint64_t evictions = 0;
  uint64_t expirations = 0;
};

// ResponseStore: where entries live. Implementations are internally
// synchronized and never fail a get (a broken backend is a miss).
//
// The async_ methods are the same operations as coroutines; the defaults call
// the plain ones. A remote store (Redis) overrides them so that the proxy
// never blocks a worker on the network; its plain methods block the calling
// thread until the backend answers (admin routes, library use).
class ResponseStore {
 public:
  virtual ~ResponseStore() = default;
  // get: the live entry under `key`, or nullptr.
  virtual CachedResponsePtr get(const std::string& key) = 0;
  // set: stores `value` under `key` for `ttl` (> 0), replacing any previous one.
  virtual void set(const std::string& key, CachedResponsePtr value, Nanos ttl) = 0;
  // erase: removes `key`; true if a live entry was removed.
  virtual bool erase(const std::string& key) = 0;
  // clear: removes every entry.
  virtual void clear() = 0;
  virtual ResponseStoreStats stats() = 0;
  // kind: "memory", "redis", ... for stats and health.
  virtual std::string_view kind() const = 0;
  // set_max_size: a new capacity (a smaller one evicts at once). The
  // default does nothing (a remote store is bounded by its backend).
  virtual void set_max_size(size_t /*max_size*/) {}

  virtual boost::asio::awaitable<CachedResponsePtr> async_get(const std::string& key);
  virtual boost::asio::awaitable<void> async_set(const std::string& key, CachedResponsePtr value,
                                                 Nanos ttl);
};

// NewMemoryResponseStore: a sharded in-process LRU with TTLs (LruCache).
// REQUIRES: `clock` outlives the store.
std::unique_ptr<ResponseStore> NewMemoryResponseStore(const ResponseCacheOptions& options,
                                                      const Clock& clock);

// ResponseCacheStats: counters since start plus the store's snapshot.
struct ResponseCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t stores = 0;    // entries written
  uint64_t rejected = 0;  // answers not stored because they were not cacheable
  double hit_rate = 0;    // hits / (hits + misses), 0 before any lookup
  ResponseStoreStats store;
};

class ResponseCache {
 public:
  using Compute = std::function<Result<CachedResponse>()>;

  ResponseCache(std::unique_ptr<ResponseStore> store, ResponseCacheOptions options);

  // lookup: the entry under `key` or nullptr; counts a hit or a miss.
  CachedResponsePtr lookup(const std::string& key);

  // store: stores `value` under `key` for `ttl` (default_ttl when nullopt)
  // if it is Cacheable; returns whether it was stored.
  bool store(const std::string& key, CachedResponse value, std::optional<Nanos> ttl = std::nullopt);

  // async_lookup / async_store: lookup and store as coroutines, through the
  // store's async_ methods (the proxy's path).
  boost::asio::awaitable<CachedResponsePtr> async_lookup(const std::string& key);
  boost::asio::awaitable<bool> async_store(const std::string& key, CachedResponsePtr value,
                                           std::optional<Nanos> ttl = std::nullopt);
  // async_peek: the entry under `key` or nullptr, without counting a hit or
  // a miss (de-duplication followers polling for a leader's answer).
  boost::asio::awaitable<CachedResponsePtr> async_peek(const std::string& key) {
    return store_->async_get(key);
  }

  // get_or_compute: the entry under `key`; on a miss, compute(), storing its
  // value when Cacheable. compute's error is returned as is and nothing is
  // stored. Concurrent misses of one key each compute (the proxy's
  // de-duplication of in-flight requests is the cache stage's).
  Result<CachedResponsePtr> get_or_compute(const std::string& key, const Compute& compute,
                                           std::optional<Nanos> ttl = std::nullopt);

  // erase / clear: remove one entry / all of them.
  bool erase(const std::string& key) { return store_->erase(key); }
  void clear() { store_->clear(); }

  // probe: a write, read and erase of a reserved key straight on the store
  // (no counters touched); Ok when the entry read back is the one written.
  Status probe();

  ResponseCacheStats stats();
  // hit_miss: the hit and miss counters alone (no store access).
  std::pair<uint64_t, uint64_t> hit_miss() const {
    return {hits_.load(std::memory_order_relaxed), misses_.load(std::memory_order_relaxed)};
  }
  // options: the options, with the current limits.
  ResponseCacheOptions options() const;
  // set_limits: the TTL of entries stored from now on without an explicit
  // one, and the store's capacity.
  void set_limits(Nanos default_ttl, size_t max_size);
  std::string_view store_kind() const { return store_->kind(); }

 private:
  const std::unique_ptr<ResponseStore> store_;
  std::atomic<int64_t> default_ttl_ns_;  // ResponseCacheOptions::default_ttl, settable
  std::atomic<size_t> max_size_;         // ResponseCacheOptions::max_size, settable
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  std::atomic<uint64_t> stores_{0};
  std::atomic<uint64_t> rejected_{0};
};

}  // namespace agentgate
