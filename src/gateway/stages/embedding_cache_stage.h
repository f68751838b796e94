// EmbeddingCacheStage: POST /v1/embeddings served input by input from the
// EmbeddingCache. Runs after the exact cache stage, before upstream; passes
// other endpoints through untouched.
//
// For a request whose `input` is a string or an array of strings: every
// input found in the cache is answered from it, and only the others go
// upstream (the body's `input` is rewritten to them, in order); the answers
// are stored and merged back in the original order. All found: answered
// here with usage 0. The response tells how many inputs were cached:
// `X-Cache-Embeddings: <cached>/<inputs>`. Token-array inputs pass through
// uncached. Cache-Control no-cache skips the lookups, no-store bypasses the
// stage. Usage in a partly cached answer counts only what went upstream.
//
// Thread-safety: shared by all workers; the cache is internally synchronized.
#pragma once

#include "agentgate/cache/embedding_cache.h"
#include "gateway/stage.h"

namespace agentgate {

class EmbeddingCacheStage final : public Stage {
 public:
  // REQUIRES: `cache` outlives the stage.
  explicit EmbeddingCacheStage(EmbeddingCache& cache) : cache_(cache) {}

  std::string_view name() const override { return "embedding_cache"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override;

 private:
  EmbeddingCache& cache_;
};

}  // namespace agentgate
