#include "gateway/stages/embedding_cache_stage.h"

#include "cache/cache_control.h"
#include "server/error_response.h"

namespace agentgate {

namespace {

// EmbeddingInputs: the input strings, or false for inputs the cache does not
// take (token arrays, empty arrays).
bool EmbeddingInputs(const Json& input, std::vector<std::string>* texts) {
  if (input.is_string()) {
    texts->push_back(input.get<std::string>());
    return true;
  }
  if (!input.is_array() || input.empty()) return false;
  for (const Json& x : input) {
    if (!x.is_string()) return false;
    texts->push_back(x.get<std::string>());
  }
  return true;
}

Json EmbeddingItem(size_t index, const Json& embedding) {
  return {{"object", "embedding"}, {"index", index}, {"embedding", embedding}};
}

}  // namespace

boost::asio::awaitable<void> EmbeddingCacheStage::handle(RequestContext& ctx, Next next) {
  const CacheDirectives cc = ReadCacheControl(ctx.request.header("cache-control"));
  std::vector<std::string> texts;
  Result<Json> body = ParseJsonObject(ctx.request.body);
  if (ctx.endpoint != ProxyEndpoint::kEmbeddings || cc.no_store || !body.ok() ||
      !EmbeddingInputs((*body)["input"], &texts)) {
    co_await next(ctx);
    co_return;
  }
  Json params = *body;
  params.erase("input");
  params.erase("user");
  if (!params.contains("encoding_format")) params["encoding_format"] = "float";
  const std::string canonical_params = DumpJson(params);

  const size_t n = texts.size();
  std::vector<std::string> keys(n);
  std::vector<EmbeddingCache::EmbeddingPtr> found(n);
  std::vector<size_t> missing;
  for (size_t i = 0; i < n; ++i) {
    keys[i] = EmbeddingCacheKey(ctx.principal.tenant, canonical_params, texts[i]);
    if (!cc.no_cache) found[i] = co_await cache_.async_lookup(keys[i]);
    if (!found[i]) missing.push_back(i);
  }
  ctx.response.set_header("X-Cache-Embeddings",
                          std::to_string(n - missing.size()) + "/" + std::to_string(n));

  if (missing.empty()) {
    Json data = Json::array();
    for (size_t i = 0; i < n; ++i) data.push_back(EmbeddingItem(i, *found[i]));
    ctx.response.status = 200;
    ctx.response.content_type = "application/json";
    ctx.response.body = DumpJson({{"object", "list"},
                                  {"data", std::move(data)},
                                  {"model", ctx.info.model},
                                  {"usage", {{"prompt_tokens", 0}, {"total_tokens", 0}}}});
    co_return;
  }

  const bool partial = missing.size() < n;
  if (partial) {
    Json subset = Json::array();
    for (size_t i : missing) subset.push_back(texts[i]);
    (*body)["input"] = std::move(subset);
    ctx.request.body = DumpJson(*body);
    Result<ProxyRequestInfo> info = ParseProxyRequest(ctx.endpoint, ctx.request.body);
    if (info.ok()) ctx.info = std::move(*info);
  }

  co_await next(ctx);
  if (ctx.response.status / 100 != 2 || ctx.streamed) co_return;

  // Map the upstream's answers back to the original inputs.
  Result<Json> answer = ParseJsonObject(ctx.response.body);
  bool valid = answer.ok() && (*answer)["data"].is_array() &&
               (*answer)["data"].size() == missing.size();
  if (valid) {
    for (const Json& item : (*answer)["data"]) {
      if (!item.is_object() || !item.contains("embedding") || !item["index"].is_number_unsigned() ||
          item["index"].get<size_t>() >= missing.size()) {
        valid = false;
        break;
      }
    }
  }
  if (!valid) {
    if (partial) {  // cannot merge: never hand out a half answer
      ctx.response.headers.clear();
      SetError(ctx.response, BadGateway("the upstream's embeddings answer could not be merged"));
    }
    co_return;
  }
  for (const Json& item : (*answer)["data"]) {
    const size_t original = missing[item["index"].get<size_t>()];
    auto value = std::make_shared<const Json>(item["embedding"]);
    co_await cache_.async_store(keys[original], value);
    found[original] = std::move(value);
  }
  if (!partial) co_return;
  Json data = Json::array();
  for (size_t i = 0; i < n; ++i) {
    if (!found[i]) {  // a duplicate index left a hole
      ctx.response.headers.clear();
      SetError(ctx.response, BadGateway("the upstream's embeddings answer could not be merged"));
      co_return;
    }
    data.push_back(EmbeddingItem(i, *found[i]));
  }
  (*answer)["data"] = std::move(data);
  ctx.response.body = DumpJson(*answer);
}

}  // namespace agentgate
