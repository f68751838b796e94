// ResiliencePolicy: the UpstreamPolicy of circuit breakers, classified
// retries with backoff, a retry budget and fallback along the plan.
//
// For each target of the plan, in order:
//   - its upstream's breaker is asked first; OPEN skips to the next target
//     at no upstream cost. When every target was skipped, the answer is 503
//     with Retry-After set to when the first breaker will probe.
//   - the attempt's failure is classified (error_class.h). TRANSIENT and
//     RECOVERABLE count against the breaker and are retried on the same
//     target with backoff (the upstream's Retry-After honoured, capped by
//     max_delay) while the RetrySchedule allows; then the next target is
//     tried. PERMANENT answers are given to the client as they are. CRITICAL
//     (401/403) are given as they are, logged at error level and counted in
//     agentgate_upstream_alerts_total.
//   - once a stream has begun reaching the client, nothing is retried.
// Retries of all targets of one request share one RetrySchedule, so a
// request costs at most max_attempts calls plus one per further target.
// With a DeadLetterQueue, every request that finally fails for a reason other
// than being wrong itself (PERMANENT) is stored there, unless it is a replay
// (header X-Agentgate-Dlq-Replay).
//
// Thread-safety: shared by all workers; breakers, budget and metrics are
// internally synchronized; the rest is constant after construction.
// Ownership: breakers, clock, sleeper and metrics must outlive the policy.
#pragma once

#include <string>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
#include "agentgate/resilience/breaker_registry.h"
#include "agentgate/resilience/retry.h"
#include "agentgate/resilience/sleeper.h"
#include "gateway/upstream_policy.h"
#include "resilience/dead_letter_queue.h"

namespace agentgate {

class ResiliencePolicy final : public UpstreamPolicy {
 public:
  // `upstream_names[i]` names config upstream i, as RouteTarget indexes them;
  // each gets breakers->get(name). Without `breakers` no breaker is used.
  ResiliencePolicy(std::vector<std::string> upstream_names, BreakerRegistry* breakers,
                   RetryPolicy retry, RetryBudgetOptions budget, const Clock& clock,
                   Sleeper& sleeper, MetricsRegistry& metrics,
                   DeadLetterQueue* dead_letters = nullptr);
  ~ResiliencePolicy() override;

  boost::asio::awaitable<std::optional<size_t>> run(RequestContext& ctx,
                                                    const std::vector<RouteTarget>& plan,
                                                    const Attempt& attempt) override;

  const RetryPolicy& retry_policy() const { return retry_; }

 private:
  struct UpstreamMetrics;
  // dead_letter: stores the failed request of `ctx` (its final response set).
  // REQUIRES: the strings outlive the awaitable (pass named locals).
  boost::asio::awaitable<void> dead_letter(const RequestContext& ctx, const std::string& upstream,
                                           int attempts, const std::string& error_class,
                                           const std::string& error) const;

  const std::vector<std::string> names_;
  std::vector<CircuitBreaker*> breakers_;  // parallel to names_ (null: none); constant
  std::vector<std::unique_ptr<UpstreamMetrics>> metrics_;  // parallel to names_; constant
  const RetryPolicy retry_;
  RetryBudget budget_;
  const Clock& clock_;
  Sleeper& sleeper_;
  DeadLetterQueue* const dead_letters_;  // may be null
  // agentgate_dlq_store_errors_total: dead letters the store refused (logged).
  Counter& dlq_store_errors_;
};

}  // namespace agentgate
