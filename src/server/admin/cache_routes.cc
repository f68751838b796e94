// Admin routes of the caches: GET /api/v1/cache/stats, DELETE
// /api/v1/cache/clear (audited), GET /api/v1/cache/health, GET|POST
// /api/v1/cache/config (POST audited), GET /api/v1/cache/metrics, POST
// /api/v1/cache/test (audited).
#include <functional>

#include "agentgate/cache/embedding_cache.h"
#include "agentgate/cache/response_cache.h"
#include "agentgate/cache/semantic_cache.h"
#include "agentgate/core/json.h"
#include "server/admin/admin_route.h"
#include "server/cache_admin.h"
#include "server/error_response.h"
#include "store/redis_cache_stores.h"
#include "store/redis_connections.h"

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

// ProbeResult: one cache type's round trip, timed.
Json ProbeResult(const Clock& clock, std::string_view store, const std::function<Status()>& probe) {
  const Nanos start = clock.monotonic();
  Status s = probe();
  const double ms = std::chrono::duration<double, std::milli>(clock.monotonic() - start).count();
  Json j = {{"enabled", true}, {"ok", s.ok()}, {"store", store}, {"latency_ms", ms}};
  if (!s.ok()) j["error"] = s.message();
  return j;
}

// Disabled: the answer of the config, metrics and test routes without caches.
Status Disabled() { return Unavailable("the cache is disabled (cache.enabled: false)"); }

}  // namespace

void RegisterCacheRoutes(Router& router, GatewayServices& services) {
  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/cache/config",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        CacheAdmin* admin = call.services.cache_admin;
        if (admin == nullptr) {
          SetError(res, Disabled());
          co_return;
        }
        SetJson(res, DumpJson(CacheSettingsJson(admin->settings())));
      },
      "The cache settings in force (file/env values with the admin API's changes over them)");

  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/cache/config",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        CacheAdmin* admin = call.services.cache_admin;
        if (admin == nullptr) {
          SetError(res, Disabled());
          co_return;
        }
        Result<Json> body = ParseJsonObject(req.body);
        if (!body.ok()) {
          SetError(res, body.status());
          co_return;
        }
        Result<CacheSettings> next = admin->update(*body);
        if (!next.ok()) {
          SetError(res, next.status());
          co_return;
        }
        call.audit(req, "changed cache settings: " + DumpJson(*body));
        SetJson(res, DumpJson(CacheSettingsJson(*next)));
      },
      "Change cache settings at runtime (similarity_threshold, default_ttl_s, semantic_expiry_s, "
      "max_size, semantic_max_entries, embedding_max_size); validated, persisted");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/cache/metrics",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        CacheAdmin* admin = call.services.cache_admin;
        if (admin == nullptr) {
          SetError(res, Disabled());
          co_return;
        }
        admin->sample();
        SetJson(res, DumpJson({{"bucket_s", 60},
                               {"buckets", CacheHistory::kMinutes},
                               {"series", admin->history().json()}}));
      },
      "Hit/miss counts and hit rate per minute over the last hour, per cache type");

  AddAdminRoute(
      router, services, HttpMethod::kPost, "/api/v1/cache/test",
      [](HttpRequest& req, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        CacheAdmin* admin = call.services.cache_admin;
        if (admin == nullptr) {
          SetError(res, Disabled());
          co_return;
        }
        const Clock& clock = *call.services.clock;
        Json j = Json::object();
        bool ok = true;
        if (ResponseCache* c = admin->exact()) {
          j["exact"] = ProbeResult(clock, c->store_kind(), [c] { return c->probe(); });
        } else {
          j["exact"] = {{"enabled", false}};
        }
        if (EmbeddingCache* c = admin->embedding()) {
          j["embedding"] = ProbeResult(clock, c->store_kind(), [c] { return c->probe(); });
        } else {
          j["embedding"] = {{"enabled", false}};
        }
        if (SemanticCache* c = admin->semantic()) {
          j["semantic"] = ProbeResult(clock, "memory", [c] { return c->probe(); });
        } else {
          j["semantic"] = {{"enabled", false}};
        }
        std::string summary = "ran the cache round-trip test:";
        for (const auto& [type, r] : j.items()) {
          if (r.value("enabled", false) && !r.value("ok", false)) ok = false;
          summary += " " + type + "=" +
                     (!r.value("enabled", false) ? "disabled" : r.value("ok", false) ? "ok" : "failed");
        }
        j["ok"] = ok;
        call.audit(req, summary);
        SetJson(res, DumpJson(j));
      },
      "Round trip (write, read, erase a probe entry) through each cache type; per type ok, "
      "latency and error");

  AddAdminRoute(
      router, services, HttpMethod::kGet, "/api/v1/cache/stats",
      [](HttpRequest&, HttpResponse& res, const AdminCall& call) -> boost::asio::awaitable<void> {
        ResponseCache* cache = call.services.response_cache;
        Json j = {{"enabled", cache != nullptr}};
        if (cache != nullptr) j["exact"] = ExactStats(*cache);
        if (EmbeddingCache* e = call.services.embedding_cache) j["embedding"] = EmbeddingStats(*e);
        if (SemanticCache* s = call.services.semantic_cache) {
          j["semantic"] = SemanticStats(*s);
          j["semantic"]["shared_through_redis"] = call.services.redis != nullptr;
        }
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
          if (RedisConnections* redis = call.services.redis) {  // the shared log too
            std::string pattern = redis->key_prefix() + "semantic:*";
            (void)co_await RedisScanDelete(redis->client("semantic"), std::move(pattern));
          }
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
