#include "gateway/query_embedder.h"

#include <cmath>

#include "agentgate/cache/local_embedder.h"
#include "agentgate/core/json.h"
#include "gateway/proxy_request.h"
#include "gateway/request_context.h"

namespace agentgate {

namespace {

class LocalQueryEmbedder final : public QueryEmbedder {
 public:
  boost::asio::awaitable<Result<std::vector<float>>> embed(const std::string& text,
                                                           const Principal&) override {
    co_return embedder_.embed(text);
  }
  const std::string& id() const override { return id_; }

 private:
  const LocalEmbedder embedder_;
  const std::string id_ = "local";
};

class UpstreamQueryEmbedder final : public QueryEmbedder {
 public:
  UpstreamQueryEmbedder(std::string model, std::shared_ptr<const Pipeline> pipeline)
      : model_(std::move(model)), pipeline_(std::move(pipeline)), id_("upstream:" + model_) {}

  boost::asio::awaitable<Result<std::vector<float>>> embed(const std::string& text,
                                                           const Principal& principal) override {
    HttpRequest req;
    req.method = HttpMethod::kPost;
    req.method_name = "POST";
    req.path = "/v1/embeddings";
    req.target = "/v1/embeddings";
    req.remote_is_loopback = true;
    req.body = DumpJson(Json{{"model", model_}, {"input", text}});
    HttpResponse res;
    RequestContext ctx(req, res, ProxyEndpoint::kEmbeddings);
    Result<ProxyRequestInfo> info = ParseProxyRequest(ProxyEndpoint::kEmbeddings, req.body);
    if (!info.ok()) co_return info.status();
    ctx.info = std::move(*info);
    ctx.principal = principal;
    co_await pipeline_->run(ctx);
    if (res.status / 100 != 2) {
      co_return Unavailable("embedding model '" + model_ + "' answered " + std::to_string(res.status));
    }
    co_return ParseEmbeddingResponse(res.body);
  }
  const std::string& id() const override { return id_; }

 private:
  const std::string model_;
  const std::shared_ptr<const Pipeline> pipeline_;
  const std::string id_;
};

}  // namespace

std::unique_ptr<QueryEmbedder> NewLocalQueryEmbedder() {
  return std::make_unique<LocalQueryEmbedder>();
}

std::unique_ptr<QueryEmbedder> NewUpstreamQueryEmbedder(std::string model,
                                                        std::shared_ptr<const Pipeline> pipeline) {
  return std::make_unique<UpstreamQueryEmbedder>(std::move(model), std::move(pipeline));
}

Result<std::vector<float>> ParseEmbeddingResponse(std::string_view body) {
  Json j = Json::parse(body, nullptr, false);
  if (!j.is_object() || !j["data"].is_array() || j["data"].empty() || !j["data"][0].is_object()) {
    return InvalidArgument("the embeddings answer has no data[0]");
  }
  const Json& e = j["data"][0]["embedding"];
  if (!e.is_array() || e.empty()) return InvalidArgument("data[0].embedding is not an array of numbers");
  std::vector<float> v;
  v.reserve(e.size());
  double norm = 0;
  for (const Json& x : e) {
    if (!x.is_number()) return InvalidArgument("data[0].embedding is not an array of numbers");
    v.push_back(x.get<float>());
    norm += static_cast<double>(v.back()) * v.back();
  }
  if (norm > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : v) x *= inv;
  }
  return v;
}

}  // namespace agentgate
