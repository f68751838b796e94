// The budget stage's per-request work: CostTracker::check before the call and
// CostTracker::charge after it, for 100 000 (or 1 000) distinct users drawn
// uniformly; memory only, and persisted to SQLite (write-behind, 1 s
// interval, real clock: each write carries one row per user and period
// charged since the last, so its cost grows with the distinct users a second).
//
//   ./build/release/bench/agentgate_bench --benchmark_filter=Cost
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "agentgate/ratelimit/cost_tracker.h"
#include "store/sqlite_db.h"

namespace agentgate {
namespace {

constexpr size_t kCostUsers = 100'000;

std::vector<std::string> CostUserIds() {
  std::vector<std::string> v;
  v.reserve(kCostUsers);
  for (size_t i = 0; i < kCostUsers; ++i) v.push_back("user-" + std::to_string(i));
  return v;
}

PriceTable BenchPrices() {
  return PriceTable({{"gpt-4o-mini", {.input_per_million = 0.15, .output_per_million = 0.60}}});
}

std::map<std::string, Budget> BenchBudgets() {
  return {{"free", {.per_day = UsdToNano(1), .per_month = UsdToNano(10)}}};
}

void Drive(benchmark::State& state, CostTracker& t) {
  static const std::vector<std::string> ids = CostUserIds();
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<size_t> pick(0, static_cast<size_t>(state.range(0)) - 1);
  int64_t denied = 0;
  for (auto _ : state) {
    const std::string& user = ids[pick(rng)];
    SpendStatus s = t.check(user, "free");
    denied += s.allowed ? 0 : 1;
    benchmark::DoNotOptimize(t.charge(user, "gpt-4o-mini", 120, 30));
  }
  state.counters["denied"] = static_cast<double>(denied);
}

void BM_CostCheckAndChargeMemory(benchmark::State& state) {
  CostTracker t(BenchPrices(), BenchBudgets(), Clock::system());
  Drive(state, t);
}
BENCHMARK(BM_CostCheckAndChargeMemory)->Arg(1'000)->Arg(kCostUsers);

void BM_CostCheckAndChargeSqlite(benchmark::State& state) {
  auto dir = std::filesystem::temp_directory_path() / ("agentgate_cost_bench_" + std::to_string(::getpid()));
  {
    auto db = SqliteDb::open({.data_dir = dir.string()});
    if (!db.ok()) {
      state.SkipWithError(db.status().message().c_str());
      return;
    }
    auto t = CostTracker::Open(**db, BenchPrices(), BenchBudgets(), Clock::system());
    if (!t.ok()) {
      state.SkipWithError(t.status().message().c_str());
      return;
    }
    Drive(state, **t);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_CostCheckAndChargeSqlite)->Arg(1'000)->Arg(kCostUsers);

}  // namespace
}  // namespace agentgate
