#include "agentgate/resilience/retry.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "agentgate/resilience/error_class.h"
#include "agentgate/resilience/sleeper.h"

namespace agentgate {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ErrorClassTest, HttpStatuses) {
  for (int s : {429, 500, 502, 503, 504}) EXPECT_EQ(ClassifyHttpStatus(s), ErrorClass::kRecoverable) << s;
  for (int s : {400, 404, 422, 409, 501}) EXPECT_EQ(ClassifyHttpStatus(s), ErrorClass::kPermanent) << s;
  for (int s : {401, 403}) EXPECT_EQ(ClassifyHttpStatus(s), ErrorClass::kCritical) << s;
  EXPECT_EQ(ClassifyHttpStatus(408), ErrorClass::kTransient);
  EXPECT_FALSE(IsRetryable(ErrorClass::kCritical));
  EXPECT_FALSE(IsRetryable(ErrorClass::kPermanent));
  EXPECT_EQ(ErrorClassName(ErrorClass::kCritical), "CRITICAL");
}

TEST(ErrorClassTest, StatusesWithoutAnAnswer) {
  EXPECT_EQ(ClassifyStatus(Unavailable("refused")), ErrorClass::kTransient);
  EXPECT_EQ(ClassifyStatus(DeadlineExceeded("slow")), ErrorClass::kTransient);
  EXPECT_EQ(ClassifyStatus(BadGateway("broken")), ErrorClass::kRecoverable);
  EXPECT_EQ(ClassifyStatus(InvalidArgument("bad")), ErrorClass::kPermanent);
  EXPECT_EQ(ClassifyStatus(Unauthenticated("who")), ErrorClass::kCritical);
}

TEST(BackoffTest, ExponentialCappedAndJittered) {
  RetryPolicy p;
  p.jitter = JitterMode::kNone;
  p.base_delay = seconds(1);
  p.max_delay = seconds(5);
  auto rec = ErrorClass::kRecoverable;
  EXPECT_EQ(BackoffDelay(p, 1, rec, std::nullopt), seconds(1));
  EXPECT_EQ(BackoffDelay(p, 2, rec, std::nullopt), seconds(2));
  EXPECT_EQ(BackoffDelay(p, 3, rec, std::nullopt), seconds(4));
  EXPECT_EQ(BackoffDelay(p, 4, rec, std::nullopt), seconds(5));
  // Transient: at once, then back off.
  EXPECT_EQ(BackoffDelay(p, 1, ErrorClass::kTransient, 0.7), Nanos(0));
  EXPECT_EQ(BackoffDelay(p, 2, ErrorClass::kTransient, std::nullopt), seconds(1));
  p.jitter = JitterMode::kFull;
  EXPECT_EQ(BackoffDelay(p, 2, rec, 0.25), milliseconds(500));
  EXPECT_EQ(BackoffDelay(p, 2, rec, 0.0), Nanos(0));
  p.jitter = JitterMode::kProportional;
  EXPECT_EQ(BackoffDelay(p, 2, rec, 0.0), seconds(1));
  EXPECT_EQ(BackoffDelay(p, 2, rec, 0.75), milliseconds(2500));
  EXPECT_EQ(BackoffDelay(p, 4, rec, 0.99), seconds(5));  // still capped
  p.exponential_base = 3;
  p.jitter = JitterMode::kNone;
  EXPECT_EQ(BackoffDelay(p, 2, rec, std::nullopt), seconds(3));
}

TEST(RetryAfterTest, SecondsAndHttpDate) {
  Nanos now = seconds(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseRetryAfter("2", now), seconds(2));
  EXPECT_EQ(ParseRetryAfter(" 1.5 ", now), milliseconds(1500));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:40 GMT", now), seconds(3));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:00 GMT", now), Nanos(0));  // past
  EXPECT_FALSE(ParseRetryAfter("", now));
  EXPECT_FALSE(ParseRetryAfter("-1", now));
  EXPECT_FALSE(ParseRetryAfter("soon", now));
  EXPECT_FALSE(ParseRetryAfter("Sun, 06 Foo 1994 08:49:40 GMT", now));
}

TEST(RetryAfterTest, BodyHints) {
  EXPECT_EQ(ParseBodyRetryDelay(R"({"error":{"code":429,"details":[{"@type":"x"},)"
                                R"({"@type":"RetryInfo","retryDelay":"7s"}]}})"),
            seconds(7));
  EXPECT_EQ(ParseBodyRetryDelay(R"({"error":{"retry_after":2.5}})"), milliseconds(2500));
  EXPECT_FALSE(ParseBodyRetryDelay(R"({"error":{"message":"slow down"}})"));
  EXPECT_FALSE(ParseBodyRetryDelay("not json"));
}

TEST(RetryBudgetTest, RatioWithFloorOverSlidingWindow) {
  ManualClock clock;
  RetryBudget budget({.ratio = 0.2, .min_retries = 3, .window = seconds(10)}, clock);
  for (int i = 0; i < 10; ++i) budget.on_request();
  // 20% of 10 is 2, but the floor allows 3.
  EXPECT_TRUE(budget.try_retry());
  EXPECT_TRUE(budget.try_retry());
  EXPECT_TRUE(budget.try_retry());
  EXPECT_FALSE(budget.try_retry());
  for (int i = 0; i < 10; ++i) budget.on_request();  // 20 requests: 4 retries
  EXPECT_TRUE(budget.try_retry());
  EXPECT_FALSE(budget.try_retry());
  EXPECT_EQ(budget.retries_in_window(), 4);
  clock.advance(seconds(10));  // everything slid out
  EXPECT_EQ(budget.requests_in_window(), 0);
  EXPECT_TRUE(budget.try_retry());
}

TEST(RetryBudgetTest, ConcurrentUseStaysNearTheRatio) {
  ManualClock clock;
  RetryBudget budget({.ratio = 0.1, .min_retries = 0, .window = seconds(10)}, clock);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        budget.on_request();
        if (budget.try_retry()) granted.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(budget.requests_in_window(), 4000);
  EXPECT_GE(granted.load(), 395);
  EXPECT_LE(granted.load(), 404);  // 10% of 4000, give or take the racing threads
}

TEST(RetryScheduleTest, StopsOnClassAttemptsDeadlineAndBudget) {
  ManualClock clock;
  RetryPolicy p;
  p.jitter = JitterMode::kNone;
  {
    RetrySchedule s(p, clock, nullptr, 1);
    EXPECT_FALSE(s.next(ErrorClass::kPermanent));
    EXPECT_FALSE(s.next(ErrorClass::kCritical));
    EXPECT_EQ(s.next(ErrorClass::kRecoverable), seconds(1));
    EXPECT_EQ(s.next(ErrorClass::kRecoverable), seconds(2));
    EXPECT_FALSE(s.next(ErrorClass::kRecoverable));  // 3 attempts made
    EXPECT_EQ(s.attempts(), 3);
  }
  {
    // Retry-After is honoured above the backoff and capped by max_delay.
    RetrySchedule s(p, clock, nullptr, 1);
    EXPECT_EQ(s.next(ErrorClass::kRecoverable, seconds(2)), seconds(2));
    EXPECT_EQ(s.next(ErrorClass::kRecoverable, seconds(600)), seconds(60));
  }
  {
    RetryPolicy d = p;
    d.deadline = seconds(3);
    RetrySchedule s(d, clock, nullptr, 1);
    EXPECT_EQ(s.next(ErrorClass::kRecoverable), seconds(1));
    clock.advance(seconds(1));
    EXPECT_FALSE(s.next(ErrorClass::kRecoverable));  // 1 s + 2 s reaches the deadline
  }
  {
    RetryBudget budget({.ratio = 0, .min_retries = 1, .window = seconds(10)}, clock);
    RetrySchedule s(p, clock, &budget, 1);
    EXPECT_TRUE(s.next(ErrorClass::kTransient));
    EXPECT_FALSE(s.next(ErrorClass::kTransient));
    EXPECT_TRUE(s.budget_exhausted());
  }
}

TEST(SleeperTest, ManualSleeperAdvancesTheClockWithoutWaiting) {
  ManualClock clock;
  ManualSleeper sleeper(clock);
  boost::asio::io_context io;
  Nanos start = clock.monotonic();
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        co_await sleeper.sleep(seconds(2));
        co_await sleeper.sleep(seconds(3));
      },
      boost::asio::detached);
  io.run();
  EXPECT_EQ(clock.monotonic() - start, seconds(5));
  ASSERT_EQ(sleeper.delays().size(), 2u);
  EXPECT_EQ(sleeper.delays()[1], seconds(3));
}

TEST(SleeperTest, AsioSleeperWaitsOnATimer) {
  AsioSleeper sleeper;
  boost::asio::io_context io;
  auto start = std::chrono::steady_clock::now();
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { co_await sleeper.sleep(milliseconds(20)); },
      boost::asio::detached);
  io.run();
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(20));
}

}  // namespace
}  // namespace agentgate
