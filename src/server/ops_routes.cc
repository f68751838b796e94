#include "server/ops_routes.h"

#include "agentgate/core/json.h"

namespace agentgate {

void RegisterOpsRoutes(Router& router, GatewayServices& services) {
  router.add(
      HttpMethod::kGet, "/healthz",
      [](HttpRequest&, HttpResponse& res) -> boost::asio::awaitable<void> {
        static const std::string kBody =
            std::string(R"({"status":"ok","version":")") + AGENTGATE_VERSION + "\"}";
        res.body = kBody;
        co_return;
      },
      "Liveness: 200 while the process serves");

  router.add(
      HttpMethod::kGet, "/readyz",
      [&services](HttpRequest&, HttpResponse& res) -> boost::asio::awaitable<void> {
        Readiness::Report r = services.readiness->report();
        Json checks = Json::object();
        for (const auto& [name, result] : r.checks) {
          checks[name] = result.ok ? Json{{"ok", true}}
                                   : Json{{"ok", false}, {"reason", result.reason}};
        }
        const char* state = r.state == Readiness::Report::State::kReady      ? "ready"
                            : r.state == Readiness::Report::State::kDegraded ? "degraded"
                                                                             : "not_ready";
        res.status = r.state == Readiness::Report::State::kNotReady ? 503 : 200;
        res.body = DumpJson({{"status", state}, {"checks", checks}});
        co_return;
      },
      "Readiness: 200 ready or degraded (with reasons), 503 not ready");

  router.add(
      HttpMethod::kGet, "/metrics",
      [&services](HttpRequest&, HttpResponse& res) -> boost::asio::awaitable<void> {
        res.content_type = "text/plain; version=0.0.4; charset=utf-8";
        res.body = services.metrics->render_prometheus();
        co_return;
      },
      "Prometheus metrics, text format 0.0.4");
}

}  // namespace agentgate
