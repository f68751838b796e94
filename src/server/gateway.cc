#include "server/gateway.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "agentgate/cache/embedding_cache.h"
#include "agentgate/cache/response_cache.h"
#include "agentgate/cache/semantic_cache.h"
#include "agentgate/experiments/experiment_manager.h"
#include "experiments/redis_experiment_store.h"
#include "experiments/sqlite_experiment_store.h"
#include "gateway/stages/experiment_stage.h"
#include "agentgate/resilience/breaker_registry.h"
#include "agentgate/resilience/sleeper.h"
#include "gateway/model_router.h"
#include "gateway/resilience_policy.h"
#include "gateway/stages/authenticate_stage.h"
#include "gateway/stages/budget_stage.h"
#include "gateway/stages/cache_stage.h"
#include "gateway/query_embedder.h"
#include "gateway/stages/embedding_cache_stage.h"
#include "gateway/stages/rate_limit_stage.h"
#include "gateway/stages/semantic_cache_stage.h"
#include "gateway/stages/upstream_stage.h"
#include "gateway/usage_tracker.h"
#include "mock/mock_upstream.h"
#include "resilience/dead_letter_queue.h"
#include "server/admin/admin_route.h"
#include "server/auth/redis_key_store.h"
#include "server/cache_admin.h"
#include "ratelimit/redis_spend_store.h"
#include "server/cost_services.h"
#include "server/http_server.h"
#include "server/ops_routes.h"
#include "server/proxy_routes.h"
#include "server/web_routes.h"
#include "server/ratelimit_services.h"
#include "store/redis_cache_stores.h"
#include "store/redis_connections.h"
#include "store/redis_semantic_replica.h"
#include "upstream/upstream_client.h"

namespace agentgate {

Gateway::Gateway(Config config, const Clock& clock)
    : config_(std::move(config)), clock_(clock) {}

Gateway::~Gateway() { shutdown(); }

uint16_t Gateway::port() const { return server_ ? server_->port() : 0; }

Status Gateway::open_stores() {
  auto db = SqliteDb::open({.data_dir = config_.storage.data_dir});
  if (!db.ok()) return db.status();
  db_ = std::move(*db);
  auto keys = KeyStore::Open(*db_, clock_);
  if (!keys.ok()) return keys.status();
  keys_ = std::move(*keys);
  auto audit = AuditLog::Open(*db_, clock_);
  if (!audit.ok()) return audit.status();
  audit_ = std::move(*audit);
  readiness_.add("sqlite", true, [] { return CheckResult{}; });
  if (config_.redis.enabled) {
    redis_ = std::make_unique<RedisConnections>(config_.redis, metrics_);
    redis_->start();
    // Client keys: Redis is their truth; SQLite keeps this instance's copy.
    shared_keys_ = std::make_unique<RedisKeyStore>(*keys_, redis_->client("keys"),
                                                   redis_->concern_prefix("keys"), metrics_);
    shared_keys_->start();
    // Redis away is "degraded", not "not ready": the gateway keeps serving.
    readiness_.add("redis", false, [this] {
      RedisConnections::Health h = redis_->health();
      return CheckResult{h.ok, h.reason};
    });
    // And per concern ("redis.ratelimit", ...), each degraded on its own.
    for (const char* concern : RedisConnections::kConcerns) {
      readiness_.add(std::string("redis.") + concern, false, [this, concern] {
        RedisConnections::Health h = redis_->health(concern);
        return CheckResult{h.ok, h.reason};
      });
    }
  }
  return Status::Ok();
}

Status Gateway::start_demo_upstream() {
  demo_ = std::make_unique<MockUpstream>(MockUpstreamOptions{});
  demo_->register_routes(demo_router_);
  HttpServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 1;
  o.access_log = AccessLogFormat::kOff;
  o.shutdown_grace = std::chrono::seconds(1);
  o.name = "demo_upstream";
  demo_server_ = std::make_unique<HttpServer>(
      o, [this](HttpRequest& req, HttpResponse& res) { return demo_router_.dispatch(req, res); },
      &metrics_);
  if (Status s = demo_server_->start(); !s.ok()) return s;
  UpstreamConfig demo;
  demo.name = "demo";
  demo.base_url = "http://127.0.0.1:" + std::to_string(demo_server_->port());
  demo.models = MockUpstreamOptions{}.models;  // listed by /v1/models
  demo.models.emplace_back(kAnyModel);         // and any other name is answered too
  config_.upstreams = {demo};
  return Status::Ok();
}

Status Gateway::build_proxy() {
  for (const UpstreamConfig& u : config_.upstreams) {
    UpstreamEndpoint e;
    e.name = u.name;
    e.base_url = u.base_url;
    e.api_key = u.api_key;
    e.connect_timeout = u.connect_timeout;
    e.first_byte_timeout = u.first_byte_timeout;
    e.request_timeout = u.request_timeout;
    e.max_connections = u.max_connections;
    e.tls_verify = u.tls_verify;
    e.ca_file = u.ca_file;
    auto client = UpstreamClient::Create(std::move(e), &metrics_);
    if (!client.ok()) {
      return Status(client.status().code(), "upstream '" + u.name + "': " + client.status().message());
    }
    clients_.push_back(std::move(*client));
  }
  profiler_ = std::make_unique<Profiler>(
      PerfOptions{.enable_profiling = config_.performance.enable_profiling,
                  .cache_size = config_.performance.cache_size,
                  .cache_ttl = config_.performance.cache_ttl},
      clock_);
  profiler_->export_metrics(metrics_);
  model_router_ = std::make_unique<ModelRouter>(config_.upstreams, config_.routing);
  usage_ = std::make_unique<UsageTracker>(&metrics_);
  if (Status s = build_resilience(); !s.ok()) return s;
  std::vector<std::shared_ptr<Stage>> stages;
  stages.push_back(std::make_shared<AuthenticateStage>(*keys_, config_.rate_limit.default_tier));
  if (config_.rate_limit.enabled) {  // rate limits: right after authenticate
    auto rl = BuildRateLimit(config_.rate_limit, *db_, clock_, redis_.get(), &metrics_);
    if (!rl.ok()) return rl.status();
    ratelimit_ = std::move(*rl);
    stages.push_back(std::make_shared<RateLimitStage>(
        *ratelimit_->requests, ratelimit_->tokens.get(), ratelimit_->recorder(), metrics_,
        RateLimitStageOptions{.fail_open = config_.rate_limit.fail_open &&
                                           (!redis_ || config_.redis.fail_open),
                              .endpoint_policy = ratelimit_->policy.get()}));
    // Spend budgets: right after the request limits.
    auto costs = BuildCostTracker(config_.rate_limit, *db_, clock_, redis_ != nullptr);
    if (!costs.ok()) return costs.status();
    costs_ = std::move(*costs);
    if (redis_) {  // spend and budgets shared through Redis DB 5
      shared_spend_ = std::make_unique<RedisSpendStore>(
          *costs_, redis_->client("costs"), redis_->concern_prefix("costs"), clock_, metrics_);
      shared_spend_->start();
    }
    stages.push_back(std::make_shared<BudgetStage>(*costs_, *ratelimit_->policy, metrics_,
                                                   shared_spend_.get()));
  }
  // Experiments: the manager always (admin API); the stage after rate limits, before the cache.
  if (config_.experiments.store == "redis") {  // validated: redis_ exists
    experiment_store_ = NewRedisExperimentStore(
        redis_->client("default"),
        redis_->prefix_mode() ? redis_->concern_prefix("default") + "exp:" : "agentgate:exp:");
  } else {
    auto experiment_store = OpenSqliteExperimentStore(*db_);
    if (!experiment_store.ok()) return experiment_store.status();
    experiment_store_ = std::move(*experiment_store);
  }
  const ExperimentsConfig& ec = config_.experiments;
  experiments_ = std::make_unique<ExperimentManager>(
      experiment_store_.get(),
      ExperimentManagerOptions{
          .flush_interval = std::chrono::duration_cast<std::chrono::milliseconds>(ec.flush_interval),
          .sync_interval = std::chrono::duration_cast<std::chrono::milliseconds>(ec.sync_interval),
          .outcome_log_size = ec.outcome_log_size,
          .metrics = &metrics_,
          .clock = &clock_});
  if (Status s = experiments_->load(); !s.ok()) {
    // Redis away at start (fail-open): serve without experiments rather than
    // not at all; the manager's sync reads them once Redis is back.
    const bool away = s.code() == StatusCode::kUnavailable ||
                      s.code() == StatusCode::kDeadlineExceeded;
    if (!(ec.store == "redis" && config_.redis.fail_open && away)) return s;
    spdlog::warn("experiments not loaded (Redis away at start): {}", s.ToString());
  }
  if (config_.experiments.enabled) {
    stages.push_back(std::make_shared<ExperimentStage>(*experiments_, clock_, metrics_));
  }
  auto upstream_stage = std::make_shared<UpstreamStage>(clients_, *model_router_, *usage_,
                                                        profiler_.get(), resilience_.get());
  // Cache: after authenticate (the tenant is in the key), before upstream.
  if (config_.cache.enabled) {
    ResponseCacheOptions co{.default_ttl = config_.cache.default_ttl, .max_size = config_.cache.max_size};
    // Redis stores when configured (DB 2 responses, DB 3 embeddings); fail-open.
    std::unique_ptr<ResponseStore> response_store =
        redis_ ? NewRedisResponseStore(redis_->client("response"), redis_->key_prefix(), metrics_)
               : NewMemoryResponseStore(co, clock_);
    response_cache_ = std::make_unique<ResponseCache>(std::move(response_store), co);
    stages.push_back(std::make_shared<CacheStage>(
        *response_cache_,
        CacheStageOptions{.dedup = config_.cache.dedup, .dedup_timeout = config_.cache.dedup_timeout,
                          // Remembering more raw forms than the cache holds entries only costs memory.
                          .key_memo_size = std::min<size_t>(10000, config_.cache.max_size),
                          // Across instances through Redis DB 4 locks.
                          .remote = redis_ ? std::shared_ptr<FlightLock>(NewRedisFlightLock(
                                                 redis_->client("dedup"), redis_->key_prefix(), metrics_))
                                           : nullptr,
                          // Streaming followers on other instances relay the leader's chunks (DB 4).
                          .remote_stream = redis_ ? std::shared_ptr<FlightStream>(NewRedisFlightStream(
                                                        redis_->client("dedup"), redis_->key_prefix(), metrics_))
                                                  : nullptr},
        &metrics_, clock_));
    const EmbeddingCacheOptions eo{.max_size = config_.cache.max_size};
    std::unique_ptr<EmbeddingStore> embedding_store =
        redis_ ? NewRedisEmbeddingStore(redis_->client("embedding"), redis_->key_prefix(), eo.ttl,
                                        eo.max_size, metrics_, clock_)
               : NewMemoryEmbeddingStore(eo, clock_);
    embedding_cache_ = std::make_unique<EmbeddingCache>(std::move(embedding_store), eo);
    auto embedding_stage = std::make_shared<EmbeddingCacheStage>(*embedding_cache_);
    if (config_.cache.semantic_enabled) {
      // Queries embedded by an upstream model through the embedding cache, or locally.
      std::shared_ptr<QueryEmbedder> query_embedder;
      if (!config_.cache.semantic_embedding_model.empty()) {
        std::vector<std::shared_ptr<Stage>> embed_stages = {embedding_stage, upstream_stage};
        query_embedder = NewUpstreamQueryEmbedder(
            config_.cache.semantic_embedding_model,
            std::make_shared<const Pipeline>(std::move(embed_stages), profiler_.get()));
      }
      semantic_cache_ = std::make_unique<SemanticCache>(
          SemanticCacheOptions{.similarity_threshold = config_.cache.similarity_threshold,
                               .ttl = config_.cache.semantic_ttl,
                               .max_entries = config_.cache.max_size},
          clock_);
      stages.push_back(std::make_shared<SemanticCacheStage>(
          *semantic_cache_, config_.cache.semantic_max_temperature, std::move(query_embedder)));
      if (redis_) {  // entries shared between instances through Redis DB 1
        semantic_replica_ = std::make_unique<RedisSemanticReplica>(
            *semantic_cache_, redis_->client("semantic"), redis_->key_prefix(), clock_, metrics_);
        semantic_replica_->start();
      }
    }
    stages.push_back(std::move(embedding_stage));
    // Runtime cache settings (persisted admin changes applied over the file's) and history.
    auto admin = CacheAdmin::Open(config_.cache, *db_, response_cache_.get(), semantic_cache_.get(),
                                  embedding_cache_.get(), clock_);
    if (!admin.ok()) return admin.status();
    cache_admin_ = std::move(*admin);
  }
  stages.push_back(std::move(upstream_stage));
  pipeline_ = std::make_shared<const Pipeline>(std::move(stages), profiler_.get());
  std::vector<std::shared_ptr<Stage>> replay_stages;
  for (const auto& stage : pipeline_->stages()) {
    if (stage->name() != "authenticate") replay_stages.push_back(stage);
  }
  replay_pipeline_ = std::make_shared<const Pipeline>(std::move(replay_stages));
  return Status::Ok();
}

Status Gateway::build_resilience() {
  const CircuitBreakerConfig& cb = config_.circuit_breaker;
  const ErrorRecoveryConfig& er = config_.error_recovery;
  if (cb.enabled) {
    CircuitBreakerOptions o;
    o.failure_threshold = cb.failure_threshold;
    o.success_threshold = cb.success_threshold;
    o.timeout = cb.timeout;
    o.half_open_max_probes = cb.half_open_max_probes;
    breakers_ = std::make_unique<BreakerRegistry>(o, clock_, &metrics_);
  }
  RetryPolicy retry;
  retry.max_attempts = er.max_attempts;
  retry.base_delay = er.base_delay;
  retry.max_delay = er.max_delay;
  retry.jitter = ParseJitterMode(er.jitter).value_or(JitterMode::kFull);
  RetryBudgetOptions budget{.ratio = er.retry_budget_percent / 100.0,
                            .min_retries = er.retry_budget_min_retries};
  std::vector<std::string> names;
  for (const UpstreamConfig& u : config_.upstreams) names.push_back(u.name);
  const DlqOptions dlq_options{.max_entries = er.dlq_max_entries};
  if (redis_ && er.dlq_store != "sqlite") {
    dead_letters_ = NewRedisDeadLetterQueue(redis_->client("default"), redis_->key_prefix(),
                                            clock_, &metrics_, dlq_options);
  } else {
    auto dlq = OpenSqliteDeadLetterQueue(*db_, clock_, &metrics_, dlq_options);
    if (!dlq.ok()) return dlq.status();
    dead_letters_ = std::move(*dlq);
  }
  sleeper_ = std::make_unique<AsioSleeper>();
  resilience_ = std::make_unique<ResiliencePolicy>(std::move(names), breakers_.get(), retry, budget,
                                                   clock_, *sleeper_, metrics_, dead_letters_.get());
  return Status::Ok();
}

void Gateway::register_routes() {
  RegisterOpsRoutes(router_, services_);
  RegisterProxyRoutes(router_, services_, pipeline_);
  RegisterKeyRoutes(router_, services_);
  RegisterAuditRoutes(router_, services_);
  RegisterUsageRoutes(router_, services_);
  RegisterPerformanceRoutes(router_, services_);
  RegisterBreakerRoutes(router_, services_);
  RegisterDlqRoutes(router_, services_, replay_pipeline_);
  RegisterRateLimitRoutes(router_, services_);
  RegisterBudgetRoutes(router_, services_);
  RegisterCacheRoutes(router_, services_);
  RegisterWebRoutes(router_);  // /docs, /docs/openapi.json, /dashboard
  RegisterExperimentRoutes(router_, services_);
}

Status Gateway::start() {
  if (config_.demo || config_.upstreams.empty()) {
    if (Status s = start_demo_upstream(); !s.ok()) return s;
    spdlog::info(
        "demo mode: no upstream configured (set OPENAI_API_KEY or pass --config), so a built-in "
        "simulated upstream answers. Try: curl -s http://127.0.0.1:{}/v1/chat/completions "
        "-H 'Content-Type: application/json' -d "
        "'{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"hello\"}}]}}'",
        config_.server.port);
  }
  if (Status s = open_stores(); !s.ok()) return s;
  admin_auth_ = std::make_unique<AdminAuth>(config_.server.admin_key);
  if (!admin_auth_->has_key()) {
    spdlog::warn(
        "no admin key configured (server.admin_key or AGENTGATE_ADMIN_KEY): the admin API "
        "answers only clients on loopback");
  }
  if (Status s = build_proxy(); !s.ok()) return s;
  services_ = GatewayServices{&config_,          &clock_,     &metrics_,           db_.get(),
                              keys_.get(),       audit_.get(), admin_auth_.get(), &readiness_,
                              model_router_.get(), usage_.get(), &clients_, profiler_.get(),
                              redis_.get()};
  services_.shared_keys = shared_keys_.get();
  services_.breakers = breakers_.get();
  services_.dead_letters = dead_letters_.get();
  services_.ratelimit = ratelimit_.get();
  services_.costs = costs_.get();
  services_.shared_spend = shared_spend_.get();
  services_.response_cache = response_cache_.get();
  services_.embedding_cache = embedding_cache_.get();
  services_.semantic_cache = semantic_cache_.get();
  services_.cache_admin = cache_admin_.get();
  services_.experiments = experiments_.get();
  register_routes();

  const ServerConfig& sc = config_.server;
  HttpServerOptions o;
  o.host = sc.host;
  o.port = static_cast<uint16_t>(sc.port);
  o.threads = sc.threads;
  o.max_body_bytes = sc.max_body_bytes;
  o.max_header_bytes = sc.max_header_bytes;
  o.idle_timeout = sc.idle_timeout;
  o.header_timeout = sc.header_timeout;
  o.body_timeout = sc.body_timeout;
  o.max_connections = sc.max_connections;
  o.shutdown_grace = sc.shutdown_grace;
  o.access_log = sc.access_log == ServerConfig::AccessLog::kJson  ? AccessLogFormat::kJson
                 : sc.access_log == ServerConfig::AccessLog::kOff ? AccessLogFormat::kOff
                                                                  : AccessLogFormat::kText;
  server_ = std::make_unique<HttpServer>(
      o, [this](HttpRequest& req, HttpResponse& res) { return router_.dispatch(req, res); },
      &metrics_);
  if (Status s = server_->start(); !s.ok()) return s;
  readiness_.set_serving(true);
  return Status::Ok();
}

void Gateway::shutdown() {
  readiness_.set_serving(false);
  if (demo_) demo_->stop();
  if (server_) server_->shutdown();
  if (demo_server_) demo_server_->shutdown();
  if (experiments_) (void)experiments_->flush();  // written-behind counts, while Redis is up
  if (redis_) redis_->stop();
}

}  // namespace agentgate
