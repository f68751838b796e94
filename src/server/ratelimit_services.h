// RateLimitParts: the rate-limit components of one gateway (policy, request
// limiter, token budgets, analytics), built from RateLimitConfig and shared
// by the RateLimitStage and the /api/v1/ratelimit admin routes.
//
// Thread-safety: the parts are internally synchronized; the struct itself is
// immutable after BuildRateLimit. Ownership: owns every part.
#pragma once

#include <memory>

#include "agentgate/ratelimit/rate_limit_analytics.h"
#include "agentgate/ratelimit/rate_limiter.h"
#include "agentgate/ratelimit/token_budget.h"
#include "config/config.h"
#include "ratelimit/redis_override_store.h"
#include "ratelimit/redis_rate_limit_analytics.h"
#include "store/redis_connections.h"
#include "store/sqlite_db.h"

namespace agentgate {

struct RateLimitParts {
  std::unique_ptr<RateLimitPolicy> policy;        // request limits + persisted overrides
  std::unique_ptr<RateLimiter> requests;          // four request windows
  std::unique_ptr<TokenBudget> tokens;            // null when no tier has a token budget
  std::unique_ptr<RateLimitAnalytics> analytics;  // null unless enable_analytics (embedded mode)
  // With Redis: tiers and custom limits shared by every instance (policy is
  // then this instance's copy of them, not persisted in SQLite) and
  // analytics shared too (analytics is then null). Null in embedded mode.
  std::unique_ptr<RedisOverrideStore> shared_overrides;
  std::unique_ptr<RedisRateLimitAnalytics> shared_analytics;  // null unless enable_analytics
  std::string backend = "memory";

  // recorder: where the stage records decisions (null: analytics disabled).
  AnalyticsRecorder* recorder() const {
    return shared_analytics ? static_cast<AnalyticsRecorder*>(shared_analytics.get())
                            : analytics.get();
  }
};

// BuildRateLimit: the parts for `config`, overrides persisted in `db`. With
// `redis` (redis.enabled), request counts, token counts, tiers, custom limits
// and analytics live in Redis (the "ratelimit" client, DB 7 or
// "<key_prefix>ratelimit:" keys), backend is "redis", and the shared parts'
// readers are started. REQUIRES: db, clock, metrics and redis outlive the
// parts; `metrics` is not null when `redis` is not.
Result<std::unique_ptr<RateLimitParts>> BuildRateLimit(const RateLimitConfig& config, SqliteDb& db,
                                                       const Clock& clock,
                                                       RedisConnections* redis = nullptr,
                                                       MetricsRegistry* metrics = nullptr);

}  // namespace agentgate
