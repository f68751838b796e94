// Redis backends of the caches (issue 7): the exact response store (DB 2)
// and the embedding store (DB 3), each on its concern's RedisClient
// (RedisConnections). Keys are `<key_prefix><concern>:<cache key>`
// ("response:<sha256>", "embedding:<sha256>"); key_prefix is "" in DB mode.
//
// Values: cache_codec.h (a response with its stream capture; an embedding as
// binary floats). Responses are written with SET PX <ttl> (bounded by their
// TTL and Redis's maxmemory policy); embeddings with SET, or SET PX when the
// cache has a ttl, and bounded by max_size (least recently used first).
//
// Fail-open: a Redis error, a timeout or an undecodable value is a miss (get)
// or a dropped write (set), counted in
// agentgate_cache_store_errors_total{cache="response"|"embedding"}; never an
// error to the client.
//
// The plain (non-async) methods block the calling thread until Redis answers
// (bounded); REQUIRES: they are never called on the Redis clients' own
// thread. The proxy uses the async_ methods.
//
// Thread-safety: internally synchronized (the client is). Ownership: holds a
// reference to the client, which must outlive the store.
#pragma once

#include <memory>
#include <string>

#include "agentgate/cache/embedding_cache.h"
#include "agentgate/cache/response_cache.h"
#include "agentgate/core/metrics.h"
#include "cache/flight_lock.h"
#include "cache/flight_stream.h"
#include "store/redis_client.h"

namespace agentgate {

// NewRedisResponseStore: the exact response store on `client` (the
// "response" concern).
std::unique_ptr<ResponseStore> NewRedisResponseStore(RedisClient& client, std::string key_prefix,
                                                     MetricsRegistry& metrics);

// NewRedisEmbeddingStore: the embedding store on `client` (the "embedding"
// concern); `ttl` 0 = no expiry. At most `max_size` entries (0: unbounded;
// set_max_size changes it): each store trims the least recently used
// entries above it, by a recency sorted set `<prefix>embedding-lru` whose
// scores (ms) come from `clock`. REQUIRES: clock outlives the store.
std::unique_ptr<EmbeddingStore> NewRedisEmbeddingStore(RedisClient& client, std::string key_prefix,
                                                       Nanos ttl, size_t max_size,
                                                       MetricsRegistry& metrics,
                                                       const Clock& clock = Clock::system());

// NewRedisFlightLock: de-duplication locks on `client` (the "dedup" concern,
// DB 4): `SET <prefix>dedup:<key> <random token> NX PX <ttl>`, released by a
// script that deletes the key only while it still holds the token. Failures
// count in agentgate_cache_store_errors_total{cache="dedup"}.
std::unique_ptr<FlightLock> NewRedisFlightLock(RedisClient& client, std::string key_prefix,
                                               MetricsRegistry& metrics);

// NewRedisFlightStream: the streams streaming followers on other instances
// relay (the "dedup" concern, DB 4): a Redis Stream per key,
// `<prefix>dedup-stream:<key>`, expiring `ttl` after its last append
// (store/redis_flight_stream.cc). Failures count in
// agentgate_cache_store_errors_total{cache="dedup"}.
std::unique_ptr<FlightStream> NewRedisFlightStream(RedisClient& client, std::string key_prefix,
                                                   MetricsRegistry& metrics);

// CacheStoreErrors: the fail-open counter of one cache type
// (agentgate_cache_store_errors_total{cache=...}).
Counter& CacheStoreErrors(MetricsRegistry& metrics, const std::string& cache);

// RedisScanCount / RedisScanDelete: keys matching `pattern` counted /
// deleted (UNLINK) with SCAN; -1 when Redis failed.
boost::asio::awaitable<int64_t> RedisScanCount(RedisClient& client, std::string pattern);
boost::asio::awaitable<int64_t> RedisScanDelete(RedisClient& client, std::string pattern);

}  // namespace agentgate
