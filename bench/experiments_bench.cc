// A/B testing: GrowthBook hash assignment (the pure hash + bucket lookup, and
// ExperimentManager::assign with its lock and impression count, with no
// store and with the gateway's SQLite store written behind),
// and results() of an experiment with 10 million recorded outcomes (counts
// are kept incrementally, so results are O(variants)).
//
//   ./build/release/bench/agentgate_bench --benchmark_filter=Experiment
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "agentgate/experiments/experiment_manager.h"
#include "agentgate/experiments/growthbook_hash.h"
#include "experiments/sqlite_experiment_store.h"
#include "store/sqlite_db.h"

namespace agentgate {
namespace {

const std::vector<std::string>& Users() {
  static const std::vector<std::string> users = [] {
    std::vector<std::string> v;
    for (int i = 0; i < 4096; ++i) v.push_back("user-" + std::to_string(i * 7919));
    return v;
  }();
  return users;
}

void BM_ExperimentHashAssign(benchmark::State& state) {
  const double weights[] = {0.5, 0.3, 0.2};
  const std::vector<BucketRange> ranges = GrowthBookBucketRanges(weights, 1.0);
  const auto& users = Users();
  size_t i = 0;
  for (auto _ : state) {
    int v = GrowthBookChooseVariation(GrowthBookHashV2("checkout-flow", users[i++ & 4095]), ranges);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_ExperimentHashAssign);

void BM_ExperimentManagerAssign(benchmark::State& state) {
  ExperimentManager m(nullptr, {.seed = 1});
  ExperimentSpec s;
  s.name = "checkout-flow";
  s.variants = {"a", "b", "c"};
  s.traffic_split = {0.5, 0.3, 0.2};
  if (!m.create(s).ok()) state.SkipWithError("create failed");
  const auto& users = Users();
  size_t i = 0;
  for (auto _ : state) {
    Result<Assignment> a = m.assign("checkout-flow", users[i++ & 4095]);
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_ExperimentManagerAssign);

// The gateway's configuration: a SQLite store with write-behind (the
// impression is counted in memory and queued; the background thread writes
// batches every 100 ms, outside the measured call).
void BM_ExperimentManagerAssignWriteBehind(benchmark::State& state) {
  const std::string dir = "/tmp/agentgate_bench_exp_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  auto db = SqliteDb::open({.data_dir = dir});
  if (!db.ok()) return state.SkipWithError("sqlite open failed");
  auto store = OpenSqliteExperimentStore(**db);
  if (!store.ok()) return state.SkipWithError("store failed");
  {
    ExperimentManager m(store->get(), {.seed = 1});
    ExperimentSpec s;
    s.name = "checkout-flow";
    s.variants = {"a", "b", "c"};
    s.traffic_split = {0.5, 0.3, 0.2};
    if (!m.create(s).ok()) state.SkipWithError("create failed");
    const auto& users = Users();
    size_t i = 0;
    for (auto _ : state) {
      Result<Assignment> a = m.assign("checkout-flow", users[i++ & 4095]);
      benchmark::DoNotOptimize(a);
    }
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ExperimentManagerAssignWriteBehind);

void BM_ExperimentResults10MOutcomes(benchmark::State& state) {
  ExperimentManager m(nullptr, {.seed = 1});
  ExperimentSpec s;
  s.name = "big";
  s.variants = {"control", "treatment"};
  if (!m.create(s).ok()) state.SkipWithError("create failed");
  const auto& users = Users();
  for (int i = 0; i < 10'000'000; ++i) {
    const std::string& u = users[static_cast<size_t>(i) & 4095];
    (void)m.assign("big", u);
    (void)m.record_outcome("big", u, i % 17 == 0, 120.0 + i % 50);
  }
  for (auto _ : state) {
    Result<ExperimentResults> r = m.results("big");
    benchmark::DoNotOptimize(r);
  }
  state.counters["outcomes"] = 10'000'000;
}
BENCHMARK(BM_ExperimentResults10MOutcomes)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace agentgate
