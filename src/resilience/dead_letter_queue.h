// DeadLetterQueue: requests that finally failed after retries and fallbacks,
// kept durably in SQLite so that nothing is lost: an operator can read them,
// replay them through the pipeline, or delete them.
//
//   auto dlq = DeadLetterQueue::Open(db, clock, &metrics, {.max_entries = 10000});
//   (*dlq)->add(letter);        // Authorization is never given; body secrets scrubbed
//   auto page = (*dlq)->list({.upstream = "openai", .limit = 50});
//
// Bounded: past max_entries the oldest entries are dropped and counted in
// agentgate_dlq_dropped_total (the overflow policy). Entries survive kill -9
// (SQLite WAL, committed before add() returns).
//
// Thread-safety: internally synchronized (through SqliteDb). Calls block on
// disk I/O; they are made only on the failure path.
// Ownership: `db`, `clock` and `metrics` must outlive the queue.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"
#include "agentgate/core/status.h"
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
  static Result<std::unique_ptr<DeadLetterQueue>> Open(SqliteDb& db, const Clock& clock,
                                                       MetricsRegistry* metrics,
                                                       DlqOptions options = {});

  // add: stores `letter` (its body scrubbed); returns its id.
  Result<int64_t> add(DeadLetter letter);
  Result<std::vector<DeadLetter>> list(const DlqFilter& filter) const;
  // get: kNotFound when there is no such entry.
  Result<DeadLetter> get(int64_t id) const;
  // remove: kNotFound when there is no such entry.
  Status remove(int64_t id);
  // record_replay: counts one replay of `id` that ended with HTTP `status`.
  Status record_replay(int64_t id, int status);
  Result<int64_t> size() const;

 private:
  DeadLetterQueue(SqliteDb& db, const Clock& clock, MetricsRegistry* metrics, DlqOptions options);

  SqliteDb& db_;
  const Clock& clock_;
  const DlqOptions options_;
  Counter* added_ = nullptr;    // null without a registry
  Counter* dropped_ = nullptr;
};

}  // namespace agentgate
