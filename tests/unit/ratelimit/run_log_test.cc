// RunLogView (the limiters' per-user state) and the memory backend's spill
// of a busy user's log out of its table slot.
#include "ratelimit/run_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "agentgate/ratelimit/rate_limiter.h"

namespace agentgate {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;

// Log: a buffer with room for `capacity` runs.
struct Log {
  explicit Log(int capacity, int64_t t = 0)
      : buf(kRunHeaderBytes + static_cast<size_t>(capacity) * kRunBytes) {
    RunLogView::InitHeader(buf.data(), RunClock::At(t).now_s);
  }
  RunLogView view() {
    return RunLogView(buf.data(), buf.data() + kRunHeaderBytes,
                      static_cast<int>((buf.size() - kRunHeaderBytes) / kRunBytes));
  }
  // add: expire, then record `cost` at `t` with `limits`.
  void add(int64_t t, int64_t cost, const std::array<int64_t, kRateWindowCount>& limits) {
    RunClock c = RunClock::At(t);
    RunLogView v = view();
    v.expire(c);
    ASSERT_EQ(v.record(c, cost, RunCaps::Of(limits)), 0) << "out of room";
  }
  int64_t count(int64_t t, int w) {
    RunLogView v = view();
    v.expire(RunClock::At(t));
    return v.count(w);
  }
  std::vector<uint8_t> buf;
};

TEST(RunLogTest, RunCapIsOnePercentPlusOne) {
  EXPECT_EQ(RunCap(0), 0);
  EXPECT_EQ(RunCap(2), 1);
  EXPECT_EQ(RunCap(99), 1);
  EXPECT_EQ(RunCap(100), 2);
  EXPECT_EQ(RunCap(10000), 101);
  EXPECT_EQ(RunCap(int64_t{1} << 40), kMaxRunCount);
}

// A minute limit of 1000: runs of 11. The first run leaves whole when its
// first admission leaves the window; the count is then below the exact one
// by at most 10 (the bound), never above it.
TEST(RunLogTest, RunsCloseAtTheCapAndLeaveWithTheirFirstAdmission) {
  const std::array<int64_t, kRateWindowCount> limits = {0, 1000, 0, 0};
  Log log(300);
  for (int i = 0; i < 12; ++i) log.add(i * kMs, 1, limits);
  EXPECT_EQ(log.view().size(1), 2);
  EXPECT_EQ(log.count(11 * kMs, 1), 12);
  // time_to_free: until the first run leaves (and frees 11).
  RunLogView v = log.view();
  RunClock c = RunClock::At(30 * kS);
  v.expire(c);
  EXPECT_EQ(v.time_to_free(c, 1, 11), 30 * kS + 60'000);
  // The second run's first admission, at 11 ms, has tick 183 (of 60 us).
  EXPECT_EQ(v.time_to_free(c, 1, 12), 30 * kS + 184 * 60'000);
  EXPECT_EQ(v.time_to_free(c, 1, 13), -1);
  const int64_t minute = 60 * kS;
  // The first admission (t = 0) leaves at 60 s (window (t - 60 s, t]).
  EXPECT_EQ(log.count(minute - 1, 1), 12);
  EXPECT_EQ(log.count(minute + 60'000, 1), 1);  // one tick later: the run of 11 left
}

// Small limits (under 100) keep one run per admission: exact.
TEST(RunLogTest, LimitsUnderAHundredAreExact) {
  const std::array<int64_t, kRateWindowCount> limits = {2, 60, 0, 0};
  Log log(300);
  log.add(900 * kMs, 1, limits);
  log.add(950 * kMs, 1, limits);
  EXPECT_EQ(log.count(1899 * kMs, 0), 2);
  EXPECT_EQ(log.count(1901 * kMs, 0), 1);
  EXPECT_EQ(log.count(1951 * kMs, 0), 0);
}

TEST(RunLogTest, AHugeCostSplitsIntoRunsOfOneTime) {
  const std::array<int64_t, kRateWindowCount> limits = {0, 10, 0, 0};
  Log log(20);
  const int64_t cost = 40'000'000;
  log.add(kS, cost, limits);
  EXPECT_EQ(log.view().size(1), 3);
  EXPECT_EQ(log.count(kS, 1), cost);
  EXPECT_EQ(log.count(61 * kS + kMs, 1), 0);  // all of it leaves together
}

TEST(RunLogTest, AWindowHoldsAtMostTheMaximumOfRuns) {
  const std::array<int64_t, kRateWindowCount> limits = {0, 10, 0, 0};  // runs of 1
  Log log(4 * kMaxRunsPerWindow);
  for (int i = 0; i < 300; ++i) log.add(i * 10 * kMs, 1, limits);
  EXPECT_EQ(log.view().size(1), kMaxRunsPerWindow);
  EXPECT_EQ(log.count(3 * kS, 1), 300);  // the newest absorbed the rest
}

// An unlimited window is counted for the status in runs closed by time.
TEST(RunLogTest, UnlimitedWindowsCloseRunsByTime) {
  const std::array<int64_t, kRateWindowCount> none = {0, 0, 0, 0};
  Log log(100);
  for (int i = 0; i < 600; ++i) log.add(i * 100 * kMs, 1, none);  // 60 s, 10 per second
  EXPECT_LE(log.view().size(1), 17);  // a minute in runs of 3.75 s
  EXPECT_EQ(log.count(59'950 * kMs, 0), 10);  // a second in runs of 1/16 s: one each
  EXPECT_EQ(log.count(60 * kS, 3), 600);
}

// Ticks wrap (the second window's after 16.7 s): a log untouched for longer
// than a window has nothing in it, whatever its ticks say.
TEST(RunLogTest, ALongIdleLogIsEmptyDespiteTickWrap) {
  const std::array<int64_t, kRateWindowCount> limits = {5, 100, 1000, 10000};
  Log log(20);
  log.add(kS, 1, limits);
  const int64_t later = kS + (int64_t{1} << 24) * 1000;  // exactly one wrap of the second's tick
  EXPECT_EQ(log.count(later, 0), 0);
  EXPECT_EQ(log.count(later, 1), 1);  // 16.7 s: still in the minute
  EXPECT_EQ(log.count(kS + 86400 * kS + kS, 3), 0);
}

// Time going back (another instance's clock behind): nothing leaves early,
// and new runs stay in time order.
TEST(RunLogTest, TimeGoingBackCountsConservatively) {
  const std::array<int64_t, kRateWindowCount> limits = {10, 0, 0, 0};
  Log log(20);
  log.add(10 * kS, 1, limits);
  log.add(9 * kS, 1, limits);  // 1 s behind
  EXPECT_EQ(log.count(9 * kS, 0), 2);
  EXPECT_EQ(log.count(10 * kS + 999 * kMs, 0), 2);
  EXPECT_EQ(log.count(11 * kS + kMs, 0), 0);  // both left with the later time
  const size_t bytes = kRunHeaderBytes + static_cast<size_t>(log.view().total()) * kRunBytes;
  EXPECT_TRUE(RunLogView::Valid(log.buf.data(), bytes));
  EXPECT_FALSE(RunLogView::Valid(log.buf.data(), bytes + 1));
}

// admit (acquire in one pass) leaves the same bytes and the same decision
// as the general steps (expire, record, FillRateDecision), allowed or
// denied, or declines before changing more than the expiry. Random traces: limits from
// tiny to unlimited, costs of 1 to above a run's maximum, time mostly going
// forward, sometimes back, sometimes idle for days; a small capacity too.
TEST(RunLogTest, AdmitMatchesTheGeneralSteps) {
  std::mt19937_64 rng(11);
  const int64_t choices[] = {0, 1, 2, 10, 60, 100, 1000, 50000, 500000, int64_t{1} << 40};
  int admitted = 0, denied = 0;
  for (int trace = 0; trace < 60; ++trace) {
    const int capacity = trace % 4 == 0 ? 12 : 4 * kMaxRunsPerWindow;
    std::array<int64_t, kRateWindowCount> limits{};
    for (int64_t& l : limits) {  // every other trace roomy: mostly admitted
      l = trace % 2 == 0 ? choices[rng() % std::size(choices)] : choices[6 + rng() % 4];
    }
    const RunCaps caps = RunCaps::Of(limits);
    Log fast(capacity), general(capacity);
    int64_t t = kS;
    const int64_t step = int64_t{1} << (10 + rng() % 28);  // ~1 us to ~4.5 min
    for (int i = 0; i < 2000; ++i) {
      t += rng() % 20 == 0 ? -static_cast<int64_t>(rng() % step) : static_cast<int64_t>(rng() % (2 * step));
      if (rng() % 500 == 0) t += 2 * 86400 * kS;
      t = std::max<int64_t>(t, 0);
      const int64_t cost = rng() % 50 == 0 ? static_cast<int64_t>(rng() % (2 * kMaxRunCount)) : 1;
      const RunClock c = RunClock::At(t);
      RateDecision a;
      RunLogView fv = fast.view();
      const int r = fv.admit(c, limits, caps, cost, &a);
      // The general steps, as the memory backend takes them.
      RunLogView gv = general.view();
      int64_t used[kRateWindowCount];
      gv.expire(c, &used);
      const bool allowed = Admits(used, limits, cost);
      int need = 0;
      bool saturated = false;
      if (allowed && cost > 0) need = gv.record(c, cost, caps, &saturated);
      if (r == 0) {
        admitted += allowed;
        denied += !allowed;
        ASSERT_EQ(need, 0);
        ASSERT_FALSE(saturated);
        if (allowed) {
          for (int64_t& u : used) u += cost;
        }
        RateDecision b;
        FillRateDecision(gv, c, limits, used, cost, allowed, true, &b);
        ASSERT_EQ(a.allowed, b.allowed);
        ASSERT_EQ(a.retry_after, b.retry_after);
        ASSERT_EQ(a.most_restrictive, b.most_restrictive);
        for (int w = 0; w < kRateWindowCount; ++w) {
          ASSERT_EQ(a.windows[w].used, b.windows[w].used);
          ASSERT_EQ(a.windows[w].remaining, b.windows[w].remaining);
          ASSERT_EQ(a.windows[w].reset, b.windows[w].reset);
        }
      } else if (r > 0) {
        ASSERT_EQ(r, need);
      } else {
        ASSERT_EQ(r, RunLogView::kAdmitGeneral);
        fv = fast.view();  // the general steps, as the memory backend then takes them
        fv.expire(c);
        if (allowed && cost > 0) {
          ASSERT_EQ(fv.record(c, cost, caps), need);
        }
      }
      ASSERT_EQ(fast.buf, general.buf) << "trace " << trace << " step " << i;
      if (need > 0) break;  // out of room: next trace
    }
  }
  EXPECT_GT(admitted, 20000);  // both outcomes were exercised
  EXPECT_GT(denied, 5000);
}

// The memory backend: a user admitted 50 times in a second (more runs than
// its table slot holds) counts the same, moves back when the runs leave,
// and the spill shows in bytes_per_user while it lasts.
TEST(RunLogTest, MemoryBackendSpillsABusyUserAndTakesItBack) {
  std::map<std::string, TierLimits> tiers;
  tiers["enterprise"].requests = {50, 1000, 50000, 500000};
  RateLimitPolicy policy(tiers, "enterprise");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock, {.shards = 1});
  (void)rl->acquire("quiet", "");
  const double table = rl->bytes_per_user();  // one user: the whole table
  for (int i = 0; i < 50; ++i) {
    auto d = rl->acquire("busy", "");
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(d->allowed) << i;
    EXPECT_EQ(d->windows[0].used, i + 1);
    clock.advance(milliseconds(10));
  }
  auto d = rl->acquire("busy", "");
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->windows[0].used, 50);
  EXPECT_EQ(d->windows[1].used, 50);
  EXPECT_EQ(d->retry_after, milliseconds(500) + std::chrono::microseconds(1));
  EXPECT_EQ(rl->users(), 2u);
  EXPECT_GT(2 * rl->bytes_per_user(), table);  // the spill block counts
  clock.advance(seconds(61));
  d = rl->acquire("busy", "");
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->windows[0].used, 1);
  EXPECT_EQ(d->windows[1].used, 1);
  EXPECT_EQ(d->windows[3].used, 51);
  EXPECT_EQ(2 * rl->bytes_per_user(), table);  // back in its slot
}

}  // namespace
}  // namespace agentgate
