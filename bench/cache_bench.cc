// Benchmarks of the cache component: the exact-hit path inside the process
// (canonical key + SHA-256 + lookup), and semantic lookups over 100k
// clustered 384-dim embeddings (2,000 centres plus noise) through the HNSW
// index, with recall@1 against brute force reported as a counter.
//
//   ./build/release/bench/agentgate_bench --benchmark_filter='Cache'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>
#include <random>
#include <vector>

#include "agentgate/cache/cache_key.h"
#include "agentgate/cache/response_cache.h"
#include "agentgate/cache/semantic_cache.h"

namespace agentgate {
namespace {

// ThreadCpu: this thread's CPU time (the machine is shared: wall time
// includes waiting for a core).
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// RssGb: this process's resident set (VmRSS), in GB.
double RssGb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / (1024.0 * 1024.0);
  }
  return 0;
}

constexpr std::string_view kChatBody =
    R"({"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of France? Answer in one word."}]})";

void BM_CacheExactHitPath(benchmark::State& state) {
  ManualClock clock;
  ResponseCacheOptions o{.max_size = 10000};
  ResponseCache cache(NewMemoryResponseStore(o, clock), o);
  CachedResponse r;
  r.body = std::string(600, 'x');
  const std::string key = *ResponseCacheKey("tenant", "/v1/chat/completions", kChatBody);
  (void)cache.store(key, r);
  for (auto _ : state) {
    Result<std::string> k = ResponseCacheKey("tenant", "/v1/chat/completions", kChatBody);
    CachedResponsePtr hit = cache.lookup(*k);
    benchmark::DoNotOptimize(hit);
  }
}
BENCHMARK(BM_CacheExactHitPath);

// The proxy's path: CacheKeyMemo (a byte-identical request skips parsing) + lookup.
void BM_CacheExactHitPathMemo(benchmark::State& state) {
  ManualClock clock;
  ResponseCacheOptions o{.max_size = 10000};
  ResponseCache cache(NewMemoryResponseStore(o, clock), o);
  CacheKeyMemo memo(10000, clock);
  (void)cache.store(*memo.key("tenant", "/v1/chat/completions", kChatBody), CachedResponse{});
  for (auto _ : state) {
    Result<std::string> k = memo.key("tenant", "/v1/chat/completions", kChatBody);
    benchmark::DoNotOptimize(cache.lookup(*k));
  }
}
BENCHMARK(BM_CacheExactHitPathMemo);

void BM_CacheExactLookupOnly(benchmark::State& state) {
  ManualClock clock;
  ResponseCacheOptions o{.max_size = 10000};
  ResponseCache cache(NewMemoryResponseStore(o, clock), o);
  const std::string key = *ResponseCacheKey("tenant", "/v1/chat/completions", kChatBody);
  (void)cache.store(key, CachedResponse{});
  for (auto _ : state) benchmark::DoNotOptimize(cache.lookup(key));
}
BENCHMARK(BM_CacheExactLookupOnly);

// Clustered synthetic embeddings: `centres` directions uniform on the sphere
// (from `centre_seed`), points = a random centre + gaussian noise (from
// `point_seed`), normalized. Queries are fresh points of the same centres.
void Normalize(std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  const float inv = static_cast<float>(1.0 / std::sqrt(s));
  for (float& x : v) x *= inv;
}

std::vector<std::vector<float>> Clustered(size_t n, size_t dim, size_t centres, float noise,
                                          uint32_t centre_seed, uint32_t point_seed) {
  std::mt19937 crng(centre_seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<std::vector<float>> c(centres, std::vector<float>(dim));
  for (auto& v : c) {
    for (float& x : v) x = g(crng);
    Normalize(v);
  }
  std::mt19937 rng(point_seed);
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  std::uniform_int_distribution<size_t> pick(0, centres - 1);
  const float sigma = noise / std::sqrt(static_cast<float>(dim));
  for (auto& v : out) {
    const auto& centre = c[pick(rng)];
    for (size_t i = 0; i < dim; ++i) v[i] = centre[i] + sigma * g(rng);
    Normalize(v);
  }
  return out;
}

// Dot: eight running sums, so that the compiler vectorizes the brute force.
float Dot(const float* a, const float* b, size_t dim) {
  float acc[8] = {};
  for (size_t j = 0; j + 8 <= dim; j += 8) {
    for (size_t k = 0; k < 8; ++k) acc[k] += a[j + k] * b[j + k];
  }
  float d = 0;
  for (float x : acc) d += x;
  return d;
}

// BM_CacheSemanticLookup: args entries, ef_construction, ef_search. Counters:
// recall_at_1 (the index's best match is brute force's, over 1,000 fresh
// queries), p99_us / p99_cpu_us (of those 1,000 single lookups, wall / thread
// CPU), build_s / build_cpu_s (inserting every entry), rss_gb after the build.
void BM_CacheSemanticLookup(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  constexpr size_t kDim = 384;
  constexpr size_t kCentres = 2000;
  constexpr float kNoise = 0.6f;
  ManualClock clock;
  SemanticCacheOptions o{.similarity_threshold = 0.0, .max_entries = n + 1, .hnsw_from = 1};
  o.hnsw_ef_construction = static_cast<size_t>(state.range(1));
  o.hnsw_ef_search = static_cast<size_t>(state.range(2));
  SemanticCache cache(o, clock);
  SemanticNamespace ns{.tenant = "t", .model = "m"};
  std::vector<std::vector<float>> data = Clustered(n, kDim, kCentres, kNoise, 1, 2);
  const auto build_start = std::chrono::steady_clock::now();
  const double build_cpu_start = ThreadCpuSeconds();
  for (size_t i = 0; i < n; ++i) (void)cache.set("q", ns, std::to_string(i), data[i]);
  const double build_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
  const double build_cpu_s = ThreadCpuSeconds() - build_cpu_start;

  // Queries: fresh points of the same clusters (other noise), never stored.
  std::vector<std::vector<float>> queries = Clustered(1000, kDim, kCentres, kNoise, 1, 3);
  // Recall@1 against brute force.
  size_t correct = 0;
  std::vector<double> latencies, cpu_latencies;
  for (const auto& q : queries) {
    size_t best = 0;
    float best_dot = -2;
    for (size_t i = 0; i < n; ++i) {
      const float d = Dot(q.data(), data[i].data(), kDim);
      if (d > best_dot) {
        best_dot = d;
        best = i;
      }
    }
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = ThreadCpuSeconds();
    std::optional<SemanticHit> hit = cache.get("q", ns, q);
    cpu_latencies.push_back((ThreadCpuSeconds() - c0) * 1e6);
    latencies.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    if (hit && hit->response == std::to_string(best)) ++correct;
  }
  std::sort(latencies.begin(), latencies.end());
  std::sort(cpu_latencies.begin(), cpu_latencies.end());
  size_t qi = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.get("q", ns, queries[qi++ % queries.size()]));
  }
  state.counters["recall_at_1"] = static_cast<double>(correct) / static_cast<double>(queries.size());
  state.counters["p99_us"] = latencies[latencies.size() * 99 / 100];
  state.counters["p99_cpu_us"] = cpu_latencies[cpu_latencies.size() * 99 / 100];
  state.counters["build_s"] = build_s;
  state.counters["build_cpu_s"] = build_cpu_s;
  state.counters["rss_gb"] = RssGb();
}
// Args: entries, ef_construction, ef_search.
BENCHMARK(BM_CacheSemanticLookup)
    ->Args({100000, 200, 128})
    ->Args({100000, 100, 48})
    ->Args({100000, 64, 48})
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(20000);

// The documented (not CI) run at 1M entries, registered only with
// AGENTGATE_BENCH_1M set (several GB of memory and many minutes of build);
// its value "<ef_construction>,<ef_search>" (default "64,48", the
// semantic cache's defaults):
//   AGENTGATE_BENCH_1M=64,48 nice build/release/bench/agentgate_bench --benchmark_filter=SemanticLookup/1000000
[[maybe_unused]] const bool kSemantic1M = [] {
  const char* env = std::getenv("AGENTGATE_BENCH_1M");
  if (env == nullptr) return false;
  int64_t ef_construction = 64, ef_search = 48;
  char* end = nullptr;
  const long long a = std::strtoll(env, &end, 10);
  if (end != env && *end == ',') {
    const long long b = std::strtoll(end + 1, nullptr, 10);
    if (a > 0 && b > 0) {
      ef_construction = a;
      ef_search = b;
    }
  }
  benchmark::RegisterBenchmark("BM_CacheSemanticLookup", BM_CacheSemanticLookup)
      ->Args({1000000, ef_construction, ef_search})
      ->Unit(benchmark::kMicrosecond)
      ->Iterations(20000);
  return true;
}();

}  // namespace
}  // namespace agentgate
