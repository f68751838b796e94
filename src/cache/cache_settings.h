// CacheSettings: the cache settings an operator may change at runtime
// (POST /api/v1/cache/config): similarity threshold, TTLs and sizes. The
// file/env configuration gives the start values; changes made through the
// admin API are kept in SQLite (CacheSettingsStore) and applied over them at
// every start, so they survive a restart.
//
//   Result<CacheSettings> next = PatchCacheSettings(current, body);  // 400 names the key
//   if (next.ok()) { store.save(body); ApplyCacheSettings(*next, caches); }
//
// Thread-safety: CacheSettings is a value; CacheSettingsStore is internally
// synchronized by its SqliteDb.
#pragma once

#include <memory>

#include "agentgate/cache/embedding_cache.h"
#include "agentgate/cache/response_cache.h"
#include "agentgate/cache/semantic_cache.h"
#include "agentgate/core/json.h"
#include "agentgate/core/status.h"
#include "config/config.h"
#include "store/sqlite_db.h"

namespace agentgate {

struct CacheSettings {
  // Cosine similarity in (0, 1] from which a semantic hit counts. JSON
  // `similarity_threshold`. Default: CacheConfig's.
  double similarity_threshold = 0.95;
  // Exact-cache entry lifetime, > 0. JSON `default_ttl_s`.
  Nanos default_ttl = std::chrono::seconds(300);
  // Semantic-cache entry lifetime, > 0. JSON `semantic_expiry_s`.
  Nanos semantic_ttl = std::chrono::seconds(3600);
  // Exact-cache entries at most, >= 1. JSON `max_size`.
  size_t max_size = 10000;
  // Semantic-cache entries per partition at most, >= 1. JSON `semantic_max_entries`.
  size_t semantic_max_entries = 10000;
  // Embedding-cache entries at most, >= 1. JSON `embedding_max_size`.
  size_t embedding_max_size = 10000;

  friend bool operator==(const CacheSettings&, const CacheSettings&) = default;
};

// CacheSettingsFrom: the start values from the configuration.
CacheSettings CacheSettingsFrom(const CacheConfig& config);

// PatchCacheSettings: `base` with the keys of `patch` (a JSON object, each
// key optional) applied. kInvalidArgument naming the first bad or unknown
// key; nothing is applied then.
Result<CacheSettings> PatchCacheSettings(const CacheSettings& base, const Json& patch);

// CacheSettingsJson: the settings as the admin API shows them.
Json CacheSettingsJson(const CacheSettings& s);

// ApplyCacheSettings: sets each cache's tunables (null caches are skipped).
// A smaller size evicts at once; new TTLs apply to entries written from now.
void ApplyCacheSettings(const CacheSettings& s, ResponseCache* exact, SemanticCache* semantic,
                        EmbeddingCache* embedding);

// CacheSettingsStore: the admin API's changes, persisted (table
// cache_settings, migrations "cache"). REQUIRES: db outlives the store.
class CacheSettingsStore {
 public:
  static Result<std::unique_ptr<CacheSettingsStore>> Open(SqliteDb& db);
  explicit CacheSettingsStore(SqliteDb& db) : db_(db) {}

  // load: every persisted change, as one JSON object (empty when none).
  Result<Json> load();
  // save: persists the keys of `patch` (a validated patch), replacing
  // earlier values of the same keys.
  Status save(const Json& patch);

 private:
  SqliteDb& db_;
};

}  // namespace agentgate
