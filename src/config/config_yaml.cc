// Layer 2 of the configuration: the YAML file.
//
// Every map is read through a MapReader, which knows the key path it stands
// for, records every key the code asks about and, in finish(), reports any
// other key as unknown (with a suggestion when one is close). The first error
// wins; later reads are harmless no-ops on the config.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_internal.h"

namespace agentgate {
namespace {

using namespace config_internal;

constexpr DurationUnit kMs = DurationUnit::kMilliseconds;
constexpr DurationUnit kS = DurationUnit::kSeconds;

// ErrorSink: the first error of one load, shared by all readers.
class ErrorSink {
 public:
  bool ok() const { return status_.ok(); }
  Status status() const { return status_; }

  // fail: "<path>: <what> (line N)"; the line is omitted when unknown.
  void fail(const std::string& path, const std::string& what, const YAML::Mark& mark) {
    if (!ok()) return;
    std::string msg = path + ": " + what;
    if (!mark.is_null() && mark.line >= 0) msg += " (line " + std::to_string(mark.line + 1) + ")";
    status_ = InvalidArgument(std::move(msg));
  }

 private:
  Status status_;
};

// Describe a node for "got ...".
std::string Got(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Suggest: the known key `key` was probably meant as, or "" when none stands
// out: the closest by edit distance if close enough, else the only known key
// containing `key` (cache.ttl -> default_ttl_s).
std::string Suggest(std::string_view key, const std::vector<std::string>& known) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
  for (const std::string& k : known) {
    size_t d = EditDistance(key, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  if (!best.empty() || key.size() < 3) return best;
  for (const std::string& k : known) {
    if (k.find(key) != std::string::npos) {
      if (!best.empty()) return {};  // ambiguous
      best = k;
    }
  }
  return best;
}

class MapReader {
 public:
  // REQUIRES: node is a map or null (null reads as an empty map).
  MapReader(ErrorSink* sink, YAML::Node node, std::string path)
      : sink_(sink), node_(std::move(node)), path_(std::move(path)) {}

  std::string path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  // raw: the value of `key` (undefined when absent); marks `key` known.
  YAML::Node raw(std::string_view key) {
    known_.emplace_back(key);
    if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }

  void string(std::string_view key, std::string* out) {
    YAML::Node n = raw(key);
    if (!n.IsDefined()) return;
    if (n.IsNull()) {
      out->clear();
    } else if (n.IsScalar()) {
      *out = n.Scalar();
    } else {
      fail(key, "expected a string, got " + Got(n), n);
    }
  }

  template <typename T>
  void integer(std::string_view key, IntLimits limits, T* out) {
    YAML::Node n = raw(key);
    if (!n.IsDefined()) return;
    std::optional<int64_t> v;
    if (n.IsScalar()) v = ParseInt(n.Scalar(), limits);
    if (!v) return fail(key, "expected " + Describe(limits) + ", got " + Got(n), n);
    *out = static_cast<T>(*v);
  }

  void boolean(std::string_view key, bool* out) {
    YAML::Node n = raw(key);
    if (!n.IsDefined()) return;
    std::optional<bool> v;
    if (n.IsScalar()) v = ParseBool(n.Scalar());
    if (!v) return fail(key, "expected true or false, got " + Got(n), n);
    *out = *v;
  }

  void duration(std::string_view key, DurationLimits limits, DurationUnit unit, Nanos* out) {
    YAML::Node n = raw(key);
    if (!n.IsDefined()) return;
    std::optional<Nanos> v;
    if (n.IsScalar()) v = ParseDuration(n.Scalar(), limits, unit);
    if (!v) return fail(key, "expected " + Describe(limits, unit) + ", got " + Got(n), n);
    *out = *v;
  }

  void similarity(std::string_view key, double* out) {
    YAML::Node n = raw(key);
    if (!n.IsDefined()) return;
    std::optional<double> v;
    if (n.IsScalar()) v = ParseSimilarity(n.Scalar());
    if (!v) {
      return fail(key, "expected " + std::string(kSimilarityDescription) + ", got " + Got(n), n);
    }
    *out = *v;
  }

  // number_in: a finite number in [lo, hi]; `range` describes it ("[0, 2]").
  void number_in(std::string_view key, double lo, double hi, std::string_view range, double* out) {
    YAML::Node n = raw(key);
    if (!n.IsDefined()) return;
    std::optional<double> v;
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size() && d >= lo && d <= hi) v = d;
    }
    if (!v) {
      return fail(key, "expected a number in " + std::string(range) + ", got " + Got(n), n);
    }
    *out = *v;
  }

  void access_log(std::string_view key, ServerConfig::AccessLog* out) {
    YAML::Node n = raw(key);
    if (!n.IsDefined()) return;
    std::optional<ServerConfig::AccessLog> v;
    if (n.IsScalar()) v = ParseAccessLog(n.Scalar());
    if (!v) return fail(key, "expected one of text, json, off, got " + Got(n), n);
    *out = *v;
  }

  void string_list(std::string_view key, std::vector<std::string>* out) {
    YAML::Node n = raw(key);
    if (n.IsDefined()) ReadStringList(*sink_, n, path(key), out);
  }

  // section: a reader for the map under `key`; nullopt when absent or not a
  // map (the latter an error).
  std::optional<MapReader> section(std::string_view key) {
    YAML::Node n = raw(key);
    if (!n.IsDefined()) return std::nullopt;
    if (!n.IsMap() && !n.IsNull()) {
      fail(key, "expected a map, got " + Got(n), n);
      return std::nullopt;
    }
    return MapReader(sink_, n, path(key));
  }

  // finish: reports duplicate keys, non-string keys and keys nobody asked for.
  void finish() {
    if (!node_.IsMap()) return;
    std::set<std::string> seen;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      YAML::Node k = it->first;  // a copy: *it is a temporary
      if (!k.IsScalar()) {
        sink_->fail(path_.empty() ? "configuration" : path_,
                    "keys must be plain strings, got " + Got(k), k.Mark());
        return;
      }
      const std::string& name = k.Scalar();
      if (!seen.insert(name).second) {
        sink_->fail(path(name), "duplicate key", k.Mark());
        return;
      }
      if (std::find(known_.begin(), known_.end(), name) == known_.end()) {
        std::string what = "unknown key";
        if (std::string s = Suggest(name, known_); !s.empty()) {
          what += " (did you mean " + path(s) + "?)";
        }
        sink_->fail(path(name), what, k.Mark());
        return;
      }
    }
  }

  void fail(std::string_view key, const std::string& what, const YAML::Node& at) {
    sink_->fail(path(key), what, at.Mark());
  }

  static void ReadStringList(ErrorSink& sink, const YAML::Node& n, const std::string& path,
                             std::vector<std::string>* out) {
    if (n.IsNull()) {
      out->clear();
      return;
    }
    if (!n.IsSequence()) {
      return sink.fail(path, "expected a list of strings, got " + Got(n), n.Mark());
    }
    std::vector<std::string> items;
    for (size_t i = 0; i < n.size(); ++i) {
      const YAML::Node item = n[i];
      if (!item.IsScalar()) {
        return sink.fail(path + "[" + std::to_string(i) + "]",
                         "expected a string, got " + Got(item), item.Mark());
      }
      items.push_back(item.Scalar());
    }
    *out = std::move(items);
  }

 private:
  ErrorSink* sink_;
  YAML::Node node_;
  std::string path_;
  std::vector<std::string> known_;
};

void ReadServer(MapReader& r, ServerConfig* s) {
  r.string("host", &s->host);
  r.integer("port", kPortLimits, &s->port);
  r.integer("threads", kThreadsLimits, &s->threads);
  r.string("admin_key", &s->admin_key);
  r.integer("max_body_bytes", kBytesLimits, &s->max_body_bytes);
  r.integer("max_header_bytes", kBytesLimits, &s->max_header_bytes);
  r.duration("header_timeout_ms", kPositive, kMs, &s->header_timeout);
  r.duration("idle_timeout_ms", kPositive, kMs, &s->idle_timeout);
  r.duration("body_timeout_ms", kPositive, kMs, &s->body_timeout);
  r.integer("max_connections", kCountLimits, &s->max_connections);
  r.duration("shutdown_grace_ms", kNonNegative, kMs, &s->shutdown_grace);
  r.access_log("access_log", &s->access_log);
  r.string("log_level", &s->log_level);
  r.finish();
}

void ReadRedis(MapReader& r, RedisConfig* c) {
  c->enabled = true;  // the section is present
  r.boolean("enabled", &c->enabled);
  r.string("host", &c->host);
  r.integer("port", kPortLimits, &c->port);
  r.string("password", &c->password);
  r.boolean("tls", &c->tls);
  r.duration("connect_timeout_ms", kPositive, kMs, &c->connect_timeout);
  r.duration("command_timeout_ms", kPositive, kMs, &c->command_timeout);
  r.duration("reconnect_max_backoff_ms", kPositive, kMs, &c->reconnect_max_backoff);
  r.string("mode", &c->mode);
  r.string("key_prefix", &c->key_prefix);
  r.boolean("fail_open", &c->fail_open);
  if (std::optional<MapReader> dbs = r.section("dbs")) {
    dbs->integer("semantic", kRedisDbLimits, &c->dbs.semantic);
    dbs->integer("response", kRedisDbLimits, &c->dbs.response);
    dbs->integer("embedding", kRedisDbLimits, &c->dbs.embedding);
    dbs->integer("dedup", kRedisDbLimits, &c->dbs.dedup);
    dbs->integer("costs", kRedisDbLimits, &c->dbs.costs);
    dbs->integer("keys", kRedisDbLimits, &c->dbs.keys);
    dbs->integer("ratelimit", kRedisDbLimits, &c->dbs.ratelimit);
    dbs->finish();
  }
  r.finish();
}

void ReadUpstream(MapReader& r, UpstreamConfig* u) {
  r.string("name", &u->name);
  r.string("base_url", &u->base_url);
  u->base_url = NormalizeBaseUrl(u->base_url);
  r.string("api_key", &u->api_key);
  r.string("api_key_env", &u->api_key_env);
  r.string_list("models", &u->models);
  r.integer("weight", kWeightLimits, &u->weight);
  r.duration("connect_timeout_ms", kPositive, kMs, &u->connect_timeout);
  r.duration("first_byte_timeout_ms", kPositive, kMs, &u->first_byte_timeout);
  r.duration("request_timeout_ms", kPositive, kMs, &u->request_timeout);
  r.integer("max_connections", kPoolLimits, &u->max_connections);
  r.boolean("tls_verify", &u->tls_verify);
  r.string("ca_file", &u->ca_file);
  r.finish();
}

void ReadUpstreams(ErrorSink& sink, MapReader& root, std::vector<UpstreamConfig>* out) {
  const YAML::Node n = root.raw("upstreams");
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsSequence()) {
    return root.fail("upstreams", "expected a list of upstreams, got " + Got(n), n);
  }
  for (size_t i = 0; i < n.size() && sink.ok(); ++i) {
    const YAML::Node item = n[i];
    const std::string p = "upstreams[" + std::to_string(i) + "]";
    if (!item.IsMap()) {
      return sink.fail(p, "expected a map with name, base_url, models, got " + Got(item),
                       item.Mark());
    }
    MapReader r(&sink, item, p);
    UpstreamConfig u;
    ReadUpstream(r, &u);
    out->push_back(std::move(u));
  }
}

// ReadNamedMap: calls `each(name, value, path)` for every entry of the map
// under `key` ("routing.fallbacks", "rate_limit.tiers").
template <typename Fn>
void ReadNamedMap(ErrorSink& sink, MapReader& r, std::string_view key, Fn each) {
  YAML::Node n = r.raw(key);
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsMap()) return r.fail(key, "expected a map, got " + Got(n), n);
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end() && sink.ok(); ++it) {
    if (!it->first.IsScalar()) {
      return r.fail(key, "keys must be plain strings, got " + Got(it->first), it->first);
    }
    const std::string& name = it->first.Scalar();
    const std::string p = r.path(key) + "." + name;
    if (!seen.insert(name).second) return sink.fail(p, "duplicate key", it->first.Mark());
    each(name, it->second, p);
  }
}

void ReadRouting(ErrorSink& sink, MapReader& r, RoutingConfig* c) {
  ReadNamedMap(sink, r, "fallbacks",
               [&](const std::string& model, const YAML::Node& v, const std::string& p) {
                 std::vector<std::string> chain;
                 if (v.IsNull()) {
                   return sink.fail(p, "expected a list of fallback models, got null", v.Mark());
                 }
                 MapReader::ReadStringList(sink, v, p, &chain);
                 c->fallbacks[model] = std::move(chain);
               });
  r.finish();
}

void ReadCache(MapReader& r, CacheConfig* c) {
  r.boolean("enabled", &c->enabled);
  r.duration("default_ttl_s", kPositive, kS, &c->default_ttl);
  r.integer("max_size", kCountLimits, &c->max_size);
  r.boolean("semantic_enabled", &c->semantic_enabled);
  r.similarity("similarity_threshold", &c->similarity_threshold);
  r.boolean("dedup", &c->dedup);
  r.duration("dedup_timeout_s", kPositive, kS, &c->dedup_timeout);
  r.duration("semantic_expiry_s", kPositive, kS, &c->semantic_ttl);
  r.number_in("semantic_max_temperature", 0, 2, "[0, 2]", &c->semantic_max_temperature);
  r.string("semantic_embedding_model", &c->semantic_embedding_model);
  r.finish();
}

void ReadRateLimit(ErrorSink& sink, MapReader& r, RateLimitConfig* c) {
  r.boolean("enabled", &c->enabled);
  r.string("default_tier", &c->default_tier);
  r.boolean("enable_analytics", &c->enable_analytics);
  r.boolean("fail_open", &c->fail_open);
  ReadNamedMap(sink, r, "tiers",
               [&](const std::string& name, const YAML::Node& v, const std::string& p) {
                 if (!v.IsMap() && !v.IsNull()) {
                   return sink.fail(p, "expected a map of limits, got " + Got(v), v.Mark());
                 }
                 // Fields not given keep the values of the tier being overridden.
                 TierConfig tier = c->tiers.contains(name) ? c->tiers[name] : TierConfig{};
                 MapReader t(&sink, v, p);
                 t.integer("per_second", kTierLimits, &tier.per_second);
                 t.integer("per_minute", kTierLimits, &tier.per_minute);
                 t.integer("per_hour", kTierLimits, &tier.per_hour);
                 t.integer("per_day", kTierLimits, &tier.per_day);
                 t.integer("tokens_per_minute", kTierLimits, &tier.tokens_per_minute);
                 t.integer("tokens_per_day", kTierLimits, &tier.tokens_per_day);
                 t.number_in("budget_usd_per_day", 0, 1e9, "[0, 1e9]", &tier.budget_usd_per_day);
                 t.number_in("budget_usd_per_month", 0, 1e9, "[0, 1e9]",
                             &tier.budget_usd_per_month);
                 t.finish();
                 c->tiers[name] = tier;
               });
  ReadNamedMap(sink, r, "prices",
               [&](const std::string& model, const YAML::Node& v, const std::string& p) {
                 if (!v.IsMap()) {
                   return sink.fail(p, "expected a map with input_per_million and "
                                       "output_per_million, got " + Got(v), v.Mark());
                 }
                 ModelPriceConfig price;
                 MapReader m(&sink, v, p);
                 m.number_in("input_per_million", 0, 1e6, "[0, 1e6]", &price.input_per_million);
                 m.number_in("output_per_million", 0, 1e6, "[0, 1e6]", &price.output_per_million);
                 m.finish();
                 c->prices[model] = price;
               });
  r.finish();
}

void ReadCircuitBreaker(MapReader& r, CircuitBreakerConfig* c) {
  r.integer("failure_threshold", kThresholdLimits, &c->failure_threshold);
  r.integer("success_threshold", kThresholdLimits, &c->success_threshold);
  r.duration("timeout_s", kPositive, kS, &c->timeout);
  r.boolean("enabled", &c->enabled);
  r.integer("half_open_max_probes", kProbeLimits, &c->half_open_max_probes);
  r.finish();
}

void ReadErrorRecovery(MapReader& r, ErrorRecoveryConfig* c) {
  r.integer("max_attempts", kAttemptsLimits, &c->max_attempts);
  r.duration("base_delay_s", kNonNegative, kS, &c->base_delay);
  r.duration("max_delay_s", kNonNegative, kS, &c->max_delay);
  r.string("jitter", &c->jitter);
  r.integer("retry_budget_percent", kPercentLimits, &c->retry_budget_percent);
  r.integer("retry_budget_min_retries", kFloorLimits, &c->retry_budget_min_retries);
  r.integer("dlq_max_entries", kDlqLimits, &c->dlq_max_entries);
  r.string("dlq_store", &c->dlq_store);
  r.finish();
}

void ReadPerformance(MapReader& r, PerformanceConfig* c) {
  r.boolean("enable_profiling", &c->enable_profiling);
  r.integer("cache_size", kCountLimits, &c->cache_size);
  r.duration("cache_ttl_s", kPositive, kS, &c->cache_ttl);
  r.finish();
}

Status ReadRoot(const YAML::Node& doc, Config* c) {
  ErrorSink sink;
  if (!doc.IsDefined() || doc.IsNull()) return Status::Ok();
  if (!doc.IsMap()) {
    sink.fail("configuration", "expected a map of sections at the top level, got " + Got(doc),
              doc.Mark());
    return sink.status();
  }
  MapReader root(&sink, doc, "");
  if (auto r = root.section("server")) ReadServer(*r, &c->server);
  if (auto r = root.section("storage")) {
    r->string("data_dir", &c->storage.data_dir);
    r->finish();
  }
  if (auto r = root.section("redis")) ReadRedis(*r, &c->redis);
  ReadUpstreams(sink, root, &c->upstreams);
  if (auto r = root.section("routing")) ReadRouting(sink, *r, &c->routing);
  if (auto r = root.section("cache")) ReadCache(*r, &c->cache);
  if (auto r = root.section("rate_limit")) ReadRateLimit(sink, *r, &c->rate_limit);
  if (auto r = root.section("circuit_breaker")) ReadCircuitBreaker(*r, &c->circuit_breaker);
  if (auto r = root.section("error_recovery")) ReadErrorRecovery(*r, &c->error_recovery);
  if (auto r = root.section("performance")) ReadPerformance(*r, &c->performance);
  if (auto r = root.section("experiments")) {
    r->boolean("enabled", &c->experiments.enabled);
    r->string("store", &c->experiments.store);
    r->duration("flush_interval_ms", kPositive, kMs, &c->experiments.flush_interval);
    r->duration("sync_interval_ms", kNonNegative, kMs, &c->experiments.sync_interval);
    r->integer("outcome_log_size", kCountLimits, &c->experiments.outcome_log_size);
    r->finish();
  }
  root.boolean("demo", &c->demo);
  root.finish();
  return sink.status();
}

// Load: parses `yaml` (named `source` in syntax errors) and builds the
// Config through all three layers.
Result<Config> Load(std::string_view yaml, const std::string& source, const Env& env) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    return InvalidArgument(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(source + ": YAML error: " + e.what());
  }
  Config config;
  try {
    if (Status s = ReadRoot(doc, &config); !s.ok()) return s;
  } catch (const YAML::Exception& e) {  // not expected: every access is checked
    return InvalidArgument(source + ": YAML error: " + e.what());
  }
  if (Status s = ApplyEnv(env, &config); !s.ok()) return s;
  if (Status s = ValidateConfig(config); !s.ok()) return s;
  return config;
}

}  // namespace

Result<Config> LoadConfigString(std::string_view yaml, const Env& env) {
  return Load(yaml, "<config>", env);
}

Result<Config> LoadConfigFile(const std::string& path, const Env& env) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgument("cannot read config file \"" + path + "\": is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string msg = "cannot open config file \"" + path + "\": " + std::strerror(err);
    if (err == ENOENT) return NotFound(std::move(msg));
    return InvalidArgument(std::move(msg));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return InvalidArgument("cannot read config file \"" + path + "\"");
  return Load(text.str(), path, env);
}

}  // namespace agentgate
