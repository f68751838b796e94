#include "gateway/stages/rate_limit_stage.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "gateway/pipeline.h"

namespace agentgate {
namespace {

using std::chrono::seconds;

// Answers 200 with usage `tokens` and counts its calls.
class AnswerStage final : public Stage {
 public:
  std::string_view name() const override { return "answer"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next) override {
    ++calls;
    ctx.response.status = 200;
    ctx.usage = {.prompt_tokens = 0, .completion_tokens = tokens, .total_tokens = tokens, .known = true};
    co_return;
  }
  int calls = 0;
  int64_t tokens = 10;
};

// A limiter whose store is away.
class BrokenLimiter final : public RateLimiter {
 public:
  Result<RateDecision> acquire(std::string_view, std::string_view, int64_t) override {
    return Unavailable("store away");
  }
  Result<RateDecision> check_limit(std::string_view, std::string_view, int64_t) override {
    return Unavailable("store away");
  }
  Status record_request(std::string_view, int64_t, std::string_view) override {
    return Unavailable("store away");
  }
  Status reset(std::string_view) override { return Unavailable("store away"); }
  size_t users() const override { return 0; }
  double bytes_per_user() const override { return 0; }
};

struct Exchange {
  HttpRequest req;
  HttpResponse res;
};

void RunPipeline(const Pipeline& p, Exchange& r, const std::string& user) {
  boost::asio::io_context io;
  RequestContext ctx(r.req, r.res, ProxyEndpoint::kChatCompletions);
  ctx.principal.user_id = user;
  boost::asio::co_spawn(io, p.run(ctx), boost::asio::detached);
  io.run();
}

std::string Header(const HttpResponse& res, std::string_view name) {
  for (const auto& [k, v] : res.headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

std::map<std::string, TierLimits> Tiers() {
  std::map<std::string, TierLimits> t;
  t["free"].requests = {2, 60, 1000, 10000};
  t["free"].tokens_per_minute = 15;
  return t;
}

TEST(RateLimitStageTest, ThirdRequestIn429WithHeadersAndAllowedOnesCarryThem) {
  ManualClock clock;
  RateLimitPolicy policy(Tiers(), "free");
  auto limiter = NewMemoryRateLimiter(policy, clock);
  MetricsRegistry metrics;
  RateLimitAnalytics analytics(clock);
  auto answer = std::make_shared<AnswerStage>();
  answer->tokens = 0;
  Pipeline p({std::make_shared<RateLimitStage>(*limiter, nullptr, &analytics, metrics,
                                               RateLimitStageOptions{}),
              answer});
  Exchange a, b, c;
  RunPipeline(p, a, "u");
  RunPipeline(p, b, "u");
  RunPipeline(p, c, "u");
  EXPECT_EQ(a.res.status, 200);
  EXPECT_EQ(Header(a.res, "X-RateLimit-Limit"), "2");
  EXPECT_EQ(Header(a.res, "X-RateLimit-Remaining"), "1");
  // The request leaves the window 1 s + 1/256 bucket later (rounded up).
  EXPECT_EQ(Header(a.res, "X-RateLimit-Reset"), "2");
  EXPECT_EQ(Header(a.res, "RateLimit"), "\"second\";r=1;t=2");
  EXPECT_EQ(Header(a.res, "RateLimit-Policy"),
            "\"second\";q=2;w=1, \"minute\";q=60;w=60, \"hour\";q=1000;w=3600, \"day\";q=10000;w=86400");
  EXPECT_EQ(b.res.status, 200);
  EXPECT_EQ(c.res.status, 429);
  EXPECT_NE(c.res.body.find("\"code\":\"rate_limit_exceeded\""), std::string::npos) << c.res.body;
  EXPECT_EQ(Header(c.res, "Retry-After"), "2");
  EXPECT_EQ(Header(c.res, "X-RateLimit-Remaining"), "0");
  EXPECT_EQ(answer->calls, 2);
  EXPECT_EQ(metrics.value("agentgate_ratelimit_requests_total", {{"outcome", "denied"}}), 1);
  EXPECT_EQ(metrics.value("agentgate_ratelimit_requests_total", {{"outcome", "allowed"}}), 2);
  EXPECT_EQ(analytics.stats("u")->denied, 1);
  EXPECT_EQ(analytics.stats("u")->allowed, 2);
}

TEST(RateLimitStageTest, TokenBudgetIsChargedAfterTheCallAndCheckedBeforeTheNext) {
  ManualClock clock;
  RateLimitPolicy policy(Tiers(), "free");
  TokenBudget tokens({{"free", {.per_minute = 15}}}, "free", clock);
  auto limiter = NewMemoryRateLimiter(policy, clock);
  MetricsRegistry metrics;
  auto answer = std::make_shared<AnswerStage>();  // 10 tokens per call
  Pipeline p({std::make_shared<RateLimitStage>(*limiter, &tokens, nullptr, metrics,
                                               RateLimitStageOptions{}),
              answer});
  Exchange a, b, c;
  RunPipeline(p, a, "u");
  clock.advance(seconds(1));
  RunPipeline(p, b, "u");  // 10 < 15: passes, then 20 charged
  clock.advance(seconds(1));
  RunPipeline(p, c, "u");  // 20 >= 15: denied
  EXPECT_EQ(a.res.status, 200);
  EXPECT_EQ(b.res.status, 200);
  EXPECT_EQ(c.res.status, 429);
  EXPECT_NE(c.res.body.find("\"code\":\"tokens_exceeded\""), std::string::npos) << c.res.body;
  int64_t retry = std::stoll(Header(c.res, "Retry-After"));
  EXPECT_GE(retry, 55);
  EXPECT_LE(retry, 61);
  EXPECT_EQ(answer->calls, 2);
}

TEST(RateLimitStageTest, StoreErrorsFailOpenByDefaultAndClosedWhenConfigured) {
  BrokenLimiter broken;
  MetricsRegistry metrics;
  auto answer = std::make_shared<AnswerStage>();
  Pipeline open({std::make_shared<RateLimitStage>(broken, nullptr, nullptr, metrics,
                                                  RateLimitStageOptions{}),
                 answer});
  Exchange a;
  RunPipeline(open, a, "u");
  EXPECT_EQ(a.res.status, 200);
  EXPECT_EQ(metrics.value("agentgate_ratelimit_fail_open_total"), 1);
  EXPECT_EQ(metrics.value("agentgate_ratelimit_store_errors_total"), 1);
  Pipeline closed({std::make_shared<RateLimitStage>(broken, nullptr, nullptr, metrics,
                                                    RateLimitStageOptions{.fail_open = false}),
                   answer});
  Exchange b;
  RunPipeline(closed, b, "u");
  EXPECT_EQ(b.res.status, 503);
  EXPECT_EQ(answer->calls, 1);
  EXPECT_EQ(metrics.value("agentgate_ratelimit_store_errors_total"), 2);
}


// Request limits failing open still leave the token budget working: checked
// before, charged after (with the principal's tier), never a crash.
TEST(RateLimitStageTest, TokenBudgetStillWorksWhenRequestLimitsFailOpen) {
  ManualClock clock;
  BrokenLimiter broken;
  TokenBudget tokens({{"free", {.per_minute = 15}}}, "free", clock);
  MetricsRegistry metrics;
  auto answer = std::make_shared<AnswerStage>();  // 10 tokens per call
  Pipeline p({std::make_shared<RateLimitStage>(broken, &tokens, nullptr, metrics,
                                               RateLimitStageOptions{}),
              answer});
  Exchange a, b, c;
  RunPipeline(p, a, "u");
  RunPipeline(p, b, "u");  // 10 < 15: passes, then 20 charged
  RunPipeline(p, c, "u");  // 20 >= 15: denied by the budget
  EXPECT_EQ(a.res.status, 200) << a.res.body;
  EXPECT_EQ(b.res.status, 200) << b.res.body;
  EXPECT_EQ(c.res.status, 429) << c.res.body;
  EXPECT_NE(c.res.body.find("\"code\":\"tokens_exceeded\""), std::string::npos) << c.res.body;
  EXPECT_EQ(metrics.value("agentgate_ratelimit_fail_open_total"), 3);
}

}  // namespace
}  // namespace agentgate
