#include "agentgate/ratelimit/rate_limit_analytics.h"

#include <algorithm>

#include "agentgate/core/hash.h"
#include "ratelimit/sliding_window.h"

namespace agentgate {

namespace {
constexpr size_t kShards = 16;
constexpr int64_t kDayNs = 86400LL * 1000000000LL;

SlidingWindowGeometry Geometry(int w) {
  int64_t width = RateWindowWidth(static_cast<RateWindow>(w)).count();
  return {width, width / kRateBuckets};
}
}  // namespace

struct RateLimitAnalytics::Entry {
  int64_t allowed = 0;
  int64_t denied = 0;
  int64_t day = 0;  // UTC day number of the *_today counts
  int64_t allowed_today = 0;
  int64_t denied_today = 0;
  SlidingWindow windows[kRateWindowCount];
};

struct RateLimitAnalytics::Shard {
  mutable std::mutex mu;
  std::unordered_map<std::string, Entry> users;  // GUARDED_BY(mu)
};

RateLimitAnalytics::RateLimitAnalytics(const Clock& clock)
    : clock_(clock), epoch_(clock.monotonic().count()), shards_(new Shard[kShards]) {}

RateLimitAnalytics::~RateLimitAnalytics() = default;

RateLimitAnalytics::Shard& RateLimitAnalytics::shard_of(std::string_view user) const {
  return shards_[Hash64(user) % kShards];
}

void RateLimitAnalytics::record(std::string_view user, bool allowed) {
  int64_t t = clock_.monotonic().count() - epoch_;
  int64_t day = clock_.now().count() / kDayNs;
  Shard& s = shard_of(user);
  std::lock_guard lock(s.mu);
  auto [it, fresh] = s.users.try_emplace(std::string(user));
  Entry& e = it->second;
  for (int w = 0; w < kRateWindowCount; ++w) {
    if (fresh) {
      e.windows[w].init(Geometry(w), t);
    } else {
      e.windows[w].advance(Geometry(w), t);
    }
    e.windows[w].record(Geometry(w), t, 1);
  }
  if (e.day != day) {
    e.day = day;
    e.allowed_today = e.denied_today = 0;
  }
  (allowed ? e.allowed : e.denied) += 1;
  (allowed ? e.allowed_today : e.denied_today) += 1;
}

UserRateStats RateLimitAnalytics::snapshot(const std::string& user, Entry& e, int64_t t) const {
  UserRateStats r;
  r.user = user;
  r.allowed = e.allowed;
  r.denied = e.denied;
  if (e.day == clock_.now().count() / kDayNs) {
    r.allowed_today = e.allowed_today;
    r.denied_today = e.denied_today;
  }
  for (int w = 0; w < kRateWindowCount; ++w) {
    e.windows[w].advance(Geometry(w), t);
    r.requests[w] = e.windows[w].count(Geometry(w), t);
  }
  return r;
}

std::optional<UserRateStats> RateLimitAnalytics::stats(std::string_view user) const {
  int64_t t = clock_.monotonic().count() - epoch_;
  Shard& s = shard_of(user);
  std::lock_guard lock(s.mu);
  auto it = s.users.find(std::string(user));
  if (it == s.users.end()) return std::nullopt;
  return snapshot(it->first, it->second, t);
}

std::vector<UserRateStats> RateLimitAnalytics::top_users(RateWindow window, size_t limit) const {
  int64_t t = clock_.monotonic().count() - epoch_;
  int w = static_cast<int>(window);
  std::vector<std::pair<int64_t, std::string>> counts;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    for (auto& [user, e] : shards_[i].users) {
      e.windows[w].advance(Geometry(w), t);
      int64_t c = e.windows[w].count(Geometry(w), t);
      if (c > 0) counts.emplace_back(c, user);
    }
  }
  size_t n = std::min(limit, counts.size());
  std::partial_sort(counts.begin(), counts.begin() + static_cast<ptrdiff_t>(n), counts.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first : a.second < b.second;
                    });
  std::vector<UserRateStats> out;
  for (size_t i = 0; i < n; ++i) {
    if (auto st = stats(counts[i].second)) out.push_back(std::move(*st));
  }
  return out;
}

void RateLimitAnalytics::reset(std::string_view user) {
  Shard& s = shard_of(user);
  std::lock_guard lock(s.mu);
  s.users.erase(std::string(user));
}

}  // namespace agentgate
