// GatewayServices: the shared parts of one running gateway, handed to each
// route file and pipeline stage at start-up. Pointers are owned by Gateway
// and outlive every route; optional parts are nullptr when disabled.
#pragma once

#include <memory>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
#include "config/config.h"
#include "server/auth/admin_auth.h"
#include "server/auth/audit_log.h"
#include "server/auth/key_store.h"
#include "server/readiness.h"
#include "store/sqlite_db.h"

namespace agentgate {

class ModelRouter;
class UsageTracker;
class UpstreamClient;
class Profiler;
class RedisConnections;
class BreakerRegistry;
class DeadLetterQueue;
struct RateLimitParts;
class CostTracker;
class RedisSpendStore;
class ResponseCache;
class EmbeddingCache;
class SemanticCache;
class CacheAdmin;
class ExperimentManager;
class RedisKeyStore;

struct GatewayServices {
  const Config* config = nullptr;
  const Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  SqliteDb* db = nullptr;
  KeyStore* keys = nullptr;
  AuditLog* audit = nullptr;
  AdminAuth* admin_auth = nullptr;
  Readiness* readiness = nullptr;
  ModelRouter* model_router = nullptr;
  UsageTracker* usage = nullptr;
  // One client per config upstream, indexed like config->upstreams.
  const std::vector<std::shared_ptr<UpstreamClient>>* upstream_clients = nullptr;
  Profiler* profiler = nullptr;
  RedisConnections* redis = nullptr;  // null in embedded mode
  BreakerRegistry* breakers = nullptr;  // one breaker per upstream; null when disabled
  DeadLetterQueue* dead_letters = nullptr;
  RateLimitParts* ratelimit = nullptr;  // null when rate_limit.enabled is false
  CostTracker* costs = nullptr;  // spend and budgets; null when rate_limit.enabled is false
  RedisSpendStore* shared_spend = nullptr;  // costs' numbers shared through Redis; null without Redis
  ResponseCache* response_cache = nullptr;  // the exact response cache; nullptr when disabled
  EmbeddingCache* embedding_cache = nullptr;  // per-input embeddings; nullptr when disabled
  SemanticCache* semantic_cache = nullptr;    // nullptr when disabled
  CacheAdmin* cache_admin = nullptr;          // cache settings and history; nullptr when disabled
  ExperimentManager* experiments = nullptr;   // A/B testing; always built by the gateway
  RedisKeyStore* shared_keys = nullptr;  // keys shared through Redis; null without Redis
};

}  // namespace agentgate
