#include "server/proxy_routes.h"

#include "agentgate/core/json.h"
#include "gateway/model_router.h"
#include "gateway/usage_tracker.h"
#include "server/admin/admin_route.h"
#include "server/error_response.h"

namespace agentgate {

namespace {

Handler ProxyHandler(ProxyEndpoint endpoint, std::shared_ptr<const Pipeline> pipeline) {
  return [endpoint, pipeline](HttpRequest& req, HttpResponse& res) -> boost::asio::awaitable<void> {
    RequestContext ctx(req, res, endpoint);
    Result<ProxyRequestInfo> info = ParseProxyRequest(endpoint, req.body);
    if (!info.ok()) {
      SetError(res, info.status());
      co_return;
    }
    ctx.info = std::move(*info);
    co_await pipeline->run(ctx);
  };
}

}  // namespace

void RegisterProxyRoutes(Router& router, GatewayServices& services,
                         std::shared_ptr<const Pipeline> pipeline) {
  router.add(HttpMethod::kPost, "/v1/chat/completions",
             ProxyHandler(ProxyEndpoint::kChatCompletions, pipeline),
             "OpenAI chat completions (stream: true for Server-Sent Events)");
  router.add(HttpMethod::kPost, "/v1/completions",
             ProxyHandler(ProxyEndpoint::kCompletions, pipeline), "OpenAI legacy completions");
  router.add(HttpMethod::kPost, "/v1/embeddings",
             ProxyHandler(ProxyEndpoint::kEmbeddings, pipeline), "OpenAI embeddings");
  router.add(
      HttpMethod::kGet, "/v1/models",
      [&services](HttpRequest&, HttpResponse& res) -> boost::asio::awaitable<void> {
        Json data = Json::array();
        for (const std::string& m : services.model_router->models()) {
          data.push_back({{"id", m}, {"object", "model"}, {"created", 0}, {"owned_by", "agentgate"}});
        }
        res.body = DumpJson({{"object", "list"}, {"data", data}});
        co_return;
      },
      "Models served by the configured upstreams");
}

void RegisterUsageRoutes(Router& router, GatewayServices& services) {
  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/usage/{user_id}",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        std::string_view user = req.path_param("user_id");
        Json models = Json::object();
        UsageTotals sum;
        for (const auto& [model, t] : call.services.usage->for_user(user)) {
          models[model] = {{"requests", t.requests},
                           {"prompt_tokens", t.prompt_tokens},
                           {"completion_tokens", t.completion_tokens},
                           {"total_tokens", t.total_tokens}};
          sum.requests += t.requests;
          sum.prompt_tokens += t.prompt_tokens;
          sum.completion_tokens += t.completion_tokens;
          sum.total_tokens += t.total_tokens;
        }
        SetJson(res, DumpJson({{"user_id", user},
                               {"requests", sum.requests},
                               {"prompt_tokens", sum.prompt_tokens},
                               {"completion_tokens", sum.completion_tokens},
                               {"total_tokens", sum.total_tokens},
                               {"models", models}}));
        co_return;
      },
      "Token usage of one user, by model");
}

}  // namespace agentgate
