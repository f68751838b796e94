// Admin routes of the response cache: GET /api/v1/cache/stats,
// DELETE /api/v1/cache/clear (audited), GET /api/v1/cache/health.
#include "agentgate/cache/embedding_cache.h"
#include "agentgate/cache/response_cache.h"
#include "agentgate/cache/semantic_cache.h"
#include "agentgate/core/json.h"
#include "server/admin/admin_route.h"
#include "server/error_response.h"

namespace agentgate {

namespace {

Json ExactStats(ResponseCache& cache) {
  ResponseCacheStats s = cache.stats();
  return {{"store", cache.store_kind()},
          {"entries", s.store.entries},
          {"max_size", s.store.max_size},
          {"memory_bytes", s.store.bytes},
          {"hits", s.hits},
          {"misses", s.misses},
          {"hit_rate", s.hit_rate},
          {"stores", s.stores},
          {"rejected", s.rejected},
          {"evictions", s.store.evictions},
          {"expirations", s.store.expirations},
          {"default_ttl_s", std::chrono::duration<double>(cache.options().default_ttl).count()}};
}

Json EmbeddingStats(EmbeddingCache& cache) {
  EmbeddingCacheStats s = cache.stats();
  return {{"store", cache.store_kind()}, {"entries", s.entries},   {"max_size", s.max_size},
          {"hits", s.hits},         {"misses", s.misses},     {"hit_rate", s.hit_rate},
          {"evictions", s.evictions}};
}

Json SemanticStats(SemanticCache& cache) {
  SemanticCacheStats s = cache.stats();
  const uint64_t lookups = s.hits + s.misses;
  return {{"store", "memory"},
          {"entries", s.entries},
          {"namespaces", s.partitions},
          {"hits", s.hits},
          {"misses", s.misses},
          {"hit_rate", lookups == 0 ? 0.0 : static_cast<double>(s.hits) / static_cast<double>(lookups)},
          {"guard_rejections", s.guard_rejections},
          {"average_similarity", s.average_similarity},
          {"similarity_threshold", cache.options().similarity_threshold}};
}

}  // namespace

void RegisterCacheRoutes(Router& router, GatewayServices& services) {
  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/cache/stats",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        ResponseCache* cache = call.services.response_cache;
        Json j = {{"enabled", cache != nullptr}};
        if (cache != nullptr) j["exact"] = ExactStats(*cache);
        if (EmbeddingCache* e = call.services.embedding_cache) j["embedding"] = EmbeddingStats(*e);
        if (SemanticCache* s = call.services.semantic_cache) j["semantic"] = SemanticStats(*s);
        SetJson(res, DumpJson(j));
        co_return;
      },
      "Cache statistics per cache type: entries, hits, misses, hit rate");

  AddAdminRoute(
      router, services, HttpMethod::kDelete, "/api/v1/cache/clear",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        std::string type = "all";
        (void)req.query_param("type", &type);
        if (type != "all" && type != "exact" && type != "embedding" && type != "semantic") {
          SetError(res, InvalidArgument("type: expected one of all, exact, semantic, embedding, got \"" +
                                        type + "\""));
          co_return;
        }
        ResponseCache* cache = call.services.response_cache;
        EmbeddingCache* embeddings = call.services.embedding_cache;
        size_t cleared = 0, cleared_embeddings = 0;
        SemanticCache* semantic = call.services.semantic_cache;
        size_t cleared_semantic = 0;
        if (semantic != nullptr && (type == "all" || type == "semantic")) {
          cleared_semantic = semantic->stats().entries;
          semantic->clear();
        }
        if (cache != nullptr && (type == "all" || type == "exact")) {
          cleared = cache->stats().store.entries;
          cache->clear();
        }
        if (embeddings != nullptr && (type == "all" || type == "embedding")) {
          cleared_embeddings = embeddings->stats().entries;
          embeddings->clear();
        }
        call.audit(req, "cleared the " + type + " cache (" + std::to_string(cleared) + " exact, " +
                            std::to_string(cleared_semantic) + " semantic, " +
                            std::to_string(cleared_embeddings) + " embedding entries)");
        SetJson(res, DumpJson({{"cleared", {{"exact", cleared}, {"semantic", cleared_semantic}, {"embedding", cleared_embeddings}}},
                               {"type", type}}));
      },
      "Clear the cache (?type=all|exact|semantic|embedding; default all)");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/cache/health",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        ResponseCache* cache = call.services.response_cache;
        if (cache == nullptr) {
          SetJson(res, DumpJson({{"status", "disabled"}}));
          co_return;
        }
        Status s = cache->probe();
        Json exact = {{"store", cache->store_kind()}, {"ok", s.ok()}};
        if (!s.ok()) exact["error"] = s.message();
        SetJson(res, DumpJson({{"status", s.ok() ? "ok" : "unhealthy"}, {"exact", exact}}),
                s.ok() ? 200 : 503);
        co_return;
      },
      "Cache health: a write/read/erase round trip through each store");
}

}  // namespace agentgate
