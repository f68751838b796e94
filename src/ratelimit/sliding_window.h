// SlidingWindow: the per-user, per-window state of the conservative
// sub-bucket sliding window (see agentgate/ratelimit/rate_limiter.h for the
// algorithm and its bound). Plain data, 52 bytes; the caller synchronizes.
#pragma once

#include <cstdint>

#include "agentgate/ratelimit/rate_limiter.h"

namespace agentgate {

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
