// SemanticCacheStage: answers a non-streamed chat completion from a past
// answer to a similar question (SemanticCache), after the exact cache missed.
//
// The query is the last message's text when it is the user's; the partition
// (SemanticNamespace) is the tenant, the `X-Agent-Type` header, the model and
// the canonical request with that text blanked (every parameter and the
// earlier conversation) and the embedder's id. Embeddings come from the
// QueryEmbedder: the built-in LocalEmbedder by default, or an upstream
// embedding model (cache.semantic_embedding_model) through the embedding
// cache; when it fails, the request passes without the semantic cache.
// A hit answers with the stored body and `X-Cache: HIT`, `X-Cache-Kind:
// semantic`, `X-Cache-Similarity: <cosine>`; a 2xx answer to a miss is
// stored on the way back. Bypassed: streaming requests, other endpoints,
// `temperature` above max_temperature, Cache-Control no-store (no-cache
// skips the lookup but stores).
//
// Thread-safety: shared by all workers; the cache is internally synchronized.
#pragma once

#include <memory>

#include "agentgate/cache/semantic_cache.h"
#include "gateway/query_embedder.h"
#include "gateway/stage.h"

namespace agentgate {

class SemanticCacheStage final : public Stage {
 public:
  // REQUIRES: `cache` outlives the stage. `embedder` null: the local one.
  SemanticCacheStage(SemanticCache& cache, double max_temperature,
                     std::shared_ptr<QueryEmbedder> embedder = nullptr)
      : cache_(cache), max_temperature_(max_temperature),
        embedder_(embedder ? std::move(embedder) : std::shared_ptr<QueryEmbedder>(NewLocalQueryEmbedder())) {}

  std::string_view name() const override { return "semantic_cache"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override;

 private:
  SemanticCache& cache_;
  const double max_temperature_;
  const std::shared_ptr<QueryEmbedder> embedder_;
};

}  // namespace agentgate
