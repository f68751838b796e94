// Gateway: one running agentgate, composed from a Config: stores, auth,
// routes, the proxy pipeline and the HTTP server. The composition root: the
// only place that knows every part.
//
//   Gateway gw(config);
//   if (Status s = gw.start(); !s.ok()) ...;   // serving on gw.port()
//   gw.shutdown();                              // graceful
//
// Thread-safety: start() and shutdown() from one thread; the parts it owns
// document their own.
#pragma once

#include <memory>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
#include "config/config.h"
#include "gateway/pipeline.h"
#include "server/router.h"
#include "server/services.h"

namespace agentgate {

class HttpServer;
class MockUpstream;
class ModelRouter;
class UsageTracker;
class UpstreamClient;
class RedisConnections;
class RedisSpendStore;
class BreakerRegistry;  // resilience
class Sleeper;
class ResiliencePolicy;
class DeadLetterQueue;
struct RateLimitParts;
class CostTracker;  // spend and budgets
class ResponseCache;
class EmbeddingCache;
class SemanticCache;
class CacheAdmin;
class RedisSemanticReplica;
class ExperimentStore;  // experiments
class ExperimentManager;

class Gateway {
 public:
  explicit Gateway(Config config, const Clock& clock = Clock::system());
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // start: opens the stores, registers the routes and starts serving.
  Status start();
  // shutdown: graceful stop (see HttpServer::shutdown). Idempotent.
  void shutdown();

  uint16_t port() const;
  const Config& config() const { return config_; }
  MetricsRegistry& metrics() { return metrics_; }
  const Router& router() const { return router_; }

 private:
  Status open_stores();
  Status start_demo_upstream();
  Status build_proxy();
  Status build_resilience();
  void register_routes();

  Config config_;
  const Clock& clock_;
  MetricsRegistry metrics_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<KeyStore> keys_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<AdminAuth> admin_auth_;
  std::unique_ptr<RedisConnections> redis_;  // null in embedded mode
  std::unique_ptr<RedisKeyStore> shared_keys_;  // client keys via Redis; null without it
  Readiness readiness_;
  GatewayServices services_;
  std::unique_ptr<MockUpstream> demo_;            // --demo: the simulated upstream
  Router demo_router_;
  std::unique_ptr<HttpServer> demo_server_;
  std::vector<std::shared_ptr<UpstreamClient>> clients_;  // one per config upstream
  std::unique_ptr<ModelRouter> model_router_;
  std::unique_ptr<UsageTracker> usage_;
  std::unique_ptr<Profiler> profiler_;
  // Resilience: breakers per upstream, retry waits, the upstream policy.
  std::unique_ptr<BreakerRegistry> breakers_;
  std::unique_ptr<Sleeper> sleeper_;
  std::unique_ptr<DeadLetterQueue> dead_letters_;
  std::unique_ptr<ResiliencePolicy> resilience_;
  std::unique_ptr<RateLimitParts> ratelimit_;     // null when rate_limit.enabled is false
  std::unique_ptr<CostTracker> costs_;  // spend and budgets; null when rate_limit.enabled is false
  std::unique_ptr<RedisSpendStore> shared_spend_;  // spend shared through Redis; null without it
  std::unique_ptr<ResponseCache> response_cache_;  // null when cache.enabled is false
  std::unique_ptr<EmbeddingCache> embedding_cache_;  // null when cache.enabled is false
  std::unique_ptr<SemanticCache> semantic_cache_;    // null unless cache.semantic_enabled
  std::unique_ptr<RedisSemanticReplica> semantic_replica_;  // semantic entries via Redis DB 1
  std::unique_ptr<CacheAdmin> cache_admin_;  // settings + history; null when cache.enabled is false
  std::unique_ptr<ExperimentStore> experiment_store_;  // experiments: SQLite or Redis
  std::unique_ptr<ExperimentManager> experiments_;
  std::shared_ptr<const Pipeline> pipeline_;
  std::shared_ptr<const Pipeline> replay_pipeline_;  // pipeline_ without authenticate
  Router router_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace agentgate
