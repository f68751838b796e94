#include "gateway/stages/budget_stage.h"

#include <fmt/format.h>

#include "server/error_response.h"

namespace agentgate {

namespace {

int64_t CeilSeconds(Nanos d) {
  int64_t ns = d.count();
  return ns <= 0 ? 0 : (ns + 999'999'999) / 1'000'000'000;
}

}  // namespace

BudgetMetrics::BudgetMetrics(MetricsRegistry& r, const CostTracker& costs)
    : registry(r),
      denied(r.counter("agentgate_ratelimit_budget_denied_total",
                       "Requests denied because the user's spend reached a budget")) {
  cost_collector = r.add_collector(
      "agentgate_cost_usd_total", "Cost of upstream calls in USD, by priced model",
      MetricType::kCounter, [&costs] {
        std::vector<MetricsRegistry::Sample> out;
        for (const auto& [model, nano] : costs.cost_by_model()) {
          out.push_back({{{"model", model}}, NanoToUsd(nano)});
        }
        return out;
      });
  unpriced_collector = r.add_collector(
      "agentgate_cost_unpriced_requests_total",
      "Charged requests whose model is not in the price table (cost 0)", MetricType::kCounter,
      [&costs] {
        return std::vector<MetricsRegistry::Sample>{
            {{}, static_cast<double>(costs.unpriced_requests())}};
      });
  errors_collector = r.add_collector(
      "agentgate_cost_store_errors_total", "Failed writes of spend to the store",
      MetricType::kCounter, [&costs] {
        return std::vector<MetricsRegistry::Sample>{
            {{}, static_cast<double>(costs.store_errors())}};
      });
}

BudgetMetrics::~BudgetMetrics() {
  registry.remove_collector(cost_collector);
  registry.remove_collector(unpriced_collector);
  registry.remove_collector(errors_collector);
}

BudgetStage::BudgetStage(CostTracker& costs, const RateLimitPolicy& policy,
                         MetricsRegistry& metrics, RedisSpendStore* shared)
    : costs_(costs), policy_(policy), metrics_(metrics, costs), shared_(shared) {}

boost::asio::awaitable<void> BudgetStage::handle(RequestContext& ctx, Next next) {
  const std::string& user = ctx.principal.user_id;
  const std::string tier = policy_.resolve(user, ctx.principal.tier).tier;
  SpendStatus s;
  if (shared_) {
    s = co_await shared_->check(user, tier);
  } else {
    s = costs_.check(user, tier);
  }
  if (!s.allowed) {
    metrics_.denied.inc();
    int64_t retry = std::max<int64_t>(1, CeilSeconds(s.retry_after));
    int64_t budget = s.exceeded == "month" ? s.month_budget : s.day_budget;
    int64_t spent = s.exceeded == "month" ? s.this_month : s.today;
    ctx.response.set_header("Retry-After", std::to_string(retry));
    SetError(ctx.response, 429, "insufficient_quota", "budget_exceeded",
             fmt::format("spend budget exceeded for user '{}' (tier '{}'): {:.6f} USD spent this "
                         "{} of a {:.6f} USD budget; retry after {} s",
                         user, tier, NanoToUsd(spent), s.exceeded, NanoToUsd(budget), retry));
    co_return;
  }
  co_await next(ctx);
  if (ctx.upstream.empty() || !ctx.usage.known) co_return;  // no upstream call: nothing billed
  int64_t prompt = ctx.usage.prompt_tokens;
  int64_t completion = ctx.usage.completion_tokens;
  if (prompt + completion == 0) prompt = ctx.usage.total_tokens;  // only a total reported
  // Fails only for an empty user id, which authenticate never leaves.
  if (shared_) {
    (void)shared_->charge(user, ctx.info.model, prompt, completion);
  } else {
    (void)costs_.charge(user, ctx.info.model, prompt, completion);
  }
}

}  // namespace agentgate
