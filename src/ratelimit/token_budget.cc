#include "agentgate/ratelimit/token_budget.h"

namespace agentgate {

namespace {

constexpr int kMinute = static_cast<int>(RateWindow::kMinute);
constexpr int kDay = static_cast<int>(RateWindow::kDay);

// TokenTiers: each tier as request limits of the minute and day windows.
std::map<std::string, TierLimits> TokenTiers(const std::map<std::string, TokenLimits>& tiers) {
  std::map<std::string, TierLimits> out;
  for (const auto& [name, t] : tiers) out[name].requests = {0, t.per_minute, 0, t.per_day};
  return out;
}

bool AnyBudget(const std::map<std::string, TokenLimits>& tiers) {
  for (const auto& [name, t] : tiers) {
    if (t.per_minute > 0 || t.per_day > 0) return true;
  }
  return false;
}

}  // namespace

TokenBudget::TokenBudget(const std::map<std::string, TokenLimits>& tiers, std::string default_tier,
                         const Clock& clock)
    : TokenBudget(tiers, std::move(default_tier), [&clock](const RateLimitPolicy& p) {
        return NewMemoryRateLimiter(p, clock);
      }) {}

TokenBudget::TokenBudget(const std::map<std::string, TokenLimits>& tiers, std::string default_tier,
                         const LimiterFactory& make)
    : any_budget_(AnyBudget(tiers)),
      policy_(std::make_unique<RateLimitPolicy>(TokenTiers(tiers), std::move(default_tier))),
      limiter_(make(*policy_)) {}

TokenDecision TokenBudget::ToDecision(const RateDecision& d) {
  TokenDecision t;
  t.allowed = d.allowed;
  t.tier = d.tier;
  t.minute_limit = d.windows[kMinute].limit;
  t.minute_used = d.windows[kMinute].used;
  t.day_limit = d.windows[kDay].limit;
  t.day_used = d.windows[kDay].used;
  t.retry_after = d.retry_after;
  return t;
}

// A cost of 1 asks whether one more token fits: charged < budget.
Result<TokenDecision> TokenBudget::check(std::string_view user, std::string_view tier) {
  Result<RateDecision> d = limiter_->check_limit(user, tier, 1);
  if (!d.ok()) return d.status();
  return ToDecision(*d);
}

Status TokenBudget::charge(std::string_view user, int64_t tokens, std::string_view tier) {
  if (tokens <= 0) return Status::Ok();
  return limiter_->record_request(user, tokens, tier);
}

Status TokenBudget::reset(std::string_view user) { return limiter_->reset(user); }

boost::asio::awaitable<Result<TokenDecision>> TokenBudget::check_async(std::string_view user,
                                                                       std::string_view tier) {
  Result<RateDecision> d = co_await limiter_->check_limit_async(user, tier, 1);
  if (!d.ok()) co_return d.status();
  co_return ToDecision(*d);
}

boost::asio::awaitable<Status> TokenBudget::charge_async(std::string_view user, int64_t tokens,
                                                        std::string_view tier) {
  if (tokens <= 0) co_return Status::Ok();
  co_return co_await limiter_->record_request_async(user, tokens, tier);
}

}  // namespace agentgate
