// RateLimitPolicy: which limits apply to a user. Tiers are fixed at start-up
// (from config); per-user tier assignments and per-user, per-window custom
// limits are set at run time and, with a SqliteDb, persisted (table
// ratelimit_overrides, component "ratelimit") so they survive a restart.
//
// Resolution for (user, caller_tier): the user's assigned tier if any, else
// caller_tier if it names a tier, else the default tier; then each window's
// custom limit of the user, if set, replaces the tier's limit.
//
// Thread-safety: internally synchronized (a shared mutex over the overrides;
// the tiers are constant). Ownership: does not own the SqliteDb.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"

namespace agentgate {

class SqliteDb;

// RateWindow: the four windows of every limit.
enum class RateWindow : int {
  kSecond = 0,  // 1 s
  kMinute = 1,  // 60 s
  kHour = 2,    // 3600 s
  kDay = 3,     // 86400 s
};
inline constexpr int kRateWindowCount = 4;

// RateWindowName: "second", "minute", "hour", "day".
std::string_view RateWindowName(RateWindow w);
// ParseRateWindow: the inverse of RateWindowName; kInvalidArgument otherwise.
Result<RateWindow> ParseRateWindow(std::string_view name);
// RateWindowWidth: the window's length.
Nanos RateWindowWidth(RateWindow w);

// TierLimits: one tier. Every value >= 0; 0 means unlimited.
struct TierLimits {
  std::array<int64_t, kRateWindowCount> requests{};  // per second, minute, hour, day
  int64_t tokens_per_minute = 0;
  int64_t tokens_per_day = 0;
};

// ResolvedLimits: what applies to one user now.
struct ResolvedLimits {
  std::string tier;
  std::array<int64_t, kRateWindowCount> requests{};
  int64_t tokens_per_minute = 0;
  int64_t tokens_per_day = 0;
};

// UserOverride: what was set for one user at run time.
struct UserOverride {
  std::string tier;                                  // "" = none assigned
  std::array<int64_t, kRateWindowCount> custom{-1, -1, -1, -1};  // -1 = none
};

class RateLimitPolicy {
 public:
  // REQUIRES: default_tier is a key of tiers.
  RateLimitPolicy(std::map<std::string, TierLimits> tiers, std::string default_tier);

  // Open: a policy persisted in `db` (migrated, overrides loaded).
  // REQUIRES: db outlives the policy.
  static Result<std::unique_ptr<RateLimitPolicy>> Open(SqliteDb& db,
                                                       std::map<std::string, TierLimits> tiers,
                                                       std::string default_tier);

  // resolve: the limits of `user` called with `caller_tier` (see above).
  ResolvedLimits resolve(std::string_view user, std::string_view caller_tier) const;

  // set_user_tier: assigns `tier` to `user`. kInvalidArgument for an unknown
  // tier (nothing changes); a store failure leaves memory unchanged too.
  Status set_user_tier(std::string_view user, std::string_view tier);
  // set_custom_limit: `limit` (>= 0; 0 = unlimited) for `user` in `window`.
  Status set_custom_limit(std::string_view user, RateWindow window, int64_t limit);
  // clear_custom_limits: removes every custom limit of `user`.
  Status clear_custom_limits(std::string_view user);

  // override_of: what was set for `user`, if anything.
  std::optional<UserOverride> override_of(std::string_view user) const;

  const std::map<std::string, TierLimits>& tiers() const { return tiers_; }
  const std::string& default_tier() const { return default_tier_; }
  bool has_tier(std::string_view tier) const { return tiers_.find(std::string(tier)) != tiers_.end(); }

 private:
  Status persist(const std::string& user, const UserOverride& o);  // REQUIRES: mu_ held

  const std::map<std::string, TierLimits> tiers_;
  const std::string default_tier_;
  SqliteDb* db_ = nullptr;  // not owned; null: memory only
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, UserOverride> overrides_;  // GUARDED_BY(mu_)
  std::atomic<size_t> override_count_{0};  // overrides_.size(): skips the lock when 0
};

}  // namespace agentgate
