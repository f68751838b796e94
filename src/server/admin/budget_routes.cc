// Admin route for spend budgets: POST /api/v1/ratelimit/budget.
//
//   {"user_id": "alice", "usd_per_day": 5, "usd_per_month": null}
//   {"tier": "free", "usd_per_month": 20}
//
// Exactly one of `user_id` / `tier`; at least one of `usd_per_day` /
// `usd_per_month`, each a number in [0, 1e9] (0 = unlimited) or null (remove
// the setting: a user falls back to the tier, a tier to its configured
// budget); a field not given keeps its value. Bad input is 400 and changes
// nothing; every change is audited and persisted.
#include <cmath>

#include "agentgate/core/json.h"
#include "agentgate/ratelimit/cost_tracker.h"
#include "server/admin/admin_route.h"
#include "ratelimit/redis_spend_store.h"
#include "server/cost_services.h"
#include "server/error_response.h"
#include "server/ratelimit_services.h"

namespace agentgate {

namespace {

// ReadBudgetField: applies field `key` of `j`, if present, to `*out` (nano-USD).
Status ReadBudgetField(const Json& j, const char* key, int64_t* out, bool* given) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  *given = true;
  if (it->is_null()) {
    *out = kBudgetInherit;
    return Status::Ok();
  }
  if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0 ||
      it->get<double>() > 1e9) {
    return InvalidArgument(std::string("field '") + key +
                           "' must be a number of USD in [0, 1e9] (0 = unlimited) or null");
  }
  *out = UsdToNano(it->get<double>());
  return Status::Ok();
}

Json BudgetFieldJson(int64_t v) { return v < 0 ? Json(nullptr) : Json(NanoToUsd(v)); }

std::string BudgetText(const Budget& b) {
  auto one = [](int64_t v) { return v < 0 ? std::string("unset") : std::to_string(NanoToUsd(v)); };
  return "day " + one(b.per_day) + ", month " + one(b.per_month);
}

}  // namespace

void RegisterBudgetRoutes(Router& router, GatewayServices& services) {
  if (!services.costs) return;
  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/ratelimit/budget",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        CostTracker& costs = *call.services.costs;
        auto j = ParseJsonObject(req.body);
        Status s = j.status();
        if (s.ok()) {
          for (auto it = j->begin(); it != j->end() && s.ok(); ++it) {
            if (it.key() != "user_id" && it.key() != "tier" && it.key() != "usd_per_day" &&
                it.key() != "usd_per_month") {
              s = InvalidArgument("unknown field '" + it.key() + "'");
            }
          }
        }
        auto user = s.ok() ? GetString(*j, "user_id", false) : Result<std::string>(s);
        if (s.ok() && !user.ok()) s = user.status();
        auto tier = s.ok() ? GetString(*j, "tier", false) : Result<std::string>(s);
        if (s.ok() && !tier.ok()) s = tier.status();
        const bool for_user = s.ok() && j->contains("user_id");
        if (s.ok() && for_user == j->contains("tier")) {
          s = InvalidArgument("give exactly one of 'user_id' and 'tier'");
        }
        if (s.ok() && for_user && (user->empty() || user->size() > 256)) {
          s = InvalidArgument("field 'user_id' must be 1..256 characters");
        }
        if (s.ok() && !for_user && !costs.has_tier(*tier)) {
          s = InvalidArgument("unknown tier '" + *tier + "'");
        }
        Budget b;
        if (s.ok()) b = for_user ? costs.user_budget(*user) : costs.tier_budget(*tier);
        bool day_given = false, month_given = false;
        if (s.ok()) s = ReadBudgetField(*j, "usd_per_day", &b.per_day, &day_given);
        if (s.ok()) s = ReadBudgetField(*j, "usd_per_month", &b.per_month, &month_given);
        if (s.ok() && !day_given && !month_given) {
          s = InvalidArgument("give 'usd_per_day' and/or 'usd_per_month'");
        }
        if (s.ok() && call.services.shared_spend) {  // Redis: every instance applies it
          RedisSpendStore& shared = *call.services.shared_spend;
          std::string name = for_user ? *user : *tier;
          if (for_user) {
            s = co_await shared.set_user_budget(std::move(name), b);
          } else {
            s = co_await shared.set_tier_budget(std::move(name), b);
          }
        } else if (s.ok()) {
          s = for_user ? costs.set_user_budget(*user, b) : costs.set_tier_budget(*tier, b);
        }
        if (!s.ok()) {
          SetError(res, s);
          co_return;
        }
        const std::string who = for_user ? "user '" + *user + "'" : "tier '" + *tier + "'";
        call.audit(req, "set spend budget of " + who + ": " + BudgetText(b));
        Json out = {{"budget", {{"usd_per_day", BudgetFieldJson(b.per_day)},
                                {"usd_per_month", BudgetFieldJson(b.per_month)}}}};
        if (for_user) {
          out["user_id"] = *user;
          if (call.services.ratelimit) {
            const std::string t = call.services.ratelimit->policy->resolve(*user, "").tier;
            out["spend"] = SpendJson(costs.check(*user, t));
          }
        } else {
          out["tier"] = *tier;
        }
        SetJson(res, DumpJson(out));
      },
      "Set a user's or a tier's spend budget (USD per day / month)");
}

}  // namespace agentgate
