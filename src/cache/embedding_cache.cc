#include "agentgate/cache/embedding_cache.h"

#include "agentgate/core/hash.h"
#include "agentgate/perf/lru_cache.h"

namespace agentgate {

std::string EmbeddingCacheKey(std::string_view tenant, std::string_view params,
                              std::string_view text) {
  Json j = {{"tenant", std::string(tenant)}, {"params", std::string(params)}, {"input", std::string(text)}};
  return Sha256Hex(DumpJson(j));
}

std::string EmbeddingParams(std::string_view model) {
  return DumpJson({{"encoding_format", "float"}, {"model", std::string(model)}});
}

namespace {

class MemoryEmbeddingStore final : public EmbeddingStore {
 public:
  MemoryEmbeddingStore(const EmbeddingCacheOptions& options, const Clock& clock)
      : lru_({.max_size = options.max_size, .default_ttl = options.ttl}, clock) {}

  EmbeddingValuePtr get(const std::string& key) override {
    std::optional<EmbeddingValuePtr> v = lru_.get(key);
    return v ? *v : nullptr;
  }
  void set(const std::string& key, EmbeddingValuePtr value) override {
    (void)lru_.set(key, std::move(value));
  }
  bool erase(const std::string& key) override { return lru_.erase(key); }
  void clear() override { lru_.clear(); }
  void set_max_size(size_t max_size) override { lru_.set_max_size(max_size); }
  EmbeddingStoreStats stats() override {
    LruCacheStats l = lru_.stats();
    return {.entries = l.size, .max_size = l.max_size, .evictions = l.evictions};
  }
  std::string_view kind() const override { return "memory"; }

 private:
  LruCache<std::string, EmbeddingValuePtr> lru_;
};

}  // namespace

boost::asio::awaitable<EmbeddingValuePtr> EmbeddingStore::async_get(const std::string& key) {
  co_return get(key);
}

boost::asio::awaitable<void> EmbeddingStore::async_set(const std::string& key,
                                                       EmbeddingValuePtr value) {
  set(key, std::move(value));
  co_return;
}

std::unique_ptr<EmbeddingStore> NewMemoryEmbeddingStore(const EmbeddingCacheOptions& options,
                                                        const Clock& clock) {
  return std::make_unique<MemoryEmbeddingStore>(options, clock);
}

EmbeddingCache::EmbeddingCache(const EmbeddingCacheOptions& options, const Clock& clock)
    : EmbeddingCache(NewMemoryEmbeddingStore(options, clock), options) {}

EmbeddingCache::EmbeddingCache(std::unique_ptr<EmbeddingStore> store,
                               const EmbeddingCacheOptions& options)
    : options_(options), store_(std::move(store)) {}

EmbeddingCache::EmbeddingPtr EmbeddingCache::lookup(const std::string& key) {
  EmbeddingPtr v = store_->get(key);
  (v ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return v;
}

void EmbeddingCache::store(const std::string& key, Json value) {
  store_->set(key, std::make_shared<const Json>(std::move(value)));
}

boost::asio::awaitable<EmbeddingCache::EmbeddingPtr> EmbeddingCache::async_lookup(
    const std::string& key) {
  EmbeddingPtr v = co_await store_->async_get(key);
  (v ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  co_return v;
}

boost::asio::awaitable<void> EmbeddingCache::async_store(const std::string& key, EmbeddingPtr value) {
  co_await store_->async_set(key, std::move(value));
}

Result<std::vector<float>> EmbeddingCache::get_embedding(std::string_view text,
                                                         std::string_view model,
                                                         const Embed& embed) {
  const std::string key = EmbeddingCacheKey("", EmbeddingParams(model), text);
  if (EmbeddingPtr hit = lookup(key); hit && hit->is_array()) {
    std::vector<float> v;
    v.reserve(hit->size());
    for (const Json& x : *hit) v.push_back(x.is_number() ? x.get<float>() : 0.0f);
    return v;
  }
  Result<std::vector<float>> computed = embed(text);
  if (!computed.ok()) return computed.status();
  store(key, Json(*computed));
  return computed;
}

Status EmbeddingCache::probe() {
  const std::string key = "agentgate:probe:" + RandomToken(8);
  auto value = std::make_shared<const Json>(Json::array({0.5, -0.25, 1.0}));
  store_->set(key, value);
  EmbeddingPtr back = store_->get(key);
  (void)store_->erase(key);
  if (back == nullptr || *back != *value) {
    return Unavailable(std::string(store_->kind()) + " store did not return the embedding just written");
  }
  return Status::Ok();
}

EmbeddingCacheStats EmbeddingCache::stats() {
  EmbeddingCacheStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  const uint64_t n = s.hits + s.misses;
  s.hit_rate = n == 0 ? 0.0 : static_cast<double>(s.hits) / static_cast<double>(n);
  EmbeddingStoreStats l = store_->stats();
  s.entries = l.entries;
  s.max_size = l.max_size;
  s.evictions = l.evictions;
  return s;
}

}  // namespace agentgate
