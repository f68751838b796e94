// In-memory RateLimiter::acquire over the four windows, one core, 1 million
// distinct users drawn uniformly or Zipf-skewed (s = 1.0). Reports memory
// per user as a counter.
//
//   ./build/release/bench/agentgate_bench --benchmark_filter=RateLimit
#include <benchmark/benchmark.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "agentgate/ratelimit/rate_limiter.h"

namespace agentgate {
namespace {

constexpr size_t kUsers = 1'000'000;
constexpr size_t kDraws = 1 << 22;

// UserId: "user-<i>", formatted into `buf` (as a gateway has the caller's
// id at hand: no cache miss on a table of a million strings).
std::string_view UserId(uint32_t i, char (&buf)[24]) {
  std::memcpy(buf, "user-", 5);
  char* end = std::to_chars(buf + 5, buf + sizeof buf, i).ptr;
  return {buf, static_cast<size_t>(end - buf)};
}

std::vector<uint32_t> Draws(bool zipf, size_t users) {
  std::mt19937_64 rng(42);
  std::vector<uint32_t> v(kDraws);
  if (!zipf) {
    std::uniform_int_distribution<uint32_t> d(0, static_cast<uint32_t>(users - 1));
    for (auto& x : v) x = d(rng);
    return v;
  }
  std::vector<double> cdf(users);
  double sum = 0;
  for (size_t i = 0; i < users; ++i) cdf[i] = (sum += 1.0 / static_cast<double>(i + 1));
  std::uniform_real_distribution<double> u(0, sum);
  for (auto& x : v) {
    x = static_cast<uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
  }
  return v;
}

std::map<std::string, TierLimits> BenchTiers() {
  std::map<std::string, TierLimits> t;
  t["free"].requests = {2, 60, 1000, 10000};
  t["enterprise"].requests = {50, 1000, 50000, 500000};
  return t;
}

void RunAcquire(benchmark::State& state, bool zipf, size_t users = kUsers) {
  static RateLimitPolicy policy(BenchTiers(), "free");
  std::vector<uint32_t> draws = Draws(zipf, users);
  auto rl = NewMemoryRateLimiter(policy, Clock::system());
  char buf[24];
  for (size_t i = 0; i < users; ++i) {  // all users present
    (void)rl->acquire(UserId(static_cast<uint32_t>(i), buf), "enterprise");
  }
  size_t i = 0;
  int64_t allowed = 0;
  for (auto _ : state) {
    auto d = rl->acquire(UserId(draws[i++ & (kDraws - 1)], buf), "enterprise");
    allowed += d->allowed;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["users"] = static_cast<double>(rl->users());
  state.counters["bytes_per_user"] = rl->bytes_per_user();
  state.counters["allowed_ratio"] =
      static_cast<double>(allowed) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}

void BM_RateLimitAcquireUniform1M(benchmark::State& state) { RunAcquire(state, false); }
void BM_RateLimitAcquireZipf1M(benchmark::State& state) { RunAcquire(state, true); }
// 10k users fit in the caches: the compute cost without memory misses.
void BM_RateLimitAcquireUniform10K(benchmark::State& state) { RunAcquire(state, false, 10'000); }
BENCHMARK(BM_RateLimitAcquireUniform1M)->MinTime(2.0);
BENCHMARK(BM_RateLimitAcquireUniform10K)->MinTime(1.0);
BENCHMARK(BM_RateLimitAcquireZipf1M)->MinTime(2.0);

}  // namespace
}  // namespace agentgate
