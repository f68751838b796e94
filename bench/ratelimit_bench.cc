// In-memory RateLimiter::acquire over the four windows, one core, 1 million
// distinct users drawn uniformly or Zipf-skewed (s = 1.0). Reports memory
// per user as a counter.
//
// The Uniform1M and Zipf1M runs last about 2 s, so each user's windows hold
// the few requests of those seconds. Uniform1MSteady first replays the
// minute before (every user at 3 requests/s, 183 M calls on a virtual
// clock: about 2 minutes), so the windows hold what a sustained 3 M/s load
// leaves in them.
//
//   ./build/release/bench/agentgate_bench --benchmark_filter=RateLimit
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
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

// MeasureAcquire: the timed loop (`next()` is each call's user) and the
// counters: users, memory per user, share of calls allowed.
template <typename NextUser>
void MeasureAcquire(benchmark::State& state, RateLimiter& rl, NextUser next) {
  char buf[24];
  int64_t allowed = 0;
  for (auto _ : state) {
    auto d = rl.acquire(UserId(next(), buf), "enterprise");
    allowed += d->allowed;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["users"] = static_cast<double>(rl.users());
  state.counters["bytes_per_user"] = rl.bytes_per_user();
  state.counters["allowed_ratio"] =
      static_cast<double>(allowed) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
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
  MeasureAcquire(state, *rl, [&] { return draws[i++ & (kDraws - 1)]; });
}

// WarmableClock: a virtual time that the warm-up moves, then (after
// go_real) real monotonic time shifted to carry on from it.
class WarmableClock final : public Clock {
 public:
  Nanos now() const override { return monotonic(); }
  Nanos monotonic() const override {
    if (!real_.load(std::memory_order_relaxed)) return Nanos(virtual_.load(std::memory_order_relaxed));
    return Clock::system().monotonic() + Nanos(offset_.load(std::memory_order_relaxed));
  }
  void advance(Nanos d) { virtual_.fetch_add(d.count(), std::memory_order_relaxed); }
  void go_real() {
    offset_.store(virtual_.load() - Clock::system().monotonic().count());
    real_.store(true);
  }

 private:
  std::atomic<int64_t> virtual_{Clock::system().monotonic().count()};
  std::atomic<int64_t> offset_{0};
  std::atomic<bool> real_{false};
};

void BM_RateLimitAcquireUniform1MSteady(benchmark::State& state) {
  static RateLimitPolicy policy(BenchTiers(), "free");
  WarmableClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock);
  char buf[24];
  constexpr int64_t kRate = 3'000'000;  // calls per (virtual) second
  constexpr int64_t kWarmSeconds = 61;
  uint64_t x = 42;  // splitmix64
  auto next_user = [&x] {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return static_cast<uint32_t>(((z ^ (z >> 31)) >> 32) * kUsers >> 32);
  };
  for (int64_t i = 0; i < kRate * kWarmSeconds; ++i) {
    clock.advance(Nanos(1'000'000'000 / kRate));
    (void)rl->acquire(UserId(next_user(), buf), "enterprise");
  }
  clock.go_real();
  MeasureAcquire(state, *rl, next_user);
}

void BM_RateLimitAcquireUniform1M(benchmark::State& state) { RunAcquire(state, false); }
void BM_RateLimitAcquireZipf1M(benchmark::State& state) { RunAcquire(state, true); }
// 10k users fit in the caches: the compute cost without memory misses.
void BM_RateLimitAcquireUniform10K(benchmark::State& state) { RunAcquire(state, false, 10'000); }
BENCHMARK(BM_RateLimitAcquireUniform1M)->MinTime(2.0);
BENCHMARK(BM_RateLimitAcquireUniform10K)->MinTime(1.0);
BENCHMARK(BM_RateLimitAcquireZipf1M)->MinTime(2.0);
// One run of a fixed length: each run would replay the warm-up again.
BENCHMARK(BM_RateLimitAcquireUniform1MSteady)->Iterations(6'000'000);

}  // namespace
}  // namespace agentgate
