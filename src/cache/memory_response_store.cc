// The in-process ResponseStore: LruCache of shared immutable entries.
#include "agentgate/cache/response_cache.h"
#include "agentgate/perf/lru_cache.h"

namespace agentgate {

namespace {

class MemoryResponseStore final : public ResponseStore {
 public:
  MemoryResponseStore(const ResponseCacheOptions& options, const Clock& clock)
      : lru_({.max_size = options.max_size, .default_ttl = options.default_ttl}, clock) {}

  CachedResponsePtr get(const std::string& key) override {
    std::optional<CachedResponsePtr> v = lru_.get(key);
    return v ? *v : nullptr;
  }
  void set(const std::string& key, CachedResponsePtr value, Nanos ttl) override {
    (void)lru_.set(key, std::move(value), ttl);
  }
  bool erase(const std::string& key) override { return lru_.erase(key); }
  void clear() override { lru_.clear(); }
  ResponseStoreStats stats() override {
    LruCacheStats s = lru_.stats();
    return {.entries = s.size, .max_size = s.max_size, .bytes = 0,
            .evictions = s.evictions, .expirations = s.expirations};
  }
  std::string_view kind() const override { return "memory"; }
  void set_max_size(size_t max_size) override { lru_.set_max_size(max_size); }

 private:
  LruCache<std::string, CachedResponsePtr> lru_;
};

}  // namespace

std::unique_ptr<ResponseStore> NewMemoryResponseStore(const ResponseCacheOptions& options,
                                                      const Clock& clock) {
  return std::make_unique<MemoryResponseStore>(options, clock);
}

}  // namespace agentgate
