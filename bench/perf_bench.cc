// Benchmarks of the perf component: LruCache against a one-mutex LRU, and the
// Profiler's per-call overhead.
//
//   ./build/release/bench/agentgate_bench --benchmark_filter='Lru|Profil'
#include <benchmark/benchmark.h>

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include "agentgate/perf/lru_cache.h"
#include "agentgate/perf/profiler.h"

namespace agentgate {
namespace {

constexpr size_t kKeys = 1 << 16;       // key space of the mixed workload
constexpr size_t kCapacity = 1 << 15;   // half of it fits
constexpr size_t kTraceLen = 1 << 20;

// MutexLru: the baseline, a textbook LRU under one std::mutex.
class MutexLru {
 public:
  explicit MutexLru(size_t capacity) : capacity_(capacity) { index_.reserve(capacity * 2); }
  std::optional<uint64_t> get(uint64_t key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void set(uint64_t key, uint64_t value) {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->second = value;
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    if (order_.size() >= capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    order_.emplace_front(key, value);
    index_[key] = order_.begin();
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<uint64_t, uint64_t>> order_;
  std::unordered_map<uint64_t, std::list<std::pair<uint64_t, uint64_t>>::iterator> index_;
};

// Trace: skewed keys (a key is drawn as the min of two uniforms, so low keys
// are hotter), and whether each access is a set (10 %).
struct Trace {
  std::vector<uint64_t> ids;  // the key space
  std::vector<uint64_t> keys;
  std::vector<uint8_t> is_set;
};

const Trace& SharedTrace() {
  static const Trace* const kTrace = [] {
    auto* t = new Trace;
    std::mt19937_64 rng(12345);
    std::uniform_int_distribution<uint64_t> key(0, kKeys - 1);
    // Keys are random 64-bit ids (like hashed request keys), so that no
    // cache gets locality from std::hash being the identity on integers.
    std::vector<uint64_t> ids(kKeys);
    for (auto& id : ids) id = rng();
    t->ids = ids;
    t->keys.resize(kTraceLen);
    t->is_set.resize(kTraceLen);
    for (size_t i = 0; i < kTraceLen; ++i) {
      t->keys[i] = ids[std::min(key(rng), key(rng))];
      t->is_set[i] = rng() % 10 == 0;
    }
    return t;
  }();
  return *kTrace;
}

// `cache` is read inside the loop: the loop's start is the barrier after
// which thread 0's setup is visible to every thread.
template <typename Cache>
void RunMixed(benchmark::State& state, Cache* const& cache) {
  const Trace& trace = SharedTrace();
  // Each thread starts at its own offset of the trace.
  size_t i = static_cast<size_t>(state.thread_index()) * (kTraceLen / 4);
  uint64_t hits = 0;
  for (auto _ : state) {
    const size_t at = i++ & (kTraceLen - 1);
    const uint64_t k = trace.keys[at];
    if (trace.is_set[at]) {
      cache->set(k, k);
    } else if (cache->get(k)) {
      ++hits;
    }
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations());
}

void BM_LruCacheGetHit(benchmark::State& state) {
  LruCache<uint64_t, uint64_t> cache({.max_size = 4096}, Clock::system());
  for (uint64_t k = 0; k < 1024; ++k) cache.set(k, k);
  uint64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(cache.get(i++ & 1023));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LruCacheGetHit);

void BM_LruCacheGetHitWithTtl(benchmark::State& state) {
  LruCache<uint64_t, uint64_t> cache({.max_size = 4096, .default_ttl = std::chrono::hours(1)},
                                     Clock::system());
  for (uint64_t k = 0; k < 1024; ++k) cache.set(k, k);
  uint64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(cache.get(i++ & 1023));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LruCacheGetHitWithTtl);

void BM_MutexLruGetHit(benchmark::State& state) {
  MutexLru cache(4096);
  for (uint64_t k = 0; k < 1024; ++k) cache.set(k, k);
  uint64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(cache.get(i++ & 1023));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MutexLruGetHit);

// Mixed 90 % get / 10 % set; one cache shared by the benchmark's threads.
void BM_LruCacheMixed(benchmark::State& state) {
  static LruCache<uint64_t, uint64_t>* cache = nullptr;
  if (state.thread_index() == 0) {
    cache = new LruCache<uint64_t, uint64_t>({.max_size = kCapacity}, Clock::system());
    for (uint64_t k = 0; k < kCapacity; ++k) cache->set(SharedTrace().ids[k], k);
  }
  RunMixed(state, cache);
  if (state.thread_index() == 0) {
    delete cache;
    cache = nullptr;
  }
}
BENCHMARK(BM_LruCacheMixed)->Threads(1)->Threads(2)->UseRealTime();

void BM_MutexLruMixed(benchmark::State& state) {
  static MutexLru* cache = nullptr;
  if (state.thread_index() == 0) {
    cache = new MutexLru(kCapacity);
    for (uint64_t k = 0; k < kCapacity; ++k) cache->set(SharedTrace().ids[k], k);
  }
  RunMixed(state, cache);
  if (state.thread_index() == 0) {
    delete cache;
    cache = nullptr;
  }
}
BENCHMARK(BM_MutexLruMixed)->Threads(1)->Threads(2)->UseRealTime();

// Control for the two-thread LRU figures: the same workload, but each thread
// on a cache of its own (nothing shared). If this does not scale ~2x, the
// memory system or other processes limit any cache; if it does and
// BM_LruCacheMixed does not, the shared cache is what limits.
void BM_LruCacheMixedPrivate(benchmark::State& state) {
  LruCache<uint64_t, uint64_t> own({.max_size = kCapacity}, Clock::system());
  for (uint64_t k = 0; k < kCapacity; ++k) own.set(SharedTrace().ids[k], k);
  LruCache<uint64_t, uint64_t>* const cache = &own;
  RunMixed(state, cache);
}
BENCHMARK(BM_LruCacheMixedPrivate)->Threads(1)->Threads(2)->UseRealTime();

// Control for the two-thread figures: per-thread work on private memory that
// shares nothing. If this does not scale ~2x, the machine is busy (other
// processes), and no cache can scale either.
void BM_ScalingControl(benchmark::State& state) {
  const Trace& trace = SharedTrace();
  std::vector<uint64_t> own(kKeys, 1);
  size_t i = static_cast<size_t>(state.thread_index()) * (kTraceLen / 4);
  uint64_t sum = 0;
  for (auto _ : state) {
    const uint64_t k = trace.keys[i++ & (kTraceLen - 1)] & (kKeys - 1);
    sum += own[k];
    own[(k * 7) & (kKeys - 1)] = sum;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScalingControl)->Threads(1)->Threads(2)->UseRealTime();

void BM_ProfilerScopeEnabled(benchmark::State& state) {
  static Profiler profiler;
  ProfileSite& site = profiler.site("bench_enabled");
  for (auto _ : state) {
    ScopedProfile p(site);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_ProfilerScopeEnabled)->Threads(1)->Threads(2);

void BM_ProfilerScopeDisabled(benchmark::State& state) {
  static Profiler profiler(Clock::system(), /*enabled=*/false);
  ProfileSite& site = profiler.site("bench_disabled");
  for (auto _ : state) {
    ScopedProfile p(site);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_ProfilerScopeDisabled);

void BM_ProfilerWrapperEnabled(benchmark::State& state) {
  Profiler profiler;
  auto f = profiler.profile("wrapped", [](uint64_t x) { return x * 3; });
  uint64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(f(i++));
}
BENCHMARK(BM_ProfilerWrapperEnabled);

void BM_NoProfilerBaseline(benchmark::State& state) {
  for (auto _ : state) benchmark::ClobberMemory();
}
BENCHMARK(BM_NoProfilerBaseline);

}  // namespace
}  // namespace agentgate
