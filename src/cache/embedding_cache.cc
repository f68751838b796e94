#include "agentgate/cache/embedding_cache.h"

#include "agentgate/core/hash.h"

namespace agentgate {

std::string EmbeddingCacheKey(std::string_view tenant, std::string_view params,
                              std::string_view text) {
  Json j = {{"tenant", std::string(tenant)}, {"params", std::string(params)}, {"input", std::string(text)}};
  return Sha256Hex(DumpJson(j));
}

std::string EmbeddingParams(std::string_view model) {
  return DumpJson({{"encoding_format", "float"}, {"model", std::string(model)}});
}

EmbeddingCache::EmbeddingCache(const EmbeddingCacheOptions& options, const Clock& clock)
    : options_(options), lru_({.max_size = options.max_size, .default_ttl = options.ttl}, clock) {}

EmbeddingCache::EmbeddingPtr EmbeddingCache::lookup(const std::string& key) {
  std::optional<EmbeddingPtr> v = lru_.get(key);
  (v ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return v ? *v : nullptr;
}

void EmbeddingCache::store(const std::string& key, Json value) {
  (void)lru_.set(key, std::make_shared<const Json>(std::move(value)));
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

EmbeddingCacheStats EmbeddingCache::stats() {
  EmbeddingCacheStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  const uint64_t n = s.hits + s.misses;
  s.hit_rate = n == 0 ? 0.0 : static_cast<double>(s.hits) / static_cast<double>(n);
  LruCacheStats l = lru_.stats();
  s.entries = l.size;
  s.max_size = l.max_size;
  s.evictions = l.evictions;
  return s;
}

}  // namespace agentgate
