#include "cache/cache_settings.h"

#include <cmath>

namespace agentgate {

namespace {

// Seconds: a positive number of seconds (at most a year) under `key`.
Result<Nanos> Seconds(const Json& v, const std::string& key) {
  if (!v.is_number()) return InvalidArgument(key + ": expected a number of seconds");
  const double s = v.get<double>();
  if (!std::isfinite(s) || s <= 0 || s > 366.0 * 24 * 3600) {
    return InvalidArgument(key + ": expected seconds in (0, 31622400]");
  }
  return std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(s));
}

// Size: an integer in [1, 100000000] under `key`.
Result<size_t> Size(const Json& v, const std::string& key) {
  if (!v.is_number_integer()) return InvalidArgument(key + ": expected an integer");
  const int64_t n = v.get<int64_t>();
  if (n < 1 || n > 100'000'000) return InvalidArgument(key + ": expected an integer in [1, 100000000]");
  return static_cast<size_t>(n);
}

}  // namespace

CacheSettings CacheSettingsFrom(const CacheConfig& c) {
  return {.similarity_threshold = c.similarity_threshold,
          .default_ttl = c.default_ttl,
          .semantic_ttl = c.semantic_ttl,
          .max_size = c.max_size,
          .semantic_max_entries = c.max_size,
          .embedding_max_size = c.max_size};
}

Result<CacheSettings> PatchCacheSettings(const CacheSettings& base, const Json& patch) {
  if (!patch.is_object()) return InvalidArgument("body: expected a JSON object");
  if (patch.empty()) return InvalidArgument("body: expected at least one setting");
  CacheSettings s = base;
  for (const auto& [key, v] : patch.items()) {
    if (key == "similarity_threshold") {
      if (!v.is_number()) return InvalidArgument(key + ": expected a number");
      const double t = v.get<double>();
      if (!std::isfinite(t) || t <= 0 || t > 1) return InvalidArgument(key + ": expected a number in (0, 1]");
      s.similarity_threshold = t;
    } else if (key == "default_ttl_s" || key == "semantic_expiry_s") {
      Result<Nanos> d = Seconds(v, key);
      if (!d.ok()) return d.status();
      (key == "default_ttl_s" ? s.default_ttl : s.semantic_ttl) = *d;
    } else if (key == "max_size" || key == "semantic_max_entries" || key == "embedding_max_size") {
      Result<size_t> n = Size(v, key);
      if (!n.ok()) return n.status();
      (key == "max_size" ? s.max_size : key == "semantic_max_entries" ? s.semantic_max_entries
                                                                      : s.embedding_max_size) = *n;
    } else {
      return InvalidArgument(key + ": unknown setting (expected similarity_threshold, default_ttl_s, "
                             "semantic_expiry_s, max_size, semantic_max_entries, embedding_max_size)");
    }
  }
  return s;
}

Json CacheSettingsJson(const CacheSettings& s) {
  return {{"similarity_threshold", s.similarity_threshold},
          {"default_ttl_s", ToSeconds(s.default_ttl)},
          {"semantic_expiry_s", ToSeconds(s.semantic_ttl)},
          {"max_size", s.max_size},
          {"semantic_max_entries", s.semantic_max_entries},
          {"embedding_max_size", s.embedding_max_size}};
}

void ApplyCacheSettings(const CacheSettings& s, ResponseCache* exact, SemanticCache* semantic,
                        EmbeddingCache* embedding) {
  if (exact != nullptr) exact->set_limits(s.default_ttl, s.max_size);
  if (semantic != nullptr) {
    semantic->set_tunables(s.similarity_threshold, s.semantic_ttl, s.semantic_max_entries);
  }
  if (embedding != nullptr) embedding->set_max_size(s.embedding_max_size);
}

Result<std::unique_ptr<CacheSettingsStore>> CacheSettingsStore::Open(SqliteDb& db) {
  Status s = db.migrate("cache", {
      "CREATE TABLE cache_settings(key TEXT PRIMARY KEY, value TEXT NOT NULL)",  // v1
  });
  if (!s.ok()) return s;
  return std::make_unique<CacheSettingsStore>(db);
}

Result<Json> CacheSettingsStore::load() {
  Result<Statement> st = db_.prepare("SELECT key, value FROM cache_settings ORDER BY key");
  if (!st.ok()) return st.status();
  Json out = Json::object();
  while (true) {
    Result<bool> row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    Json v = Json::parse(st->column_text(1), nullptr, /*allow_exceptions=*/false);
    if (!v.is_discarded()) out[st->column_text(0)] = std::move(v);
  }
  return out;
}

Status CacheSettingsStore::save(const Json& patch) {
  return db_.transaction([&]() -> Status {
    for (const auto& [key, v] : patch.items()) {
      Result<Statement> st =
          db_.prepare("INSERT INTO cache_settings(key, value) VALUES(?, ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
      if (!st.ok()) return st.status();
      if (Status s = st->bind_text(1, key); !s.ok()) return s;
      if (Status s = st->bind_text(2, DumpJson(v)); !s.ok()) return s;
      if (Status s = st->run(); !s.ok()) return s;
    }
    return Status::Ok();
  });
}

}  // namespace agentgate
