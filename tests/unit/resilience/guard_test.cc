#include "agentgate/resilience/guard.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <deque>

namespace agentgate {
namespace {

using std::chrono::seconds;

// Drive: drives `coro` to completion on a fresh io_context.
template <typename F>
void Drive(F coro) {
  boost::asio::io_context io;
  boost::asio::co_spawn(io, std::move(coro), boost::asio::detached);
  io.run();
}

// Script: a fake async call answering from a queue.
struct Script {
  std::deque<Result<int>> answers;
  int calls = 0;
  boost::asio::awaitable<Result<int>> operator()() {
    ++calls;
    Result<int> r = answers.front();
    answers.pop_front();
    co_return r;
  }
};

TEST(GuardTest, CallThroughCountsAndRejectsWithoutCalling) {
  ManualClock clock;
  CircuitBreakerOptions o;
  o.failure_threshold = 2;
  CircuitBreaker breaker("redis", o, clock);
  Script s{.answers = {Unavailable("down"), InvalidArgument("bad"), DeadlineExceeded("slow"), 1}};
  std::vector<Status> got;
  Drive([&]() -> boost::asio::awaitable<void> {
    for (int i = 0; i < 4; ++i) {
      Result<int> r = co_await CallThrough<int>(breaker, [&] { return s(); });
      got.push_back(r.status());
    }
  });
  // Unavailable (1), bad argument (not counted), timeout (2: opens), rejected.
  EXPECT_EQ(s.calls, 3);
  EXPECT_EQ(breaker.state(), BreakerState::kOpen);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3].code(), StatusCode::kUnavailable);
  EXPECT_NE(got[3].message().find("circuit breaker 'redis' is open"), std::string::npos);
}

TEST(GuardTest, WithRetryRetriesRetryableFailuresOnly) {
  ManualClock clock;
  ManualSleeper sleeper(clock);
  RetryPolicy p;
  p.jitter = JitterMode::kNone;
  Script s{.answers = {BadGateway("x"), BadGateway("x"), 7}};
  Result<int> r = Internal("unset");
  Drive([&]() -> boost::asio::awaitable<void> {
    r = co_await WithRetry<int>(p, clock, sleeper, nullptr, [&] { return s(); });
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(s.calls, 3);
  EXPECT_EQ(sleeper.delays(), (std::vector<Nanos>{seconds(1), seconds(2)}));

  Script permanent{.answers = {InvalidArgument("bad"), 1}};
  Drive([&]() -> boost::asio::awaitable<void> {
    r = co_await WithRetry<int>(p, clock, sleeper, nullptr, [&] { return permanent(); });
  });
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(permanent.calls, 1);
}

TEST(GuardTest, WithFallbackReturnsTheFallbackOnFailure) {
  Script s{.answers = {5, Unavailable("down")}};
  int a = 0, b = 0;
  Drive([&]() -> boost::asio::awaitable<void> {
    a = co_await WithFallback<int>([&] { return s(); }, -1);
    b = co_await WithFallback<int>([&] { return s(); }, -1);
  });
  EXPECT_EQ(a, 5);
  EXPECT_EQ(b, -1);
}

}  // namespace
}  // namespace agentgate
