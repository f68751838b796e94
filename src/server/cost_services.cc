#include "server/cost_services.h"

namespace agentgate {

Result<std::unique_ptr<CostTracker>> BuildCostTracker(const RateLimitConfig& config, SqliteDb& db,
                                                      const Clock& clock, bool shared) {
  std::map<std::string, ModelPrice> prices;
  for (const auto& [model, p] : config.prices) {
    prices[model] = {.input_per_million = p.input_per_million,
                     .output_per_million = p.output_per_million};
  }
  std::map<std::string, Budget> tiers;
  for (const auto& [name, t] : config.tiers) {
    tiers[name] = {.per_day = UsdToNano(t.budget_usd_per_day),
                   .per_month = UsdToNano(t.budget_usd_per_month)};
  }
  if (shared) return std::make_unique<CostTracker>(PriceTable(prices), std::move(tiers), clock);
  return CostTracker::Open(db, PriceTable(prices), std::move(tiers), clock);
}

}  // namespace agentgate

namespace agentgate {

namespace {

Json UsdOrNull(int64_t budget, int64_t value) {
  return budget > 0 ? Json(NanoToUsd(value)) : Json(nullptr);
}

}  // namespace

Json SpendJson(const SpendStatus& s) {
  return {{"currency", "USD"},
          {"day", s.day},
          {"month", s.month},
          {"today_usd", NanoToUsd(s.today)},
          {"this_month_usd", NanoToUsd(s.this_month)},
          {"requests_today", s.requests_today},
          {"requests_this_month", s.requests_month},
          {"budget",
           {{"day_usd", UsdOrNull(s.day_budget, s.day_budget)},
            {"month_usd", UsdOrNull(s.month_budget, s.month_budget)}}},
          {"remaining",
           {{"day_usd", UsdOrNull(s.day_budget, std::max<int64_t>(0, s.day_budget - s.today))},
            {"month_usd",
             UsdOrNull(s.month_budget, std::max<int64_t>(0, s.month_budget - s.this_month))}}},
          {"exceeded", s.allowed ? Json(nullptr) : Json(s.exceeded)}};
}

}  // namespace agentgate
