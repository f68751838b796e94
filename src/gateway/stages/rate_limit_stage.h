// RateLimitStage: per-user request limits over four sliding windows, and
// token budgets (tokens per minute and per day of the user's tier).
//
// Runs right after authenticate. Before the call: acquires one request from
// the RateLimiter and checks the token budget (tokens already charged must be
// under it); a denial is 429 rate_limit_exceeded (or tokens_exceeded) in the
// OpenAI error shape with Retry-After (whole seconds until the request would
// pass, at least 1). Every answer, allowed or denied, carries
//   RateLimit-Policy: "second";q=2;w=1, "minute";q=60;w=60, ...  (limited windows)
//   RateLimit: "<window>";r=<remaining>;t=<seconds to reset>     (most restrictive)
//   X-RateLimit-Limit / X-RateLimit-Remaining / X-RateLimit-Reset (same window;
//   Reset in seconds from now)
// After the call (on the way back) the upstream's reported total tokens are
// charged to the token budget.
//
// Store errors: counted per concern (agentgate_ratelimit_store_errors_total
// for request limits, agentgate_ratelimit_token_store_errors_total for token
// budgets); with fail_open (default) the request passes and
// agentgate_ratelimit_fail_open_total counts it; otherwise 503.
//
// Thread-safety: immutable; the limiter, budget and analytics are internally
// synchronized. Ownership: borrows everything; it must outlive the stage.
#pragma once

#include "agentgate/core/metrics.h"
#include "agentgate/ratelimit/rate_limit_analytics.h"
#include "agentgate/ratelimit/rate_limiter.h"
#include "agentgate/ratelimit/token_budget.h"
#include "gateway/stage.h"

namespace agentgate {

// RateLimitMetrics: the stage's counters, declared once.
struct RateLimitMetrics {
  explicit RateLimitMetrics(MetricsRegistry& r);
  Counter& allowed;         // agentgate_ratelimit_requests_total{outcome="allowed"}
  Counter& denied;          // agentgate_ratelimit_requests_total{outcome="denied"}
  Counter& tokens_denied;   // agentgate_ratelimit_requests_total{outcome="tokens_denied"}
  Counter& store_errors;    // agentgate_ratelimit_store_errors_total (request limits)
  Counter& token_store_errors;  // agentgate_ratelimit_token_store_errors_total (token budgets)
  Counter& fail_open;       // agentgate_ratelimit_fail_open_total
};

struct RateLimitStageOptions {
  // When the limiter's store fails: true passes the request. Default: true.
  bool fail_open = true;
  // The policy of `requests`, to find per-endpoint custom limits: a user's
  // requests to an endpoint with such limits are acquired under
  // EndpointLimitKey(user, endpoint). Null: no per-endpoint limits. Not owned.
  const RateLimitPolicy* endpoint_policy = nullptr;
};

class RateLimitStage final : public Stage {
 public:
  // `tokens` (may be null: no token budgets) holds the tiers' token budgets;
  // `analytics` may be null. REQUIRES: every pointer and reference outlives
  // the stage.
  RateLimitStage(RateLimiter& requests, TokenBudget* tokens, AnalyticsRecorder* analytics,
                 MetricsRegistry& metrics, RateLimitStageOptions options);

  std::string_view name() const override { return "ratelimit"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override;

 private:
  RateLimiter& requests_;
  TokenBudget* const tokens_;
  AnalyticsRecorder* const analytics_;
  RateLimitMetrics metrics_;
  const RateLimitStageOptions options_;
};

// SetRateLimitHeaders: the informational headers of `d` on `res` (exposed for tests).
void SetRateLimitHeaders(const RateDecision& d, HttpResponse& res);

}  // namespace agentgate
