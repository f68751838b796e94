// Admin routes for rate limits, under /api/v1/ratelimit/: tier assignment,
// custom limits, status, stats, top users, reset, tiers, health. Bad input is
// 400 and changes nothing; every change is audited.
#include "agentgate/core/json.h"
#include "server/admin/admin_route.h"
#include "server/error_response.h"
#include "ratelimit/redis_spend_store.h"
#include "server/cost_services.h"
#include "server/ratelimit_services.h"

namespace agentgate {

namespace {

int64_t Seconds(Nanos d) { return d.count() <= 0 ? 0 : (d.count() + 999'999'999) / 1'000'000'000; }

Status CheckFields(const Json& j, std::initializer_list<std::string_view> allowed) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || it.key() == a;
    if (!ok) return InvalidArgument("unknown field '" + it.key() + "'");
  }
  return Status::Ok();
}

Json TierJson(const TierLimits& t) {
  return {{"per_second", t.requests[0]},       {"per_minute", t.requests[1]},
          {"per_hour", t.requests[2]},         {"per_day", t.requests[3]},
          {"tokens_per_minute", t.tokens_per_minute}, {"tokens_per_day", t.tokens_per_day}};
}

Json WindowsJson(const RateDecision& d) {
  Json windows = Json::object();
  for (int w = 0; w < kRateWindowCount; ++w) {
    const RateWindowStatus& s = d.windows[w];
    windows[std::string(RateWindowName(static_cast<RateWindow>(w)))] = {
        {"limit", s.limit}, {"used", s.used}, {"remaining", s.remaining},
        {"reset_seconds", Seconds(s.reset)}};
  }
  return windows;
}

Json StatsJson(const UserRateStats& s) {
  Json windows = Json::object();
  for (int w = 0; w < kRateWindowCount; ++w) {
    windows[std::string(RateWindowName(static_cast<RateWindow>(w)))] = s.requests[w];
  }
  return {{"user_id", s.user},          {"allowed", s.allowed},
          {"denied", s.denied},         {"allowed_today", s.allowed_today},
          {"denied_today", s.denied_today}, {"requests", windows}};
}

// UserParam: the {user_id} path parameter, non-empty.
Result<std::string> UserParam(const HttpRequest& req) {
  std::string user(req.path_param("user_id"));
  if (user.empty() || user.size() > 256) return InvalidArgument("bad user id");
  return user;
}

}  // namespace

void RegisterRateLimitRoutes(Router& router, GatewayServices& services) {
  if (!services.ratelimit) return;

  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/ratelimit/tier",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        RateLimitParts& rl = *call.services.ratelimit;
        auto j = ParseJsonObject(req.body);
        Status s = j.ok() ? CheckFields(*j, {"user_id", "tier"}) : j.status();
        Result<std::string> user = s.ok() ? GetString(*j, "user_id", true) : Result<std::string>(s);
        Result<std::string> tier = user.ok() ? GetString(*j, "tier", true) : Result<std::string>(user.status());
        if (!tier.ok()) {
          s = tier.status();
        } else if (rl.shared_overrides) {  // Redis: every instance applies it
          std::string u = *user, t = *tier;
          s = co_await rl.shared_overrides->set_user_tier(std::move(u), std::move(t));
        } else {
          s = rl.policy->set_user_tier(*user, *tier);
        }
        if (!s.ok()) {
          SetError(res, s);
          co_return;
        }
        call.audit(req, "set rate-limit tier of user '" + *user + "' to '" + *tier + "'");
        SetJson(res, DumpJson({{"user_id", *user}, {"tier", *tier}}));
      },
      "Assign a rate-limit tier to a user");

  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/ratelimit/custom-limit",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        RateLimitParts& rl = *call.services.ratelimit;
        auto j = ParseJsonObject(req.body);
        if (!j.ok()) {
          SetError(res, j.status());
          co_return;
        }
        Status s = CheckFields(*j, {"user_id", "window", "limit", "endpoint"});
        auto user = GetString(*j, "user_id", true);
        auto window_name = GetString(*j, "window", true);
        auto limit = GetInt(*j, "limit", true);
        auto endpoint = GetString(*j, "endpoint", false);  // "": every endpoint
        if (s.ok() && !endpoint.ok()) s = endpoint.status();
        if (s.ok() && j->contains("endpoint") && endpoint->empty()) {
          s = InvalidArgument("field 'endpoint' must name a proxied route, e.g. /v1/chat/completions");
        }
        if (s.ok() && !user.ok()) s = user.status();
        if (s.ok() && user->empty()) s = InvalidArgument("field 'user_id' must not be empty");
        if (s.ok() && !window_name.ok()) s = window_name.status();
        Result<RateWindow> window = s.ok() ? ParseRateWindow(*window_name) : Result<RateWindow>(s);
        if (s.ok() && !window.ok()) s = window.status();
        if (s.ok() && !limit.ok()) s = limit.status();
        if (s.ok() && *limit < 0) s = InvalidArgument("field 'limit' must be >= 0 (0 = unlimited)");
        if (s.ok() && rl.shared_overrides) {  // Redis: every instance applies it
          std::string u = *user, e = *endpoint;
          s = co_await rl.shared_overrides->set_custom_limit(std::move(u), *window, *limit,
                                                             std::move(e));
        } else if (s.ok()) {
          s = rl.policy->set_custom_limit(*user, *window, *limit, *endpoint);
        }
        if (!s.ok()) {
          SetError(res, s);
          co_return;
        }
        call.audit(req, "set custom rate limit of user '" + *user + "': " + *window_name + " = " +
                            std::to_string(*limit) +
                            (endpoint->empty() ? "" : " for endpoint " + *endpoint));
        Json out = {{"user_id", *user}, {"window", *window_name}, {"limit", *limit}};
        if (!endpoint->empty()) out["endpoint"] = *endpoint;
        SetJson(res, DumpJson(out));
      },
      "Set a user's custom limit for one window");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/ratelimit/status/{user_id}",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        RateLimitParts& rl = *call.services.ratelimit;
        auto user = UserParam(req);
        if (!user.ok()) {
          SetError(res, user.status());
          co_return;
        }
        Result<RateDecision> d = co_await rl.requests->check_limit_async(*user, "");
        if (!d.ok()) {
          SetError(res, d.status());
          co_return;
        }
        Json j = {{"user_id", *user}, {"tier", d->tier}, {"allowed", d->allowed},
                  {"windows", WindowsJson(*d)}};
        Json custom = Json::object();
        Json endpoints = Json::object();  // endpoint -> window -> limit
        if (auto o = rl.policy->override_of(*user)) {
          for (int w = 0; w < kRateWindowCount; ++w) {
            if (o->custom[w] >= 0) custom[std::string(RateWindowName(static_cast<RateWindow>(w)))] = o->custom[w];
          }
          for (const auto& [endpoint, limits] : o->endpoints) {
            Json e = Json::object();
            for (int w = 0; w < kRateWindowCount; ++w) {
              if (limits[w] >= 0) e[std::string(RateWindowName(static_cast<RateWindow>(w)))] = limits[w];
            }
            endpoints[endpoint] = e;
          }
        }
        j["custom_limits"] = custom;
        j["endpoint_limits"] = endpoints;
        if (rl.tokens) {
          if (auto t = rl.tokens->check(*user, d->tier); t.ok()) {
            j["tokens"] = {{"minute", {{"limit", t->minute_limit}, {"used", t->minute_used}}},
                           {"day", {{"limit", t->day_limit}, {"used", t->day_used}}}};
          }
        }
        SetJson(res, DumpJson(j));
      },
      "A user's limits and what is left in each window");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/ratelimit/stats/{user_id}",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        RateLimitParts& rl = *call.services.ratelimit;
        auto user = UserParam(req);
        if (!user.ok()) {
          SetError(res, user.status());
          co_return;
        }
        if (!rl.recorder() && !call.services.costs) {
          SetError(res, NotFound("rate-limit analytics are disabled (RATE_LIMIT_ENABLE_ANALYTICS)"));
          co_return;
        }
        Json j = {{"user_id", *user}};
        if (rl.shared_analytics) {  // every instance's counts
          Result<UserRateStats> st = co_await rl.shared_analytics->stats(*user);
          if (!st.ok()) {
            SetError(res, st.status());
            co_return;
          }
          j = StatsJson(*st);
        } else if (rl.analytics) {
          j = StatsJson(rl.analytics->stats(*user).value_or(UserRateStats{.user = *user}));
        }
        if (call.services.costs) {  // spend per UTC day and month, budgets, remaining
          std::string tier = rl.policy->resolve(*user, "").tier;
          SpendStatus spend;
          if (call.services.shared_spend) {  // the fleet's spend, read now
            spend = co_await call.services.shared_spend->read(*user, std::move(tier));
          } else {
            spend = call.services.costs->check(*user, tier);
          }
          j["spend"] = SpendJson(spend);
        }
        SetJson(res, DumpJson(j));
      },
      "A user's allowed and denied counts and spend");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/ratelimit/top-users",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        RateLimitParts& rl = *call.services.ratelimit;
        std::string window_name = "hour", limit_text = "10";
        req.query_param("window", &window_name);
        req.query_param("limit", &limit_text);
        auto window = ParseRateWindow(window_name);
        if (!window.ok()) {
          SetError(res, window.status());
          co_return;
        }
        int64_t limit = 0;
        bool digits = !limit_text.empty() && limit_text.size() <= 6 &&
                      limit_text.find_first_not_of("0123456789") == std::string::npos;
        if (digits) limit = std::stoll(limit_text);
        if (!digits || limit < 1 || limit > 1000) {
          SetError(res, InvalidArgument("query parameter 'limit' must be an integer in 1..1000"));
          co_return;
        }
        if (!rl.recorder()) {
          SetError(res, NotFound("rate-limit analytics are disabled (RATE_LIMIT_ENABLE_ANALYTICS)"));
          co_return;
        }
        std::vector<UserRateStats> top;
        if (rl.shared_analytics) {  // every instance's traffic
          Result<std::vector<UserRateStats>> t =
              co_await rl.shared_analytics->top_users(*window, static_cast<size_t>(limit));
          if (!t.ok()) {
            SetError(res, t.status());
            co_return;
          }
          top = std::move(*t);
        } else {
          top = rl.analytics->top_users(*window, static_cast<size_t>(limit));
        }
        Json data = Json::array();
        for (const UserRateStats& s : top) {
          Json e = StatsJson(s);
          e["window_requests"] = s.requests[static_cast<int>(*window)];
          data.push_back(std::move(e));
        }
        SetJson(res, DumpJson({{"object", "list"}, {"window", window_name}, {"data", data}}));
      },
      "Users with the most requests over a window");

  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/ratelimit/reset/{user_id}",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        RateLimitParts& rl = *call.services.ratelimit;
        auto user = UserParam(req);
        Status s = user.status();
        if (s.ok()) s = co_await rl.requests->reset_async(*user);  // one round trip with Redis
        if (s.ok() && rl.tokens) s = rl.tokens->reset(*user);
        if (auto o = s.ok() ? rl.policy->override_of(*user) : std::nullopt) {  // per-endpoint counts
          for (const auto& [endpoint, limits] : o->endpoints) {
            if (s.ok()) s = rl.requests->reset(EndpointLimitKey(*user, endpoint));
          }
        }
        if (!s.ok()) {
          SetError(res, s);
          co_return;
        }
        call.audit(req, "reset rate-limit counters of user '" + *user + "'");
        SetJson(res, DumpJson({{"user_id", *user}, {"reset", true}}));
      },
      "Forget a user's counts (limits and tier stay)");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/ratelimit/tiers",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        RateLimitParts& rl = *call.services.ratelimit;
        Json tiers = Json::object();
        for (const auto& [name, t] : rl.policy->tiers()) tiers[name] = TierJson(t);
        SetJson(res, DumpJson({{"default_tier", rl.policy->default_tier()}, {"tiers", tiers}}));
        co_return;
      },
      "The configured tiers");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/ratelimit/health",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        RateLimitParts& rl = *call.services.ratelimit;
        const MetricsRegistry& m = *call.services.metrics;
        Json j = {{"status", "ok"},
                  {"backend", rl.backend},
                  {"fail_open", call.services.config->rate_limit.fail_open &&
                                    (!call.services.config->redis.enabled ||
                                     call.services.config->redis.fail_open)},
                  {"analytics", rl.recorder() != nullptr},
                  {"shared_settings", rl.shared_overrides != nullptr},
                  {"token_budgets", rl.tokens != nullptr},
                  {"users", rl.requests->users()},
                  {"store_errors", m.value("agentgate_ratelimit_store_errors_total")},
                  {"fail_open_requests", m.value("agentgate_ratelimit_fail_open_total")}};
        SetJson(res, DumpJson(j));
        co_return;
      },
      "Rate limiter health");
}

}  // namespace agentgate
