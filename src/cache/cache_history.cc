#include "cache/cache_history.h"

namespace agentgate {

int64_t CacheHistory::minute_now() const {
  return std::chrono::duration_cast<std::chrono::minutes>(clock_.now()).count();
}

void CacheHistory::sample(const std::map<std::string, CacheCounts>& totals) {
  const int64_t minute = minute_now();
  std::lock_guard lock(mu_);
  for (const auto& [type, now] : totals) {
    auto [it, fresh] = series_.try_emplace(type);
    Series& s = it->second;
    if (!fresh) {
      Bucket& b = s.buckets[static_cast<size_t>(minute) % kMinutes];
      if (b.minute != minute) b = Bucket{.minute = minute};
      b.counts.hits += now.hits >= s.last.hits ? now.hits - s.last.hits : now.hits;
      b.counts.misses += now.misses >= s.last.misses ? now.misses - s.last.misses : now.misses;
    }
    s.last = now;
  }
}

Json CacheHistory::json() const {
  const int64_t current = minute_now();
  std::lock_guard lock(mu_);
  Json out = Json::object();
  for (const auto& [type, s] : series_) {
    Json list = Json::array();
    for (int64_t m = current - static_cast<int64_t>(kMinutes) + 1; m <= current; ++m) {
      const Bucket& b = s.buckets[static_cast<size_t>(m) % kMinutes];
      const CacheCounts c = b.minute == m ? b.counts : CacheCounts{};
      const uint64_t lookups = c.hits + c.misses;
      list.push_back({{"minute", m * 60},
                      {"hits", c.hits},
                      {"misses", c.misses},
                      {"hit_rate", lookups == 0 ? 0.0 : static_cast<double>(c.hits) / static_cast<double>(lookups)}});
    }
    out[type] = std::move(list);
  }
  return out;
}

}  // namespace agentgate
