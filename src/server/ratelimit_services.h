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
#include "store/redis_connections.h"
#include "store/sqlite_db.h"

namespace agentgate {

struct RateLimitParts {
  std::unique_ptr<RateLimitPolicy> policy;        // request limits + persisted overrides
  std::unique_ptr<RateLimiter> requests;          // four request windows
  std::unique_ptr<TokenBudget> tokens;            // null when no tier has a token budget
  std::unique_ptr<RateLimitAnalytics> analytics;  // null unless enable_analytics
  std::string backend = "memory";
};

// BuildRateLimit: the parts for `config`, overrides persisted in `db`. With
// `redis` (redis.enabled), request counts live in Redis (the "ratelimit"
// client, DB 7 or "<key_prefix>ratelimit:" keys) and backend is "redis".
// REQUIRES: db, clock and redis outlive the parts.
Result<std::unique_ptr<RateLimitParts>> BuildRateLimit(const RateLimitConfig& config, SqliteDb& db,
                                                       const Clock& clock,
                                                       RedisConnections* redis = nullptr);

}  // namespace agentgate
