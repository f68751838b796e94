#include "agentgate/resilience/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "agentgate/resilience/breaker_registry.h"

namespace agentgate {
namespace {

using std::chrono::seconds;
using Permit = CircuitBreaker::Permit;

void Fail(CircuitBreaker& b, int n) {
  for (int i = 0; i < n; ++i) {
    Permit p = b.try_acquire();
    ASSERT_TRUE(p.allowed());
    b.on_failure(p);
  }
}

void Succeed(CircuitBreaker& b, int n) {
  for (int i = 0; i < n; ++i) {
    Permit p = b.try_acquire();
    ASSERT_TRUE(p.allowed());
    b.on_success(p);
  }
}

TEST(CircuitBreakerTest, DefaultsMatchTheDocumentedConfig) {
  CircuitBreakerOptions o;
  EXPECT_EQ(o.failure_threshold, 5);
  EXPECT_EQ(o.success_threshold, 2);
  EXPECT_EQ(o.timeout, seconds(60));
  EXPECT_EQ(ValidateBreakerOptions(o), "");
}

TEST(CircuitBreakerTest, FiveConsecutiveFailuresOpenIt) {
  ManualClock clock;
  MetricsRegistry metrics;
  CircuitBreaker b("up", {}, clock, &metrics);
  Fail(b, 4);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  Succeed(b, 1);  // breaks the streak
  Fail(b, 4);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  Fail(b, 1);
  EXPECT_EQ(b.state(), BreakerState::kOpen);

  Permit p = b.try_acquire();
  EXPECT_FALSE(p.allowed());
  EXPECT_EQ(p.retry_after(), seconds(60));
  clock.advance(seconds(20));
  p = b.try_acquire();
  EXPECT_FALSE(p.allowed());
  EXPECT_EQ(p.retry_after(), seconds(40));

  BreakerMetrics m = b.get_metrics();
  EXPECT_EQ(m.failed_calls, 9u);
  EXPECT_EQ(m.successful_calls, 1u);
  EXPECT_EQ(m.total_calls, 10u);
  EXPECT_EQ(m.rejected_calls, 2u);
  EXPECT_EQ(m.state_changes, 1u);
  EXPECT_EQ(m.retry_after, seconds(40));
  // The registry reports the same numbers /metrics renders.
  EXPECT_EQ(metrics.value("agentgate_circuit_breaker_calls_total",
                          {{"breaker", "up"}, {"outcome", "rejected"}}),
            2);
  EXPECT_EQ(metrics.value("agentgate_circuit_breaker_state", {{"breaker", "up"}}), 1);
}

TEST(CircuitBreakerTest, HalfOpenAfterTimeoutAdmitsBoundedProbesAndClosesAfterTwoSuccesses) {
  ManualClock clock;
  CircuitBreakerOptions o;
  o.half_open_max_probes = 2;
  CircuitBreaker b("up", o, clock);
  Fail(b, 5);
  clock.advance(seconds(59));
  EXPECT_FALSE(b.try_acquire().allowed());
  clock.advance(seconds(1));
  Permit p1 = b.try_acquire();
  Permit p2 = b.try_acquire();
  Permit p3 = b.try_acquire();
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  EXPECT_TRUE(p1.allowed() && p1.probe());
  EXPECT_TRUE(p2.allowed() && p2.probe());
  EXPECT_FALSE(p3.allowed());  // only two probes at once
  b.on_success(p1);
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  Permit p4 = b.try_acquire();  // p1's slot is free again
  EXPECT_TRUE(p4.allowed());
  b.on_success(p2);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  // p4 was admitted in HALF_OPEN: its late failure does not reopen CLOSED.
  b.on_failure(p4);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_EQ(b.get_metrics().state_changes, 3u);  // open, half-open, closed
}

TEST(CircuitBreakerTest, AnyFailureInHalfOpenReopens) {
  ManualClock clock;
  CircuitBreaker b("up", {}, clock);
  Fail(b, 5);
  clock.advance(seconds(60));
  Succeed(b, 1);
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  Fail(b, 1);
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  Permit p = b.try_acquire();
  EXPECT_FALSE(p.allowed());
  EXPECT_EQ(p.retry_after(), seconds(60));  // a fresh timeout
}

TEST(CircuitBreakerTest, IgnoredProbeFreesItsSlot) {
  ManualClock clock;
  CircuitBreaker b("up", {}, clock);
  Fail(b, 5);
  clock.advance(seconds(60));
  Permit p = b.try_acquire();
  ASSERT_TRUE(p.allowed());
  EXPECT_FALSE(b.try_acquire().allowed());
  b.on_ignored(p);
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  EXPECT_TRUE(b.try_acquire().allowed());
}

TEST(CircuitBreakerTest, FailureRateModeNeedsMinimumCalls) {
  ManualClock clock;
  CircuitBreakerOptions o;
  o.mode = CircuitBreakerOptions::Mode::kFailureRate;
  o.window_size = 10;
  o.minimum_calls = 6;
  o.failure_rate_threshold = 0.5;
  CircuitBreaker b("up", o, clock);
  Fail(b, 5);  // 100% but only 5 calls
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  Succeed(b, 5);  // 50% of 10, but the last outcome was a success
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_DOUBLE_EQ(b.get_metrics().failure_rate, 0.5);
  Succeed(b, 1);  // pushes one failure out: 4/10
  EXPECT_DOUBLE_EQ(b.get_metrics().failure_rate, 0.4);
  Succeed(b, 4);  // every failure has slid out
  EXPECT_DOUBLE_EQ(b.get_metrics().failure_rate, 0.0);
  Fail(b, 4);  // 4/10
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  Fail(b, 1);  // 5/10
  EXPECT_EQ(b.state(), BreakerState::kOpen);
}

TEST(CircuitBreakerTest, FailureRateWindowDropsOldCalls) {
  ManualClock clock;
  CircuitBreakerOptions o;
  o.mode = CircuitBreakerOptions::Mode::kFailureRate;
  o.window_size = 100;
  o.window_duration = seconds(10);
  o.minimum_calls = 4;
  o.failure_rate_threshold = 0.75;
  CircuitBreaker b("up", o, clock);
  Fail(b, 2);
  Succeed(b, 2);
  clock.advance(seconds(11));  // all four age out
  Fail(b, 3);
  EXPECT_EQ(b.state(), BreakerState::kClosed);  // only 3 calls in the window
  Fail(b, 1);
  EXPECT_EQ(b.state(), BreakerState::kOpen);
}

TEST(CircuitBreakerTest, ForceOpenForceClosedAndReset) {
  ManualClock clock;
  CircuitBreaker b("up", {}, clock);
  b.force_open();
  EXPECT_FALSE(b.try_acquire().allowed());
  clock.advance(seconds(600));
  EXPECT_FALSE(b.try_acquire().allowed());  // no probes when forced
  b.force_closed();
  Fail(b, 50);
  EXPECT_EQ(b.state(), BreakerState::kForcedClosed);
  b.reset();
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  Fail(b, 5);
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  b.reset();
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_EQ(b.get_metrics().consecutive_failures, 0);
  Fail(b, 4);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
}

TEST(CircuitBreakerTest, ThresholdsChangeAtRuntime) {
  ManualClock clock;
  CircuitBreaker b("up", {}, clock);
  Fail(b, 2);
  CircuitBreakerOptions o = b.options();
  o.failure_threshold = 3;
  o.timeout = seconds(5);
  b.set_options(o);
  Fail(b, 1);
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  clock.advance(seconds(5));
  EXPECT_TRUE(b.try_acquire().allowed());
}

TEST(CircuitBreakerTest, ValidateRejectsBadOptions) {
  CircuitBreakerOptions o;
  o.failure_threshold = 0;
  EXPECT_NE(ValidateBreakerOptions(o), "");
  o = {};
  o.failure_rate_threshold = 1.5;
  EXPECT_NE(ValidateBreakerOptions(o), "");
  o = {};
  o.timeout = Nanos(0);
  EXPECT_NE(ValidateBreakerOptions(o), "");
}

TEST(CircuitBreakerTest, ConcurrentCallersNeverExceedTheHalfOpenProbes) {
  ManualClock clock;
  CircuitBreakerOptions o;
  o.half_open_max_probes = 3;
  CircuitBreaker b("up", o, clock);
  Fail(b, 5);
  clock.advance(seconds(60));
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<Permit>> held(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        Permit p = b.try_acquire();
        if (p.allowed()) {
          admitted.fetch_add(1);
          held[t].push_back(p);  // probes stay in flight
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 3);
  EXPECT_EQ(b.get_metrics().rejected_calls, 8u * 1000 - 3);
}

TEST(CircuitBreakerTest, ConcurrentFailuresOpenItOnce) {
  ManualClock clock;
  CircuitBreaker b("up", {}, clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        Permit p = b.try_acquire();
        if (p.allowed()) b.on_failure(p);
      }
    });
  }
  for (auto& th : threads) th.join();
  BreakerMetrics m = b.get_metrics();
  EXPECT_EQ(m.state, BreakerState::kOpen);
  EXPECT_EQ(m.state_changes, 1u);
  EXPECT_EQ(m.failed_calls + m.rejected_calls, 4000u);
}

TEST(BreakerRegistryTest, OneBreakerPerName) {
  ManualClock clock;
  MetricsRegistry metrics;
  BreakerRegistry r({}, clock, &metrics);
  CircuitBreaker& a = r.get("a");
  EXPECT_EQ(&a, &r.get("a"));
  EXPECT_EQ(r.find("b"), nullptr);
  r.get("b");
  std::vector<CircuitBreaker*> all = r.all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->name(), "a");
  Fail(a, 5);
  EXPECT_EQ(r.find("a")->state(), BreakerState::kOpen);
  EXPECT_EQ(r.find("b")->state(), BreakerState::kClosed);
}

}  // namespace
}  // namespace agentgate
