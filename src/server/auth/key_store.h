// KeyStore: client (virtual) API keys mapped to who is calling.
//
// A key is shown once, at creation; only its SHA-256 is stored (SQLite) and
// kept in memory for lookups. authenticate() hashes the presented key and
// compares digests in constant time, so neither the store nor the timing of
// a lookup reveals a key.
//
//   Result<CreatedKey> k = keys.create({.user_id = "alice", .tier = "pro"});
//   // give k->secret to alice; it is never retrievable again
//   std::optional<Principal> p = keys.authenticate(k->secret);
//
// Shared mode (set_shared(), used with Redis by RedisKeyStore): create() and
// revoke() are refused; the owner installs the fleet's keys, and each install
// is mirrored into the SQLite table, so that an instance restarting while
// Redis is away authenticates with the keys it last saw (and does not run
// open if the fleet had keys).
//
// Thread-safety: internally synchronized; authenticate() takes a shared lock
// and may run on every worker at once. Ownership: borrows the SqliteDb, which
// must outlive the KeyStore.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/status.h"
#include "store/sqlite_db.h"

namespace agentgate {

// Principal: the caller of a proxy request, as every stage sees it.
struct Principal {
  std::string user_id;         // whose limits, usage and cache entries these are
  std::string tier;            // rate-limit tier; "" = the configured default
  std::string tenant;          // isolation boundary for caches; "" = default tenant
  std::string key_id;          // the client key used; "" when the proxy runs open
};

struct ClientKeyInfo {
  std::string id;          // public identifier, e.g. "key_3f2a..."
  std::string name;        // free text label
  std::string user_id;
  std::string tier;
  std::string tenant;
  std::string prefix;      // first characters of the secret, for recognition
  int64_t created_at_ms = 0;
};

struct NewClientKey {
  std::string user_id;     // required
  std::string tier;        // optional
  std::string tenant;      // optional
  std::string name;        // optional
};

struct CreatedKey {
  std::string secret;      // "agk-..." shown once
  ClientKeyInfo info;
};

class KeyStore {
 public:
  // Open: loads the stored keys (creating the table on first use).
  static Result<std::unique_ptr<KeyStore>> Open(SqliteDb& db, const Clock& clock);

  // create: a new key for `request`. kInvalidArgument if user_id is empty or
  // a field is over 256 bytes.
  Result<CreatedKey> create(const NewClientKey& request);
  // list: every key's info (never the secret), newest first.
  std::vector<ClientKeyInfo> list() const;
  // revoke: deletes key `id`; kNotFound if there is none.
  Status revoke(std::string_view id);
  // authenticate: the principal of `secret`, or nullopt.
  std::optional<Principal> authenticate(std::string_view secret) const;
  // empty: no client keys exist (the proxy then runs open).
  bool empty() const;

  // A key as stored: never the secret.
  struct Entry {
    std::string hash;  // hex SHA-256 of the secret
    ClientKeyInfo info;
  };
  // set_shared: switches to shared mode. Once, before serving.
  void set_shared();
  // mint: a new key for `request` (validated as create() does), stored nowhere.
  Result<std::pair<CreatedKey, Entry>> mint(const NewClientKey& request) const;
  // install / remove_id / replace_all: the shared mode's copy (memory, then
  // SQLite, best effort: a failed SQLite write only weakens the next restart).
  void install(Entry e);
  void remove_id(std::string_view id);
  void replace_all(std::vector<Entry> entries);

 private:
  KeyStore(SqliteDb& db, const Clock& clock) : db_(db), clock_(clock) {}
  Status load();
  Status store_row(const Entry& e);  // INSERT OR REPLACE

  SqliteDb& db_;
  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Entry> by_hash_;  // GUARDED_BY(mu_)
  // by_hash_.size(), stored under mu_ after each change: empty() without the lock.
  std::atomic<size_t> count_{0};
  void publish_count_locked() { count_.store(by_hash_.size(), std::memory_order_release); }
  bool shared_ = false;   // GUARDED_BY(mu_)
};

}  // namespace agentgate
