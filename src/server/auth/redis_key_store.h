// RedisKeyStore: client API keys shared by every gateway instance on one
// Redis (DB 6 "keys", or `<key_prefix>keys:` in prefix mode).
//
// Redis is the source of truth: one hash per key, `<prefix>ck:id:<id>`
// (fields hash, name, user_id, tier, tenant, prefix, created_at_ms; the
// SHA-256 of the secret, never the secret). create/revoke write there (one
// HSET / DEL), install the change in this instance's KeyStore and announce
// the id on a RedisChangeFeed (`<prefix>ck:log`); every other instance
// re-reads that key within one poll interval (250 ms). The request path
// (KeyStore::authenticate) reads memory only.
//
// While Redis is away each instance authenticates with the keys it last saw,
// and create/revoke answer kUnavailable, changing nothing. An instance
// (re)started while Redis is away uses the copy KeyStore keeps in SQLite.
// A reload whose read began before a local write installed does not undo it.
// Errors are counted in agentgate_keys_store_errors_total.
//
// Thread-safety: the async methods may be called from any coroutine.
// Ownership: borrows the KeyStore and the client; REQUIRES: both outlive the
// store, and the client's executor is stopped before the KeyStore is destroyed.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "agentgate/core/metrics.h"
#include "server/auth/key_store.h"
#include "store/redis_change_feed.h"
#include "store/redis_client.h"

namespace agentgate {

class RedisKeyStore {
 public:
  // `prefix`: "" in DB mode, "<key_prefix>keys:" in prefix mode. Puts `keys`
  // in shared mode.
  RedisKeyStore(KeyStore& keys, RedisClient& client, std::string prefix, MetricsRegistry& metrics,
                ChangeFeedOptions feed = {});

  // start: the reader of other instances' changes (loads every key first).
  void start();

  // create / revoke: as KeyStore's, through Redis (kUnavailable while it is away).
  boost::asio::awaitable<Result<CreatedKey>> create(NewClientKey request);
  boost::asio::awaitable<Status> revoke(std::string id);

  // key_of: the hash of key `id`.
  std::string key_of(std::string_view id) const;

 private:
  boost::asio::awaitable<Status> reload_one(std::string id);
  boost::asio::awaitable<Status> reload_all();
  boost::asio::awaitable<Result<std::vector<KeyStore::Entry>>> read_all();
  uint64_t installed();

  KeyStore& keys_;
  RedisClient& client_;
  const std::string prefix_;
  Counter& errors_;
  RedisChangeFeed feed_;
  std::mutex install_mu_;  // orders local installs against reloads
  uint64_t installs_ = 0;  // GUARDED_BY(install_mu_): local writes installed
};

// ParseStoredKey: a key from the fields of its hash (HGETALL's reply), or
// nullopt when the hash is empty or lacks its digest or user.
std::optional<KeyStore::Entry> ParseStoredKey(std::string_view id, const RedisReply& hgetall);

}  // namespace agentgate
