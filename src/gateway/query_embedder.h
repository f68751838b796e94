// QueryEmbedder: turns a semantic-cache query into a unit vector. Two kinds:
//
//   local     the built-in LocalEmbedder (hashed n-grams, no model, no I/O);
//             the default when no embedding model is configured.
//   upstream  POST /v1/embeddings {"model": <model>, "input": <query>} run
//             through a pipeline of the embedding cache stage and the
//             upstream stage: a repeated query costs no upstream call, and
//             the call gets the upstream stage's routing, breakers, retries.
//
//   std::unique_ptr<QueryEmbedder> e = NewUpstreamQueryEmbedder("text-embedding-3-small", pipeline);
//   Result<std::vector<float>> v = co_await e->embed("What is 2+2?", principal);
//
// Vectors of different embedders never meet: id() goes into the semantic
// cache's partition. A failed embedding is an error value; the semantic
// stage then lets the request pass without the semantic cache.
//
// Thread-safety: immutable after construction; embed() from any coroutine.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

#include "agentgate/core/status.h"
#include "gateway/pipeline.h"
#include "server/auth/key_store.h"

namespace agentgate {

class QueryEmbedder {
 public:
  virtual ~QueryEmbedder() = default;
  // embed: the unit vector of `text`, computed for `principal` (whose tenant
  // partitions the embedding cache).
  virtual boost::asio::awaitable<Result<std::vector<float>>> embed(const std::string& text,
                                                                   const Principal& principal) = 0;
  // id: "local" or "upstream:<model>".
  virtual const std::string& id() const = 0;
};

// NewLocalQueryEmbedder: the LocalEmbedder, 384 dimensions.
std::unique_ptr<QueryEmbedder> NewLocalQueryEmbedder();

// NewUpstreamQueryEmbedder: embeddings of `model` through `pipeline`
// (REQUIRES: it ends with an upstream stage and takes /v1/embeddings).
std::unique_ptr<QueryEmbedder> NewUpstreamQueryEmbedder(std::string model,
                                                        std::shared_ptr<const Pipeline> pipeline);

// ParseEmbeddingResponse: the first embedding of an OpenAI /v1/embeddings
// answer, L2-normalized; kInvalidArgument when the body has none or it is
// not an array of numbers.
Result<std::vector<float>> ParseEmbeddingResponse(std::string_view body);

}  // namespace agentgate
