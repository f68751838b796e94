#include "server/ratelimit_services.h"

namespace agentgate {

Result<std::unique_ptr<RateLimitParts>> BuildRateLimit(const RateLimitConfig& config, SqliteDb& db,
                                                       const Clock& clock,
                                                       RedisConnections* redis,
                                                       MetricsRegistry* metrics) {
  std::map<std::string, TierLimits> tiers;
  std::map<std::string, TokenLimits> token_tiers;
  for (const auto& [name, t] : config.tiers) {
    TierLimits l;
    l.requests = {t.per_second, t.per_minute, t.per_hour, t.per_day};
    l.tokens_per_minute = t.tokens_per_minute;
    l.tokens_per_day = t.tokens_per_day;
    tiers[name] = l;
    token_tiers[name] = {.per_minute = t.tokens_per_minute, .per_day = t.tokens_per_day};
  }
  auto parts = std::make_unique<RateLimitParts>();
  if (redis != nullptr) {  // tiers and custom limits live in Redis: a local copy here
    parts->policy = std::make_unique<RateLimitPolicy>(std::move(tiers), config.default_tier);
  } else {
    auto policy = RateLimitPolicy::Open(db, std::move(tiers), config.default_tier);
    if (!policy.ok()) return policy.status();
    parts->policy = std::move(*policy);
  }
  if (redis != nullptr) {  // shared across instances: counts in Redis
    const std::string base = redis->concern_prefix("ratelimit");
    RedisRateLimiterOptions ro;
    ro.key_prefix = base;
    ro.owns_database = false;  // DB 7 also holds token counts, overrides and analytics
    ro.hash_tag = redis->prefix_mode();
    parts->requests = NewRedisRateLimiter(*parts->policy, redis->client("ratelimit"), clock, ro);
    parts->shared_overrides = std::make_unique<RedisOverrideStore>(
        *parts->policy, redis->client("ratelimit"), base, *metrics);
    parts->shared_overrides->start();
    if (config.enable_analytics) {
      parts->shared_analytics = std::make_unique<RedisRateLimitAnalytics>(
          redis->client("ratelimit"), base, clock, *metrics);
      parts->shared_analytics->start();
    }
    parts->backend = "redis";
    // Token budgets share the DB under their own prefix.
    auto tokens = std::make_unique<TokenBudget>(
        token_tiers, config.default_tier, [&](const RateLimitPolicy& token_policy) {
          RedisRateLimiterOptions to;
          to.key_prefix = base + "tokens:";
          to.owns_database = false;
          to.hash_tag = redis->prefix_mode();
          return NewRedisRateLimiter(token_policy, redis->client("ratelimit"), clock, to);
        });
    if (tokens->any_budget()) parts->tokens = std::move(tokens);
  } else {
    parts->requests = NewMemoryRateLimiter(*parts->policy, clock);
    auto tokens = std::make_unique<TokenBudget>(token_tiers, config.default_tier, clock);
    if (tokens->any_budget()) parts->tokens = std::move(tokens);
  }
  if (config.enable_analytics && redis == nullptr) {
    parts->analytics = std::make_unique<RateLimitAnalytics>(clock);
  }
  return parts;
}

}  // namespace agentgate
