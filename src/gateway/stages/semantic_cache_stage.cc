#include "gateway/stages/semantic_cache_stage.h"

#include <cstdio>

#include "agentgate/cache/cache_key.h"
#include "agentgate/core/json.h"
#include "cache/cache_control.h"

namespace agentgate {

namespace {

// ReplaceHeader: sets `name` to `value`, replacing an earlier value.
void ReplaceHeader(HttpResponse& res, std::string_view name, std::string value) {
  for (auto& [k, v] : res.headers) {
    if (EqualsIgnoreCase(k, name)) {
      v = std::move(value);
      return;
    }
  }
  res.set_header(std::string(name), std::move(value));
}

// SemanticRequest: the query and its partition, or false when the request
// is not one the semantic cache takes.
bool SemanticRequest(const RequestContext& ctx, double max_temperature, std::string* query,
                     SemanticNamespace* ns) {
  Result<Json> body = ParseJsonObject(ctx.request.body);
  if (!body.ok()) return false;
  Json& j = *body;
  if (j.contains("temperature") && (!j["temperature"].is_number() ||
                                    j["temperature"].get<double>() > max_temperature)) {
    return false;
  }
  Json& messages = j["messages"];
  if (!messages.is_array() || messages.empty()) return false;
  Json& last = messages.back();
  if (!last.is_object() || last.value("role", "") != "user" || !last["content"].is_string()) {
    return false;
  }
  *query = last["content"].get<std::string>();
  last["content"] = "";
  Result<std::string> params = CanonicalRequest("", "", DumpJson(j));
  if (!params.ok()) return false;
  ns->tenant = ctx.principal.tenant;
  ns->agent_type = std::string(ctx.request.header("x-agent-type"));
  ns->model = ctx.info.model;
  ns->params = std::move(*params);
  return true;
}

}  // namespace

boost::asio::awaitable<void> SemanticCacheStage::handle(RequestContext& ctx, Next next) {
  const CacheDirectives cc = ReadCacheControl(ctx.request.header("cache-control"));
  std::string query;
  SemanticNamespace ns;
  if (ctx.endpoint != ProxyEndpoint::kChatCompletions || ctx.info.stream || cc.no_store ||
      !SemanticRequest(ctx, max_temperature_, &query, &ns)) {
    co_await next(ctx);
    co_return;
  }
  ns.params = embedder_->id() + "\n" + ns.params;  // vectors of one embedder only
  Result<std::vector<float>> embedded = co_await embedder_->embed(query, ctx.principal);
  if (!embedded.ok()) {
    co_await next(ctx);
    co_return;
  }
  std::vector<float> embedding = std::move(*embedded);
  if (!cc.no_cache) {
    std::optional<SemanticHit> hit = cache_.get(query, ns, embedding);
    if (hit) {
      char similarity[16];
      std::snprintf(similarity, sizeof similarity, "%.4f", hit->similarity);
      ctx.response.status = 200;
      ctx.response.content_type = "application/json";
      ctx.response.body = std::move(hit->response);
      ReplaceHeader(ctx.response, "X-Cache", "HIT");
      ReplaceHeader(ctx.response, "X-Cache-Kind", "semantic");
      ctx.response.set_header("X-Cache-Similarity", similarity);
      co_return;
    }
  }
  co_await next(ctx);
  if (ctx.response.status / 100 == 2 && !ctx.streamed) {
    (void)cache_.set(query, ns, ctx.response.body, std::move(embedding));
  }
}

}  // namespace agentgate
