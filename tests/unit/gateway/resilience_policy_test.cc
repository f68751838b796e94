#include "gateway/resilience_policy.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <deque>
#include <functional>

#include "support/await.h"

namespace agentgate {
namespace {

using std::chrono::seconds;

// Answer: what one fake upstream call does.
struct Answer {
  int status = 200;        // HTTP status when `failure` is OK
  Status failure;          // non-OK: no answer at all
  std::string retry_after; // Retry-After header when not empty
  bool stream_begun = false;
};

class ResiliencePolicyTest : public ::testing::Test {
 protected:
  ResiliencePolicyTest() : sleeper_(clock_) {}

  void MakePolicy(RetryPolicy retry, RetryBudgetOptions budget = {}, bool with_breakers = true) {
    breakers_ = std::make_unique<BreakerRegistry>(CircuitBreakerOptions{}, clock_, &metrics_);
    policy_ = std::make_unique<ResiliencePolicy>(
        std::vector<std::string>{"a", "b"}, with_breakers ? breakers_.get() : nullptr, retry,
        budget, clock_, sleeper_, metrics_);
  }

  static RetryPolicy NoJitter(int attempts = 3) {
    RetryPolicy p;
    p.max_attempts = attempts;
    p.jitter = JitterMode::kNone;
    return p;
  }

  // Run: one request over `plan` targets; answers popped from `answers_`.
  std::optional<size_t> Run(std::vector<size_t> upstreams, HttpResponse* out = nullptr) {
    std::vector<RouteTarget> plan;
    for (size_t u : upstreams) plan.push_back({.upstream = u, .model = "m"});
    HttpRequest req;
    HttpResponse res;
    RequestContext ctx(req, res, ProxyEndpoint::kChatCompletions);
    ctx.info.model = "m";
    std::optional<size_t> result;
    UpstreamPolicy::Attempt attempt = [&](const RouteTarget& t) -> boost::asio::awaitable<Status> {
      calls_.push_back(t.upstream);
      Answer a = answers_.empty() ? Answer{} : answers_.front();
      if (!answers_.empty()) answers_.pop_front();
      if (a.stream_begun) ctx.streamed = true;
      if (!a.failure.ok()) co_return a.failure;
      res.status = a.status;
      if (!a.retry_after.empty()) res.set_header("Retry-After", a.retry_after);
      res.body = a.status < 400 ? "{}" : R"({"error":{"message":"x"}})";
      co_return Status::Ok();
    };
    boost::asio::io_context io;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> { result = co_await policy_->run(ctx, plan, attempt); },
        boost::asio::detached);
    io.run();
    if (out != nullptr) *out = res;
    return result;
  }

  std::string Header(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (EqualsIgnoreCase(k, name)) return v;
    }
    return "";
  }

  ManualClock clock_;
  ManualSleeper sleeper_;
  MetricsRegistry metrics_;
  std::unique_ptr<BreakerRegistry> breakers_;
  std::unique_ptr<ResiliencePolicy> policy_;
  std::deque<Answer> answers_;
  std::vector<size_t> calls_;
};

TEST_F(ResiliencePolicyTest, RetryAfterOf429IsWaitedOutBeforeTheRetry) {
  MakePolicy(NoJitter());
  answers_ = {{.status = 429, .retry_after = "2"}, {.status = 200}};
  Nanos start = clock_.monotonic();
  EXPECT_EQ(Run({0}), 0u);
  EXPECT_EQ(calls_.size(), 2u);
  ASSERT_EQ(sleeper_.delays().size(), 1u);
  EXPECT_EQ(sleeper_.delays()[0], seconds(2));  // backoff 1 s, Retry-After 2 s wins
  EXPECT_GE(clock_.monotonic() - start, seconds(2));
  EXPECT_EQ(metrics_.value("agentgate_upstream_retries_total", {{"upstream", "a"}}), 1);
}

TEST_F(ResiliencePolicyTest, TransientRetriesAtOnceThenBacksOff) {
  MakePolicy(NoJitter(3));
  answers_ = {{.failure = Unavailable("refused")},
              {.failure = Unavailable("refused")},
              {.failure = Unavailable("refused")}};
  HttpResponse res;
  EXPECT_EQ(Run({0}, &res), std::nullopt);
  EXPECT_EQ(res.status, 502);
  EXPECT_EQ(calls_.size(), 3u);
  ASSERT_EQ(sleeper_.delays().size(), 2u);
  EXPECT_EQ(sleeper_.delays()[0], Nanos(0));
  EXPECT_EQ(sleeper_.delays()[1], seconds(1));
}

TEST_F(ResiliencePolicyTest, FiveFailuresOpenTheBreakerThen503WithoutCalls) {
  MakePolicy(NoJitter(1));
  for (int i = 0; i < 5; ++i) {
    answers_ = {{.status = 500}};
    HttpResponse res;
    EXPECT_EQ(Run({0}, &res), 0u);
    EXPECT_EQ(res.status, 500);
  }
  EXPECT_EQ(breakers_->get("a").state(), BreakerState::kOpen);
  calls_.clear();
  clock_.advance(seconds(15));
  HttpResponse res;
  EXPECT_EQ(Run({0}, &res), std::nullopt);
  EXPECT_TRUE(calls_.empty());
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(Header(res, "retry-after"), "45");
  EXPECT_EQ(metrics_.value("agentgate_upstream_breaker_rejections_total", {{"upstream", "a"}}), 1);

  // After the timeout one probe goes; two successes close it.
  clock_.advance(seconds(45));
  answers_ = {{.status = 200}};
  EXPECT_EQ(Run({0}), 0u);
  EXPECT_EQ(breakers_->get("a").state(), BreakerState::kHalfOpen);
  answers_ = {{.status = 200}};
  EXPECT_EQ(Run({0}), 0u);
  EXPECT_EQ(breakers_->get("a").state(), BreakerState::kClosed);
}

TEST_F(ResiliencePolicyTest, OpenBreakerFallsBackToTheNextTarget) {
  MakePolicy(NoJitter(1));
  breakers_->get("a").force_open();
  answers_ = {{.status = 200}};
  EXPECT_EQ(Run({0, 1}), 1u);
  EXPECT_EQ(calls_, std::vector<size_t>{1});
}

TEST_F(ResiliencePolicyTest, ExhaustedRetriesFallBackToTheNextTarget) {
  MakePolicy(NoJitter(2));
  answers_ = {{.status = 503}, {.status = 503}, {.status = 200}};
  EXPECT_EQ(Run({0, 1}), 1u);
  EXPECT_EQ(calls_, (std::vector<size_t>{0, 0, 1}));
}

TEST_F(ResiliencePolicyTest, CriticalIsNotRetriedAndRaisesTheAlert) {
  MakePolicy(NoJitter(3));
  answers_ = {{.status = 401}, {.status = 200}};
  HttpResponse res;
  EXPECT_EQ(Run({0, 1}, &res), 0u);
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(calls_.size(), 1u);
  EXPECT_EQ(metrics_.value("agentgate_upstream_alerts_total", {{"upstream", "a"}}), 1);
  EXPECT_EQ(breakers_->get("a").get_metrics().failed_calls, 0u);
}

TEST_F(ResiliencePolicyTest, PermanentIsAnsweredAsIs) {
  MakePolicy(NoJitter(3));
  answers_ = {{.status = 400}};
  HttpResponse res;
  EXPECT_EQ(Run({0, 1}, &res), 0u);
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(calls_.size(), 1u);
}

TEST_F(ResiliencePolicyTest, StreamThatBeganIsNeverRetried) {
  MakePolicy(NoJitter(3));
  answers_ = {{.failure = BadGateway("cut"), .stream_begun = true}};
  EXPECT_EQ(Run({0, 1}), 0u);
  EXPECT_EQ(calls_.size(), 1u);
}

TEST_F(ResiliencePolicyTest, FinalFailuresGoToTheDeadLetterQueue) {
  auto db = SqliteDb::open_memory();
  ASSERT_TRUE(db.ok());
  auto dlq = OpenSqliteDeadLetterQueue(**db, clock_, &metrics_);
  ASSERT_TRUE(dlq.ok());
  breakers_ = std::make_unique<BreakerRegistry>(CircuitBreakerOptions{}, clock_, &metrics_);
  policy_ = std::make_unique<ResiliencePolicy>(std::vector<std::string>{"a", "b"},
                                               breakers_.get(), NoJitter(2), RetryBudgetOptions{},
                                               clock_, sleeper_, metrics_, dlq->get());
  answers_ = {{.status = 500}, {.status = 500}};
  Run({0});  // retries exhausted
  answers_ = {{.status = 400}};
  Run({0});  // the request is wrong: not a dead letter
  answers_ = {{.status = 403}};
  Run({0});  // credentials refused
  breakers_->get("a").force_open();
  Run({0});  // breaker open
  auto letters = testing::Await((*dlq)->list({}));
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->size(), 3u);
  EXPECT_EQ((*letters)[2].error_class, "RECOVERABLE");
  EXPECT_EQ((*letters)[2].attempts, 2);
  EXPECT_EQ((*letters)[2].status, 500);
  EXPECT_EQ((*letters)[2].upstream, "a");
  EXPECT_EQ((*letters)[1].error_class, "CRITICAL");
  EXPECT_EQ((*letters)[0].error_class, "BREAKER_OPEN");
  EXPECT_EQ((*letters)[0].status, 503);
}

TEST_F(ResiliencePolicyTest, BudgetBoundsRetriesOfABurst) {
  RetryPolicy p = NoJitter(3);
  p.base_delay = Nanos(0);  // the burst stays inside one budget window
  MakePolicy(p, {.ratio = 0.2, .min_retries = 2, .window = seconds(10)}, false);
  for (int i = 0; i < 50; ++i) {
    answers_ = {{.status = 500}, {.status = 500}, {.status = 500}};
    Run({0});
  }
  // 50 requests: at most 20% (10) retries, not 100.
  EXPECT_EQ(calls_.size(), 60u);
  EXPECT_GT(metrics_.value("agentgate_upstream_retry_budget_exhausted_total", {{"upstream", "a"}}),
            0);
}

}  // namespace
}  // namespace agentgate
