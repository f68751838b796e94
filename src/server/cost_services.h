// BuildCostTracker: the CostTracker of one gateway from RateLimitConfig (the
// price table `rate_limit.prices`, the tier budgets `budget_usd_per_day` /
// `budget_usd_per_month`), persisted in the gateway's SQLite database.
#pragma once

#include <memory>

#include "agentgate/ratelimit/cost_tracker.h"
#include "config/config.h"
#include "store/sqlite_db.h"

namespace agentgate {

// With `shared` (Redis), the tracker is memory-only: RedisSpendStore keeps
// the spend and budgets in Redis. REQUIRES: db and clock outlive the tracker.
Result<std::unique_ptr<CostTracker>> BuildCostTracker(const RateLimitConfig& config, SqliteDb& db,
                                                      const Clock& clock, bool shared = false);

}  // namespace agentgate

#include "agentgate/core/json.h"

namespace agentgate {

// SpendJson: the `spend` object of GET /api/v1/ratelimit/stats/{user_id}:
// {"currency": "USD", "day", "month", "today_usd", "this_month_usd",
//  "requests_today", "requests_this_month",
//  "budget": {"day_usd", "month_usd"}, "remaining": {"day_usd", "month_usd"},
//  "exceeded"}; a budget of none and its remaining are null.
Json SpendJson(const SpendStatus& s);

}  // namespace agentgate
