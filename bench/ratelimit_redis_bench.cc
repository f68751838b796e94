// The Redis RateLimiter against a real redis-server on loopback (skipped when
// /usr/bin/redis-server is missing), as the gateway runs it: the client on
// its own io_context thread, callers' coroutines on another, `in_flight`
// acquires outstanding on one connection. Users are drawn uniformly from 1
// million; the tier is "enterprise" (every window limited, few denials).
//
//   BM_RedisRateLimitVsEvalSha: in one iteration, acquire_async throughput,
//     then raw EVALSHA of the same script with the same key space and
//     arguments by redis-benchmark (-c 50 -P 16, the server's best, and
//     -c 1 -P in_flight, the same pipeline depth); counters limiter_per_s,
//     evalsha_per_s, evalsha_same_depth_per_s and ratio = limiter / evalsha.
//   BM_RedisRateLimitMemory1M: 1 million users acquired once each into an
//     empty database; bytes_per_user = INFO used_memory delta / users, and
//     memory_usage = MEMORY USAGE of one user's key.
//
//   ./build/release/bench/agentgate_bench --benchmark_filter=RedisRateLimit
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <random>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "agentgate/ratelimit/rate_limiter.h"
#include "integration/support/redis_server.h"
#include "ratelimit/redis_rate_limit_script.h"
#include "store/redis_client.h"

namespace agentgate {
namespace {

namespace asio = boost::asio;

constexpr int kUsers = 1'000'000;

// UserId: the same shape as redis-benchmark's __rand_int__ (12 digits).
std::string UserId(int i) { return fmt::format("{:012d}", i); }

std::map<std::string, TierLimits> Tiers() {
  std::map<std::string, TierLimits> t;
  t["enterprise"].requests = {50, 1000, 50000, 500000};
  return t;
}

// Env: one redis-server, one client on its own thread, one limiter.
struct Env {
  testing::RedisServer server;
  MetricsRegistry metrics;
  asio::io_context client_io;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(client_io);
  std::thread client_thread;
  std::unique_ptr<RedisClient> client;
  RateLimitPolicy policy{Tiers(), "enterprise"};
  std::unique_ptr<RateLimiter> limiter;

  bool start() {
    if (!testing::RedisServer::available() || !server.start().ok()) return false;
    client_thread = std::thread([this] { client_io.run(); });
    RedisOptions o;
    o.port = server.port();
    o.concern = "ratelimit";
    o.command_timeout = std::chrono::milliseconds(10000);
    client = std::make_unique<RedisClient>(client_io.get_executor(), o, metrics);
    client->start();
    limiter = NewRedisRateLimiter(policy, *client, Clock::system());
    return true;
  }
  ~Env() {
    limiter.reset();
    if (client) client->stop();
    client.reset();
    guard.reset();
    if (client_thread.joinable()) client_thread.join();
  }
};

Env* GetEnv() {
  static std::unique_ptr<Env> env = [] {
    auto e = std::make_unique<Env>();
    if (!e->start()) e.reset();
    return e;
  }();
  return env.get();
}

// Acquire: `total` acquire_async calls with `in_flight` outstanding, users
// drawn uniformly; returns {calls per second, failures}.
std::pair<double, int> Acquire(RateLimiter& rl, int total, int in_flight, uint64_t seed,
                               bool sequential_users = false) {
  asio::io_context io;
  int issued = 0, failures = 0;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pick(0, kUsers - 1);
  auto start = std::chrono::steady_clock::now();
  for (int w = 0; w < in_flight; ++w) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          while (issued < total) {
            int i = sequential_users ? issued : pick(rng);
            ++issued;
            std::string user = UserId(i);
            Result<RateDecision> d = co_await rl.acquire_async(user, "enterprise");
            if (!d.ok()) ++failures;
          }
        },
        asio::detached);
  }
  io.run();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {total / s, failures};
}

// RedisBenchmark: requests per second of EVALSHA by redis-benchmark; 0 on failure.
double RedisBenchmark(const Env& env, const std::string& sha, int requests, int clients,
                      int pipeline) {
  std::array<int64_t, kRateWindowCount> limits = env.policy.resolve("", "enterprise").requests;
  SlidingWindowGeometry g[kRateWindowCount];
  for (int w = 0; w < kRateWindowCount; ++w) {
    int64_t width = RateWindowWidth(static_cast<RateWindow>(w)).count();
    g[w] = {width, width / kRateBuckets};
  }
  std::vector<std::string> args =
      RateScriptArgs('a', 1, 97'200'000, Clock::system().now().count(), g, limits);
  std::string cmd = fmt::format(
      "redis-benchmark -p {} -n {} -c {} -P {} -r {} --csv EVALSHA {} 1 rl:__rand_int__ {} 2>/dev/null",
      env.server.port(), requests, clients, pipeline, kUsers, sha, fmt::join(args, " "));
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  char line[1024];
  double rps = 0;
  while (fgets(line, sizeof line, p) != nullptr) {
    // "EVALSHA ...","123456.78",...
    std::string l(line);
    if (l.rfind("\"EVALSHA", 0) != 0) continue;
    size_t a = l.find("\",\"");
    if (a != std::string::npos) rps = std::atof(l.c_str() + a + 3);
  }
  pclose(p);
  return rps;
}

void BM_RedisRateLimitVsEvalSha(benchmark::State& state) {
  Env* env = GetEnv();
  if (env == nullptr) {
    state.SkipWithError("no redis-server");
    return;
  }
  const int in_flight = static_cast<int>(state.range(0));
  constexpr int kCalls = 200'000;
  if (Acquire(*env->limiter, 2000, 16, 1).second != 0) {  // connect, load the script
    state.SkipWithError("warm-up failed");
    return;
  }
  auto sha = env->server.command({"SCRIPT", "LOAD", RedisRateLimitScript()});
  if (!sha.ok()) {
    state.SkipWithError("SCRIPT LOAD failed");
    return;
  }
  double limiter = 0, evalsha = 0, same_depth = 0;
  int failures = 0;
  uint64_t seed = 2;
  for (auto _ : state) {
    auto [rate, failed] = Acquire(*env->limiter, kCalls, in_flight, seed++);
    limiter = rate;
    failures += failed;
    evalsha = RedisBenchmark(*env, sha->str, kCalls, 50, 16);
    same_depth = RedisBenchmark(*env, sha->str, kCalls, 1, in_flight);
    state.SetIterationTime(kCalls / limiter);
  }
  state.SetItemsProcessed(state.iterations() * kCalls);
  state.counters["limiter_per_s"] = limiter;
  state.counters["evalsha_per_s"] = evalsha;
  state.counters["evalsha_same_depth_per_s"] = same_depth;
  state.counters["ratio"] = evalsha > 0 ? limiter / evalsha : 0;
  state.counters["failures"] = failures;
}

void BM_RedisRateLimitMemory1M(benchmark::State& state) {
  Env* env = GetEnv();
  if (env == nullptr) {
    state.SkipWithError("no redis-server");
    return;
  }
  auto used_memory = [&] {
    auto r = env->server.command({"INFO", "memory"});
    std::string s = r.ok() ? r->str : "";
    auto at = s.find("used_memory:");
    return at == std::string::npos ? 0.0 : std::atof(s.c_str() + at + 12);
  };
  double per_user = 0, memory_usage = 0;
  int failures = 0;
  for (auto _ : state) {
    (void)env->server.command({"FLUSHALL"});
    double before = used_memory();
    auto [rate, failed] = Acquire(*env->limiter, kUsers, 256, 0, /*sequential_users=*/true);
    failures += failed;
    double after = used_memory();
    per_user = (after - before) / kUsers;
    auto mu = env->server.command({"MEMORY", "USAGE", "rl:" + UserId(123)});
    memory_usage = mu.ok() ? static_cast<double>(mu->integer) : 0;
    state.SetIterationTime(kUsers / rate);
  }
  state.SetItemsProcessed(state.iterations() * kUsers);
  state.counters["users"] = kUsers;
  state.counters["bytes_per_user"] = per_user;
  state.counters["memory_usage"] = memory_usage;
  state.counters["failures"] = failures;
}

BENCHMARK(BM_RedisRateLimitVsEvalSha)->ArgName("in_flight")->Arg(64)->Arg(256)->Iterations(3)->UseManualTime();
BENCHMARK(BM_RedisRateLimitMemory1M)->Iterations(1)->UseManualTime();

}  // namespace
}  // namespace agentgate
