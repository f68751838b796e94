#include "server/ratelimit_services.h"

namespace agentgate {

Result<std::unique_ptr<RateLimitParts>> BuildRateLimit(const RateLimitConfig& config, SqliteDb& db,
                                                       const Clock& clock,
                                                       RedisConnections* redis) {
  std::map<std::string, TierLimits> tiers;
  std::map<std::string, TierLimits> token_tiers;
  bool any_tokens = false;
  for (const auto& [name, t] : config.tiers) {
    TierLimits l;
    l.requests = {t.per_second, t.per_minute, t.per_hour, t.per_day};
    l.tokens_per_minute = t.tokens_per_minute;
    l.tokens_per_day = t.tokens_per_day;
    tiers[name] = l;
    TierLimits tl;
    tl.requests = {0, t.tokens_per_minute, 0, t.tokens_per_day};
    token_tiers[name] = tl;
    any_tokens = any_tokens || t.tokens_per_minute > 0 || t.tokens_per_day > 0;
  }
  auto parts = std::make_unique<RateLimitParts>();
  auto policy = RateLimitPolicy::Open(db, std::move(tiers), config.default_tier);
  if (!policy.ok()) return policy.status();
  parts->policy = std::move(*policy);
  if (redis != nullptr) {  // shared across instances: counts in Redis
    RedisRateLimiterOptions ro;
    ro.key_prefix = redis->key_prefix().empty() ? "" : redis->key_prefix() + "ratelimit:";
    ro.owns_database = redis->key_prefix().empty();
    parts->requests = NewRedisRateLimiter(*parts->policy, redis->client("ratelimit"), clock, ro);
    parts->backend = "redis";
  } else {
    parts->requests = NewMemoryRateLimiter(*parts->policy, clock);
  }
  if (any_tokens) {
    parts->token_policy = std::make_unique<RateLimitPolicy>(std::move(token_tiers), config.default_tier);
    parts->tokens = NewMemoryRateLimiter(*parts->token_policy, clock);
  }
  if (config.enable_analytics) parts->analytics = std::make_unique<RateLimitAnalytics>(clock);
  return parts;
}

}  // namespace agentgate
