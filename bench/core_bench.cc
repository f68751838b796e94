#include <benchmark/benchmark.h>

#include "agentgate/core/hash.h"
#include "agentgate/core/metrics.h"

namespace agentgate {
namespace {

void BM_CounterInc(benchmark::State& state) {
  static MetricsRegistry registry;
  Counter& c = registry.counter("bench_total", "bench");
  for (auto _ : state) c.inc();
}
BENCHMARK(BM_CounterInc)->Threads(1)->Threads(2);

void BM_Sha256Hex1KiB(benchmark::State& state) {
  std::string data(1024, 'x');
  for (auto _ : state) benchmark::DoNotOptimize(Sha256Hex(data));
}
BENCHMARK(BM_Sha256Hex1KiB);

}  // namespace
}  // namespace agentgate
