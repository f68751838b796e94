// RedisSemanticReplica: shares semantic-cache entries between instances
// through Redis (the "semantic" concern, DB 1). Each instance keeps its own
// in-memory index (SemanticCache); what one instance stores is appended to a
// Redis stream, `<key_prefix>semantic:log` (XADD, MAXLEN ~ max_len), which
// every instance reads from the beginning at start (so a new or restarted
// instance loads the live entries) and then every `poll`, inserting the
// entries other instances wrote with their remaining lifetime. An entry is
// thus findable on another instance within about one poll interval; the
// partitioning (tenant, agent type, model, parameters) travels with it.
//
// Fail-open: Redis errors are counted in
// agentgate_cache_store_errors_total{cache="semantic"}; the local cache
// keeps working alone. Replicated entries: agentgate_cache_replicated_total
// {cache="semantic"}.
//
// Thread-safety: start()/stop() from one thread; the listener it installs
// runs on any thread. Ownership: references the cache and the client, which
// must outlive it; its reader runs on the client's executor. REQUIRES: that
// executor is stopped (RedisConnections::stop) before the cache is destroyed.
#pragma once

#include <memory>
#include <string>

#include "agentgate/cache/semantic_cache.h"
#include "agentgate/core/metrics.h"
#include "store/redis_client.h"

namespace agentgate {

struct SemanticReplicaOptions {
  // How often the stream is read for other instances' entries. Default: 250 ms.
  Nanos poll = std::chrono::milliseconds(250);
  // Approximate length the stream is trimmed to. Default: 100000.
  size_t max_len = 100000;
};

class RedisSemanticReplica {
 public:
  RedisSemanticReplica(SemanticCache& cache, RedisClient& client, std::string key_prefix,
                       const Clock& clock, MetricsRegistry& metrics,
                       SemanticReplicaOptions options = {});
  ~RedisSemanticReplica();
  RedisSemanticReplica(const RedisSemanticReplica&) = delete;
  RedisSemanticReplica& operator=(const RedisSemanticReplica&) = delete;

  // start: installs the cache's listener and starts the reader. REQUIRES:
  // before the cache is shared between threads; once.
  void start();
  // stop: the reader ends at its next wake-up. Idempotent.
  void stop();

  // stream_key: the Redis stream's key.
  const std::string& stream_key() const;

  struct State;  // shared with the reader and the listener

 private:
  std::shared_ptr<State> state_;
};

}  // namespace agentgate
