// DeadLetterQueue: requests that finally failed after retries and fallbacks,
// kept durably so that nothing is lost: an operator can read them, replay
// them through the pipeline, or delete them. Two stores, one contract:
//
//   SQLite (the default): OpenSqliteDeadLetterQueue(db, clock, &metrics, options).
//     Entries survive kill -9 (WAL, committed before add() completes).
//   Redis (when the gateway runs with `redis:`, shared by every instance):
//     NewRedisDeadLetterQueue(client, key_prefix, clock, &metrics, options).
//     Entries live as long as Redis keeps its dataset (its persistence
//     settings decide what survives a Redis restart); add() completes only
//     after Redis stored the entry.
//
//   Result<int64_t> id = co_await dlq.add(letter);   // body secrets scrubbed
//   auto page = co_await dlq.list({.upstream = "openai", .limit = 50});
//
// Bounded: past max_entries the oldest entries are dropped and counted in
// agentgate_dlq_dropped_total (the overflow policy).
//
// Thread-safety: every method may be called concurrently. The SQLite store
// blocks on disk I/O inside its coroutines (calls are made only on the
// failure path and by the admin API).
// Ownership: the stores hold references to their db/client, clock and
// metrics, which must outlive them.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
#include "agentgate/core/status.h"
#include "store/redis_client.h"
#include "store/sqlite_db.h"

namespace agentgate {

// DeadLetter: one failed request.
struct DeadLetter {
  int64_t id = 0;           // assigned by add()
  int64_t time_ms = 0;      // wall time of the failure, ms since the epoch (set by add())
  std::string user;         // the principal's user id
  std::string upstream;     // the last upstream tried ("" when none was called)
  std::string model;        // the model the client asked for
  std::string function;     // the API function: "/v1/chat/completions", ...
  int attempts = 0;         // upstream calls made
  std::string error_class;  // "TRANSIENT", "RECOVERABLE", "CRITICAL", "BREAKER_OPEN"
  std::string error;        // the final error message
  int status = 0;           // the HTTP status the client got
  std::string body;         // the request body, secrets removed
  bool stream = false;      // the client asked for a stream
  int replays = 0;          // replays made
  int last_replay_status = 0;  // HTTP status of the last replay (0: never replayed)
};

// DlqFilter: which entries list() returns, newest first.
struct DlqFilter {
  std::string user;         // "" = any
  std::string upstream;     // "" = any
  std::string model;        // "" = any
  std::string error_class;  // "" = any
  int64_t before_id = 0;    // page: entries with id < before_id; 0 = from the newest
  int64_t limit = 50;       // 1..1000
};

struct DlqOptions {
  // Entries kept at most; the oldest are dropped (and counted) beyond.
  // Default: 10000.
  int64_t max_entries = 10000;
};

// ScrubSecrets: `body` (JSON) without values under keys that carry secrets
// (authorization, api_key, apikey, password, secret, token, access_token,
// refresh_token, in any case, at any depth), replaced by "[REDACTED]". A body
// that is not JSON is kept as is.
std::string ScrubSecrets(const std::string& body);

class DeadLetterQueue {
 public:
  virtual ~DeadLetterQueue() = default;

  // add: stores `letter` (its body scrubbed, time_ms set from the clock);
  // returns its id (ids grow: a newer entry has a larger id).
  virtual boost::asio::awaitable<Result<int64_t>> add(DeadLetter letter) = 0;
  virtual boost::asio::awaitable<Result<std::vector<DeadLetter>>> list(DlqFilter filter) = 0;
  // get / remove / record_replay: kNotFound when there is no such entry.
  virtual boost::asio::awaitable<Result<DeadLetter>> get(int64_t id) = 0;
  virtual boost::asio::awaitable<Status> remove(int64_t id) = 0;
  // record_replay: counts one replay of `id` that ended with HTTP `status`.
  virtual boost::asio::awaitable<Status> record_replay(int64_t id, int status) = 0;
  virtual boost::asio::awaitable<Result<int64_t>> size() = 0;
};

// OpenSqliteDeadLetterQueue: the SQLite store (migrates its table).
Result<std::unique_ptr<DeadLetterQueue>> OpenSqliteDeadLetterQueue(SqliteDb& db,
                                                                   const Clock& clock,
                                                                   MetricsRegistry* metrics,
                                                                   DlqOptions options = {});

// NewRedisDeadLetterQueue: the Redis store. Its keys share the hash tag
// "{dlq}" after `key_prefix` (one Cluster slot): <prefix>{dlq}:seq (the id
// counter), <prefix>{dlq}:ids (a sorted set of ids) and <prefix>{dlq}:e:<id>
// (one hash per entry). Each call is one round trip (Lua scripts).
std::unique_ptr<DeadLetterQueue> NewRedisDeadLetterQueue(RedisClient& client,
                                                         std::string key_prefix,
                                                         const Clock& clock,
                                                         MetricsRegistry* metrics,
                                                         DlqOptions options = {});

// DlqMetrics: the counters both stores keep (null members without a registry).
struct DlqMetrics {
  explicit DlqMetrics(MetricsRegistry* metrics);
  void count(int64_t dropped) const;  // one add that dropped `dropped`

  Counter* added = nullptr;
  Counter* dropped = nullptr;
};

}  // namespace agentgate
