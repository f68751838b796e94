#include "agentgate/cache/response_cache.h"

#include "agentgate/core/hash.h"

namespace agentgate {

bool Cacheable(const CachedResponse& r) { return r.status / 100 == 2 && r.complete; }

boost::asio::awaitable<CachedResponsePtr> ResponseStore::async_get(const std::string& key) {
  co_return get(key);
}

boost::asio::awaitable<void> ResponseStore::async_set(const std::string& key,
                                                      CachedResponsePtr value, Nanos ttl) {
  set(key, std::move(value), ttl);
  co_return;
}

ResponseCache::ResponseCache(std::unique_ptr<ResponseStore> store, ResponseCacheOptions options)
    : store_(std::move(store)),
      default_ttl_ns_(options.default_ttl.count()),
      max_size_(options.max_size) {}

ResponseCacheOptions ResponseCache::options() const {
  return {.default_ttl = Nanos(default_ttl_ns_.load(std::memory_order_relaxed)),
          .max_size = max_size_.load(std::memory_order_relaxed)};
}

void ResponseCache::set_limits(Nanos default_ttl, size_t max_size) {
  default_ttl_ns_.store(default_ttl.count(), std::memory_order_relaxed);
  max_size_.store(max_size, std::memory_order_relaxed);
  store_->set_max_size(max_size);
}

CachedResponsePtr ResponseCache::lookup(const std::string& key) {
  CachedResponsePtr hit = store_->get(key);
  (hit ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return hit;
}

bool ResponseCache::store(const std::string& key, CachedResponse value, std::optional<Nanos> ttl) {
  if (!Cacheable(value)) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const Nanos t = ttl.value_or(Nanos(default_ttl_ns_.load(std::memory_order_relaxed)));
  if (t.count() <= 0) return false;
  store_->set(key, std::make_shared<const CachedResponse>(std::move(value)), t);
  stores_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

boost::asio::awaitable<CachedResponsePtr> ResponseCache::async_lookup(const std::string& key) {
  CachedResponsePtr hit = co_await store_->async_get(key);
  (hit ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  co_return hit;
}

boost::asio::awaitable<bool> ResponseCache::async_store(const std::string& key,
                                                        CachedResponsePtr value,
                                                        std::optional<Nanos> ttl) {
  if (value == nullptr || !Cacheable(*value)) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    co_return false;
  }
  const Nanos t = ttl.value_or(Nanos(default_ttl_ns_.load(std::memory_order_relaxed)));
  if (t.count() <= 0) co_return false;
  co_await store_->async_set(key, std::move(value), t);
  stores_.fetch_add(1, std::memory_order_relaxed);
  co_return true;
}

Result<CachedResponsePtr> ResponseCache::get_or_compute(const std::string& key,
                                                        const Compute& compute,
                                                        std::optional<Nanos> ttl) {
  if (CachedResponsePtr hit = lookup(key)) return hit;
  Result<CachedResponse> computed = compute();
  if (!computed.ok()) return computed.status();
  auto value = std::make_shared<const CachedResponse>(std::move(*computed));
  if (!Cacheable(*value)) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return value;
  }
  const Nanos t = ttl.value_or(Nanos(default_ttl_ns_.load(std::memory_order_relaxed)));
  if (t.count() > 0) {
    store_->set(key, value, t);
    stores_.fetch_add(1, std::memory_order_relaxed);
  }
  return value;
}

Status ResponseCache::probe() {
  const std::string key = "agentgate:probe:" + RandomToken(8);
  auto value = std::make_shared<const CachedResponse>(CachedResponse{.body = key});
  store_->set(key, value, std::chrono::seconds(10));
  CachedResponsePtr back = store_->get(key);
  (void)store_->erase(key);
  if (back == nullptr || back->body != key) {
    return Unavailable(std::string(store_->kind()) + " store did not return the entry just written");
  }
  return Status::Ok();
}

ResponseCacheStats ResponseCache::stats() {
  ResponseCacheStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.stores = stores_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  const uint64_t lookups = s.hits + s.misses;
  s.hit_rate = lookups == 0 ? 0.0 : static_cast<double>(s.hits) / static_cast<double>(lookups);
  s.store = store_->stats();
  return s;
}

}  // namespace agentgate
