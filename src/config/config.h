// Config: everything agentgate reads at start-up, as plain value structs.
//
// A Config is built in three layers, each over the previous one:
//   1. the defaults written below (a value-initialised Config{} holds them),
//   2. one YAML file (LoadConfigFile / LoadConfigString),
//   3. the documented environment variables, read through an injected Env.
// The result is validated (ValidateConfig) before it is returned; callers that
// change fields afterwards (the CLI's --port, --data-dir, --demo) call
// ValidateConfig again.
//
//   Result<Config> config = LoadConfigFile("agentgate.yaml", ProcessEnv());
//   if (!config.ok()) return Fail(config.status());  // names the bad key
//   config->server.port = cli_port;
//   if (Status s = ValidateConfig(*config); !s.ok()) return Fail(s);
//
// Every key, its YAML spelling, default and environment variable is listed in
// docs/configuration.md; config/agentgate.example.yaml sets each one.
//
// Errors are Status values with code kInvalidArgument (kNotFound for a missing
// file) whose message starts with the key path (`upstreams[1].base_url: ...`)
// or the environment variable (`REDIS_PORT: ...`) at fault.
//
// Thread-safety: Config and its parts are values; a Config that is no longer
// modified may be read from any number of threads. The loaders are reentrant;
// ProcessEnv() reads the process environment and must not race with setenv().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"

namespace agentgate {

// ---------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------

// Env: looks up one environment variable; nullopt when it is not set. The
// loaders treat a variable set to the empty string as not set.
using Env = std::function<std::optional<std::string>(std::string_view name)>;

// ProcessEnv: the real process environment (getenv).
Env ProcessEnv();

// MapEnv: an environment made of `vars` only; for tests and embedding.
Env MapEnv(std::map<std::string, std::string, std::less<>> vars);

// ---------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------

// ServerConfig: the HTTP listener and process-wide settings. YAML: `server:`.
struct ServerConfig {
  // AccessLog: how each request is logged once it completes.
  enum class AccessLog {
    kText,  // one human-readable line per request ("text")
    kJson,  // one JSON object per request ("json")
    kOff,   // no access log ("off")
  };

  // Address to listen on. Default: "0.0.0.0" (every IPv4 interface).
  std::string host = "0.0.0.0";

  // TCP port to listen on, 1..65535. Default: 8000.
  int port = 8000;

  // Worker threads running the event loop; 0 means one per hardware core.
  // Default: 0.
  int threads = 0;

  // Bearer key the admin API requires (env AGENTGATE_ADMIN_KEY). Empty means
  // no admin key is configured and the admin API refuses every request.
  // Default: "".
  std::string admin_key;

  // Largest request body accepted; larger bodies get 413. Default: 10 MiB.
  size_t max_body_bytes = 10 * 1024 * 1024;

  // Largest request head (request line + headers); larger gets 431.
  // Default: 16 KiB.
  size_t max_header_bytes = 16 * 1024;

  // Time allowed to receive the request head once a request starts.
  // YAML `header_timeout_ms`. Default: 10 s.
  Nanos header_timeout = std::chrono::seconds(10);

  // Time a keep-alive connection may sit idle between requests.
  // YAML `idle_timeout_ms`. Default: 60 s.
  Nanos idle_timeout = std::chrono::seconds(60);

  // Time allowed to receive the request body after its head.
  // YAML `body_timeout_ms`. Default: 60 s.
  Nanos body_timeout = std::chrono::seconds(60);

  // Open client connections beyond which new ones are refused.
  // Default: 10000.
  size_t max_connections = 10000;

  // On SIGTERM/SIGINT: time in-flight requests get to finish before they are
  // cancelled. May be 0. YAML `shutdown_grace_ms`. Default: 30 s.
  Nanos shutdown_grace = std::chrono::seconds(30);

  // Access log format: "text", "json" or "off". Default: kText.
  AccessLog access_log = AccessLog::kText;

  // Minimum log level: one of kLogLevels ("trace" .. "off"). Default: "info".
  std::string log_level = "info";

  friend bool operator==(const ServerConfig&, const ServerConfig&) = default;
};

// StorageConfig: local files. YAML: `storage:`.
struct StorageConfig {
  // Directory holding the SQLite database and other state that must survive
  // a restart; created on start if missing. Default: "./data".
  std::string data_dir = "./data";

  friend bool operator==(const StorageConfig&, const StorageConfig&) = default;
};

// RedisDbs: the Redis logical database used for each concern (ignored in
// prefix mode, see RedisConfig::key_prefix). YAML: `redis.dbs:`.
struct RedisDbs {
  int semantic = 1;   // semantic cache. Default: 1.
  int response = 2;   // exact response cache. Default: 2.
  int embedding = 3;  // embedding cache. Default: 3.
  int dedup = 4;      // in-flight de-duplication. Default: 4.
  int costs = 5;      // costs and budgets. Default: 5.
  int keys = 6;       // API keys and audit. Default: 6.
  int ratelimit = 7;  // rate-limit counters, tiers, analytics. Default: 7.

  friend bool operator==(const RedisDbs&, const RedisDbs&) = default;
};

// RedisConfig: the shared store for multi-instance deployments. When
// disabled, every store is embedded (memory + SQLite). YAML: `redis:`.
struct RedisConfig {
  // Whether Redis is used. Becomes true when the `redis:` section is present
  // (unless it says `enabled: false`) or when REDIS_HOST is set.
  // Default: false.
  bool enabled = false;

  // Server host name or address (env REDIS_HOST). Default: "127.0.0.1".
  std::string host = "127.0.0.1";

  // Server port, 1..65535 (env REDIS_PORT). Default: 6379.
  int port = 6379;

  // AUTH password; empty means no AUTH (env REDIS_PASSWORD). Default: "".
  std::string password;

  // Whether to connect with TLS. Default: false.
  bool tls = false;

  // Time allowed to establish a connection. YAML `connect_timeout_ms`.
  // Default: 1 s.
  Nanos connect_timeout = std::chrono::seconds(1);

  // Time allowed for one command (or Lua script) to answer.
  // YAML `command_timeout_ms`. Default: 1 s.
  Nanos command_timeout = std::chrono::seconds(1);

  // Longest wait between reconnect attempts while Redis is away (the wait
  // doubles from 100 ms up to this, with jitter), so service is shared again
  // at most about this long after Redis returns. YAML
  // `reconnect_max_backoff_ms`. Default: 500 ms.
  Nanos reconnect_max_backoff = std::chrono::milliseconds(500);

  // How concerns are kept apart: "databases" (one logical database per
  // concern, see dbs) or "prefix" (for deployments that only have DB 0:
  // Redis Cluster, many managed services; every key is written to DB 0 as
  // `<key_prefix><concern>:<key>`, per-user keys carry a `{user}` hash tag so
  // that one user's keys share a cluster slot, and dbs is ignored). "" (the
  // default) means "prefix" when key_prefix is set, else "databases".
  std::string mode;

  // Prepended to every key in prefix mode (no '{' or '}': they would become
  // the hash tag). Default: "".
  std::string key_prefix;

  // prefix_mode: whether keys are separated by prefix in DB 0 (see mode).
  bool prefix_mode() const { return mode == "prefix" || (mode.empty() && !key_prefix.empty()); }

  // When Redis is unreachable: true serves anyway (limits allow, caches
  // miss) and counts it; false answers 503. Default: true.
  bool fail_open = true;

  // Database number per concern. Defaults: 1..7 as documented in RedisDbs.
  RedisDbs dbs;

  friend bool operator==(const RedisConfig&, const RedisConfig&) = default;
};

// kAnyModel: in UpstreamConfig::models, matches every model name.
inline constexpr std::string_view kAnyModel = "*";

// UpstreamConfig: one OpenAI-compatible provider. YAML: an item of
// `upstreams:`.
struct UpstreamConfig {
  // Unique name, used in logs, metrics and the admin API; letters, digits,
  // '-', '_' and '.'. Required.
  std::string name;

  // Origin (and optional path prefix) of the provider, e.g.
  // "https://api.openai.com"; must start with http:// or https://. Trailing
  // '/' are removed at load. Request paths (/v1/chat/completions, ...) are
  // appended to it. Required.
  std::string base_url;

  // Key sent as `Authorization: Bearer <api_key>`; empty sends none.
  // Filled from the environment when api_key_env is set. Default: "".
  std::string api_key;

  // Name of the environment variable that holds api_key; resolved at load
  // through the injected Env (an unset variable is an error). Set either this
  // or api_key, not both. Default: "".
  std::string api_key_env;

  // Model names this upstream serves; kAnyModel ("*") serves any model.
  // Must not be empty.
  std::vector<std::string> models;

  // Relative share of traffic among upstreams serving the same model, >= 1.
  // Default: 1.
  int weight = 1;

  // Time allowed to open the TCP (+TLS) connection.
  // YAML `connect_timeout_ms`. Default: 5 s.
  Nanos connect_timeout = std::chrono::seconds(5);

  // Time allowed between sending a request and its first response byte.
  // YAML `first_byte_timeout_ms`. Default: 60 s.
  Nanos first_byte_timeout = std::chrono::seconds(60);

  // Time allowed for the whole exchange, streaming included.
  // YAML `request_timeout_ms`. Default: 300 s.
  Nanos request_timeout = std::chrono::seconds(300);

  // Connections kept open to this upstream at most (pool size). Default: 100.
  int max_connections = 100;

  // Whether to verify the upstream's TLS certificate. Default: true.
  bool tls_verify = true;

  // PEM file of CA certificates to trust instead of the system store;
  // empty uses the system store. Default: "".
  std::string ca_file;

  // serves: whether this upstream serves `model` (listed, or kAnyModel).
  bool serves(std::string_view model) const;

  friend bool operator==(const UpstreamConfig&, const UpstreamConfig&) = default;
};

// RoutingConfig: how models map onto upstreams beyond `models`. YAML:
// `routing:`.
struct RoutingConfig {
  // Model -> models to try, in order, when every upstream for it has failed
  // (breaker open or retries exhausted). Default: none.
  std::map<std::string, std::vector<std::string>> fallbacks;

  friend bool operator==(const RoutingConfig&, const RoutingConfig&) = default;
};

// CacheConfig: response and semantic caching. YAML: `cache:`.
struct CacheConfig {
  // Whether responses are cached at all. Default: true.
  bool enabled = true;

  // Lifetime of a cached response (env CACHE_DEFAULT_TTL, seconds).
  // YAML `default_ttl_s`. Default: 300 s.
  Nanos default_ttl = std::chrono::seconds(300);

  // Entries kept per cache at most (env CACHE_MAX_SIZE). Default: 10000.
  size_t max_size = 10000;

  // Whether to answer from semantically similar past requests.
  // Default: true.
  bool semantic_enabled = true;

  // Cosine similarity, in (0, 1], from which a past request counts as the
  // same (env SEMANTIC_CACHE_SIMILARITY_THRESHOLD). Default: 0.95.
  double similarity_threshold = 0.95;

  // Identical requests in flight at once share one upstream call.
  // YAML `dedup`. Default: true.
  bool dedup = true;

  // How long a de-duplicated request waits for the first one's answer
  // before calling the upstream itself. YAML `dedup_timeout_s`. Default: 30 s.
  Nanos dedup_timeout = std::chrono::seconds(30);

  // Lifetime of a semantic-cache entry. YAML `semantic_expiry_s`. Default: 3600 s.
  Nanos semantic_ttl = std::chrono::seconds(3600);

  // Requests with a `temperature` above this bypass the semantic cache.
  // YAML `semantic_max_temperature`. Default: 1.0.
  double semantic_max_temperature = 1.0;

  // The upstream embedding model whose /v1/embeddings (through the
  // embedding cache) embeds semantic-cache queries; "" = the built-in local
  // embedder. YAML `semantic_embedding_model`. Default: "".
  std::string semantic_embedding_model;

  friend bool operator==(const CacheConfig&, const CacheConfig&) = default;
};

// TierConfig: the limits of one user tier. Every field is >= 0; 0 means
// unlimited. YAML: an entry of `rate_limit.tiers:`.
struct TierConfig {
  int64_t per_second = 0;         // requests per second. Default: 0.
  int64_t per_minute = 0;         // requests per minute. Default: 0.
  int64_t per_hour = 0;           // requests per hour. Default: 0.
  int64_t per_day = 0;            // requests per day. Default: 0.
  int64_t tokens_per_minute = 0;  // tokens per minute. Default: 0.
  int64_t tokens_per_day = 0;     // tokens per day. Default: 0.
  double budget_usd_per_day = 0;    // spend budget per UTC day, USD. Default: 0.
  double budget_usd_per_month = 0;  // spend budget per UTC month, USD. Default: 0.

  friend bool operator==(const TierConfig&, const TierConfig&) = default;
};

// DefaultTiers: the documented tiers (requests per second/minute/hour/day):
//   free 2/60/1000/10000, basic 5/150/5000/50000,
//   pro 10/300/15000/150000, enterprise 50/1000/50000/500000;
// no token budgets.
std::map<std::string, TierConfig> DefaultTiers();

// ModelPriceConfig: USD per million tokens of one model, both >= 0.
// YAML: an entry of `rate_limit.prices:`.
struct ModelPriceConfig {
  double input_per_million = 0;   // prompt tokens. Default: 0.
  double output_per_million = 0;  // completion tokens. Default: 0.

  friend bool operator==(const ModelPriceConfig&, const ModelPriceConfig&) = default;
};

// RateLimitConfig: multi-window limits per user tier. YAML: `rate_limit:`.
struct RateLimitConfig {
  // Whether requests are rate limited. Default: true.
  bool enabled = true;

  // Tier of a principal that names none; must be a key of `tiers`
  // (env RATE_LIMIT_DEFAULT_TIER). Default: "free".
  std::string default_tier = "free";

  // Whether per-user usage analytics are recorded
  // (env RATE_LIMIT_ENABLE_ANALYTICS). Default: true.
  bool enable_analytics = true;

  // When the limiter's store fails: true allows the request (and counts it),
  // false answers 503. Default: true.
  bool fail_open = true;

  // Tier name -> limits. YAML entries add tiers or override fields of the
  // tier of the same name. Default: DefaultTiers().
  std::map<std::string, TierConfig> tiers = DefaultTiers();

  // Model -> price, for the cost of each request (a model not listed costs 0).
  // Default: none.
  std::map<std::string, ModelPriceConfig> prices;

  friend bool operator==(const RateLimitConfig&, const RateLimitConfig&) = default;
};

// CircuitBreakerConfig: per-upstream breaker. YAML: `circuit_breaker:`.
struct CircuitBreakerConfig {
  // Consecutive failures that open the breaker, >= 1
  // (env CIRCUIT_BREAKER_FAILURE_THRESHOLD). Default: 5.
  int failure_threshold = 5;

  // Consecutive successes in half-open that close it again, >= 1
  // (env CIRCUIT_BREAKER_SUCCESS_THRESHOLD). Default: 2.
  int success_threshold = 2;

  // Time the breaker stays open before a half-open probe
  // (env CIRCUIT_BREAKER_TIMEOUT, seconds). YAML `timeout_s`. Default: 60 s.
  Nanos timeout = std::chrono::seconds(60);

  // Whether upstream calls go through their breaker at all. Default: true.
  bool enabled = true;

  // Calls admitted at once in half-open; the rest get 503, 1..1000.
  // Default: 1.
  int half_open_max_probes = 1;

  friend bool operator==(const CircuitBreakerConfig&, const CircuitBreakerConfig&) = default;
};

// ErrorRecoveryConfig: retries with exponential backoff and jitter. YAML:
// `error_recovery:`.
struct ErrorRecoveryConfig {
  // Attempts per upstream call, the first included, >= 1
  // (env ERROR_RECOVERY_MAX_ATTEMPTS). Default: 3.
  int max_attempts = 3;

  // Delay before the first retry; doubles each retry. <= max_delay
  // (env ERROR_RECOVERY_BASE_DELAY, seconds). YAML `base_delay_s`.
  // Default: 1 s.
  Nanos base_delay = std::chrono::seconds(1);

  // Cap on any one retry delay (env ERROR_RECOVERY_MAX_DELAY, seconds).
  // YAML `max_delay_s`. Default: 60 s.
  Nanos max_delay = std::chrono::seconds(60);

  // Jitter on each backoff: "full" (uniform in [0, backoff]: fewest calls
  // under contention), "proportional" (backoff * [0.5, 1.5): the ±50%
  // multiplicative jitter) or "none". Default: "full".
  std::string jitter = "full";

  // Retries allowed, as a percentage of requests over the last 10 s, 0..100;
  // keeps a failing upstream from a retry storm. Default: 20.
  int retry_budget_percent = 20;

  // Retries allowed over the last 10 s whatever the traffic, 0..1000000.
  // Default: 10.
  int retry_budget_min_retries = 10;

  // Dead letters (finally failed requests) kept at most; the oldest are
  // dropped and counted beyond, 1..10000000. Default: 10000.
  int dlq_max_entries = 10000;

  // Where dead letters live: "sqlite" (this instance's data dir), "redis"
  // (shared by every instance; needs the `redis:` section) or "auto" (redis
  // when the `redis:` section is enabled, else sqlite). Default: "auto".
  std::string dlq_store = "auto";

  friend bool operator==(const ErrorRecoveryConfig&, const ErrorRecoveryConfig&) = default;
};

// PerformanceConfig: profiling and the performance layer's own cache. YAML:
// `performance:`.
struct PerformanceConfig {
  // Whether per-stage timings are recorded (env PERFORMANCE_ENABLE_PROFILING).
  // Default: true.
  bool enable_profiling = true;

  // Entries the performance cache keeps at most (env PERFORMANCE_CACHE_SIZE).
  // Default: 1000.
  size_t cache_size = 1000;

  // Lifetime of a performance-cache entry (env PERFORMANCE_CACHE_TTL,
  // seconds). YAML `cache_ttl_s`. Default: 300 s.
  Nanos cache_ttl = std::chrono::seconds(300);

  friend bool operator==(const PerformanceConfig&, const PerformanceConfig&) = default;
};

// ExperimentsConfig: A/B testing of models and prompts. YAML: `experiments:`.
struct ExperimentsConfig {
  // Whether proxied requests enter experiments that target their model (the
  // `experiment` stage; env EXPERIMENTS_ENABLED). The admin API under
  // /api/v1/ab-testing works either way. Default: true.
  bool enabled = true;

  // Where experiments, counts and sticky assignments live: "sqlite" (the
  // data dir) or "redis" (shared by instances; requires `redis:`). Env
  // EXPERIMENTS_STORE. Default: "sqlite".
  std::string store = "sqlite";

  // How often impressions, the gateway's outcomes and sticky choices are
  // written in one batch (off the request path); a crash loses at most this
  // long's worth of them. Outcomes recorded through the API are written
  // before their answer. YAML `flush_interval_ms`. Default: 100 ms.
  Nanos flush_interval = std::chrono::milliseconds(100);

  // With store: redis, how often definitions, status and counts are re-read
  // so that other instances' changes show here (the staleness bound); 0
  // disables. YAML `sync_interval_ms`. Default: 1000 ms.
  Nanos sync_interval = std::chrono::milliseconds(1000);

  // Outcome records (with their metadata) kept per experiment, newest first.
  // YAML `outcome_log_size`. Default: 1000.
  size_t outcome_log_size = 1000;

  friend bool operator==(const ExperimentsConfig&, const ExperimentsConfig&) = default;
};

// Config: the whole configuration. Config{} holds the documented defaults
// without any environment applied.
struct Config {
  ServerConfig server;                    // YAML `server:`
  StorageConfig storage;                  // YAML `storage:`
  RedisConfig redis;                      // YAML `redis:`
  std::vector<UpstreamConfig> upstreams;  // YAML `upstreams:`. Default: none.
  RoutingConfig routing;                  // YAML `routing:`
  CacheConfig cache;                      // YAML `cache:`
  RateLimitConfig rate_limit;             // YAML `rate_limit:`
  CircuitBreakerConfig circuit_breaker;   // YAML `circuit_breaker:`
  ErrorRecoveryConfig error_recovery;     // YAML `error_recovery:`
  PerformanceConfig performance;          // YAML `performance:`
  ExperimentsConfig experiments;          // YAML `experiments:`

  // Serve from the built-in simulated upstream instead of real providers
  // (also the CLI's --demo). Default: false.
  bool demo = false;

  friend bool operator==(const Config&, const Config&) = default;
};

// ---------------------------------------------------------------------------
// Loading and validation
// ---------------------------------------------------------------------------

// kLogLevels: the accepted values of ServerConfig::log_level.
inline constexpr std::string_view kLogLevels[] = {"trace", "debug",    "info", "warn",
                                                  "error", "critical", "off"};

// AccessLogName: "text", "json" or "off".
std::string_view AccessLogName(ServerConfig::AccessLog format);

// LoadConfigFile: defaults, then the YAML file at `path`, then `env`; then
// ValidateConfig. kNotFound when the file does not exist; kInvalidArgument
// naming the key path (YAML), the variable (env) or the line (syntax).
Result<Config> LoadConfigFile(const std::string& path, const Env& env);

// LoadConfigString: as LoadConfigFile, from YAML text. An empty document
// yields the defaults plus `env`.
Result<Config> LoadConfigString(std::string_view yaml, const Env& env);

// DefaultConfig: the configuration without a file: defaults, then `env`,
// then ValidateConfig. Fails only on a bad environment value.
Result<Config> DefaultConfig(const Env& env);

// ValidateConfig: checks every range and cross-field rule (port range,
// positive timeouts, unique upstream names, base_url scheme, weights >= 1,
// thresholds >= 1, base_delay <= max_delay, similarity in (0, 1],
// default_tier names a tier, fallbacks name models, ...). The first problem
// found is returned as kInvalidArgument naming its key path. Call it again
// after changing a loaded Config.
Status ValidateConfig(const Config& config);

}  // namespace agentgate
