// TokenBudget: what providers bill, limited per user: tokens per minute and
// per day of the user's tier, charged after each call from the upstream's
// reported usage and checked before the next one.
//
//   TokenBudget budget({{"free", {.per_minute = 10'000, .per_day = 100'000}}}, "free", clock);
//   TokenDecision d = *budget.check("alice", "free");
//   if (!d.allowed) { /* 429, Retry-After: d.retry_after */ }
//   ... call the upstream ...
//   budget.charge("alice", usage.total_tokens);
//
// A call is admitted while the tokens charged in each sliding window (the
// last 60 s, the last 24 h) are under the tier's budget; the call that
// crosses a budget completes (its size is known only afterwards), so a user
// ends at most one call over. Retry-After is the time until enough charged
// tokens have left the window to be under the budget again. 0 = unlimited;
// a tier missing from the table has no budget.
//
// The windows are those of RateLimiter (logs of runs, within 1% of the
// budget of the exact count; see rate_limiter.h) counting tokens instead of
// requests, so a budget works with any RateLimiter backend: the memory one
// by default, or another made by a LimiterFactory from the budget's policy.
// The tier of a user is resolved by the caller (the request limits' policy).
//
// Thread-safety: internally synchronized (the limiter is). Ownership: owns
// its policy and limiter; the Clock must outlive it.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"
#include "agentgate/ratelimit/rate_limit_policy.h"
#include "agentgate/ratelimit/rate_limiter.h"

namespace agentgate {

// TokenLimits: one tier's budgets, >= 0; 0 = unlimited.
struct TokenLimits {
  int64_t per_minute = 0;  // tokens in any 60 s
  int64_t per_day = 0;     // tokens in any 24 h
};

// TokenDecision: one user's budget as seen by one check.
struct TokenDecision {
  bool allowed = true;
  std::string tier;
  int64_t minute_limit = 0;  // 0: unlimited
  int64_t minute_used = 0;
  int64_t day_limit = 0;
  int64_t day_used = 0;
  Nanos retry_after{0};      // when denied: until the user is under every budget
};

class TokenBudget {
 public:
  // LimiterFactory: makes the backend counting tokens under `policy` (which
  // the budget owns and which outlives the limiter).
  using LimiterFactory = std::function<std::unique_ptr<RateLimiter>(const RateLimitPolicy& policy)>;

  // A budget over the memory backend. REQUIRES: `clock` outlives it.
  TokenBudget(const std::map<std::string, TokenLimits>& tiers, std::string default_tier,
              const Clock& clock);
  // A budget over the backend `make` builds.
  TokenBudget(const std::map<std::string, TokenLimits>& tiers, std::string default_tier,
              const LimiterFactory& make);

  // any_budget: some tier has a budget (otherwise checks always pass).
  bool any_budget() const { return any_budget_; }

  // check: whether `user` (in `tier`, already resolved) may call now. Store
  // errors are returned (the caller decides fail-open or closed).
  Result<TokenDecision> check(std::string_view user, std::string_view tier);
  // charge: counts `tokens` (> 0; others are ignored) for `user` in both
  // windows. `tier`: as for check (it sets the windows' run sizes; "" = the
  // default tier).
  Status charge(std::string_view user, int64_t tokens, std::string_view tier = {});
  // reset: forgets what `user` was charged.
  Status reset(std::string_view user);

  // check_async / charge_async: the same for callers on an event loop (one
  // round trip with a networked backend). REQUIRES: the viewed strings
  // outlive the awaitable.
  boost::asio::awaitable<Result<TokenDecision>> check_async(std::string_view user,
                                                            std::string_view tier);
  boost::asio::awaitable<Status> charge_async(std::string_view user, int64_t tokens,
                                              std::string_view tier = {});

  RateLimiter& limiter() { return *limiter_; }

 private:
  static TokenDecision ToDecision(const RateDecision& d);

  const bool any_budget_;
  std::unique_ptr<RateLimitPolicy> policy_;  // minute and day windows, in tokens
  std::unique_ptr<RateLimiter> limiter_;
};

}  // namespace agentgate
