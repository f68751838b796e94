// CacheStage: the exact response cache in front of the upstream. Runs after
// authenticate (the tenant is part of the key) and before the upstream stage.
//
// Per request, by its Cache-Control header:
//   (none)    look up; a hit is answered here (`X-Cache: HIT`, `X-Cache-Kind:
//             exact`); a miss (`X-Cache: MISS`) goes on and a 2xx complete
//             answer is stored on the way back;
//   no-cache  no lookup, the answer is still stored (`X-Cache: MISS`);
//   no-store  neither (`X-Cache: BYPASS`).
// Streamed answers are captured through a StreamObserver as they pass (the
// client is never delayed) and stored when the stream ended with [DONE]; a
// hit for a streaming request is replayed as an SSE stream of the captured
// events then `data: [DONE]`. Streamed and non-streamed requests have
// separate keys (see cache_key.h).
//
// De-duplication: a miss whose key is already in flight in this process
// waits (at most dedup_timeout) for the leader's answer and replays it
// (`X-Cache: HIT`, `X-Cache-Kind: inflight`); when the leader has nothing
// cacheable to share, or the wait times out, it goes upstream itself.
// Followers of a streaming leader receive the leader's stream bytes as they
// arrive (also those sent before they joined), not only at its end.
//
// Across instances (options.remote, Redis DB 4 when configured): the local
// leader of a key also takes the key's FlightLock. If another instance holds
// it, the local leader polls the shared store (every remote_poll, at most
// dedup_timeout) for that instance's answer and shares it with its own
// followers (`X-Cache-Kind: inflight`); when the other leader is gone with
// nothing stored, or on timeout, it calls the upstream itself.
// Streaming requests across instances (options.remote_stream): the leader
// holding the lock also appends its stream bytes to the key's shared stream
// as they pass; a streaming follower on another instance reads it (every
// remote_poll) from the start and relays each chunk to its client (and to
// its own local followers) while the leader still streams. It gives up when
// nothing new came for dedup_timeout; if it had sent nothing yet it calls the
// upstream itself, else it ends its stream with an `event: error`, as the
// leader's client is told when the upstream stream breaks.
//
// Thread-safety: shared by all workers; the cache and the flights are
// internally synchronized.
#pragma once

#include "agentgate/cache/cache_key.h"
#include "agentgate/cache/response_cache.h"
#include "agentgate/core/metrics.h"
#include "cache/flight_lock.h"
#include "cache/flight_stream.h"
#include "cache/single_flight.h"
#include "gateway/stage.h"

namespace agentgate {

struct CacheStageOptions {
  // Share one upstream call among identical in-flight requests. Default: true.
  bool dedup = true;
  // How long a follower waits for its leader. Default: 30 s.
  Nanos dedup_timeout = std::chrono::seconds(30);
  // A streamed answer larger than this is passed on but not stored.
  // Default: 4 MiB.
  size_t max_stream_bytes = 4 * 1024 * 1024;
  // Raw requests whose key is remembered (CacheKeyMemo). Default: 10000
  // (the gateway uses min(10000, cache.max_size)).
  size_t key_memo_size = 10000;
  // Cross-instance de-duplication locks (with dedup); null = this process
  // only. Default: null.
  std::shared_ptr<FlightLock> remote;
  // The leader's stream bytes for streaming followers on other instances
  // (with remote); null = they wait for the whole answer. Default: null.
  std::shared_ptr<FlightStream> remote_stream;
  // How often a remote follower looks for the leader's answer (or its next
  // stream bytes). Default: 20 ms.
  Nanos remote_poll = std::chrono::milliseconds(20);
};

class CacheStage final : public Stage {
 public:
  // REQUIRES: `cache`, `clock` and `metrics` (may be null) outlive the stage.
  CacheStage(ResponseCache& cache, CacheStageOptions options, MetricsRegistry* metrics,
             const Clock& clock = Clock::system());

  std::string_view name() const override { return "cache"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override;

  SingleFlight& flights() { return flights_; }

 private:
  // Metrics: one list for the stage.
  struct Metrics {
    explicit Metrics(MetricsRegistry& r);
    Counter& hits;
    Counter& inflight_hits;
    Counter& remote_hits;
    Counter& misses;
    Counter& bypasses;
    Counter& stores;
  };

  boost::asio::awaitable<void> answer(RequestContext& ctx, const CachedResponse& entry,
                                      std::string_view kind);
  // follow_stream: a streaming follower relays its leader's stream live;
  // false when the leader had nothing to share (then it computes itself).
  boost::asio::awaitable<bool> follow_stream(RequestContext& ctx, SingleFlight::Ticket& ticket);
  // await_remote: the answer another instance's leader stores under `key`,
  // or nullptr when it is gone without one or dedup_timeout passed.
  boost::asio::awaitable<CachedResponsePtr> await_remote(const std::string& key, bool stream);
  // follow_remote_stream: a streaming follower relays the stream another
  // instance's leader of `key` publishes (and feeds it to `ticket`'s local
  // followers); false when it had sent nothing (then it computes itself).
  boost::asio::awaitable<bool> follow_remote_stream(RequestContext& ctx, const std::string& key,
                                                    SingleFlight::Ticket& ticket);
  // compute: calls the next stage and stores a cacheable answer; `ticket`
  // (may be null) gets the answer and the stream bytes for local followers,
  // `publish` (may be null) the stream bytes for other instances.
  boost::asio::awaitable<void> compute(RequestContext& ctx, Next next, const std::string& key,
                                       SingleFlight::Ticket* ticket,
                                       FlightStream* publish = nullptr);

  ResponseCache& cache_;
  const CacheStageOptions options_;
  CacheKeyMemo keys_;
  std::unique_ptr<Metrics> metrics_;  // null without a registry
  SingleFlight flights_;
};

}  // namespace agentgate
