// SemanticCache: answers stored under a query's embedding, returned for a
// later query whose embedding has cosine similarity >= threshold with it and
// which passes the SemanticGuard (same numbers, same negation).
//
//   SemanticCache cache({.similarity_threshold = 0.95}, clock);
//   SemanticNamespace ns{.tenant = "t", .agent_type = "support", .model = "gpt-4o", .params = p};
//   cache.set("What is the capital of France?", ns, answer, embedding);
//   std::optional<SemanticHit> hit = cache.get("what's the capital of France", ns, embedding2);
//
// Partitions. Entries live in hard partitions, one per SemanticNamespace
// (tenant, agent type, model, and the canonical parameters and earlier
// conversation that change the answer): a lookup only ever sees its own
// partition, so no tenant receives another's entry. Each partition is
// searched by brute force while small and through an HNSW index (hnswlib,
// inner product on unit vectors) from `hnsw_from` entries on.
//
// Capacity and expiry: each partition keeps at most max_entries (least
// recently used evicted first); entries expire after ttl (by the clock).
//
// Thread-safety: every method may be called concurrently (a mutex per
// partition, one for the partition map). `clock` must outlive the cache.
#pragma once

#include <atomic>
#include <functional>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"

namespace agentgate {

struct SemanticCacheOptions {
  // Cosine similarity in (0, 1] from which a stored query counts as the
  // same. Default: 0.95.
  double similarity_threshold = 0.95;
  // Lifetime of an entry. Default: 1 h.
  Nanos ttl = std::chrono::hours(1);
  // Entries per partition at most (LRU eviction). Default: 10000.
  size_t max_entries = 10000;
  // Partition size from which the HNSW index is used instead of a linear
  // scan. Default: 2048.
  size_t hnsw_from = 2048;
  // Candidates examined per lookup (the guard may reject the nearest).
  // Default: 4.
  size_t candidates = 4;
  // HNSW parameters: graph degree, build-time and search-time beam widths.
  // Defaults: 16, 64, 48 (100k clustered 384-dim entries, fresh query
  // points: recall@1 0.995, p99 0.61 ms CPU, build 39 s CPU on a loaded
  // 2-core machine; ef_construction 100 gave recall 1.00 for a 66 s build;
  // bench/cache_bench.cc).
  size_t hnsw_m = 16;
  size_t hnsw_ef_construction = 64;
  size_t hnsw_ef_search = 48;
};

// SemanticNamespace: what must be equal for two requests to share entries.
struct SemanticNamespace {
  std::string tenant;
  std::string agent_type;
  std::string model;
  std::string params;  // canonical parameters and conversation before the query
  std::string key() const;
};

struct SemanticHit {
  std::string response;
  std::string query;  // the stored query that matched
  double similarity = 0;
};

struct SemanticCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t guard_rejections = 0;  // candidates above threshold rejected by the guard
  double average_similarity = 0;  // of hits
  size_t entries = 0;
  size_t partitions = 0;
};

// SemanticEntry: one stored entry as a listener sees it (replication).
struct SemanticEntry {
  std::string query;
  SemanticNamespace ns;
  std::string response;
  std::vector<float> embedding;  // normalized
  Nanos ttl{0};                  // lifetime from now
};

class SemanticCache {
 public:
  // Listener: told of each entry set() stored (not of insert()ed ones), on
  // the caller's thread, after the cache's locks are released.
  using Listener = std::function<void(const SemanticEntry&)>;

  SemanticCache(const SemanticCacheOptions& options, const Clock& clock);
  ~SemanticCache();
  SemanticCache(const SemanticCache&) = delete;
  SemanticCache& operator=(const SemanticCache&) = delete;

  // set: stores `response` for `query` (embedding of any scale; it is
  // normalized). Embeddings of one partition must share a dimension: a
  // mismatching one is ignored (false).
  bool set(std::string_view query, const SemanticNamespace& ns, std::string response,
           std::vector<float> embedding);

  // insert: stores an entry that came from elsewhere (another instance)
  // with its remaining lifetime; the listener is not told.
  bool insert(const SemanticEntry& entry);

  // set_listener: REQUIRES called before the cache is shared between threads.
  void set_listener(Listener listener) { listener_ = std::move(listener); }

  // get: the best stored answer in `ns` at or above the threshold that
  // passes the guard, or nullopt.
  std::optional<SemanticHit> get(std::string_view query, const SemanticNamespace& ns,
                                 std::vector<float> embedding);

  void clear();
  // erase: drops the partition of `ns`; whether it existed.
  bool erase(const SemanticNamespace& ns);
  SemanticCacheStats stats();
  // options: the options, with the current tunables.
  SemanticCacheOptions options() const;

  // set_tunables: changes the threshold, the lifetime of entries written
  // from now on and the entries per partition (a smaller one evicts the
  // least recently used at once).
  void set_tunables(double similarity_threshold, Nanos ttl, size_t max_entries);

  // probe: a set, get and erase of a reserved entry in a reserved namespace
  // (no counters touched); Ok when the entry is found again.
  Status probe();

 private:
  class Partition;
  std::shared_ptr<Partition> partition(const std::string& key, bool create);
  // store: set() with an explicit lifetime; the normalized embedding is
  // copied to *stored when not null.
  bool store(std::string_view query, const SemanticNamespace& ns, std::string response,
             std::vector<float> embedding, Nanos ttl, std::vector<float>* stored);

  const SemanticCacheOptions options_;  // the tunables below override its fields
  std::atomic<double> threshold_;
  std::atomic<int64_t> ttl_ns_;
  std::atomic<size_t> max_entries_;
  Listener listener_;  // constant once shared
  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Partition>> partitions_;  // GUARDED_BY(mu_)
  std::mutex stats_mu_;
  uint64_t hits_ = 0;              // GUARDED_BY(stats_mu_)
  uint64_t misses_ = 0;            // GUARDED_BY(stats_mu_)
  uint64_t guard_rejections_ = 0;  // GUARDED_BY(stats_mu_)
  double similarity_sum_ = 0;      // GUARDED_BY(stats_mu_)
};

}  // namespace agentgate
