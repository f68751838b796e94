// SlidingWindow: an approximate count of a sliding window in sub-buckets
// (kRateBuckets of them, plus the partly overlapping oldest, counted in full
// until its last admission has left: never below the exact count, above it
// by at most that bucket). Used by RateLimitAnalytics; the limiters use the
// exact-to-1% RunLog (run_log.h). Plain data, 52 bytes; the caller
// synchronizes.
#pragma once

#include <cstdint>

#include "agentgate/ratelimit/rate_limiter.h"

namespace agentgate {

// kRateBuckets: sub-buckets per window width (the ring holds one more).
inline constexpr int kRateBuckets = 8;
inline constexpr int kRateSlots = kRateBuckets + 1;

// SlidingWindowGeometry: the constant shape of one window.
struct SlidingWindowGeometry {
  int64_t width_ns;   // W
  int64_t bucket_ns;  // W / kRateBuckets
};

struct SlidingWindow {
  uint32_t head;                // low 32 bits of the newest bucket's index
  uint8_t head_slot;            // slot of the newest bucket
  uint8_t last[kRateSlots];     // last admission offset in 1/256 bucket (floor)
  uint32_t counts[kRateSlots];  // admissions per bucket

  // init: an empty window whose newest bucket holds time `t`.
  void init(const SlidingWindowGeometry& g, int64_t t);
  // advance: moves the newest bucket to the one holding `t`, clearing those
  // that left the ring. Time going back keeps the current newest bucket.
  void advance(const SlidingWindowGeometry& g, int64_t t);
  // count: the conservative count of (t - W, t]. REQUIRES: advance(t) done.
  int64_t count(const SlidingWindowGeometry& g, int64_t t) const;
  // record: adds `cost` at time `t`. REQUIRES: advance(t) done.
  void record(const SlidingWindowGeometry& g, int64_t t, int64_t cost);
  // time_to_free: how long until the count drops by at least `need` (> 0);
  // -1 if it never will (need exceeds everything counted).
  int64_t time_to_free(const SlidingWindowGeometry& g, int64_t t, int64_t need) const;
};

}  // namespace agentgate
