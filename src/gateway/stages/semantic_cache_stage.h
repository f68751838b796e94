// SemanticCacheStage: answers a non-streamed chat completion from a past
// answer to a similar question (SemanticCache), after the exact cache missed.
//
// The query is the last message's text when it is the user's; the partition
// (SemanticNamespace) is the tenant, the `X-Agent-Type` header, the model and
// the canonical request with that text blanked (every parameter and the
// earlier conversation). Embeddings come from the built-in LocalEmbedder.
// A hit answers with the stored body and `X-Cache: HIT`, `X-Cache-Kind:
// semantic`, `X-Cache-Similarity: <cosine>`; a 2xx answer to a miss is
// stored on the way back. Bypassed: streaming requests, other endpoints,
// `temperature` above max_temperature, Cache-Control no-store (no-cache
// skips the lookup but stores).
//
// Thread-safety: shared by all workers; the cache is internally synchronized.
#pragma once

#include "agentgate/cache/local_embedder.h"
#include "agentgate/cache/semantic_cache.h"
#include "gateway/stage.h"

namespace agentgate {

class SemanticCacheStage final : public Stage {
 public:
  // REQUIRES: `cache` outlives the stage.
  SemanticCacheStage(SemanticCache& cache, double max_temperature)
      : cache_(cache), max_temperature_(max_temperature) {}

  std::string_view name() const override { return "semantic_cache"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override;

 private:
  SemanticCache& cache_;
  const double max_temperature_;
  const LocalEmbedder embedder_;
};

}  // namespace agentgate
