// BudgetStage: spend budgets per user (USD per UTC day and month).
//
// Runs right after the ratelimit stage. Before the call: a user whose spend
// has reached a budget of their tier or their own (CostTracker::check) gets
// 429 in the OpenAI error shape, type "insufficient_quota", code
// "budget_exceeded", with Retry-After (whole seconds until the exhausted
// period ends: the next UTC midnight or the first of the next month). After
// the call, on the way back (streams included: the upstream stage has read
// the usage chunk by then), an answer from an upstream with reported usage is
// charged: its cost is the model's price table entry times the prompt and
// completion tokens (cache hits, which have no upstream, cost nothing).
//
// Metrics (declared in BudgetMetrics): agentgate_ratelimit_budget_denied_total,
// agentgate_cost_usd_total{model} (priced models), agentgate_cost_unpriced_requests_total,
// agentgate_cost_store_errors_total (failed writes of spend to SQLite: the
// charges stay in memory and are written by the next flush).
//
// With a RedisSpendStore (redis mode), the check and the charge go through it:
// the spend is the fleet's (see ratelimit/redis_spend_store.h for the bound).
//
// Thread-safety: immutable; the tracker and policy are internally
// synchronized. Ownership: borrows the tracker, policy and registry; they
// must outlive the stage.
#pragma once

#include <cstdint>

#include "agentgate/core/metrics.h"
#include "agentgate/ratelimit/cost_tracker.h"
#include "agentgate/ratelimit/rate_limit_policy.h"
#include "gateway/stage.h"
#include "ratelimit/redis_spend_store.h"

namespace agentgate {

// BudgetMetrics: the stage's metrics, declared once. Removes its collectors
// when destroyed.
struct BudgetMetrics {
  BudgetMetrics(MetricsRegistry& r, const CostTracker& costs);
  ~BudgetMetrics();
  BudgetMetrics(const BudgetMetrics&) = delete;
  BudgetMetrics& operator=(const BudgetMetrics&) = delete;

  MetricsRegistry& registry;
  Counter& denied;         // agentgate_ratelimit_budget_denied_total
  uint64_t cost_collector = 0;      // agentgate_cost_usd_total{model}
  uint64_t unpriced_collector = 0;  // agentgate_cost_unpriced_requests_total
  uint64_t errors_collector = 0;    // agentgate_cost_store_errors_total
};

class BudgetStage final : public Stage {
 public:
  // `policy` resolves each user's tier (assigned tier, else the caller's,
  // else the default). REQUIRES: every reference outlives the stage.
  // `shared` may be null (embedded mode).
  BudgetStage(CostTracker& costs, const RateLimitPolicy& policy, MetricsRegistry& metrics,
              RedisSpendStore* shared = nullptr);

  std::string_view name() const override { return "budget"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override;

 private:
  CostTracker& costs_;
  const RateLimitPolicy& policy_;
  BudgetMetrics metrics_;
  RedisSpendStore* const shared_;
};

}  // namespace agentgate
