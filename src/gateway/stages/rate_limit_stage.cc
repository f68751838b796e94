#include "gateway/stages/rate_limit_stage.h"

#include <fmt/format.h>

#include "server/error_response.h"

namespace agentgate {

namespace {

// Seconds: whole seconds, rounded up.
int64_t CeilSeconds(Nanos d) {
  int64_t ns = d.count();
  return ns <= 0 ? 0 : (ns + 999'999'999) / 1'000'000'000;
}

}  // namespace

RateLimitMetrics::RateLimitMetrics(MetricsRegistry& r)
    : allowed(r.counter("agentgate_ratelimit_requests_total", "Rate-limit decisions",
                        {{"outcome", "allowed"}})),
      denied(r.counter("agentgate_ratelimit_requests_total", "Rate-limit decisions",
                       {{"outcome", "denied"}})),
      tokens_denied(r.counter("agentgate_ratelimit_requests_total", "Rate-limit decisions",
                              {{"outcome", "tokens_denied"}})),
      store_errors(r.counter("agentgate_ratelimit_store_errors_total",
                             "Rate-limit store errors (request limits)")),
      token_store_errors(r.counter("agentgate_ratelimit_token_store_errors_total",
                                   "Token-budget store errors (checks and charges)")),
      fail_open(r.counter("agentgate_ratelimit_fail_open_total",
                          "Requests let through because the rate-limit store failed")) {}

void SetRateLimitHeaders(const RateDecision& d, HttpResponse& res) {
  std::string policy;
  for (int w = 0; w < kRateWindowCount; ++w) {
    const RateWindowStatus& s = d.windows[w];
    if (s.limit <= 0) continue;
    if (!policy.empty()) policy += ", ";
    RateWindow rw = static_cast<RateWindow>(w);
    policy += fmt::format("\"{}\";q={};w={}", RateWindowName(rw), s.limit,
                          CeilSeconds(RateWindowWidth(rw)));
  }
  if (policy.empty()) return;  // unlimited
  res.set_header("RateLimit-Policy", std::move(policy));
  const RateWindowStatus& m = d.windows[d.most_restrictive];
  int64_t reset = CeilSeconds(m.reset);
  res.set_header("RateLimit", fmt::format("\"{}\";r={};t={}",
                                          RateWindowName(static_cast<RateWindow>(d.most_restrictive)),
                                          m.remaining, reset));
  res.set_header("X-RateLimit-Limit", std::to_string(m.limit));
  res.set_header("X-RateLimit-Remaining", std::to_string(m.remaining));
  res.set_header("X-RateLimit-Reset", std::to_string(reset));
}

RateLimitStage::RateLimitStage(RateLimiter& requests, TokenBudget* tokens,
                               AnalyticsRecorder* analytics, MetricsRegistry& metrics,
                               RateLimitStageOptions options)
    : requests_(requests),
      tokens_(tokens),
      analytics_(analytics),
      metrics_(metrics),
      options_(options) {}

boost::asio::awaitable<void> RateLimitStage::handle(RequestContext& ctx, Next next) {
  const std::string& user = ctx.principal.user_id;
  const std::string& tier = ctx.principal.tier;
  // Per-endpoint custom limits count under their own key.
  std::string endpoint_key;
  if (options_.endpoint_policy &&
      options_.endpoint_policy->has_endpoint_limits(user, ProxyEndpointPath(ctx.endpoint))) {
    endpoint_key = EndpointLimitKey(user, ProxyEndpointPath(ctx.endpoint));
  }
  const std::string& limit_key = endpoint_key.empty() ? user : endpoint_key;
  Result<RateDecision> d = co_await requests_.acquire_async(limit_key, tier);
  // Failed open on the request limits: the token budget (its own concern)
  // is still checked and charged, and counts its own errors.
  bool failed_open = false;
  if (!d.ok()) {
    metrics_.store_errors.inc();
    if (!options_.fail_open) {
      SetError(ctx.response, Unavailable("rate limiter unavailable: " + d.status().message()));
      co_return;
    }
    metrics_.fail_open.inc();
    failed_open = true;
  } else {
    SetRateLimitHeaders(*d, ctx.response);
    if (!d->allowed) {
      metrics_.denied.inc();
      if (analytics_) analytics_->record(user, false);
      ctx.response.set_header("Retry-After",
                              std::to_string(std::max<int64_t>(1, CeilSeconds(d->retry_after))));
      SetError(ctx.response, 429, "rate_limit_error", "rate_limit_exceeded",
               fmt::format("rate limit exceeded for user '{}' (tier '{}'); retry after {} s", user,
                           d->tier, std::max<int64_t>(1, CeilSeconds(d->retry_after))));
      co_return;
    }
  }
  // The tier the limiter resolved (the principal's when it failed open).
  const std::string resolved_tier = d.ok() ? d->tier : tier;
  if (tokens_) {
    // The budget admits while the tokens already charged are under it.
    Result<TokenDecision> t = co_await tokens_->check_async(user, resolved_tier);
    if (!t.ok()) {
      metrics_.token_store_errors.inc();
      if (!options_.fail_open) {
        SetError(ctx.response, Unavailable("token budget unavailable: " + t.status().message()));
        co_return;
      }
      if (!failed_open) metrics_.fail_open.inc();
      failed_open = true;
    } else if (!t->allowed) {
      metrics_.tokens_denied.inc();
      if (analytics_) analytics_->record(user, false);
      int64_t retry = std::max<int64_t>(1, CeilSeconds(t->retry_after));
      ctx.response.set_header("Retry-After", std::to_string(retry));
      SetError(ctx.response, 429, "rate_limit_error", "tokens_exceeded",
               fmt::format("token budget exceeded for user '{}' (tier '{}'); retry after {} s",
                           user, resolved_tier, retry));
      co_return;
    }
  }
  if (d.ok()) {  // the request limiter admitted it
    metrics_.allowed.inc();
    if (analytics_) analytics_->record(user, true);
  }
  co_await next(ctx);
  if (tokens_ && ctx.usage.known && ctx.usage.total_tokens > 0) {
    Status s = co_await tokens_->charge_async(user, ctx.usage.total_tokens, resolved_tier);
    if (!s.ok()) {
      metrics_.token_store_errors.inc();
    }
  }
}

}  // namespace agentgate
