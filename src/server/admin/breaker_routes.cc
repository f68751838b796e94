// Admin routes for circuit breakers:
//   GET  /api/v1/circuit-breakers                    every breaker's metrics
//   GET  /api/v1/circuit-breakers/{name}             one breaker
//   PUT  /api/v1/circuit-breakers/{name}             change thresholds (JSON)
//   POST /api/v1/circuit-breakers/{name}/reset       back to CLOSED
//   POST /api/v1/circuit-breakers/{name}/force-open  reject until reset
//   POST /api/v1/circuit-breakers/{name}/force-closed  admit until reset
// Every change is audited.
#include <cmath>

#include "agentgate/core/json.h"
#include "agentgate/resilience/breaker_registry.h"
#include "server/admin/admin_route.h"
#include "server/error_response.h"

namespace agentgate {

namespace {

double Seconds(Nanos d) { return std::chrono::duration<double>(d).count(); }

std::string_view ModeName(CircuitBreakerOptions::Mode m) {
  return m == CircuitBreakerOptions::Mode::kFailureRate ? "failure_rate" : "consecutive";
}

Json BreakerJson(const CircuitBreaker& b) {
  BreakerMetrics m = b.get_metrics();
  const CircuitBreakerOptions& o = m.options;
  return {{"name", m.name},
          {"state", BreakerStateName(m.state)},
          {"total_calls", m.total_calls},
          {"successful_calls", m.successful_calls},
          {"failed_calls", m.failed_calls},
          {"rejected_calls", m.rejected_calls},
          {"state_changes", m.state_changes},
          {"consecutive_failures", m.consecutive_failures},
          {"failure_rate", m.failure_rate},
          {"window_calls", m.window_calls},
          {"retry_after_s", Seconds(m.retry_after)},
          {"config",
           {{"mode", ModeName(o.mode)},
            {"failure_threshold", o.failure_threshold},
            {"success_threshold", o.success_threshold},
            {"timeout_s", Seconds(o.timeout)},
            {"half_open_max_probes", o.half_open_max_probes},
            {"failure_rate_threshold", o.failure_rate_threshold},
            {"window_size", o.window_size},
            {"minimum_calls", o.minimum_calls}}}};
}

// FindBreaker: the breaker named in the path, or a 404 in `res`.
CircuitBreaker* FindBreaker(const HttpRequest& req, HttpResponse& res, const AdminCall& call) {
  std::string name(req.path_param("name"));
  CircuitBreaker* b =
      call.services.breakers != nullptr ? call.services.breakers->find(name) : nullptr;
  if (b == nullptr) SetError(res, NotFound("no circuit breaker named '" + name + "'"));
  return b;
}

// ParseOptions: `current` with the fields of the JSON body applied.
Result<CircuitBreakerOptions> ParseOptions(const std::string& body, CircuitBreakerOptions o) {
  auto j = ParseJsonObject(body);
  if (!j.ok()) return j.status();
  for (auto it = j->begin(); it != j->end(); ++it) {
    const std::string& k = it.key();
    if (k != "mode" && k != "failure_threshold" && k != "success_threshold" && k != "timeout_s" &&
        k != "half_open_max_probes" && k != "failure_rate_threshold" && k != "window_size" &&
        k != "minimum_calls") {
      return InvalidArgument("unknown field '" + k + "'");
    }
  }
  auto mode = GetString(*j, "mode", false, std::string(ModeName(o.mode)));
  if (!mode.ok()) return mode.status();
  if (*mode == "consecutive") {
    o.mode = CircuitBreakerOptions::Mode::kConsecutive;
  } else if (*mode == "failure_rate") {
    o.mode = CircuitBreakerOptions::Mode::kFailureRate;
  } else {
    return InvalidArgument("field 'mode' must be 'consecutive' or 'failure_rate'");
  }
  struct IntField {
    const char* key;
    int* out;
  };
  for (IntField f : {IntField{"failure_threshold", &o.failure_threshold},
                     IntField{"success_threshold", &o.success_threshold},
                     IntField{"half_open_max_probes", &o.half_open_max_probes},
                     IntField{"window_size", &o.window_size},
                     IntField{"minimum_calls", &o.minimum_calls}}) {
    auto v = GetInt(*j, f.key, false, *f.out);
    if (!v.ok()) return v.status();
    if (*v < 1 || *v > 1000000) {
      return InvalidArgument(std::string("field '") + f.key + "' must be in 1..1000000");
    }
    *f.out = static_cast<int>(*v);
  }
  auto rate = GetDouble(*j, "failure_rate_threshold", false, o.failure_rate_threshold);
  if (!rate.ok()) return rate.status();
  o.failure_rate_threshold = *rate;
  auto timeout = GetDouble(*j, "timeout_s", false, Seconds(o.timeout));
  if (!timeout.ok()) return timeout.status();
  if (!(*timeout > 0 && *timeout <= 86400 * 365)) {
    return InvalidArgument("field 'timeout_s' must be a number of seconds > 0");
  }
  o.timeout = Nanos(static_cast<int64_t>(std::llround(*timeout * 1e9)));
  if (std::string why = ValidateBreakerOptions(o); !why.empty()) {
    return InvalidArgument("field " + why);
  }
  return o;
}

// AddAction: POST /api/v1/circuit-breakers/{name}/<action>.
void AddAction(Router& router, GatewayServices& services, const std::string& action,
               void (CircuitBreaker::*apply)(), std::string summary) {
  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/circuit-breakers/{name}/" + action,
      [action, apply](HttpRequest& req, HttpResponse& res,
                      const AdminCall& call) -> boost::asio::awaitable<void> {
        CircuitBreaker* b = FindBreaker(req, res, call);
        if (b == nullptr) co_return;
        (b->*apply)();
        call.audit(req, "circuit breaker '" + b->name() + "': " + action);
        SetJson(res, DumpJson(BreakerJson(*b)));
      },
      std::move(summary));
}

}  // namespace

void RegisterBreakerRoutes(Router& router, GatewayServices& services) {
  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/circuit-breakers",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        Json data = Json::array();
        if (call.services.breakers != nullptr) {
          for (const CircuitBreaker* b : call.services.breakers->all()) data.push_back(BreakerJson(*b));
        }
        SetJson(res, DumpJson({{"object", "list"},
                               {"enabled", call.services.breakers != nullptr},
                               {"data", data}}));
        co_return;
      },
      "Every upstream circuit breaker: state, calls, failure rate");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/circuit-breakers/{name}",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        CircuitBreaker* b = FindBreaker(req, res, call);
        if (b != nullptr) SetJson(res, DumpJson(BreakerJson(*b)));
        co_return;
      },
      "One circuit breaker");

  AddAdminRoute(
      router, services, HttpMethod::kPut, "/api/v1/circuit-breakers/{name}",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        CircuitBreaker* b = FindBreaker(req, res, call);
        if (b == nullptr) co_return;
        auto o = ParseOptions(req.body, b->options());
        if (!o.ok()) {
          SetError(res, o.status());
          co_return;
        }
        b->set_options(*o);
        call.audit(req, "circuit breaker '" + b->name() + "': thresholds set to " + req.body);
        SetJson(res, DumpJson(BreakerJson(*b)));
      },
      "Change a circuit breaker's thresholds at runtime");

  AddAction(router, services, "reset", &CircuitBreaker::reset,
            "Reset a circuit breaker to CLOSED");
  AddAction(router, services, "force-open", &CircuitBreaker::force_open,
            "Force a circuit breaker open until reset");
  AddAction(router, services, "force-closed", &CircuitBreaker::force_closed,
            "Force a circuit breaker closed until reset");
}

}  // namespace agentgate
