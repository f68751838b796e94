// ValidateConfig: ranges and cross-field rules on a built Config.
#include <set>
#include <string>

#include "config/config.h"
#include "config/config_internal.h"

namespace agentgate {
namespace {

using config_internal::Describe;
using config_internal::DurationLimits;
using config_internal::DurationUnit;
using config_internal::InRange;
using config_internal::IntLimits;

// Checker: records the first problem found; later checks are no-ops.
class Checker {
 public:
  bool ok() const { return status_.ok(); }
  Status status() const { return status_; }

  void Fail(const std::string& path, const std::string& what) {
    if (ok()) status_ = InvalidArgument(path + ": " + what);
  }

  void Int(const std::string& path, int64_t value, IntLimits limits) {
    if (!InRange(value, limits)) {
      Fail(path, "expected " + Describe(limits) + ", got " + std::to_string(value));
    }
  }

  void Size(const std::string& path, size_t value, IntLimits limits) {
    if (value > static_cast<uint64_t>(config_internal::kNoMax)) {
      Fail(path, "expected " + Describe(limits) + ", got " + std::to_string(value));
      return;
    }
    Int(path, static_cast<int64_t>(value), limits);
  }

  void Duration(const std::string& path, Nanos value, DurationLimits limits, DurationUnit unit) {
    if (!InRange(value, limits)) {
      Fail(path, "expected " + Describe(limits, unit) + ", got " +
                     config_internal::FormatDuration(value, unit));
    }
  }

  void NonEmpty(const std::string& path, const std::string& value) {
    if (value.empty()) Fail(path, "must not be empty");
  }

 private:
  Status status_;
};

constexpr DurationUnit kMs = DurationUnit::kMilliseconds;
constexpr DurationUnit kS = DurationUnit::kSeconds;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

void CheckName(Checker& c, const std::string& path, const std::string& name) {
  if (name.empty()) {
    c.Fail(path, "must not be empty");
    return;
  }
  for (char ch : name) {
    if (!IsNameChar(ch)) {
      c.Fail(path, "may contain only letters, digits, '-', '_' and '.', got " +
                       config_internal::Quote(name));
      return;
    }
  }
}

void CheckServer(Checker& c, const ServerConfig& s) {
  using namespace config_internal;
  c.NonEmpty("server.host", s.host);
  c.Int("server.port", s.port, kPortLimits);
  c.Int("server.threads", s.threads, kThreadsLimits);
  c.Size("server.max_body_bytes", s.max_body_bytes, kBytesLimits);
  c.Size("server.max_header_bytes", s.max_header_bytes, kBytesLimits);
  c.Duration("server.header_timeout_ms", s.header_timeout, kPositive, kMs);
  c.Duration("server.idle_timeout_ms", s.idle_timeout, kPositive, kMs);
  c.Duration("server.body_timeout_ms", s.body_timeout, kPositive, kMs);
  c.Size("server.max_connections", s.max_connections, kCountLimits);
  c.Duration("server.shutdown_grace_ms", s.shutdown_grace, kNonNegative, kMs);
  bool known_level = false;
  for (std::string_view level : kLogLevels) known_level |= (level == s.log_level);
  if (!known_level) {
    c.Fail("server.log_level",
           "expected one of trace, debug, info, warn, error, critical, off, got " +
               Quote(s.log_level));
  }
  if (!ParseAccessLog(AccessLogName(s.access_log))) {
    c.Fail("server.access_log", "expected one of text, json, off");
  }
}

void CheckRedis(Checker& c, const RedisConfig& r) {
  using namespace config_internal;
  if (r.enabled) c.NonEmpty("redis.host", r.host);
  c.Int("redis.port", r.port, kPortLimits);
  c.Duration("redis.connect_timeout_ms", r.connect_timeout, kPositive, kMs);
  c.Duration("redis.command_timeout_ms", r.command_timeout, kPositive, kMs);
  c.Duration("redis.reconnect_max_backoff_ms", r.reconnect_max_backoff, kPositive, kMs);
  const std::pair<const char*, int> dbs[] = {
      {"semantic", r.dbs.semantic},  {"response", r.dbs.response}, {"embedding", r.dbs.embedding},
      {"dedup", r.dbs.dedup},        {"costs", r.dbs.costs},       {"keys", r.dbs.keys},
      {"ratelimit", r.dbs.ratelimit}};
  for (const auto& [name, db] : dbs) c.Int(std::string("redis.dbs.") + name, db, kRedisDbLimits);
  if (!r.mode.empty() && r.mode != "databases" && r.mode != "prefix") {
    c.Fail("redis.mode", "expected one of databases, prefix, got " + Quote(r.mode));
  }
  if (r.mode == "databases" && !r.key_prefix.empty()) {
    c.Fail("redis.key_prefix", "is used only in prefix mode (redis.mode: prefix)");
  }
  if (r.key_prefix.find_first_of("{}") != std::string::npos) {
    c.Fail("redis.key_prefix", "must not contain '{' or '}' (they would make the hash tag)");
  }
}

void CheckUpstreams(Checker& c, const std::vector<UpstreamConfig>& upstreams) {
  using namespace config_internal;
  std::set<std::string> names;
  for (size_t i = 0; i < upstreams.size(); ++i) {
    const UpstreamConfig& u = upstreams[i];
    const std::string p = "upstreams[" + std::to_string(i) + "]";
    CheckName(c, p + ".name", u.name);
    if (!u.name.empty() && !names.insert(u.name).second) {
      c.Fail(p + ".name", "duplicate upstream name " + Quote(u.name));
    }
    if (u.base_url.empty()) {
      c.Fail(p + ".base_url", "is required");
    } else if (std::string why = CheckBaseUrl(u.base_url); !why.empty()) {
      c.Fail(p + ".base_url", why);
    }
    if (u.models.empty()) {
      c.Fail(p + ".models", "must list at least one model (\"*\" serves any model)");
    }
    std::set<std::string> models;
    for (size_t m = 0; m < u.models.size(); ++m) {
      const std::string mp = p + ".models[" + std::to_string(m) + "]";
      c.NonEmpty(mp, u.models[m]);
      if (!models.insert(u.models[m]).second) {
        c.Fail(mp, "duplicate model " + Quote(u.models[m]));
      }
    }
    c.Int(p + ".weight", u.weight, kWeightLimits);
    c.Duration(p + ".connect_timeout_ms", u.connect_timeout, kPositive, kMs);
    c.Duration(p + ".first_byte_timeout_ms", u.first_byte_timeout, kPositive, kMs);
    c.Duration(p + ".request_timeout_ms", u.request_timeout, kPositive, kMs);
    c.Int(p + ".max_connections", u.max_connections, kPoolLimits);
  }
}

void CheckRouting(Checker& c, const Config& config) {
  using namespace config_internal;
  auto served = [&](const std::string& model) {
    if (config.upstreams.empty()) return true;  // demo or not yet configured
    for (const UpstreamConfig& u : config.upstreams) {
      if (u.serves(model)) return true;
    }
    return false;
  };
  const std::string& embedding_model = config.cache.semantic_embedding_model;
  if (!embedding_model.empty() && !served(embedding_model)) {
    c.Fail("cache.semantic_embedding_model", "no upstream serves model " + Quote(embedding_model));
  }
  for (const auto& [model, chain] : config.routing.fallbacks) {
    const std::string p = "routing.fallbacks." + model;
    if (model.empty()) c.Fail("routing.fallbacks", "model names must not be empty");
    if (chain.empty()) c.Fail(p, "must list at least one fallback model");
    std::set<std::string> seen;
    for (size_t i = 0; i < chain.size(); ++i) {
      const std::string ip = p + "[" + std::to_string(i) + "]";
      const std::string& fb = chain[i];
      if (fb.empty()) {
        c.Fail(ip, "must not be empty");
      } else if (fb == model) {
        c.Fail(ip, "a model cannot fall back to itself");
      } else if (!seen.insert(fb).second) {
        c.Fail(ip, "duplicate fallback " + Quote(fb));
      } else if (!served(fb)) {
        c.Fail(ip, "no upstream serves model " + Quote(fb));
      }
    }
  }
}

void CheckRateLimit(Checker& c, const RateLimitConfig& r) {
  using namespace config_internal;
  for (const auto& [name, t] : r.tiers) {
    const std::string p = "rate_limit.tiers." + name;
    CheckName(c, p, name);
    c.Int(p + ".per_second", t.per_second, kTierLimits);
    c.Int(p + ".per_minute", t.per_minute, kTierLimits);
    c.Int(p + ".per_hour", t.per_hour, kTierLimits);
    c.Int(p + ".per_day", t.per_day, kTierLimits);
    c.Int(p + ".tokens_per_minute", t.tokens_per_minute, kTierLimits);
    c.Int(p + ".tokens_per_day", t.tokens_per_day, kTierLimits);
    if (!(t.budget_usd_per_day >= 0 && t.budget_usd_per_day <= 1e9)) {
      c.Fail(p + ".budget_usd_per_day", "expected a number in [0, 1e9]");
    }
    if (!(t.budget_usd_per_month >= 0 && t.budget_usd_per_month <= 1e9)) {
      c.Fail(p + ".budget_usd_per_month", "expected a number in [0, 1e9]");
    }
  }
  for (const auto& [model, price] : r.prices) {
    const std::string p = "rate_limit.prices." + model;
    if (model.empty()) c.Fail(p, "model name must not be empty");
    if (!(price.input_per_million >= 0 && price.input_per_million <= 1e6)) {
      c.Fail(p + ".input_per_million", "expected a number in [0, 1e6]");
    }
    if (!(price.output_per_million >= 0 && price.output_per_million <= 1e6)) {
      c.Fail(p + ".output_per_million", "expected a number in [0, 1e6]");
    }
  }
  if (!r.tiers.contains(r.default_tier)) {
    std::string known;
    for (const auto& [name, t] : r.tiers) known += (known.empty() ? "" : ", ") + name;
    c.Fail("rate_limit.default_tier", "unknown tier " + Quote(r.default_tier) +
                                          " (tiers: " + (known.empty() ? "none" : known) + ")");
  }
}

}  // namespace

Status ValidateConfig(const Config& config) {
  using namespace config_internal;
  Checker c;
  CheckServer(c, config.server);
  c.NonEmpty("storage.data_dir", config.storage.data_dir);
  CheckRedis(c, config.redis);
  CheckUpstreams(c, config.upstreams);
  CheckRouting(c, config);

  const CacheConfig& cache = config.cache;
  c.Duration("cache.default_ttl_s", cache.default_ttl, kPositive, kS);
  c.Size("cache.max_size", cache.max_size, kCountLimits);
  c.Duration("cache.dedup_timeout_s", cache.dedup_timeout, kPositive, kS);
  c.Duration("cache.semantic_expiry_s", cache.semantic_ttl, kPositive, kS);
  if (!(cache.semantic_max_temperature >= 0 && cache.semantic_max_temperature <= 2)) {
    c.Fail("cache.semantic_max_temperature",
           "expected a number in [0, 2], got " + std::to_string(cache.semantic_max_temperature));
  }
  if (!IsSimilarity(cache.similarity_threshold)) {
    c.Fail("cache.similarity_threshold", "expected " + std::string(kSimilarityDescription) +
                                             ", got " + std::to_string(cache.similarity_threshold));
  }

  CheckRateLimit(c, config.rate_limit);

  const CircuitBreakerConfig& cb = config.circuit_breaker;
  c.Int("circuit_breaker.failure_threshold", cb.failure_threshold, kThresholdLimits);
  c.Int("circuit_breaker.success_threshold", cb.success_threshold, kThresholdLimits);
  c.Duration("circuit_breaker.timeout_s", cb.timeout, kPositive, kS);
  c.Int("circuit_breaker.half_open_max_probes", cb.half_open_max_probes, kProbeLimits);

  const ErrorRecoveryConfig& er = config.error_recovery;
  c.Int("error_recovery.max_attempts", er.max_attempts, kAttemptsLimits);
  c.Duration("error_recovery.base_delay_s", er.base_delay, kNonNegative, kS);
  c.Duration("error_recovery.max_delay_s", er.max_delay, kNonNegative, kS);
  if (er.jitter != "full" && er.jitter != "proportional" && er.jitter != "none") {
    c.Fail("error_recovery.jitter", "must be one of full, proportional, none, got '" + er.jitter + "'");
  }
  c.Int("error_recovery.retry_budget_percent", er.retry_budget_percent, kPercentLimits);
  c.Int("error_recovery.retry_budget_min_retries", er.retry_budget_min_retries, kFloorLimits);
  c.Int("error_recovery.dlq_max_entries", er.dlq_max_entries, kDlqLimits);
  if (er.dlq_store != "auto" && er.dlq_store != "sqlite" && er.dlq_store != "redis") {
    c.Fail("error_recovery.dlq_store",
           "must be one of auto, sqlite, redis, got '" + er.dlq_store + "'");
  } else if (er.dlq_store == "redis" && !config.redis.enabled) {
    c.Fail("error_recovery.dlq_store", "is redis but the redis section is not enabled");
  }
  if (er.base_delay > er.max_delay) {
    c.Fail("error_recovery.base_delay_s", "must be <= error_recovery.max_delay_s (" +
                                              FormatDuration(er.base_delay, kS) + " > " +
                                              FormatDuration(er.max_delay, kS) + ")");
  }

  const PerformanceConfig& perf = config.performance;
  c.Size("performance.cache_size", perf.cache_size, kCountLimits);
  c.Duration("performance.cache_ttl_s", perf.cache_ttl, kPositive, kS);

  const std::string& exp_store = config.experiments.store;
  if (exp_store != "sqlite" && exp_store != "redis") {
    c.Fail("experiments.store", "expected sqlite or redis, got \"" + exp_store + "\"");
  } else if (exp_store == "redis" && !config.redis.enabled) {
    c.Fail("experiments.store", "redis needs a redis: section (or REDIS_HOST)");
  }
  const ExperimentsConfig& exp = config.experiments;
  c.Duration("experiments.flush_interval_ms", exp.flush_interval, kPositive, kMs);
  c.Duration("experiments.sync_interval_ms", exp.sync_interval, kNonNegative, kMs);
  c.Size("experiments.outcome_log_size", exp.outcome_log_size, kCountLimits);
  return c.status();
}

}  // namespace agentgate
