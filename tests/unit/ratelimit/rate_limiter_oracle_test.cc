// The limiter against an exact sliding log: random arrival traces with the
// manual clock. The documented bound (rate_limiter.h) is asserted on every
// trace: in every sliding window of each size, admitted requests exceed the
// limit by at most floor(limit / 100) (the target: 1% of the limit
// plus one request); wrongful denials (denied although every window's exact
// count plus the cost was within its limit) stay under 0.1% of requests
// (target: under 1%).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "agentgate/ratelimit/rate_limiter.h"

namespace agentgate {
namespace {

struct OracleResult {
  int64_t requests = 0;
  int64_t admitted = 0;          // units (requests times cost)
  int64_t exact_admitted = 0;    // units an exact sliding-log limiter admits on the same trace
  int64_t over_admitted = 0;     // admissions that put an exact window over its limit
  int64_t wrongful_denials = 0;
  // Per window: the worst exact count - limit at an admission (<= 0: never over).
  std::array<int64_t, kRateWindowCount> max_excess{};
};

struct Trace {
  std::array<int64_t, kRateWindowCount> limits{};
  double base_rate = 1;    // requests per second at load factor 1
  Nanos duration{0};
  uint32_t seed = 1;
  double lo = 0.3, hi = 4.0;  // load factor per phase, drawn in [lo, hi]
  int64_t max_cost = 1;       // cost per request, drawn in [1, max_cost]
};

// Count: entries of the ascending `log` in (t - width, t].
int64_t Count(const std::vector<int64_t>& log, int64_t t, int64_t width) {
  return log.end() - std::upper_bound(log.begin(), log.end(), t - width);
}

// Replay: Poisson arrivals in phases of random length (0.1x to 3x the
// shortest limited window) and random rate; the limiter's admissions are
// logged exactly and checked against every window at each request.
OracleResult Replay(const Trace& trace) {
  std::map<std::string, TierLimits> tiers;
  tiers["t"].requests = trace.limits;
  RateLimitPolicy policy(tiers, "t");
  ManualClock clock;
  auto limiter = NewMemoryRateLimiter(policy, clock);
  std::mt19937_64 rng(trace.seed);
  std::uniform_real_distribution<double> factor(trace.lo, trace.hi);
  std::uniform_int_distribution<int64_t> cost_of(1, trace.max_cost);
  std::vector<int64_t> log;        // the limiter's admissions, one entry per unit
  std::vector<int64_t> exact_log;  // an independent exact limiter's admissions
  OracleResult r;
  r.max_excess.fill(-trace.limits[0] - trace.limits[1] - trace.limits[2] - trace.limits[3]);
  int64_t width[kRateWindowCount];
  int64_t shortest = 0;
  for (int w = kRateWindowCount - 1; w >= 0; --w) {
    width[w] = RateWindowWidth(static_cast<RateWindow>(w)).count();
    if (trace.limits[w] > 0) shortest = width[w];
  }
  std::uniform_real_distribution<double> phase_len(0.1, 3.0);
  int64_t t = 0;
  const int64_t end = trace.duration.count();
  while (t < end) {
    const int64_t phase_end = t + static_cast<int64_t>(phase_len(rng) * static_cast<double>(shortest));
    std::exponential_distribution<double> gap(trace.base_rate * factor(rng));
    while (t < phase_end && t < end) {
      const int64_t dt = std::max<int64_t>(1, static_cast<int64_t>(gap(rng) * 1e9));
      t += dt;
      clock.advance(Nanos(dt));
      const int64_t cost = cost_of(rng);
      std::array<int64_t, kRateWindowCount> exact{};
      bool fits = true, exact_fits = true;
      for (int w = 0; w < kRateWindowCount; ++w) {
        if (trace.limits[w] == 0) continue;
        exact[w] = Count(log, t, width[w]);
        if (exact[w] + cost > trace.limits[w]) fits = false;
        if (Count(exact_log, t, width[w]) + cost > trace.limits[w]) exact_fits = false;
      }
      if (exact_fits) {
        exact_log.insert(exact_log.end(), static_cast<size_t>(cost), t);
        r.exact_admitted += cost;
      }
      auto d = limiter->acquire("u", "t", cost);
      if (!d.ok()) {
        ADD_FAILURE() << d.status().ToString();
        return r;
      }
      ++r.requests;
      if (!d->allowed) {
        if (fits) ++r.wrongful_denials;
        continue;
      }
      r.admitted += cost;
      log.insert(log.end(), static_cast<size_t>(cost), t);
      bool over = false;
      for (int w = 0; w < kRateWindowCount; ++w) {
        if (trace.limits[w] == 0) continue;
        r.max_excess[w] = std::max(r.max_excess[w], exact[w] + cost - trace.limits[w]);
        if (exact[w] + cost > trace.limits[w]) over = true;
      }
      if (over) ++r.over_admitted;
    }
  }
  return r;
}

// ExpectWithinBound: the documented bound on one trace.
void ExpectWithinBound(const Trace& trace, const char* what) {
  const OracleResult r = Replay(trace);
  const double wrongful = static_cast<double>(r.wrongful_denials) / static_cast<double>(r.requests);
  const double capacity = static_cast<double>(r.admitted) / static_cast<double>(r.exact_admitted);
  std::printf("[oracle] %-20s requests=%lld admitted=%lld (%.2f%% of an exact limiter's) "
              "over_admitted=%lld max_excess(s,m,h,d)=%lld,%lld,%lld,%lld wrongful_denials=%lld "
              "(%.4f%%)\n",
              what, static_cast<long long>(r.requests), static_cast<long long>(r.admitted),
              100 * capacity, static_cast<long long>(r.over_admitted),
              static_cast<long long>(r.max_excess[0]), static_cast<long long>(r.max_excess[1]),
              static_cast<long long>(r.max_excess[2]), static_cast<long long>(r.max_excess[3]),
              static_cast<long long>(r.wrongful_denials), 100 * wrongful);
  EXPECT_GT(r.requests, 5000) << what;
  EXPECT_LT(r.admitted, r.requests * trace.max_cost) << what << ": the trace must hit the limit";
  for (int w = 0; w < kRateWindowCount; ++w) {
    if (trace.limits[w] == 0) continue;
    // The documented bound, and the target (1% of the limit, plus one).
    EXPECT_LE(r.max_excess[w], trace.limits[w] / 100) << what << " window " << w;
    EXPECT_LE(r.max_excess[w], trace.limits[w] / 100 + 1) << what << " window " << w;
  }
  EXPECT_LT(wrongful, 0.001) << what;
  EXPECT_LT(wrongful, 0.01) << what;  // the target
  // Never much below an exact limiter's capacity, never above it by more than the bound.
  EXPECT_GE(capacity, 0.99) << what;
  EXPECT_LE(capacity, 1.02) << what;
}

using std::chrono::hours;
using std::chrono::minutes;

constexpr std::array<int64_t, kRateWindowCount> kFree = {2, 60, 1000, 10000};
constexpr std::array<int64_t, kRateWindowCount> kEnterprise = {50, 1000, 50000, 500000};

// Traffic mostly under the limit, with bursts up to 1.5x.
TEST(RateLimiterOracleTest, BurstyTrafficAroundTheLimit) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    ExpectWithinBound({{10, 0, 0, 0}, 10.0, minutes(30), seed, 0.2, 1.5}, "second/bursty");
  }
  ExpectWithinBound({{0, 100, 0, 0}, 100.0 / 60, hours(12), 4, 0.2, 1.5}, "minute/bursty");
  ExpectWithinBound({{0, 1000, 0, 0}, 1000.0 / 60, hours(2), 8, 0.2, 1.5}, "minute-1000/bursty");
  ExpectWithinBound({{0, 0, 500, 0}, 500.0 / 3600, hours(24 * 10), 5, 0.2, 1.5}, "hour/bursty");
  ExpectWithinBound({{0, 0, 0, 300}, 300.0 / 86400, hours(24 * 120), 6, 0.2, 1.5}, "day/bursty");
  ExpectWithinBound({kFree, 1.0, hours(24 * 3), 7, 0.2, 1.5}, "free/bursty");
}

// Sustained overload, 0.3x to 4x the limit.
TEST(RateLimiterOracleTest, SustainedOverload) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    ExpectWithinBound({{10, 0, 0, 0}, 10.0, minutes(30), seed}, "second/overload");
  }
  ExpectWithinBound({{0, 100, 0, 0}, 100.0 / 60, hours(12), 4}, "minute/overload");
  ExpectWithinBound({{0, 1000, 0, 0}, 1000.0 / 60, hours(1), 8}, "minute-1000/overload");
  ExpectWithinBound({{0, 0, 500, 0}, 500.0 / 3600, hours(24 * 10), 5}, "hour/overload");
  ExpectWithinBound({{0, 0, 0, 300}, 300.0 / 86400, hours(24 * 120), 6}, "day/overload");
  ExpectWithinBound({kFree, 1.0, hours(24 * 3), 7}, "free/overload");
  // The enterprise tier: the hour window binds (50,000 in any hour).
  ExpectWithinBound({kEnterprise, 50000.0 / 3600, hours(3), 9}, "enterprise/overload");
}

// Costs of 1 to 5 per request (acquire's `cost`), bursty and overloaded.
TEST(RateLimiterOracleTest, RequestsOfSeveralUnits) {
  ExpectWithinBound({{10, 0, 0, 0}, 10.0 / 3, minutes(30), 10, 0.2, 4.0, 5}, "second/cost1-5");
  ExpectWithinBound({{0, 1000, 0, 0}, 1000.0 / 60 / 3, hours(2), 11, 0.2, 4.0, 5},
                    "minute-1000/cost1-5");
  ExpectWithinBound({kFree, 1.0 / 3, hours(24 * 3), 12, 0.2, 4.0, 5}, "free/cost1-5");
}

}  // namespace
}  // namespace agentgate
