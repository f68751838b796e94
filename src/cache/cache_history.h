// CacheHistory: hit and miss counts per minute over the last hour, per cache
// type ("exact", "semantic", "embedding"), for GET /api/v1/cache/metrics.
//
// It is fed by samples of the caches' cumulative counters (sample(), called
// every few seconds by the gateway and before each read): the growth since
// the previous sample is added to the minute of the injected clock's now().
// So the proxy's hot path pays nothing, and a minute's counts are exact to
// within one sampling period.
//
//   CacheHistory history(clock);
//   history.sample({{"exact", {.hits = 10, .misses = 2}}});
//   Json j = history.json();   // {"exact": [{"minute": ..., "hits": ..., ...} x 60], ...}
//
// Thread-safety: internally synchronized. `clock` must outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "agentgate/core/clock.h"
#include "agentgate/core/json.h"

namespace agentgate {

struct CacheCounts {
  uint64_t hits = 0;
  uint64_t misses = 0;
};

class CacheHistory {
 public:
  static constexpr size_t kMinutes = 60;

  explicit CacheHistory(const Clock& clock) : clock_(clock) {}

  // sample: cumulative counters per cache type. The first sample of a type
  // only sets its baseline; a counter that went down (a restart of its
  // source) is taken as growth from 0.
  void sample(const std::map<std::string, CacheCounts>& totals);

  // json: per type, kMinutes buckets oldest first, each {"minute" (Unix
  // seconds of its start), "hits", "misses", "hit_rate" (0 without lookups)},
  // the current (partial) minute last.
  Json json() const;

 private:
  struct Bucket {
    int64_t minute = -1;  // minutes since the epoch; -1 = unused
    CacheCounts counts;
  };
  struct Series {
    CacheCounts last;  // the previous sample
    std::array<Bucket, kMinutes> buckets{};
  };

  int64_t minute_now() const;

  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, Series> series_;  // GUARDED_BY(mu_)
};

}  // namespace agentgate
