#include "server/proxy_routes.h"

#include "agentgate/core/json.h"
#include "gateway/model_router.h"
#include "gateway/usage_tracker.h"
#include "server/admin/admin_route.h"
#include "server/error_response.h"
#include "upstream/upstream_client.h"

#include <algorithm>
#include <set>

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

// ListModels: the models named in the configuration, plus what each
// upstream that serves any model ("*") lists itself.
boost::asio::awaitable<void> ListModels(GatewayServices& services, HttpResponse& res) {
  Json data = Json::array();
  std::set<std::string> seen;
  for (const std::string& m : services.model_router->models()) {
    seen.insert(m);
    data.push_back({{"id", m}, {"object", "model"}, {"created", 0}, {"owned_by", "agentgate"}});
  }
  const auto& upstreams = services.config->upstreams;
  for (size_t i = 0; i < upstreams.size(); ++i) {
    if (std::find(upstreams[i].models.begin(), upstreams[i].models.end(), kAnyModel) ==
        upstreams[i].models.end()) {
      continue;
    }
    UpstreamRequest request;
    request.method = HttpMethod::kGet;
    request.path = "/v1/models";
    Result<UpstreamResponse> r = co_await (*services.upstream_clients)[i]->send(request);
    if (!r.ok() || r->status != 200) continue;  // a listing is best effort
    Json listed = Json::parse(r->body, nullptr, false);
    if (!listed.is_object() || !listed["data"].is_array()) continue;
    for (auto& m : listed["data"]) {
      if (m.is_object() && m["id"].is_string() && seen.insert(m["id"].get<std::string>()).second) {
        data.push_back(m);
      }
    }
  }
  res.body = DumpJson({{"object", "list"}, {"data", data}});
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
        co_await ListModels(services, res);
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
