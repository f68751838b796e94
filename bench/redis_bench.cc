// Redis client throughput against a real redis-server on loopback (skipped
// when /usr/bin/redis-server is missing). Items/s is commands per second
// with `in_flight` commands outstanding, issued by coroutines on one thread.
//
//   same_thread:   the client's strand on the callers' io_context (one thread)
//   client_thread: the client on its own io_context thread (cross-thread posts)
#include <benchmark/benchmark.h>

#include <memory>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "integration/support/redis_server.h"
#include "store/redis_client.h"

namespace agentgate {
namespace {

namespace asio = boost::asio;

testing::RedisServer* Server() {
  static std::unique_ptr<testing::RedisServer> server = [] {
    if (!testing::RedisServer::available()) return std::unique_ptr<testing::RedisServer>();
    auto s = std::make_unique<testing::RedisServer>();
    if (!s->start().ok()) return std::unique_ptr<testing::RedisServer>();
    return s;
  }();
  return server.get();
}

constexpr const char* kScript =
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
    "return n";

// Runs `total` commands with `in_flight` outstanding on `io`; returns failures.
int RunBatch(asio::io_context& io, int total, int in_flight,
             std::function<asio::awaitable<Result<RedisReply>>()> op) {
  io.restart();  // a previous batch may have run it out of work
  int issued = 0;
  int failures = 0;
  int finished = 0;
  for (int w = 0; w < in_flight; ++w) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          while (issued < total) {
            ++issued;
            Result<RedisReply> r = co_await op();
            if (!r.ok() || r->is_error()) ++failures;
          }
          ++finished;
        },
        asio::detached);
  }
  // Not io.run(): with the client on `io`, its socket watch never runs out.
  while (finished < in_flight) {
    if (io.run_one() == 0) io.restart();
  }
  return failures;
}

void BM_Redis(benchmark::State& state, bool script, bool client_thread) {
  testing::RedisServer* server = Server();
  if (server == nullptr) {
    state.SkipWithError("no redis-server");
    return;
  }
  const int in_flight = static_cast<int>(state.range(0));
  MetricsRegistry metrics;
  asio::io_context callers;
  asio::io_context client_io;
  auto guard = asio::make_work_guard(client_io);
  std::thread client_thread_runner;
  if (client_thread) client_thread_runner = std::thread([&] { client_io.run(); });

  RedisOptions options;
  options.port = server->port();
  options.command_timeout = std::chrono::milliseconds(10000);
  auto client = std::make_unique<RedisClient>(
      client_thread ? client_io.get_executor() : callers.get_executor(), options, metrics);
  client->start();
  RedisScript limiter(*client, kScript);
  uint64_t key = 0;
  auto op = [&]() -> asio::awaitable<Result<RedisReply>> {
    if (script) {
      std::vector<std::string> keys = {"rl:" + std::to_string(++key % 1000)};
      std::vector<std::string> args = {"60000"};
      co_return co_await limiter.eval(std::move(keys), std::move(args));
    }
    std::vector<std::string> cmd = {"INCR", "bench:" + std::to_string(++key % 1000)};
    co_return co_await client->command(std::move(cmd));
  };
  // Warm up: connect, load the script.
  if (RunBatch(callers, 1000, 16, op) != 0) {
    state.SkipWithError("warm-up failed");
  }
  constexpr int kBatch = 20000;
  int failures = 0;
  for (auto _ : state) failures += RunBatch(callers, kBatch, in_flight, op);
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["failures"] = failures;

  client->stop();
  client.reset();
  if (client_thread) {
    guard.reset();
    client_thread_runner.join();
  } else {
    callers.run();  // lets the stop finish (the connection's watch ends)
  }
}

void BM_EvalShaSameThread(benchmark::State& s) { BM_Redis(s, true, false); }
void BM_EvalShaClientThread(benchmark::State& s) { BM_Redis(s, true, true); }
void BM_IncrSameThread(benchmark::State& s) { BM_Redis(s, false, false); }

BENCHMARK(BM_EvalShaSameThread)->ArgName("in_flight")->Arg(1)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(BM_EvalShaClientThread)->ArgName("in_flight")->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK(BM_IncrSameThread)->ArgName("in_flight")->Arg(64)->Arg(256)->UseRealTime();

}  // namespace
}  // namespace agentgate
