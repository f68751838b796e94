// RateLimitAnalytics: per-user request counts for the admin API: allowed and
// denied in total, per calendar day (UTC, the current one) and per sliding
// window (second, minute, hour, day; same sub-bucket windows as the limiter),
// and the top users by volume over a window.
//
// Memory grows with distinct users (about 300 B each); enable it only when
// the user population is bounded (RATE_LIMIT_ENABLE_ANALYTICS).
//
// Thread-safety: internally synchronized (sharded mutexes).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/ratelimit/rate_limit_policy.h"

namespace agentgate {

// UserRateStats: one user's counts.
struct UserRateStats {
  std::string user;
  int64_t allowed = 0;                               // since start (or reset)
  int64_t denied = 0;
  int64_t allowed_today = 0;                         // current UTC day
  int64_t denied_today = 0;
  std::array<int64_t, kRateWindowCount> requests{};  // allowed + denied in each sliding window
};

// AnalyticsRecorder: where the rate-limit stage records each decision
// (RateLimitAnalytics in memory; RedisRateLimitAnalytics shared through
// Redis). Thread-safety: implementations are internally synchronized.
class AnalyticsRecorder {
 public:
  virtual ~AnalyticsRecorder() = default;
  // record: one request of `user`, allowed or denied. Never blocks on I/O.
  virtual void record(std::string_view user, bool allowed) = 0;
};

class RateLimitAnalytics final : public AnalyticsRecorder {
 public:
  // REQUIRES: clock outlives this.
  explicit RateLimitAnalytics(const Clock& clock);
  ~RateLimitAnalytics() override;

  // record: one request of `user`, allowed or denied.
  void record(std::string_view user, bool allowed) override;
  // stats: the counts of `user`; nullopt if never seen.
  std::optional<UserRateStats> stats(std::string_view user) const;
  // top_users: the `limit` users with the most requests in `window`, most first.
  std::vector<UserRateStats> top_users(RateWindow window, size_t limit) const;
  // reset: forgets `user`.
  void reset(std::string_view user);

 private:
  struct Entry;
  struct Shard;
  Shard& shard_of(std::string_view user) const;
  UserRateStats snapshot(const std::string& user, Entry& e, int64_t t) const;  // REQUIRES: shard lock

  const Clock& clock_;
  const int64_t epoch_;  // monotonic ns at construction
  std::unique_ptr<Shard[]> shards_;  // kShards
};

}  // namespace agentgate
