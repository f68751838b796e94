// CacheAdmin: what the /api/v1/cache admin routes need besides the caches:
// the runtime settings (validated, persisted in SQLite, applied at once and
// again at every start) and the per-minute hit/miss history with the thread
// that samples it.
//
// Thread-safety: every method may be called from any thread. Ownership:
// holds pointers to the caches (any may be null), the db and the clock,
// which must outlive it; owns the sampler thread (joined by the destructor).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "cache/cache_history.h"
#include "cache/cache_settings.h"

namespace agentgate {

class CacheAdmin {
 public:
  // Open: settings = config's, then the persisted changes over them, applied
  // to the caches; starts sampling every `sample_every`.
  static Result<std::unique_ptr<CacheAdmin>> Open(const CacheConfig& config, SqliteDb& db,
                                                  ResponseCache* exact, SemanticCache* semantic,
                                                  EmbeddingCache* embedding, const Clock& clock,
                                                  Nanos sample_every = std::chrono::seconds(5));
  CacheAdmin(std::unique_ptr<CacheSettingsStore> store, CacheSettings settings,
             ResponseCache* exact, SemanticCache* semantic, EmbeddingCache* embedding,
             const Clock& clock, Nanos sample_every);
  ~CacheAdmin();
  CacheAdmin(const CacheAdmin&) = delete;
  CacheAdmin& operator=(const CacheAdmin&) = delete;

  CacheSettings settings() const;
  // update: validates `patch` (a JSON object of settings), persists and
  // applies it. kInvalidArgument naming the key (nothing changed), or the
  // store's error (nothing changed either).
  Result<CacheSettings> update(const Json& patch);

  // sample: records the caches' counters now (also done by the thread).
  void sample();
  CacheHistory& history() { return history_; }

  ResponseCache* exact() const { return exact_; }
  SemanticCache* semantic() const { return semantic_; }
  EmbeddingCache* embedding() const { return embedding_; }

 private:
  const std::unique_ptr<CacheSettingsStore> store_;
  ResponseCache* const exact_;
  SemanticCache* const semantic_;
  EmbeddingCache* const embedding_;
  CacheHistory history_;
  mutable std::mutex mu_;
  CacheSettings settings_;  // GUARDED_BY(mu_); update() holds mu_ from validation to apply
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // GUARDED_BY(stop_mu_)
  std::thread sampler_;
};

}  // namespace agentgate
