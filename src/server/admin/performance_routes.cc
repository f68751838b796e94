// Admin route for the profiler: GET /api/v1/performance/metrics.
#include "agentgate/core/json.h"
#include "agentgate/perf/profiler.h"
#include "server/admin/admin_route.h"

namespace agentgate {

namespace {
double Ms(Nanos d) { return std::chrono::duration<double, std::milli>(d).count(); }
}  // namespace

void RegisterPerformanceRoutes(Router& router, GatewayServices& services) {
  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/performance/metrics",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        Profiler& profiler = *call.services.profiler;
        Json functions = Json::object();
        for (const auto& [name, m] : profiler.get_performance_metrics()) {
          functions[name] = {
              {"calls", m.calls},
              {"errors", m.errors},
              {"total_time_ms", Ms(m.total_time)},
              {"min_ms", Ms(m.min_time)},
              {"max_ms", Ms(m.max_time)},
              {"avg_ms", Ms(m.average_time)},
              {"p50_ms", Ms(m.p50)},
              {"p95_ms", Ms(m.p95)},
              {"p99_ms", Ms(m.p99)},
              {"last_call_ms", std::chrono::duration_cast<std::chrono::milliseconds>(m.last_call).count()},
              {"cache_hits", m.cache_hits},
              {"cache_misses", m.cache_misses},
              {"cache_hit_rate", m.cache_hit_rate},
          };
        }
        SetJson(res, DumpJson({{"enabled", profiler.enabled()}, {"functions", functions}}));
        co_return;
      },
      "Profiled functions: calls, errors, min/avg/max and p50/p95/p99 latency");
}

}  // namespace agentgate
