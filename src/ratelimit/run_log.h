// RunLog: one user's state of the rate limiter's four sliding windows, the
// log of runs described in agentgate/ratelimit/rate_limiter.h, in a packed
// byte layout shared by both backends: the memory backend keeps it in a
// user's table slot (or a spill block), the Redis backend as the value of
// the user's key, which its Lua script (redis_rate_limit_script.cc) reads
// and writes with the same rules.
//
//   u32 last_s | u8 n[4] (second, minute, hour, day) | the n[3] runs of the
//   day window | hour | minute | the n[0] runs of the second window
//   a run: u24 tick | u24 count (6 bytes); everything little-endian.
//
// (Shorter windows last: they gain and lose runs most often, and what
// follows a window moves when it does.)
//
// last_s: the call time (s, mod 2^32) of the latest call that touched the
// log. A run: `count` admissions recorded at or after its first admission,
// whose time is `tick` (floor(t / tick_ns) mod 2^24, tick_ns = window / 1e6).
// Runs of a window are in time order; a run leaves (all of it) when its first
// admission leaves the window.
//
// RunLogView is plain data over the caller's buffer; the caller synchronizes.
#pragma once

#include <cstdint>
#include <bit>
#include <cstring>

#include "agentgate/ratelimit/rate_limiter.h"

namespace agentgate {

static_assert(std::endian::native == std::endian::little, "RunLogView reads runs in place");

inline constexpr int kRunBytes = 6;
inline constexpr int kRunHeaderBytes = 8;
// kMaxRunsPerWindow: beyond it, a window's newest run absorbs what is recorded.
inline constexpr int kMaxRunsPerWindow = 250;
inline constexpr uint32_t kRunTickModulus = 1u << 24;
inline constexpr uint32_t kRunTickHalf = 1u << 23;
inline constexpr int64_t kMaxRunCount = (1 << 24) - 1;
// A window is kRunWindowTicks ticks; its tick is kRunTickNs[w] ns.
inline constexpr int64_t kRunWindowTicks = 1'000'000;
inline constexpr int64_t kRunTickNs[kRateWindowCount] = {1'000, 60'000, 3'600'000, 86'400'000};
inline constexpr int64_t kRunWindowSeconds[kRateWindowCount] = {1, 60, 3600, 86400};
// An unlimited window (counted for the status only) closes a run after W / 16.
inline constexpr int64_t kRunTimeClosureTicks = kRunWindowTicks / 16;

// RunCap: the run size c of a window with `limit`: floor(limit / 100) + 1
// (so over-admission <= c - 1 <= 1% of the limit), at most kMaxRunCount; 0
// for an unlimited window (its runs close by time instead).
inline int64_t RunCap(int64_t limit) {
  if (limit <= 0) return 0;
  int64_t c = limit / 100 + 1;
  return c < kMaxRunCount ? c : kMaxRunCount;
}

struct Run {
  uint32_t tick;
  uint32_t count;
};

// RunClock: one call's time as every window sees it.
struct RunClock {
  int64_t t = 0;                      // ns, >= 0
  uint32_t now_s = 0;                 // floor(t / 1 s) mod 2^32
  uint32_t cur[kRateWindowCount]{};   // floor(t / kRunTickNs[w]) mod 2^24
  int64_t phase[kRateWindowCount]{};  // t mod kRunTickNs[w]

  static RunClock At(int64_t t) {
    RunClock c;
    c.t = t < 0 ? 0 : t;
    const uint64_t u = static_cast<uint64_t>(c.t);
    c.now_s = static_cast<uint32_t>(u / 1'000'000'000u);
    // Unrolled, so that the divisors are constants: multiplications, not
    // four divisions (tens of cycles each).
#pragma GCC unroll 4
    for (int w = 0; w < kRateWindowCount; ++w) {
      const uint64_t ticks = u / static_cast<uint64_t>(kRunTickNs[w]);
      c.cur[w] = static_cast<uint32_t>(ticks) & (kRunTickModulus - 1);
      c.phase[w] = static_cast<int64_t>(u - ticks * static_cast<uint64_t>(kRunTickNs[w]));
    }
    return c;
  }
};

// RunCaps: RunCap of each window's limit.
struct RunCaps {
  int64_t c[kRateWindowCount]{};
  static RunCaps Of(const std::array<int64_t, kRateWindowCount>& limits) {
    RunCaps caps;
    for (int w = 0; w < kRateWindowCount; ++w) caps.c[w] = RunCap(limits[w]);
    return caps;
  }
};

class RunLogView {
 public:
  // A log whose header is at `header` (8 bytes) and runs at `runs`, with room
  // for `capacity` runs in all.
  RunLogView(uint8_t* header, uint8_t* runs, int capacity)
      : header_(header), runs_(runs), capacity_(capacity) {}

  // InitHeader: an empty log touched at `now_s`.
  static void InitHeader(uint8_t* header, uint32_t now_s);
  // Valid: `bytes` is a well-formed log of `size` bytes.
  static bool Valid(const uint8_t* bytes, size_t size);

  uint32_t last_s() const;
  int size(int w) const { return header_[4 + w]; }
  int total() const { return size(0) + size(1) + size(2) + size(3); }
  int capacity() const { return capacity_; }
  Run at(int w, int i) const { return Get(offset(w) + i); }

  // expire: drops the runs whose first admission has left each window
  // (a whole window when the log was last touched more than its width ago),
  // and moves last_s to the call if it is later.
  // With `used`, also sets used[w] = count(w) (one pass).
  void expire(const RunClock& c, int64_t (*used)[kRateWindowCount] = nullptr);
  // count: admissions counted in window `w`. REQUIRES: expire(c) done.
  int64_t count(int w) const;
  // counts: count(w) of every window, in one pass.
  void counts(int64_t (&out)[kRateWindowCount]) const;
  // record: counts `cost` (> 0) at c.t in every window: joins the window's
  // newest run if it stays within the window's cap (or, unlimited, if that
  // run is recent), else starts runs. Returns 0, or, changing nothing, the
  // total of runs it needs when that exceeds capacity(). Sets *saturated if
  // a count hit kMaxRunCount (it then counts less than `cost`).
  // REQUIRES: expire(c) done.
  int record(const RunClock& c, int64_t cost, const RunCaps& caps, bool* saturated = nullptr);
  // time_to_free: ns until window `w` counts at least `need` (> 0) fewer;
  // -1 if it never will (need exceeds the count).
  int64_t time_to_free(const RunClock& c, int w, int64_t need) const;

  // admit: acquire in one pass after expire(c): if every window has room
  // for `cost` under `limits`, records it as record() would; fills *d (but
  // its tier) as FillRateDecision(acquire = true) would, allowed or denied.
  // Returns 0 when done; the total of runs needed (> 0) when that exceeds
  // capacity(), changing nothing but the expiry; kAdmitGeneral when the
  // record is not the common case (cost <= 0 or above kMaxRunCount, a
  // window at kMaxRunsPerWindow, a newest run ahead of c), changing nothing
  // but the expiry: the caller then takes the general steps.
  static constexpr int kAdmitGeneral = -1;
  int admit(const RunClock& c, const std::array<int64_t, kRateWindowCount>& limits,
            const RunCaps& caps, int64_t cost, RateDecision* d);

 private:
  // offset: the index of window w's first run (longer windows come first).
  int offset(int w) const {
    int o = 0;
    for (int i = kRateWindowCount - 1; i > w; --i) o += size(i);
    return o;
  }
  // Get / Put: run i (little-endian host, as everything here).
  Run Get(int i) const {
    const uint8_t* p = runs_ + i * kRunBytes;
    uint32_t lo;
    uint16_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 2);
    return {lo & 0xFFFFFFu, lo >> 24 | static_cast<uint32_t>(hi) << 8};
  }
  void Put(int i, Run r) {
    uint8_t* p = runs_ + i * kRunBytes;
    const uint32_t lo = (r.tick & 0xFFFFFFu) | r.count << 24;
    const uint16_t hi = static_cast<uint16_t>(r.count >> 8);
    std::memcpy(p, &lo, 4);
    std::memcpy(p + 4, &hi, 2);
  }
  // TickAt / CountAt: one field of run i, in one load (4 bytes within the run).
  uint32_t TickAt(int i) const {
    uint32_t v;
    std::memcpy(&v, runs_ + i * kRunBytes, 4);
    return v & 0xFFFFFFu;
  }
  uint32_t CountAt(int i) const {
    uint32_t v;
    std::memcpy(&v, runs_ + i * kRunBytes + 2, 4);
    return v >> 8;
  }
  // Move: runs [from, from + n) to [to, to + n) (overlapping). A few runs
  // (the usual move) are copied here rather than by a call of memmove.
  void Move(int to, int from, int n) {
    if (n <= 0 || to == from) return;
    if (n > kInlineMoveRuns) {
      std::memmove(runs_ + to * kRunBytes, runs_ + from * kRunBytes,
                   static_cast<size_t>(n) * kRunBytes);
    } else if (to < from) {  // forward: each run is read before it is overwritten
      for (int i = 0; i < n; ++i) CopyRun(to + i, from + i);
    } else {
      for (int i = n - 1; i >= 0; --i) CopyRun(to + i, from + i);
    }
  }
  void CopyRun(int to, int from) {
    uint32_t lo;
    uint16_t hi;
    std::memcpy(&lo, runs_ + from * kRunBytes, 4);
    std::memcpy(&hi, runs_ + from * kRunBytes + 4, 2);
    std::memcpy(runs_ + to * kRunBytes, &lo, 4);
    std::memcpy(runs_ + to * kRunBytes + 4, &hi, 2);
  }
  static constexpr int kInlineMoveRuns = 8;
  // time_to_free_at: time_to_free of window `w` whose `n` runs start at run `o`.
  int64_t time_to_free_at(const RunClock& c, int w, int o, int n, int64_t need) const;

  uint8_t* header_;
  uint8_t* runs_;
  int capacity_;
};

// FillRateDecision: fills *d (but its tier) from the log after the call (`allowed`;
// recorded when acquire allowed it) whose windows count `used`: used,
// remaining, most restrictive, retry-after of a denial, and `reset` of
// every window (check) or of the most restrictive one (acquire).
// REQUIRES: expire(c) done on `log`; used[w] == log.count(w).
void FillRateDecision(const RunLogView& log, const RunClock& c,
                      const std::array<int64_t, kRateWindowCount>& limits,
                      const int64_t (&used)[kRateWindowCount], int64_t cost, bool allowed,
                      bool acquire, RateDecision* d);

// Admits: every window has room for `cost` under `limits`, given `used`.
inline bool Admits(const int64_t (&used)[kRateWindowCount],
                   const std::array<int64_t, kRateWindowCount>& limits, int64_t cost) {
  bool ok = true;
  for (int w = 0; w < kRateWindowCount; ++w) ok &= limits[w] <= 0 || used[w] + cost <= limits[w];
  return ok;
}

}  // namespace agentgate
