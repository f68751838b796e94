#include "ratelimit/run_log.h"

#include <algorithm>

namespace agentgate {

namespace {

uint32_t LoadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

void StoreU32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

// Age: cur - tick in ticks, mod 2^24; >= kRunTickHalf means tick is ahead.
uint32_t Age(uint32_t cur, uint32_t tick) { return (cur - tick) & (kRunTickModulus - 1); }

// Expired: a run whose first admission was at `tick` has left the window:
// its first admission t0 < (tick + 1) * tick_ns <= t - W.
bool Expired(uint32_t age) { return age > kRunWindowTicks && age < kRunTickHalf; }

// kBranchFreeRuns: up to this many runs, admit() expires and counts a
// window without a branch per run.
constexpr int kBranchFreeRuns = 8;

// RecordPlan: what record() does to one window.
struct RecordPlan {
  bool join = false;   // add `cost` to the newest run (saturating)
  uint32_t tick = 0;   // else: new runs at this tick
  int new_runs = 0;    // how many (pieces of kMaxRunCount; the last absorbs the rest)
};

RecordPlan Plan(bool has_last, Run last, int n, uint32_t cur, int64_t cost, int64_t cap) {
  RecordPlan p;
  p.tick = cur;
  if (has_last) {
    const uint32_t age = Age(cur, last.tick);
    const bool ahead = age >= kRunTickHalf;  // another instance's clock was ahead
    if (n >= kMaxRunsPerWindow) {
      p.join = true;
    } else if (cap > 0) {
      p.join = static_cast<int64_t>(last.count) + cost <= cap;
    } else {
      p.join = (ahead || age < kRunTimeClosureTicks) &&
               static_cast<int64_t>(last.count) + cost <= kMaxRunCount;
    }
    if (p.join) return p;
    if (ahead) p.tick = last.tick;  // runs stay in time order
  }
  const int64_t pieces = (cost + kMaxRunCount - 1) / kMaxRunCount;
  p.new_runs = static_cast<int>(std::min<int64_t>(pieces, kMaxRunsPerWindow - n));
  return p;
}

}  // namespace

void RunLogView::InitHeader(uint8_t* header, uint32_t now_s) {
  StoreU32(header, now_s);
  std::memset(header + 4, 0, 4);
}

bool RunLogView::Valid(const uint8_t* bytes, size_t size) {
  if (size < static_cast<size_t>(kRunHeaderBytes)) return false;
  size_t runs = 0;
  for (int w = 0; w < kRateWindowCount; ++w) {
    if (bytes[4 + w] > kMaxRunsPerWindow) return false;
    runs += bytes[4 + w];
  }
  return size == kRunHeaderBytes + runs * kRunBytes;
}

uint32_t RunLogView::last_s() const { return LoadU32(header_); }

void RunLogView::expire(const RunClock& c, int64_t (*used)[kRateWindowCount]) {
  const uint32_t elapsed = c.now_s - last_s();  // mod 2^32; >= 2^31: the call is earlier
  const bool later = elapsed < 0x80000000u;
  // One pass in storage order: `from` reads each window's runs, `to` is
  // where its remaining ones go (after what the longer windows kept).
  int from = 0, to = 0;
  for (int w = kRateWindowCount - 1; w >= 0; --w) {
    const int n = size(w);
    int k = 0;
    if (later && elapsed > kRunWindowSeconds[w]) {
      k = n;  // untouched for longer than the window: everything has left
    } else {
      while (k < n && Expired(Age(c.cur[w], TickAt(from + k)))) ++k;
    }
    if (used != nullptr) {
      int64_t sum = 0;
      for (int i = from + k; i < from + n; ++i) sum += CountAt(i);
      (*used)[w] = sum;
    }
    Move(to, from + k, n - k);
    header_[4 + w] = static_cast<uint8_t>(n - k);
    from += n;
    to += n - k;
  }
  if (later) StoreU32(header_, c.now_s);
}

int64_t RunLogView::count(int w) const {
  int64_t sum = 0;
  const int o = offset(w);
  for (int i = 0; i < size(w); ++i) sum += CountAt(o + i);
  return sum;
}

void RunLogView::counts(int64_t (&out)[kRateWindowCount]) const {
  int i = 0;
  for (int w = kRateWindowCount - 1; w >= 0; --w) {  // in storage order
    int64_t sum = 0;
    for (const int end = i + size(w); i < end; ++i) sum += CountAt(i);
    out[w] = sum;
  }
}

int RunLogView::record(const RunClock& c, int64_t cost, const RunCaps& caps, bool* saturated) {
  if (cost <= 0) return 0;
  RecordPlan plans[kRateWindowCount];
  int start[kRateWindowCount], n[kRateWindowCount];
  int needed = 0;
  int o = 0;
  for (int w = kRateWindowCount - 1; w >= 0; --w) {  // in storage order
    n[w] = size(w);
    start[w] = o;
    o += n[w];
    const Run last = n[w] > 0 ? Get(o - 1) : Run{0, 0};
    plans[w] = Plan(n[w] > 0, last, n[w], c.cur[w], cost, caps.c[w]);
    needed += plans[w].new_runs;
  }
  if (o + needed > capacity_) return o + needed;
  // A window's runs move right by the new runs of the windows stored before
  // it; the last stored (the second window) moves first, into free room.
  int shift = needed;
  bool sat = false;
  for (int w = 0; w < kRateWindowCount; ++w) {
    const RecordPlan& p = plans[w];
    shift -= p.new_runs;
    const int begin = start[w] + shift;
    Move(begin, start[w], n[w]);
    int end = begin + n[w];
    int64_t rest = cost;
    if (!p.join) {
      for (int i = 0; i < p.new_runs; ++i) {
        const int64_t piece = std::min(rest, kMaxRunCount);
        Put(end++, {p.tick, static_cast<uint32_t>(piece)});
        rest -= piece;
      }
      header_[4 + w] = static_cast<uint8_t>(n[w] + p.new_runs);
    }
    if (rest == 0) continue;
    // Join the newest run (or, out of runs, let it absorb the rest).
    Run r = Get(end - 1);
    const int64_t sum = static_cast<int64_t>(r.count) + rest;
    sat |= sum > kMaxRunCount;
    r.count = static_cast<uint32_t>(std::min(sum, kMaxRunCount));
    Put(end - 1, r);
  }
  if (saturated != nullptr) *saturated = sat;
  return 0;
}

int RunLogView::admit(const RunClock& c, const std::array<int64_t, kRateWindowCount>& limits,
                      const RunCaps& caps, int64_t cost, RateDecision* d) {
  if (cost <= 0 || cost > kMaxRunCount) return kAdmitGeneral;
  const uint32_t elapsed = c.now_s - last_s();  // as in expire()
  const bool later = elapsed < 0x80000000u;
  // One read pass in storage order: each window's expired prefix, the count
  // of the rest, and whether its newest run takes `cost` (record()'s plan,
  // when no run saturates and every window takes one run at most).
  int src[kRateWindowCount], len[kRateWindowCount];
  int64_t used[kRateWindowCount];
  bool join[kRateWindowCount];
  bool fits = true, plain = true;
  int from = 0, kept = 0, needed = 0;
  #pragma GCC unroll 4
  for (int w = kRateWindowCount - 1; w >= 0; --w) {
    const int n = size(w);
    int k = 0;
    int64_t sum = 0;
    if (later && elapsed > kRunWindowSeconds[w]) {
      k = n;
    } else if (n <= kBranchFreeRuns) {
      // A few runs (the usual window): one loop (one exit to predict, not
      // two) and no branch inside: the prefix of expired runs leaves, the
      // rest counts.
      uint32_t leaving = 1;
      for (int i = from; i < from + n; ++i) {
        leaving &= static_cast<uint32_t>(Expired(Age(c.cur[w], TickAt(i))));
        k += static_cast<int>(leaving);
        sum += CountAt(i) & (leaving - 1);  // 0 while leaving, else all ones
      }
    } else {  // many: fewer instructions per run
      while (k < n && Expired(Age(c.cur[w], TickAt(from + k)))) ++k;
#pragma GCC unroll 4
      for (int i = from + k; i < from + n; ++i) sum += CountAt(i);
    }
    used[w] = sum;
    fits &= limits[w] <= 0 || sum + cost <= limits[w];
    bool j = false;
    if (k < n) {
      const uint32_t age = Age(c.cur[w], TickAt(from + n - 1));
      plain &= age < kRunTickHalf && n - k < kMaxRunsPerWindow;
      const int64_t after = static_cast<int64_t>(CountAt(from + n - 1)) + cost;
      j = caps.c[w] > 0 ? after <= caps.c[w] : age < kRunTimeClosureTicks && after <= kMaxRunCount;
    }
    join[w] = j;
    needed += !j;
    src[w] = from + k;
    len[w] = n - k;
    kept += n - k;
    from += n;
  }
  if (later) StoreU32(header_, c.now_s);
  const bool record = fits && plain && kept + needed <= capacity_;
  // Where each window's remaining runs go: after the longer windows' runs
  // and, when recording, their new ones.
  int dest[kRateWindowCount];
  #pragma GCC unroll 4
  for (int w = kRateWindowCount - 1, to = 0; w >= 0; --w) {
    dest[w] = to;
    to += len[w] + (record && !join[w]);
    header_[4 + w] = static_cast<uint8_t>(len[w] + (record && !join[w]));
  }
  // Runs moving left go first, in storage order; then those moving right, in
  // reverse (each lands where nothing unmoved is left to read).
  #pragma GCC unroll 4
  for (int w = kRateWindowCount - 1; w >= 0; --w) {
    if (dest[w] < src[w]) Move(dest[w], src[w], len[w]);
  }
  #pragma GCC unroll 4
  for (int w = 0; w < kRateWindowCount; ++w) {
    if (dest[w] > src[w]) Move(dest[w], src[w], len[w]);
  }
  if (!fits) {
    FillRateDecision(*this, c, limits, used, cost, /*allowed=*/false, /*acquire=*/true, d);
    return 0;
  }
  if (!plain) return kAdmitGeneral;
  if (!record) return kept + needed;
  // Record, and fill *d as FillRateDecision(allowed, acquire) would.
  d->allowed = true;
  d->retry_after = Nanos(0);
  int m = -1;
  int64_t best_remaining = 0;
  #pragma GCC unroll 4
  for (int w = 0; w < kRateWindowCount; ++w) {
    const int end = dest[w] + len[w];
    if (join[w]) {
      Put(end - 1, {TickAt(end - 1), CountAt(end - 1) + static_cast<uint32_t>(cost)});
    } else {
      Put(end, {c.cur[w], static_cast<uint32_t>(cost)});
    }
    const int64_t limit = limits[w];
    RateWindowStatus& ws = d->windows[w];
    ws.reset = Nanos(0);
    ws.limit = limit;
    ws.used = used[w] + cost;
    ws.remaining = limit > 0 ? std::max<int64_t>(0, limit - ws.used) : 0;
    if (limit > 0 && (m < 0 || ws.remaining < best_remaining)) {
      m = w;
      best_remaining = ws.remaining;
    }
  }
  d->most_restrictive = m;
  if (m >= 0) {  // used > 0: this call counts
    const int64_t wait = time_to_free_at(c, m, dest[m], size(m), 1);
    d->windows[m].reset = Nanos(std::max<int64_t>(0, wait));
  }
  return 0;
}

int64_t RunLogView::time_to_free(const RunClock& c, int w, int64_t need) const {
  return time_to_free_at(c, w, offset(w), size(w), need);
}

int64_t RunLogView::time_to_free_at(const RunClock& c, int w, int o, int n, int64_t need) const {
  int64_t freed = 0;
  for (int i = 0; i < n; ++i) {
    freed += CountAt(o + i);
    if (freed < need) continue;
    const uint32_t age = Age(c.cur[w], TickAt(o + i));
    const int64_t signed_age =
        age >= kRunTickHalf ? static_cast<int64_t>(age) - kRunTickModulus : age;
    // It leaves at the first tick with age kRunWindowTicks + 1.
    return (kRunWindowTicks + 1 - signed_age) * kRunTickNs[w] - c.phase[w];
  }
  return -1;
}

void FillRateDecision(const RunLogView& log, const RunClock& c,
                      const std::array<int64_t, kRateWindowCount>& limits,
                      const int64_t (&used_by)[kRateWindowCount], int64_t cost, bool allowed,
                      bool acquire, RateDecision* out) {
  RateDecision& d = *out;
  d.allowed = allowed;
  d.retry_after = Nanos(0);
  d.most_restrictive = -1;
  int64_t best_remaining = 0;
  for (int w = 0; w < kRateWindowCount; ++w) {
    const int64_t used = used_by[w];
    const int64_t limit = limits[w];
    const int64_t width = kRunWindowTicks * kRunTickNs[w];
    if (!allowed && limit > 0 && used + cost > limit) {
      int64_t wait = log.time_to_free(c, w, used + cost - limit);
      if (wait < 0) wait = width;  // cost above the limit: never passes
      d.retry_after = std::max(d.retry_after, Nanos(wait));
    }
    RateWindowStatus& ws = d.windows[w];
    ws.reset = Nanos(0);
    ws.limit = limit;
    ws.used = used;
    ws.remaining = limit > 0 ? std::max<int64_t>(0, limit - used) : 0;
    if (!acquire && used > 0) ws.reset = Nanos(std::max<int64_t>(0, log.time_to_free(c, w, 1)));
    if (limit > 0 && (d.most_restrictive < 0 || ws.remaining < best_remaining)) {
      d.most_restrictive = w;
      best_remaining = ws.remaining;
    }
  }
  const int m = d.most_restrictive;
  if (acquire && m >= 0 && d.windows[m].used > 0) {
    d.windows[m].reset = Nanos(std::max<int64_t>(0, log.time_to_free(c, m, 1)));
  }
}

}  // namespace agentgate
