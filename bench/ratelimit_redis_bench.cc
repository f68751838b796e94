// The Redis RateLimiter against a real redis-server on loopback (skipped when
// /usr/bin/redis-server is missing), as the gateway runs it: the client on
// its own io_context thread, callers' coroutines on another, `in_flight`
// acquires outstanding on one connection. Users are drawn uniformly from 1
// million; the tier is "enterprise" (every window limited, few denials).
//
//   BM_RedisRateLimitVsEvalSha: in one iteration, acquire_async throughput,
//     then raw EVALSHA of the same script with the same key space and
//     arguments by redis-benchmark (-c 50 -P 16 and -c 1 -P in_flight, the
//     same pipeline depth); counters limiter_per_s, evalsha_per_s,
//     evalsha_same_depth_per_s and ratio = limiter / the better of the two.
//     same_thread:1 puts the client on the callers' io_context.
//     server_us_*: redis-server CPU (user + system, /proc) per call in each
//     phase: the server's cost of a call, less distorted by a busy machine
//     than throughput; at saturation the throughput ratio is their inverse.
//   BM_RedisRateLimitMemory1M: 1 million users acquired once each into an
//     empty database; bytes_per_user = INFO used_memory delta / users, and
//     memory_usage = MEMORY USAGE of one user's key.
//
//   ./build/release/bench/agentgate_bench --benchmark_filter=RedisRateLimit
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unistd.h>
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

// Acquire: `total` acquire_async calls with `in_flight` outstanding from
// coroutines on `io` (run here), users drawn uniformly; returns {calls per
// second, failures}.
std::pair<double, int> Acquire(asio::io_context& io, RateLimiter& rl, int total, int in_flight,
                               uint64_t seed, bool sequential_users = false) {
  io.restart();
  int issued = 0, failures = 0, finished = 0;
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
          ++finished;
        },
        asio::detached);
  }
  // Not io.run(): with a client on `io`, its socket watch never runs out.
  while (finished < in_flight) {
    if (io.run_one() == 0) io.restart();
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {total / s, failures};
}

std::pair<double, int> Acquire(RateLimiter& rl, int total, int in_flight, uint64_t seed,
                               bool sequential_users = false) {
  asio::io_context io;
  return Acquire(io, rl, total, in_flight, seed, sequential_users);
}

// ServerCpuSeconds: user + system CPU time of the redis-server so far (from
// /proc; a measure of server work per call that CPU contention on a shared
// machine does not distort as much as throughput).
double ServerCpuSeconds(const Env& env) {
  FILE* f = std::fopen(fmt::format("/proc/{}/stat", env.server.pid()).c_str(), "r");
  if (f == nullptr) return 0;
  char buf[2048];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // after "pid (comm)"
  if (p == nullptr) return 0;
  unsigned long long utime = 0, stime = 0;
  // Fields 3..13 are skipped; 14 utime, 15 stime.
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                  &stime) != 2) {
    return 0;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// RedisBenchmark: requests per second of EVALSHA by redis-benchmark; 0 on failure.
double RedisBenchmark(const Env& env, const std::string& sha, int requests, int clients,
                      int pipeline) {
  std::array<int64_t, kRateWindowCount> limits = env.policy.resolve("", "enterprise").requests;
  std::vector<std::string> args =
      RateScriptArgs('a', 1, 86'460'000, RunClock::At(Clock::system().now().count()), limits);
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

// range(1) == 0: the client on its own thread (as in the gateway); 1: the
// client on the callers' io_context (one thread: no cross-thread posts).
void BM_RedisRateLimitVsEvalSha(benchmark::State& state) {
  Env* env = GetEnv();
  if (env == nullptr) {
    state.SkipWithError("no redis-server");
    return;
  }
  const int in_flight = static_cast<int>(state.range(0));
  const bool same_thread = state.range(1) == 1;
  constexpr int kCalls = 200'000;
  asio::io_context callers;
  std::unique_ptr<RedisClient> own_client;
  std::unique_ptr<RateLimiter> own_limiter;
  RateLimiter* rl = env->limiter.get();
  if (same_thread) {
    RedisOptions o;
    o.port = env->server.port();
    o.concern = "ratelimit_same_thread";
    o.command_timeout = std::chrono::milliseconds(10000);
    own_client = std::make_unique<RedisClient>(callers.get_executor(), o, env->metrics);
    own_client->start();
    own_limiter = NewRedisRateLimiter(env->policy, *own_client, Clock::system());
    rl = own_limiter.get();
  }
  if (Acquire(callers, *rl, 2000, 16, 1).second != 0) {  // connect, load the script
    state.SkipWithError("warm-up failed");
    return;
  }
  auto sha = env->server.command({"SCRIPT", "LOAD", RedisRateLimitScript()});
  if (!sha.ok()) {
    state.SkipWithError("SCRIPT LOAD failed");
    return;
  }
  double limiter_seconds = 0, evalsha = 0, same_depth = 0;
  int failures = 0;
  uint64_t seed = 2;
  double cpu_limiter = 0, cpu_evalsha = 0, cpu_same_depth = 0;  // redis-server CPU seconds
  for (auto _ : state) {
    double c0 = ServerCpuSeconds(*env);
    auto [rate, failed] = Acquire(callers, *rl, kCalls, in_flight, seed++);
    double c1 = ServerCpuSeconds(*env);
    failures += failed;
    limiter_seconds += kCalls / rate;
    evalsha += RedisBenchmark(*env, sha->str, kCalls, 50, 16);
    double c2 = ServerCpuSeconds(*env);
    same_depth += RedisBenchmark(*env, sha->str, kCalls, 1, in_flight);
    double c3 = ServerCpuSeconds(*env);
    cpu_limiter += c1 - c0;
    cpu_evalsha += c2 - c1;
    cpu_same_depth += c3 - c2;
    state.SetIterationTime(kCalls / rate);
  }
  // Means over the iterations (each iteration runs all three back to back);
  // ratio: against the better of the two redis-benchmark runs.
  const double n = static_cast<double>(state.iterations());
  const double limiter = n * kCalls / limiter_seconds;
  const double best = std::max(evalsha, same_depth) / n;
  state.SetItemsProcessed(state.iterations() * kCalls);
  state.counters["limiter_per_s"] = limiter;
  state.counters["evalsha_per_s"] = evalsha / n;
  state.counters["evalsha_same_depth_per_s"] = same_depth / n;
  state.counters["ratio"] = best > 0 ? limiter / best : 0;
  state.counters["failures"] = failures;
  const double calls = n * kCalls;
  state.counters["server_us_limiter"] = 1e6 * cpu_limiter / calls;
  state.counters["server_us_evalsha"] = 1e6 * cpu_evalsha / calls;
  state.counters["server_us_same_depth"] = 1e6 * cpu_same_depth / calls;
  if (own_client) {
    own_limiter.reset();
    own_client->stop();
    callers.restart();
    callers.run();  // lets the stop finish (the connection's watch ends)
  }
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

BENCHMARK(BM_RedisRateLimitVsEvalSha)
    ->ArgNames({"in_flight", "same_thread"})
    ->Args({64, 0})
    ->Args({256, 0})
    ->Args({64, 1})
    ->Args({256, 1})
    ->Iterations(3)
    ->UseManualTime();
BENCHMARK(BM_RedisRateLimitMemory1M)->Iterations(1)->UseManualTime();

}  // namespace
}  // namespace agentgate
