// Layer 3 of the configuration: the documented environment variables.
#include <string>

#include "config/config.h"
#include "config/config_internal.h"

namespace agentgate::config_internal {
namespace {

constexpr std::string_view kDefaultOpenAiBaseUrl = "https://api.openai.com";

// EnvReader: typed reads of variables; records the first bad value. A
// variable set to "" counts as unset.
class EnvReader {
 public:
  explicit EnvReader(const Env& env) : env_(env) {}

  bool ok() const { return status_.ok(); }
  Status status() const { return status_; }

  void Fail(std::string_view name, const std::string& what) {
    if (ok()) status_ = InvalidArgument(std::string(name) + ": " + what);
  }

  std::optional<std::string> Get(std::string_view name) const {
    if (!env_) return std::nullopt;
    std::optional<std::string> v = env_(name);
    if (v && v->empty()) return std::nullopt;
    return v;
  }

  // Each reader leaves *out alone when the variable is unset or bad and
  // returns whether it was set (and good).
  bool String(std::string_view name, std::string* out) {
    std::optional<std::string> v = Get(name);
    if (!v) return false;
    *out = std::move(*v);
    return true;
  }

  template <typename T>
  bool Int(std::string_view name, IntLimits limits, T* out) {
    std::optional<std::string> v = Get(name);
    if (!v) return false;
    std::optional<int64_t> n = ParseInt(*v, limits);
    if (!n) return Bad(name, Describe(limits), *v);
    *out = static_cast<T>(*n);
    return true;
  }

  bool Bool(std::string_view name, bool* out) {
    std::optional<std::string> v = Get(name);
    if (!v) return false;
    std::optional<bool> b = ParseBool(*v);
    if (!b) return Bad(name, "a boolean (true/false, yes/no, on/off, 1/0)", *v);
    *out = *b;
    return true;
  }

  bool Seconds(std::string_view name, DurationLimits limits, Nanos* out) {
    std::optional<std::string> v = Get(name);
    if (!v) return false;
    std::optional<Nanos> d = ParseDuration(*v, limits, DurationUnit::kSeconds);
    if (!d) return Bad(name, Describe(limits, DurationUnit::kSeconds), *v);
    *out = *d;
    return true;
  }

  bool Similarity(std::string_view name, double* out) {
    std::optional<std::string> v = Get(name);
    if (!v) return false;
    std::optional<double> d = ParseSimilarity(*v);
    if (!d) return Bad(name, std::string(kSimilarityDescription), *v);
    *out = *d;
    return true;
  }

 private:
  bool Bad(std::string_view name, const std::string& expected, const std::string& got) {
    Fail(name, "expected " + expected + ", got " + Quote(got));
    return false;
  }

  const Env& env_;
  Status status_;
};

void ResolveApiKeys(EnvReader& r, Config* config) {
  for (size_t i = 0; i < config->upstreams.size(); ++i) {
    UpstreamConfig& u = config->upstreams[i];
    if (u.api_key_env.empty()) continue;
    const std::string p = "upstreams[" + std::to_string(i) + "]";
    if (!u.api_key.empty()) {
      r.Fail(p + ".api_key_env", "set either api_key or api_key_env, not both");
      return;
    }
    std::optional<std::string> key = r.Get(u.api_key_env);
    if (!key) {
      r.Fail(p + ".api_key_env", "environment variable " + u.api_key_env + " is not set");
      return;
    }
    u.api_key = std::move(*key);
  }
}

void ApplyVariables(EnvReader& r, Config* c) {
  r.String("AGENTGATE_ADMIN_KEY", &c->server.admin_key);

  if (r.String("REDIS_HOST", &c->redis.host)) c->redis.enabled = true;
  r.Int("REDIS_PORT", kPortLimits, &c->redis.port);
  r.String("REDIS_PASSWORD", &c->redis.password);

  r.Similarity("SEMANTIC_CACHE_SIMILARITY_THRESHOLD", &c->cache.similarity_threshold);
  r.Seconds("CACHE_DEFAULT_TTL", kPositive, &c->cache.default_ttl);
  r.Int("CACHE_MAX_SIZE", kCountLimits, &c->cache.max_size);

  if (r.String("RATE_LIMIT_DEFAULT_TIER", &c->rate_limit.default_tier) &&
      !c->rate_limit.tiers.contains(c->rate_limit.default_tier)) {
    std::string known;
    for (const auto& [name, t] : c->rate_limit.tiers) known += (known.empty() ? "" : ", ") + name;
    r.Fail("RATE_LIMIT_DEFAULT_TIER",
           "unknown tier " + Quote(c->rate_limit.default_tier) + " (tiers: " + known + ")");
  }
  r.Bool("RATE_LIMIT_ENABLE_ANALYTICS", &c->rate_limit.enable_analytics);

  r.Int("CIRCUIT_BREAKER_FAILURE_THRESHOLD", kThresholdLimits,
        &c->circuit_breaker.failure_threshold);
  r.Int("CIRCUIT_BREAKER_SUCCESS_THRESHOLD", kThresholdLimits,
        &c->circuit_breaker.success_threshold);
  r.Seconds("CIRCUIT_BREAKER_TIMEOUT", kPositive, &c->circuit_breaker.timeout);

  r.Int("ERROR_RECOVERY_MAX_ATTEMPTS", kAttemptsLimits, &c->error_recovery.max_attempts);
  bool base_set =
      r.Seconds("ERROR_RECOVERY_BASE_DELAY", kNonNegative, &c->error_recovery.base_delay);
  bool max_set = r.Seconds("ERROR_RECOVERY_MAX_DELAY", kNonNegative, &c->error_recovery.max_delay);
  if ((base_set || max_set) && c->error_recovery.base_delay > c->error_recovery.max_delay) {
    r.Fail(base_set ? "ERROR_RECOVERY_BASE_DELAY" : "ERROR_RECOVERY_MAX_DELAY",
           "base delay " + FormatDuration(c->error_recovery.base_delay, DurationUnit::kSeconds) +
               " s exceeds max delay " +
               FormatDuration(c->error_recovery.max_delay, DurationUnit::kSeconds) + " s");
  }

  r.Bool("PERFORMANCE_ENABLE_PROFILING", &c->performance.enable_profiling);
  r.Int("PERFORMANCE_CACHE_SIZE", kCountLimits, &c->performance.cache_size);
  r.Seconds("PERFORMANCE_CACHE_TTL", kPositive, &c->performance.cache_ttl);

  r.Bool("EXPERIMENTS_ENABLED", &c->experiments.enabled);
  r.String("EXPERIMENTS_STORE", &c->experiments.store);
}

// AddOpenAiUpstream: with no upstream configured and OPENAI_API_KEY set, one
// upstream "openai" at OPENAI_BASE_URL (default https://api.openai.com)
// serving every model.
void AddOpenAiUpstream(EnvReader& r, Config* c) {
  if (!c->upstreams.empty()) return;
  std::optional<std::string> key = r.Get("OPENAI_API_KEY");
  if (!key) return;
  std::string base_url =
      NormalizeBaseUrl(r.Get("OPENAI_BASE_URL").value_or(std::string(kDefaultOpenAiBaseUrl)));
  if (std::string why = CheckBaseUrl(base_url); !why.empty()) {
    r.Fail("OPENAI_BASE_URL", why);
    return;
  }
  UpstreamConfig u;
  u.name = "openai";
  u.base_url = std::move(base_url);
  u.api_key = std::move(*key);
  u.api_key_env = "OPENAI_API_KEY";
  u.models = {std::string(kAnyModel)};
  c->upstreams.push_back(std::move(u));
}

}  // namespace

Status ApplyEnv(const Env& env, Config* config) {
  EnvReader r(env);
  ResolveApiKeys(r, config);
  if (r.ok()) ApplyVariables(r, config);
  if (r.ok()) AddOpenAiUpstream(r, config);
  return r.status();
}

}  // namespace agentgate::config_internal
