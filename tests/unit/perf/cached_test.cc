#include "agentgate/perf/cached.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace agentgate {
namespace {

namespace asio = boost::asio;
using std::chrono::seconds;

TEST(CachedTest, MemoizesOnArgumentsWithTtl) {
  ManualClock clock;
  std::atomic<int> calls{0};
  auto add = cached(
      [&calls](const std::string& a, int b) {
        ++calls;
        return a + std::to_string(b);
      },
      seconds(10), {.clock = &clock});
  EXPECT_EQ(add("x", 1), "x1");
  EXPECT_EQ(add("x", 1), "x1");
  EXPECT_EQ(add("x", 2), "x2");
  EXPECT_EQ(add("y", 1), "y1");
  EXPECT_EQ(calls.load(), 3);
  clock.advance(seconds(10));
  EXPECT_EQ(add("x", 1), "x1");
  EXPECT_EQ(calls.load(), 4);
  auto st = add.stats();
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.misses, 4u);
  EXPECT_EQ(st.shared, 0u);
}

int Square(int x) { return x * x; }

TEST(CachedTest, AcceptsFunctionPointers) {
  auto sq = cached(&Square, Nanos(0));
  EXPECT_EQ(sq(3), 9);
  EXPECT_EQ(sq(3), 9);
  EXPECT_EQ(sq.stats().hits, 1u);
}

TEST(CachedTest, NoneResultsAreCachedOnlyWhenAsked) {
  ManualClock clock;
  int calls = 0;
  auto lookup = [&calls](int k) -> std::optional<int> {
    ++calls;
    if (k < 0) return std::nullopt;
    return k;
  };
  auto plain = cached(lookup, seconds(10), {.clock = &clock});
  EXPECT_FALSE(plain(-1));
  EXPECT_FALSE(plain(-1));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(plain(1), 1);
  EXPECT_EQ(plain(1), 1);
  EXPECT_EQ(calls, 3);

  calls = 0;
  auto with_none = cached(lookup, seconds(10), {.cache_none = true, .clock = &clock});
  EXPECT_FALSE(with_none(-1));
  EXPECT_FALSE(with_none(-1));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(with_none.stats().cache.size, 1u);
}

TEST(CachedTest, ExceptionsAreNotCached) {
  int calls = 0;
  auto f = cached(
      [&calls](int k) {
        if (++calls == 1) throw std::runtime_error("boom");
        return k;
      },
      seconds(10));
  EXPECT_THROW(f(1), std::runtime_error);
  EXPECT_EQ(f(1), 1);
  EXPECT_EQ(calls, 2);
}

TEST(CachedTest, ReportsHitsAndMissesToProfiler) {
  ManualClock clock;
  Profiler profiler(clock);
  auto f = cached([](int k) { return k; }, seconds(10),
                  {.clock = &clock, .profiler = &profiler, .name = "ident"});
  f(1);
  f(1);
  f(1);
  f(2);
  auto m = profiler.get_performance_metrics().at("ident");
  EXPECT_EQ(m.cache_hits, 2u);
  EXPECT_EQ(m.cache_misses, 2u);
  EXPECT_DOUBLE_EQ(m.cache_hit_rate, 0.5);
}

TEST(CachedTest, SyncSingleFlight) {
  constexpr int kCallers = 6;
  std::atomic<int> calls{0};
  // `self` lets the function see how many callers joined its computation;
  // it returns only once all the others wait for it, so the test proves
  // they waited instead of computing.
  using Fn = std::function<std::optional<int>(int)>;
  std::function<uint64_t()> joined;
  // Results are "none" and not cached, so only single-flight can dedupe.
  auto f = cached(Fn([&](int k) -> std::optional<int> {
                    ++calls;
                    while (joined() < kCallers - 1) std::this_thread::yield();
                    (void)k;
                    return std::nullopt;
                  }),
                  seconds(10));
  joined = [&f] { return f.stats().shared; };
  std::vector<std::thread> threads;
  std::atomic<int> nones{0};
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&] {
      if (!f(7)) ++nones;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(nones.load(), kCallers);
  EXPECT_EQ(f.stats().misses, 1u);
  EXPECT_EQ(f.stats().shared, static_cast<uint64_t>(kCallers - 1));
}

TEST(CachedTest, SyncSingleFlightSharesExceptions) {
  constexpr int kCallers = 4;
  std::atomic<int> calls{0};
  std::function<uint64_t()> joined;
  auto f = cached(std::function<int(int)>([&](int) -> int {
                    ++calls;
                    while (joined() < kCallers - 1) std::this_thread::yield();
                    throw std::runtime_error("upstream down");
                  }),
                  seconds(10));
  joined = [&f] { return f.stats().shared; };
  std::atomic<int> thrown{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&] {
      try {
        f(1);
      } catch (const std::runtime_error&) {
        ++thrown;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(thrown.load(), kCallers);
}

TEST(CachedTest, SyncManyThreadsManyKeys) {
  std::atomic<int> calls{0};
  auto f = cached(
      [&calls](int k) {
        ++calls;
        return k * 3;
      },
      Nanos(0), {.max_size = 10'000});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) EXPECT_EQ(f(i % 100), (i % 100) * 3);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(calls.load(), 100);  // once per key, however the threads interleave
}

// Async: the leader's function yields (asio::post, no timer) until every
// other coroutine has joined, then answers.
void RunAsyncSingleFlight(int threads) {
  constexpr int kCallers = 8;
  asio::io_context io(threads);
  std::atomic<int> calls{0};
  std::atomic<int> done{0};
  std::function<uint64_t()> joined;
  auto f = cached(std::function<asio::awaitable<std::string>(std::string)>(
                      [&](std::string key) -> asio::awaitable<std::string> {
                        ++calls;
                        auto ex = co_await asio::this_coro::executor;
                        while (joined() < kCallers - 1) co_await asio::post(ex, asio::use_awaitable);
                        co_return "value of " + key;
                      }),
                  seconds(10));
  joined = [&f] { return f.stats().shared; };
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          std::string v = co_await f("k");
          EXPECT_EQ(v, "value of k");
          ++done;
        },
        asio::detached);
  }
  std::vector<std::thread> runners;
  for (int i = 1; i < threads; ++i) runners.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : runners) t.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(done.load(), kCallers);
  EXPECT_EQ(f.stats().shared, static_cast<uint64_t>(kCallers - 1));

  // Then it is a plain cache hit.
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { EXPECT_EQ(co_await f("k"), "value of k"); },
      asio::detached);
  io.restart();
  io.run();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(f.stats().hits, 1u);
}

TEST(CachedAsyncTest, SingleFlightOneThread) { RunAsyncSingleFlight(1); }
TEST(CachedAsyncTest, SingleFlightTwoThreads) { RunAsyncSingleFlight(2); }

TEST(CachedAsyncTest, ExceptionReachesEveryWaiter) {
  constexpr int kCallers = 3;
  asio::io_context io;
  int calls = 0;
  int thrown = 0;
  std::function<uint64_t()> joined;
  auto f = cached(std::function<asio::awaitable<int>(int)>([&](int) -> asio::awaitable<int> {
                    ++calls;
                    auto ex = co_await asio::this_coro::executor;
                    while (joined() < kCallers - 1) co_await asio::post(ex, asio::use_awaitable);
                    throw std::runtime_error("nope");
                  }),
                  seconds(10));
  joined = [&f] { return f.stats().shared; };
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          try {
            co_await f(1);
          } catch (const std::runtime_error&) {
            ++thrown;
          }
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(thrown, kCallers);
}

}  // namespace
}  // namespace agentgate
