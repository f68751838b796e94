// Benchmarks of the resilience component: the circuit breaker's admission
// check in CLOSED state (one atomic load; target under 20 ns).
//
//   ./build/release/bench/agentgate_bench --benchmark_filter=Breaker
#include <benchmark/benchmark.h>

#include "agentgate/resilience/circuit_breaker.h"
#include "agentgate/resilience/retry.h"

namespace agentgate {
namespace {

void BM_BreakerClosedCheck(benchmark::State& state) {
  static CircuitBreaker breaker("bench", CircuitBreakerOptions{}, Clock::system());
  for (auto _ : state) {
    CircuitBreaker::Permit p = breaker.try_acquire();
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_BreakerClosedCheck)->Threads(1)->Threads(2);

void BM_BreakerClosedCheckAndSuccess(benchmark::State& state) {
  static CircuitBreaker breaker("bench_success", CircuitBreakerOptions{}, Clock::system());
  for (auto _ : state) {
    CircuitBreaker::Permit p = breaker.try_acquire();
    breaker.on_success(p);
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_BreakerClosedCheckAndSuccess);

// The retry budget's per-request count (lock-free).
void BM_RetryBudgetOnRequest(benchmark::State& state) {
  static RetryBudget budget(RetryBudgetOptions{}, Clock::system());
  for (auto _ : state) budget.on_request();
}
BENCHMARK(BM_RetryBudgetOnRequest)->Threads(1)->Threads(2);

}  // namespace
}  // namespace agentgate
