#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace agentgate {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const Env kNoEnv = MapEnv({});

// The repository root, found from this file's path (tests/unit/config/).
std::filesystem::path RepoRoot() { return std::filesystem::path(AGENTGATE_SOURCE_DIR); }

Config MustLoad(std::string_view yaml, const Env& env = kNoEnv) {
  Result<Config> c = LoadConfigString(yaml, env);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : Config{};
}

// LoadError: the message of a load that must fail with kInvalidArgument.
std::string LoadError(std::string_view yaml, const Env& env = kNoEnv) {
  Result<Config> c = LoadConfigString(yaml, env);
  EXPECT_FALSE(c.ok()) << "loaded:\n" << yaml;
  if (c.ok()) return {};
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  return c.status().message();
}

// --- defaults --------------------------------------------------------------

TEST(ConfigDefaultsTest, MatchDocumentedValues) {
  Result<Config> r = DefaultConfig(kNoEnv);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Config& c = *r;
  EXPECT_EQ(c, Config{});

  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 8000);
  EXPECT_EQ(c.server.threads, 0);
  EXPECT_EQ(c.server.admin_key, "");
  EXPECT_EQ(c.server.max_body_bytes, 10u * 1024 * 1024);
  EXPECT_EQ(c.server.max_header_bytes, 16u * 1024);
  EXPECT_EQ(c.server.header_timeout, seconds(10));
  EXPECT_EQ(c.server.idle_timeout, seconds(60));
  EXPECT_EQ(c.server.body_timeout, seconds(60));
  EXPECT_EQ(c.server.max_connections, 10000u);
  EXPECT_EQ(c.server.shutdown_grace, seconds(30));
  EXPECT_EQ(c.server.access_log, ServerConfig::AccessLog::kText);
  EXPECT_EQ(c.server.log_level, "info");

  EXPECT_EQ(c.storage.data_dir, "./data");

  EXPECT_FALSE(c.redis.enabled);
  EXPECT_EQ(c.redis.host, "127.0.0.1");
  EXPECT_EQ(c.redis.port, 6379);
  EXPECT_EQ(c.redis.password, "");
  EXPECT_FALSE(c.redis.tls);
  EXPECT_EQ(c.redis.connect_timeout, seconds(1));
  EXPECT_EQ(c.redis.command_timeout, seconds(1));
  EXPECT_EQ(c.redis.reconnect_max_backoff, milliseconds(500));
  EXPECT_EQ(c.redis.key_prefix, "");
  EXPECT_TRUE(c.redis.fail_open);
  EXPECT_EQ(c.redis.dbs.semantic, 1);
  EXPECT_EQ(c.redis.dbs.response, 2);
  EXPECT_EQ(c.redis.dbs.embedding, 3);
  EXPECT_EQ(c.redis.dbs.dedup, 4);
  EXPECT_EQ(c.redis.dbs.costs, 5);
  EXPECT_EQ(c.redis.dbs.keys, 6);
  EXPECT_EQ(c.redis.dbs.ratelimit, 7);

  EXPECT_TRUE(c.upstreams.empty());
  EXPECT_TRUE(c.routing.fallbacks.empty());

  EXPECT_TRUE(c.cache.enabled);
  EXPECT_EQ(c.cache.default_ttl, seconds(300));
  EXPECT_EQ(c.cache.max_size, 10000u);
  EXPECT_TRUE(c.cache.semantic_enabled);
  EXPECT_DOUBLE_EQ(c.cache.similarity_threshold, 0.95);

  EXPECT_TRUE(c.rate_limit.enabled);
  EXPECT_EQ(c.rate_limit.default_tier, "free");
  EXPECT_TRUE(c.rate_limit.enable_analytics);
  EXPECT_TRUE(c.rate_limit.fail_open);
  ASSERT_EQ(c.rate_limit.tiers.size(), 4u);
  EXPECT_EQ(c.rate_limit.tiers.at("free"), (TierConfig{2, 60, 1000, 10000, 0, 0}));
  EXPECT_EQ(c.rate_limit.tiers.at("basic"), (TierConfig{5, 150, 5000, 50000, 0, 0}));
  EXPECT_EQ(c.rate_limit.tiers.at("pro"), (TierConfig{10, 300, 15000, 150000, 0, 0}));
  EXPECT_EQ(c.rate_limit.tiers.at("enterprise"), (TierConfig{50, 1000, 50000, 500000, 0, 0}));

  EXPECT_EQ(c.circuit_breaker.failure_threshold, 5);
  EXPECT_EQ(c.circuit_breaker.success_threshold, 2);
  EXPECT_EQ(c.circuit_breaker.timeout, seconds(60));

  EXPECT_EQ(c.error_recovery.max_attempts, 3);
  EXPECT_EQ(c.error_recovery.base_delay, seconds(1));
  EXPECT_EQ(c.error_recovery.max_delay, seconds(60));

  EXPECT_TRUE(c.performance.enable_profiling);
  EXPECT_EQ(c.performance.cache_size, 1000u);
  EXPECT_EQ(c.performance.cache_ttl, seconds(300));

  EXPECT_FALSE(c.demo);
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(ConfigDefaultsTest, EmptyDocumentIsDefaults) {
  EXPECT_EQ(MustLoad(""), Config{});
  EXPECT_EQ(MustLoad("# only a comment\n"), Config{});
  EXPECT_EQ(MustLoad("server:\n"), Config{});
}

// --- YAML ------------------------------------------------------------------

TEST(ConfigYamlTest, OverridesEverySection) {
  Config c = MustLoad(R"(
server:
  host: 127.0.0.1
  port: 9000
  threads: 4
  admin_key: secret
  max_body_bytes: 1024
  header_timeout_ms: 2500
  shutdown_grace_ms: 0
  access_log: json
  log_level: debug
storage:
  data_dir: /var/lib/agentgate
redis:
  host: redis.internal
  key_prefix: "ag:"
  connect_timeout_ms: 250
  dbs: {semantic: 11, ratelimit: 0}
upstreams:
  - name: openai
    base_url: https://api.openai.com/
    api_key: sk-test
    models: [gpt-4o, gpt-4o-mini]
    weight: 3
    first_byte_timeout_ms: 1500
    tls_verify: false
  - name: local
    base_url: http://127.0.0.1:9001
    models: ["*"]
routing:
  fallbacks:
    gpt-4o: [gpt-4o-mini, llama3]
cache:
  enabled: false
  default_ttl_s: 1.5
  similarity_threshold: 1
rate_limit:
  default_tier: gold
  tiers:
    gold: {per_second: 100, tokens_per_day: 1000000}
    free: {per_day: 20000}
circuit_breaker: {failure_threshold: 10, timeout_s: 30}
error_recovery: {max_attempts: 5, base_delay_s: 0.25, max_delay_s: 10}
performance: {enable_profiling: no, cache_size: 5, cache_ttl_s: 60}
demo: true
)");
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 9000);
  EXPECT_EQ(c.server.threads, 4);
  EXPECT_EQ(c.server.admin_key, "secret");
  EXPECT_EQ(c.server.max_body_bytes, 1024u);
  EXPECT_EQ(c.server.header_timeout, milliseconds(2500));
  EXPECT_EQ(c.server.shutdown_grace, Nanos::zero());
  EXPECT_EQ(c.server.idle_timeout, seconds(60));  // untouched
  EXPECT_EQ(c.server.access_log, ServerConfig::AccessLog::kJson);
  EXPECT_EQ(c.server.log_level, "debug");
  EXPECT_EQ(c.storage.data_dir, "/var/lib/agentgate");

  EXPECT_TRUE(c.redis.enabled);  // the section is present
  EXPECT_EQ(c.redis.host, "redis.internal");
  EXPECT_EQ(c.redis.key_prefix, "ag:");
  EXPECT_EQ(c.redis.connect_timeout, milliseconds(250));
  EXPECT_EQ(c.redis.dbs.semantic, 11);
  EXPECT_EQ(c.redis.dbs.ratelimit, 0);
  EXPECT_EQ(c.redis.dbs.response, 2);

  ASSERT_EQ(c.upstreams.size(), 2u);
  const UpstreamConfig& u = c.upstreams[0];
  EXPECT_EQ(u.name, "openai");
  EXPECT_EQ(u.base_url, "https://api.openai.com");  // trailing '/' removed
  EXPECT_EQ(u.api_key, "sk-test");
  EXPECT_EQ(u.models, (std::vector<std::string>{"gpt-4o", "gpt-4o-mini"}));
  EXPECT_EQ(u.weight, 3);
  EXPECT_EQ(u.first_byte_timeout, milliseconds(1500));
  EXPECT_EQ(u.request_timeout, seconds(300));
  EXPECT_FALSE(u.tls_verify);
  EXPECT_TRUE(u.serves("gpt-4o"));
  EXPECT_FALSE(u.serves("llama3"));
  EXPECT_TRUE(c.upstreams[1].serves("llama3"));

  EXPECT_EQ(c.routing.fallbacks.at("gpt-4o"), (std::vector<std::string>{"gpt-4o-mini", "llama3"}));

  EXPECT_FALSE(c.cache.enabled);
  EXPECT_EQ(c.cache.default_ttl, milliseconds(1500));
  EXPECT_DOUBLE_EQ(c.cache.similarity_threshold, 1.0);

  EXPECT_EQ(c.rate_limit.default_tier, "gold");
  EXPECT_EQ(c.rate_limit.tiers.size(), 5u);
  EXPECT_EQ(c.rate_limit.tiers.at("gold"), (TierConfig{100, 0, 0, 0, 0, 1000000}));
  // An override keeps the fields it does not name.
  EXPECT_EQ(c.rate_limit.tiers.at("free"), (TierConfig{2, 60, 1000, 20000, 0, 0}));

  EXPECT_EQ(c.circuit_breaker.failure_threshold, 10);
  EXPECT_EQ(c.circuit_breaker.success_threshold, 2);
  EXPECT_EQ(c.circuit_breaker.timeout, seconds(30));
  EXPECT_EQ(c.error_recovery.max_attempts, 5);
  EXPECT_EQ(c.error_recovery.base_delay, milliseconds(250));
  EXPECT_EQ(c.error_recovery.max_delay, seconds(10));
  EXPECT_FALSE(c.performance.enable_profiling);
  EXPECT_EQ(c.performance.cache_size, 5u);
  EXPECT_EQ(c.performance.cache_ttl, seconds(60));
  EXPECT_TRUE(c.demo);
}

TEST(ConfigYamlTest, RedisSectionCanBeDisabledExplicitly) {
  EXPECT_TRUE(MustLoad("redis:\n").redis.enabled);
  EXPECT_FALSE(MustLoad("redis: {enabled: false, port: 6380}").redis.enabled);
}

// --- environment -----------------------------------------------------------

TEST(ConfigEnvTest, EnvOverridesYaml) {
  Env env = MapEnv({
      {"AGENTGATE_ADMIN_KEY", "from-env"},
      {"REDIS_PORT", "6390"},
      {"REDIS_PASSWORD", "pw"},
      {"SEMANTIC_CACHE_SIMILARITY_THRESHOLD", "0.8"},
      {"CACHE_DEFAULT_TTL", "120"},
      {"CACHE_MAX_SIZE", "42"},
      {"RATE_LIMIT_DEFAULT_TIER", "pro"},
      {"RATE_LIMIT_ENABLE_ANALYTICS", "false"},
      {"CIRCUIT_BREAKER_FAILURE_THRESHOLD", "7"},
      {"CIRCUIT_BREAKER_SUCCESS_THRESHOLD", "3"},
      {"CIRCUIT_BREAKER_TIMEOUT", "15"},
      {"ERROR_RECOVERY_MAX_ATTEMPTS", "4"},
      {"ERROR_RECOVERY_BASE_DELAY", "0.5"},
      {"ERROR_RECOVERY_MAX_DELAY", "2.5"},
      {"PERFORMANCE_ENABLE_PROFILING", "0"},
      {"PERFORMANCE_CACHE_SIZE", "9"},
      {"PERFORMANCE_CACHE_TTL", "30"},
  });
  Config c = MustLoad(R"(
server: {admin_key: from-yaml}
cache: {default_ttl_s: 10, max_size: 5, similarity_threshold: 0.99}
rate_limit: {default_tier: basic}
circuit_breaker: {failure_threshold: 1}
)",
                      env);
  EXPECT_EQ(c.server.admin_key, "from-env");
  EXPECT_FALSE(c.redis.enabled);  // REDIS_PORT alone does not enable Redis
  EXPECT_EQ(c.redis.port, 6390);
  EXPECT_EQ(c.redis.password, "pw");
  EXPECT_DOUBLE_EQ(c.cache.similarity_threshold, 0.8);
  EXPECT_EQ(c.cache.default_ttl, seconds(120));
  EXPECT_EQ(c.cache.max_size, 42u);
  EXPECT_EQ(c.rate_limit.default_tier, "pro");
  EXPECT_FALSE(c.rate_limit.enable_analytics);
  EXPECT_EQ(c.circuit_breaker.failure_threshold, 7);
  EXPECT_EQ(c.circuit_breaker.success_threshold, 3);
  EXPECT_EQ(c.circuit_breaker.timeout, seconds(15));
  EXPECT_EQ(c.error_recovery.max_attempts, 4);
  EXPECT_EQ(c.error_recovery.base_delay, milliseconds(500));
  EXPECT_EQ(c.error_recovery.max_delay, milliseconds(2500));
  EXPECT_FALSE(c.performance.enable_profiling);
  EXPECT_EQ(c.performance.cache_size, 9u);
  EXPECT_EQ(c.performance.cache_ttl, seconds(30));
}

TEST(ConfigEnvTest, RedisHostEnablesRedis) {
  Result<Config> c = DefaultConfig(MapEnv({{"REDIS_HOST", "cache.local"}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->redis.enabled);
  EXPECT_EQ(c->redis.host, "cache.local");
  // An empty variable counts as unset.
  Result<Config> d = DefaultConfig(MapEnv({{"REDIS_HOST", ""}}));
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->redis.enabled);
}

TEST(ConfigEnvTest, ApiKeyEnvIsResolvedThroughTheInjectedEnv) {
  const char* yaml = R"(
upstreams:
  - name: openai
    base_url: https://api.openai.com
    api_key_env: MY_OPENAI_KEY
    models: [gpt-4o]
)";
  Config c = MustLoad(yaml, MapEnv({{"MY_OPENAI_KEY", "sk-live"}}));
  ASSERT_EQ(c.upstreams.size(), 1u);
  EXPECT_EQ(c.upstreams[0].api_key, "sk-live");
  EXPECT_EQ(c.upstreams[0].api_key_env, "MY_OPENAI_KEY");

  EXPECT_EQ(LoadError(yaml),
            "upstreams[0].api_key_env: environment variable MY_OPENAI_KEY is not set");
  EXPECT_THAT(LoadError(R"(
upstreams:
  - {name: a, base_url: "http://x", api_key: k, api_key_env: K, models: ["*"]}
)",
                        MapEnv({{"K", "v"}})),
              StartsWith("upstreams[0].api_key_env: set either api_key or api_key_env"));
}

TEST(ConfigEnvTest, OpenAiVariablesCreateDefaultUpstream) {
  Result<Config> c = DefaultConfig(MapEnv({{"OPENAI_API_KEY", "sk-1"}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->upstreams.size(), 1u);
  const UpstreamConfig& u = c->upstreams[0];
  EXPECT_EQ(u.name, "openai");
  EXPECT_EQ(u.base_url, "https://api.openai.com");
  EXPECT_EQ(u.api_key, "sk-1");
  EXPECT_EQ(u.models, std::vector<std::string>{"*"});
  EXPECT_TRUE(u.serves("any-model-at-all"));

  c = DefaultConfig(
      MapEnv({{"OPENAI_API_KEY", "sk-1"}, {"OPENAI_BASE_URL", "http://127.0.0.1:9001/"}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->upstreams.at(0).base_url, "http://127.0.0.1:9001");

  // No key: no upstream, even with a base URL.
  c = DefaultConfig(MapEnv({{"OPENAI_BASE_URL", "http://127.0.0.1:9001"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->upstreams.empty());

  // Configured upstreams win over the variables.
  Config d = MustLoad("upstreams: [{name: mine, base_url: 'http://m', models: [a]}]",
                      MapEnv({{"OPENAI_API_KEY", "sk-1"}}));
  ASSERT_EQ(d.upstreams.size(), 1u);
  EXPECT_EQ(d.upstreams[0].name, "mine");

  Result<Config> bad =
      DefaultConfig(MapEnv({{"OPENAI_API_KEY", "sk"}, {"OPENAI_BASE_URL", "api.openai.com"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              StartsWith("OPENAI_BASE_URL: must start with http:// or https://"));
}

TEST(ConfigEnvTest, BadValuesNameTheVariable) {
  struct Case {
    const char* var;
    const char* value;
    const char* expected;
  };
  const Case cases[] = {
      {"REDIS_PORT", "abc", "REDIS_PORT: expected an integer in 1..65535, got \"abc\""},
      {"REDIS_PORT", "70000", "REDIS_PORT: expected an integer in 1..65535, got \"70000\""},
      {"CACHE_DEFAULT_TTL", "-1", "CACHE_DEFAULT_TTL: expected a number of seconds in (0, "},
      {"CACHE_MAX_SIZE", "0", "CACHE_MAX_SIZE: expected an integer >= 1, got \"0\""},
      {"SEMANTIC_CACHE_SIMILARITY_THRESHOLD", "1.5",
       "SEMANTIC_CACHE_SIMILARITY_THRESHOLD: expected a number in (0, 1], got \"1.5\""},
      {"SEMANTIC_CACHE_SIMILARITY_THRESHOLD", "0", "SEMANTIC_CACHE_SIMILARITY_THRESHOLD: "},
      {"RATE_LIMIT_ENABLE_ANALYTICS", "maybe", "RATE_LIMIT_ENABLE_ANALYTICS: expected a boolean"},
      {"RATE_LIMIT_DEFAULT_TIER", "platinum", "RATE_LIMIT_DEFAULT_TIER: unknown tier \"platinum\""},
      {"CIRCUIT_BREAKER_FAILURE_THRESHOLD", "0",
       "CIRCUIT_BREAKER_FAILURE_THRESHOLD: expected an integer in 1..1000000"},
      {"CIRCUIT_BREAKER_TIMEOUT", "soon", "CIRCUIT_BREAKER_TIMEOUT: expected a number of seconds"},
      {"ERROR_RECOVERY_MAX_ATTEMPTS", "2.5", "ERROR_RECOVERY_MAX_ATTEMPTS: expected an integer"},
      {"ERROR_RECOVERY_BASE_DELAY", "120",
       "ERROR_RECOVERY_BASE_DELAY: base delay 120 s exceeds max delay 60 s"},
      {"PERFORMANCE_ENABLE_PROFILING", "nope", "PERFORMANCE_ENABLE_PROFILING: expected a boolean"},
      {"PERFORMANCE_CACHE_SIZE", "-3", "PERFORMANCE_CACHE_SIZE: expected an integer >= 1"},
      {"PERFORMANCE_CACHE_TTL", "nan", "PERFORMANCE_CACHE_TTL: expected a number of seconds"},
  };
  for (const Case& k : cases) {
    Result<Config> c = DefaultConfig(MapEnv({{k.var, k.value}}));
    ASSERT_FALSE(c.ok()) << k.var << "=" << k.value;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(c.status().message(), StartsWith(k.expected)) << k.var << "=" << k.value;
  }
}

// --- errors name the key ---------------------------------------------------

TEST(ConfigErrorTest, UnknownKeysAtEveryLevel) {
  EXPECT_EQ(LoadError("sever:\n  port: 1\n"), "sever: unknown key (did you mean server?) (line 1)");
  EXPECT_EQ(LoadError("colour: blue\n"), "colour: unknown key (line 1)");
  EXPECT_EQ(LoadError("server:\n  prot: 80\n"),
            "server.prot: unknown key (did you mean server.port?) (line 2)");
  EXPECT_EQ(LoadError("cache:\n  enabled: true\n  ttl: 5\n"),
            "cache.ttl: unknown key (did you mean cache.default_ttl_s?) (line 3)");
  EXPECT_EQ(LoadError("redis:\n  dbs:\n    session: 9\n"),
            "redis.dbs.session: unknown key (line 3)");
  EXPECT_THAT(LoadError("redis:\n  reconnect_max_backoff_ms: 0\n"),
              StartsWith("redis.reconnect_max_backoff_ms"));
  EXPECT_THAT(LoadError("upstreams:\n  - name: a\n    base_url: http://a\n    models: [x]\n"
                        "  - name: b\n    base_url: http://b\n    model: [x]\n"),
              StartsWith("upstreams[1].model: unknown key (did you mean upstreams[1].models?)"));
  EXPECT_THAT(LoadError("rate_limit:\n  tiers:\n    pro: {per_sec: 1}\n"),
              StartsWith("rate_limit.tiers.pro.per_sec: unknown key (did you mean "
                         "rate_limit.tiers.pro.per_second?)"));
  EXPECT_THAT(LoadError("server:\n  port: 1\n  port: 2\n"),
              StartsWith("server.port: duplicate key"));
}

TEST(ConfigErrorTest, WrongTypesNameTheKey) {
  EXPECT_EQ(LoadError("server:\n  port: abc\n"),
            "server.port: expected an integer in 1..65535, got \"abc\" (line 2)");
  EXPECT_THAT(LoadError("server: 8000\n"), StartsWith("server: expected a map, got \"8000\""));
  EXPECT_THAT(LoadError("server:\n  host: [a, b]\n"),
              StartsWith("server.host: expected a string, got a list"));
  EXPECT_THAT(LoadError("cache:\n  enabled: perhaps\n"),
              StartsWith("cache.enabled: expected true or false, got \"perhaps\""));
  EXPECT_THAT(LoadError("cache:\n  default_ttl_s: 5m\n"),
              StartsWith("cache.default_ttl_s: expected a number of seconds in (0, "));
  EXPECT_THAT(LoadError("server:\n  access_log: xml\n"),
              StartsWith("server.access_log: expected one of text, json, off, got \"xml\""));
  EXPECT_THAT(LoadError("upstreams: {name: a}\n"),
              StartsWith("upstreams: expected a list of upstreams, got a map"));
  EXPECT_THAT(LoadError("upstreams:\n  - name: a\n    base_url: http://a\n    models: gpt\n"),
              StartsWith("upstreams[0].models: expected a list of strings, got \"gpt\""));
  EXPECT_THAT(LoadError("upstreams:\n  - name: a\n    base_url: http://a\n    models: [{x: 1}]\n"),
              StartsWith("upstreams[0].models[0]: expected a string, got a map"));
  EXPECT_THAT(LoadError("routing:\n  fallbacks:\n    gpt-4o: gpt-4o-mini\n"),
              StartsWith("routing.fallbacks.gpt-4o: expected a list of strings"));
  EXPECT_THAT(LoadError("demo: 3\n"), StartsWith("demo: expected true or false, got \"3\""));
  EXPECT_THAT(LoadError("- a\n- b\n"),
              StartsWith("configuration: expected a map of sections at the top level"));
}

TEST(ConfigErrorTest, OutOfRangeNamesTheKey) {
  EXPECT_EQ(LoadError("server:\n  port: 0\n"),
            "server.port: expected an integer in 1..65535, got \"0\" (line 2)");
  EXPECT_THAT(LoadError("server:\n  port: 65536\n"), StartsWith("server.port: expected"));
  EXPECT_THAT(LoadError("server:\n  header_timeout_ms: 0\n"),
              StartsWith("server.header_timeout_ms: expected a number of milliseconds in (0, "));
  EXPECT_THAT(LoadError("cache:\n  similarity_threshold: 0\n"),
              StartsWith("cache.similarity_threshold: expected a number in (0, 1], got \"0\""));
  EXPECT_THAT(LoadError("cache:\n  similarity_threshold: 1.01\n"),
              StartsWith("cache.similarity_threshold: expected a number in (0, 1]"));
  EXPECT_THAT(LoadError("circuit_breaker:\n  success_threshold: 0\n"),
              StartsWith("circuit_breaker.success_threshold: expected an integer in 1..1000000"));
  EXPECT_THAT(LoadError("rate_limit:\n  tiers:\n    pro: {per_minute: -1}\n"),
              StartsWith("rate_limit.tiers.pro.per_minute: expected an integer >= 0"));
  EXPECT_THAT(
      LoadError("upstreams:\n  - {name: a, base_url: 'http://a', models: [x], weight: 0}\n"),
      StartsWith("upstreams[0].weight: expected an integer in 1..1000000"));
  EXPECT_THAT(LoadError("error_recovery: {base_delay_s: 10, max_delay_s: 5}\n"),
              StartsWith("error_recovery.base_delay_s: must be <= error_recovery.max_delay_s"));
  EXPECT_THAT(LoadError("server:\n  log_level: loud\n"),
              StartsWith("server.log_level: expected one of trace, debug, info"));
}

TEST(ConfigErrorTest, CrossFieldRules) {
  EXPECT_EQ(LoadError(R"(
upstreams:
  - {name: a, base_url: "http://a", models: [x]}
  - {name: a, base_url: "http://b", models: [y]}
)"),
            "upstreams[1].name: duplicate upstream name \"a\"");
  EXPECT_THAT(LoadError("rate_limit: {default_tier: gold}\n"),
              StartsWith("rate_limit.default_tier: unknown tier \"gold\" (tiers: basic, "
                         "enterprise, free, pro)"));
  EXPECT_EQ(LoadError("upstreams:\n  - {name: a, base_url: 'ftp://a', models: [x]}\n"),
            "upstreams[0].base_url: must start with http:// or https://, got \"ftp://a\"");
  EXPECT_EQ(LoadError("upstreams:\n  - {name: a, models: [x]}\n"),
            "upstreams[0].base_url: is required");
  EXPECT_THAT(LoadError("upstreams:\n  - {name: a, base_url: 'http://a'}\n"),
              StartsWith("upstreams[0].models: must list at least one model"));
  EXPECT_THAT(LoadError("upstreams:\n  - {base_url: 'http://a', models: [x]}\n"),
              StartsWith("upstreams[0].name: must not be empty"));
  EXPECT_THAT(LoadError("upstreams:\n  - {name: 'a b', base_url: 'http://a', models: [x]}\n"),
              StartsWith("upstreams[0].name: may contain only"));
  EXPECT_THAT(LoadError(R"(
upstreams: [{name: a, base_url: "http://a", models: [x, y]}]
routing: {fallbacks: {x: [z]}}
)"),
              StartsWith("routing.fallbacks.x[0]: no upstream serves model \"z\""));
  EXPECT_THAT(LoadError("routing: {fallbacks: {x: [x]}}\n"),
              StartsWith("routing.fallbacks.x[0]: a model cannot fall back to itself"));
}

TEST(ConfigErrorTest, ValidateConfigAfterOverrides) {
  Config c;
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.server.port = 0;
  EXPECT_EQ(ValidateConfig(c).message(), "server.port: expected an integer in 1..65535, got 0");
  c = Config{};
  c.storage.data_dir.clear();
  EXPECT_EQ(ValidateConfig(c).message(), "storage.data_dir: must not be empty");
  c = Config{};
  c.error_recovery.max_delay = milliseconds(500);
  EXPECT_THAT(ValidateConfig(c).message(),
              StartsWith("error_recovery.base_delay_s: must be <= error_recovery.max_delay_s"));
  c = Config{};
  c.cache.similarity_threshold = 0;
  EXPECT_THAT(ValidateConfig(c).message(), StartsWith("cache.similarity_threshold:"));
  c = Config{};
  c.demo = true;
  EXPECT_TRUE(ValidateConfig(c).ok());
}

// --- files -----------------------------------------------------------------

TEST(ConfigFileTest, MissingFileAndSyntaxErrors) {
  Result<Config> missing = LoadConfigFile("/nonexistent/agentgate.yaml", kNoEnv);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/agentgate.yaml"));

  Result<Config> dir = LoadConfigFile("/tmp", kNoEnv);
  ASSERT_FALSE(dir.ok());
  EXPECT_THAT(dir.status().message(), HasSubstr("is a directory"));

  std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("agentgate_config_test_" +
       std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + ".yaml");
  {
    std::ofstream out(path);
    out << "server:\n  port: 8080\n  host: [unclosed\n";
  }
  Result<Config> bad = LoadConfigFile(path.string(), kNoEnv);
  std::filesystem::remove(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), StartsWith(path.string() + ":"));
  EXPECT_THAT(bad.status().message(), HasSubstr("YAML syntax error"));

  EXPECT_THAT(LoadError("server:\n  port: 1\n bad indent: 2\n"), StartsWith("<config>:3:"));
}

TEST(ConfigResilienceTest, DefaultsParseAndRanges) {
  Config d;
  EXPECT_TRUE(d.circuit_breaker.enabled);
  EXPECT_EQ(d.circuit_breaker.half_open_max_probes, 1);
  EXPECT_EQ(d.error_recovery.jitter, "full");
  EXPECT_EQ(d.error_recovery.retry_budget_percent, 20);
  EXPECT_EQ(d.error_recovery.retry_budget_min_retries, 10);
  EXPECT_EQ(d.error_recovery.dlq_max_entries, 10000);
  Config c = MustLoad(
      "circuit_breaker: {enabled: false, half_open_max_probes: 3}\n"
      "error_recovery: {jitter: proportional, retry_budget_percent: 50, "
      "retry_budget_min_retries: 0, dlq_max_entries: 5}\n");
  EXPECT_FALSE(c.circuit_breaker.enabled);
  EXPECT_EQ(c.circuit_breaker.half_open_max_probes, 3);
  EXPECT_EQ(c.error_recovery.jitter, "proportional");
  EXPECT_EQ(c.error_recovery.retry_budget_percent, 50);
  EXPECT_EQ(c.error_recovery.retry_budget_min_retries, 0);
  EXPECT_EQ(c.error_recovery.dlq_max_entries, 5);
  EXPECT_THAT(LoadError("error_recovery:\n  dlq_max_entries: 0\n"),
              StartsWith("error_recovery.dlq_max_entries: expected an integer in 1..10000000"));
  EXPECT_THAT(LoadError("circuit_breaker:\n  half_open_max_probes: 0\n"),
              StartsWith("circuit_breaker.half_open_max_probes: expected an integer in 1..1000"));
  EXPECT_THAT(LoadError("error_recovery:\n  retry_budget_percent: 101\n"),
              StartsWith("error_recovery.retry_budget_percent: expected an integer in 0..100"));
  EXPECT_THAT(LoadError("error_recovery:\n  jitter: lots\n"),
              StartsWith("error_recovery.jitter: must be one of full, proportional, none"));
  EXPECT_THAT(LoadError("error_recovery:\n  dlq_store: disk\n"),
              StartsWith("error_recovery.dlq_store: must be one of auto, sqlite, redis"));
  EXPECT_THAT(LoadError("error_recovery:\n  dlq_store: redis\n"),
              StartsWith("error_recovery.dlq_store: is redis but the redis section is not enabled"));
}

TEST(ConfigFileTest, ExampleFileLoads) {
  std::string path = (RepoRoot() / "config" / "agentgate.example.yaml").string();
  Result<Config> c = LoadConfigFile(path, MapEnv({{"OPENAI_API_KEY", "sk-example"}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_FALSE(c->upstreams.empty());
  EXPECT_EQ(c->upstreams[0].name, "openai");
  EXPECT_EQ(c->upstreams[0].api_key, "sk-example");
  EXPECT_EQ(c->server.port, 8000);

  // Without the variable the example names what is missing.
  Result<Config> no_key = LoadConfigFile(path, kNoEnv);
  ASSERT_FALSE(no_key.ok());
  EXPECT_THAT(no_key.status().message(), HasSubstr("OPENAI_API_KEY is not set"));
}

TEST(ConfigCacheDedupTest, DedupKeysAreReadAndChecked) {
  Config d = MustLoad("");
  EXPECT_TRUE(d.cache.dedup);
  EXPECT_EQ(d.cache.dedup_timeout, std::chrono::seconds(30));
  Config c = MustLoad("cache: {dedup: false, dedup_timeout_s: 2.5}\n");
  EXPECT_FALSE(c.cache.dedup);
  EXPECT_EQ(c.cache.dedup_timeout, std::chrono::milliseconds(2500));
  Config s = MustLoad("cache: {semantic_expiry_s: 60, semantic_max_temperature: 0.5}\n");
  EXPECT_EQ(s.cache.semantic_ttl, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(s.cache.semantic_max_temperature, 0.5);
  EXPECT_EQ(d.cache.semantic_ttl, std::chrono::seconds(3600));
  EXPECT_DOUBLE_EQ(d.cache.semantic_max_temperature, 1.0);
  EXPECT_THAT(LoadError("cache:\n  semantic_max_temperature: 3\n"),
              StartsWith("cache.semantic_max_temperature: expected a number in [0, 2], got \"3\""));
  EXPECT_THAT(LoadError("cache:\n  dedup_timeout_s: 0\n"),
              StartsWith("cache.dedup_timeout_s: expected a number of seconds in (0, "));
  EXPECT_EQ(d.cache.semantic_embedding_model, "");
  Config e = MustLoad(R"(
upstreams: [{name: a, base_url: "http://a", models: [chat, embed-small]}]
cache: {semantic_embedding_model: embed-small}
)");
  EXPECT_EQ(e.cache.semantic_embedding_model, "embed-small");
  EXPECT_THAT(LoadError(R"(
upstreams: [{name: a, base_url: "http://a", models: [chat]}]
cache: {semantic_embedding_model: embed-small}
)"),
              StartsWith("cache.semantic_embedding_model: no upstream serves model \"embed-small\""));
}

TEST(ConfigCostsTest, PricesAndTierBudgetsAreReadAndChecked) {
  Config d = MustLoad("");
  EXPECT_TRUE(d.rate_limit.prices.empty());
  EXPECT_DOUBLE_EQ(d.rate_limit.tiers.at("free").budget_usd_per_day, 0);
  Config c = MustLoad(
      "rate_limit:\n"
      "  prices:\n"
      "    gpt-4o-mini: {input_per_million: 0.15, output_per_million: 0.6}\n"
      "    gpt-4o: {input_per_million: 2.5}\n"
      "  tiers:\n"
      "    free: {budget_usd_per_day: 0.5, budget_usd_per_month: 5}\n");
  EXPECT_EQ(c.rate_limit.prices.at("gpt-4o-mini"), (ModelPriceConfig{0.15, 0.6}));
  EXPECT_EQ(c.rate_limit.prices.at("gpt-4o"), (ModelPriceConfig{2.5, 0}));
  EXPECT_DOUBLE_EQ(c.rate_limit.tiers.at("free").budget_usd_per_day, 0.5);
  EXPECT_DOUBLE_EQ(c.rate_limit.tiers.at("free").budget_usd_per_month, 5);
  EXPECT_EQ(c.rate_limit.tiers.at("free").per_second, 2);  // untouched
  EXPECT_THAT(LoadError("rate_limit:\n  prices:\n    m: {input_per_million: -1}\n"),
              StartsWith("rate_limit.prices.m.input_per_million: expected a number in [0, 1e6]"));
  EXPECT_THAT(LoadError("rate_limit:\n  prices:\n    m: 3\n"),
              StartsWith("rate_limit.prices.m: expected a map"));
  EXPECT_THAT(LoadError("rate_limit:\n  prices:\n    m: {input: 1}\n"),
              StartsWith("rate_limit.prices.m.input: unknown key"));
  EXPECT_THAT(LoadError("rate_limit:\n  tiers:\n    free: {budget_usd_per_day: cheap}\n"),
              StartsWith("rate_limit.tiers.free.budget_usd_per_day: expected a number in [0, 1e9]"));
}

}  // namespace
}  // namespace agentgate

namespace agentgate {
namespace {

TEST(ConfigRedisModeTest, ModeFollowsKeyPrefixUnlessSetAndIsChecked) {
  EXPECT_FALSE(MustLoad("redis: {}\n").redis.prefix_mode());
  EXPECT_TRUE(MustLoad("redis: {key_prefix: 'ag:'}\n").redis.prefix_mode());
  Config prefix = MustLoad("redis: {mode: prefix}\n");
  EXPECT_TRUE(prefix.redis.prefix_mode()) << "prefix mode with an empty prefix";
  EXPECT_EQ(prefix.redis.key_prefix, "");
  EXPECT_FALSE(MustLoad("redis: {mode: databases}\n").redis.prefix_mode());
  EXPECT_EQ(LoadError("redis: {mode: cluster}\n"),
            "redis.mode: expected one of databases, prefix, got \"cluster\"");
  EXPECT_EQ(LoadError("redis: {mode: databases, key_prefix: 'ag:'}\n"),
            "redis.key_prefix: is used only in prefix mode (redis.mode: prefix)");
  EXPECT_EQ(LoadError("redis: {key_prefix: 'ag{1}:'}\n"),
            "redis.key_prefix: must not contain '{' or '}' (they would make the hash tag)");
}

}  // namespace
}  // namespace agentgate
