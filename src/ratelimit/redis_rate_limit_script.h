// The Redis rate limiter's Lua script and its argument/state encoding: the
// same sub-bucket sliding windows as SlidingWindow (sliding_window.h), all
// four windows of one user in one key, checked and recorded in one EVALSHA.
//
// Key: one string of kRedisRateStateBytes per user, four windows in order
// (second, minute, hour, day), each little-endian:
//   uint32 head | uint8 head_slot | uint8 last[kRateSlots] | uint32 counts[kRateSlots]
// i.e. the fields of SlidingWindow, packed (50 bytes a window); counts
// saturate at 2^32 - 1 as in SlidingWindow.
//
// Arguments (ARGV), all decimal integers:
//   1 mode: "a" acquire (check, then record if every window admits),
//           "c" check only (nothing written), "r" record only (no check)
//   2 cost (>= 0)   3 TTL of the key in ms (set on each write)
//   then per window w = 0..3, four values at 4 + 4w:
//     cur   the bucket index holding the time, modulo 2^32 (SlidingWindow::head)
//     rec   the time's offset in its bucket in 1/256 (what record() keeps)
//     thr   the oldest bucket still counts iff its last >= thr (see RateScriptArgs)
//     limit the window's limit (0: unlimited)
// Reply: "a"/"c": {allowed (0/1), the state BEFORE the call ("" if none)}:
// the caller replays advance (and record, if allowed) on it with
// SlidingWindow, as the script did; "r": 1. Nothing is written unless
// something is recorded (advancing is recomputed on the next call).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ratelimit/sliding_window.h"

namespace agentgate {

inline constexpr size_t kRedisRateWindowBytes = 4 + 1 + kRateSlots + 4 * kRateSlots;
inline constexpr size_t kRedisRateStateBytes = kRedisRateWindowBytes * kRateWindowCount;

// RedisRateLimitScript: the Lua source.
const std::string& RedisRateLimitScript();

// RateScriptArgs: ARGV for a call at time `t` (ns since the Unix epoch).
// The per-window values are computed here with 64-bit integers, so the
// script does only small-number arithmetic (Lua numbers are doubles) and
// decides exactly as SlidingWindow::count does at `t`.
std::vector<std::string> RateScriptArgs(char mode, int64_t cost, int64_t ttl_ms, int64_t t,
                                        const SlidingWindowGeometry (&geometry)[kRateWindowCount],
                                        const std::array<int64_t, kRateWindowCount>& limits);

// ParseRateState: the windows in a state string; false if it is not
// kRedisRateStateBytes long or malformed.
bool ParseRateState(std::string_view state, SlidingWindow (&windows)[kRateWindowCount]);

}  // namespace agentgate
