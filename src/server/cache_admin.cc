#include "server/cache_admin.h"

#include <spdlog/spdlog.h>

namespace agentgate {

Result<std::unique_ptr<CacheAdmin>> CacheAdmin::Open(const CacheConfig& config, SqliteDb& db,
                                                     ResponseCache* exact, SemanticCache* semantic,
                                                     EmbeddingCache* embedding, const Clock& clock,
                                                     Nanos sample_every) {
  Result<std::unique_ptr<CacheSettingsStore>> store = CacheSettingsStore::Open(db);
  if (!store.ok()) return store.status();
  Result<Json> saved = (*store)->load();
  if (!saved.ok()) return saved.status();
  CacheSettings settings = CacheSettingsFrom(config);
  if (!saved->empty()) {
    Result<CacheSettings> patched = PatchCacheSettings(settings, *saved);
    if (patched.ok()) {
      settings = *patched;
    } else {  // written by another version: keep the file's values, say so
      spdlog::warn("ignoring the persisted cache settings: {}", patched.status().message());
    }
  }
  return std::make_unique<CacheAdmin>(std::move(*store), settings, exact, semantic, embedding,
                                      clock, sample_every);
}

CacheAdmin::CacheAdmin(std::unique_ptr<CacheSettingsStore> store, CacheSettings settings,
                       ResponseCache* exact, SemanticCache* semantic, EmbeddingCache* embedding,
                       const Clock& clock, Nanos sample_every)
    : store_(std::move(store)),
      exact_(exact),
      semantic_(semantic),
      embedding_(embedding),
      history_(clock),
      settings_(settings) {
  ApplyCacheSettings(settings_, exact_, semantic_, embedding_);
  sample();  // the baseline
  sampler_ = std::thread([this, sample_every] {
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, sample_every, [this] { return stopping_; })) {
      lock.unlock();
      sample();
      lock.lock();
    }
  });
}

CacheAdmin::~CacheAdmin() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

CacheSettings CacheAdmin::settings() const {
  std::lock_guard lock(mu_);
  return settings_;
}

Result<CacheSettings> CacheAdmin::update(const Json& patch) {
  std::lock_guard lock(mu_);
  Result<CacheSettings> next = PatchCacheSettings(settings_, patch);
  if (!next.ok()) return next.status();
  if (Status s = store_->save(patch); !s.ok()) return s;
  settings_ = *next;
  ApplyCacheSettings(settings_, exact_, semantic_, embedding_);
  return settings_;
}

void CacheAdmin::sample() {
  std::map<std::string, CacheCounts> totals;
  if (exact_ != nullptr) {
    auto [hits, misses] = exact_->hit_miss();
    totals["exact"] = {.hits = hits, .misses = misses};
  }
  if (semantic_ != nullptr) {
    SemanticCacheStats s = semantic_->stats();
    totals["semantic"] = {.hits = s.hits, .misses = s.misses};
  }
  if (embedding_ != nullptr) {
    auto [hits, misses] = embedding_->hit_miss();
    totals["embedding"] = {.hits = hits, .misses = misses};
  }
  history_.sample(totals);
}

}  // namespace agentgate
