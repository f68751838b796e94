// The Redis rate limiter's Lua script and its arguments: the RunLog of
// run_log.h (its byte layout is the value of the user's key), expired,
// checked and recorded for all four windows in one EVALSHA, by the same
// rules as RunLogView::expire / count / record.
//
// Arguments (ARGV), all decimal integers:
//   1 mode: "a" acquire (check, then record if every window admits),
//           "c" check only (nothing written), "r" record only (no check)
//   2 cost (>= 0)   3 TTL of the key in ms (set on each write)
//   4 now_s: RunClock::now_s
//   then per window w = 0..3, three values at 5 + 3w:
//     cur    RunClock::cur[w]
//     cap    RunCap of the window's limit (0: unlimited, runs close by time)
//     limit  the window's limit (0: unlimited)
// Reply: "a"/"c": {allowed (0/1), the log BEFORE the call ("" if none or
// malformed)}: the caller replays expire (and record, if allowed) on it with
// RunLogView, as the script did; "r": 1. Nothing is written unless something
// is recorded (expiring is recomputed on the next call).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ratelimit/run_log.h"

namespace agentgate {

// RedisRateLimitScript: the Lua source.
const std::string& RedisRateLimitScript();

// RateScriptArgs: ARGV for a call at `c`. The times are computed here with
// 64-bit integers, so the script does only small-number arithmetic (Lua
// numbers are doubles).
std::vector<std::string> RateScriptArgs(char mode, int64_t cost, int64_t ttl_ms, const RunClock& c,
                                        const std::array<int64_t, kRateWindowCount>& limits);

}  // namespace agentgate
