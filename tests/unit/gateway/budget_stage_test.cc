#include "gateway/stages/budget_stage.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "gateway/pipeline.h"

namespace agentgate {
namespace {

using std::chrono::hours;

// Answers 200 as upstream `upstream` with usage 1000 in / 500 out.
class AnswerStage final : public Stage {
 public:
  std::string_view name() const override { return "answer"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next) override {
    ++calls;
    ctx.response.status = 200;
    ctx.upstream = upstream;
    ctx.usage = {.prompt_tokens = 1000, .completion_tokens = 500, .total_tokens = 1500,
                 .known = true};
    co_return;
  }
  int calls = 0;
  std::string upstream = "mock";
};

struct Exchange {
  HttpRequest req;
  HttpResponse res;
};

void RunPipeline(const Pipeline& p, Exchange& r, const std::string& user,
                 const std::string& model = "gpt-4o-mini") {
  boost::asio::io_context io;
  RequestContext ctx(r.req, r.res, ProxyEndpoint::kChatCompletions);
  ctx.principal.user_id = user;
  ctx.info.model = model;
  boost::asio::co_spawn(io, p.run(ctx), boost::asio::detached);
  io.run();
}

std::string Header(const HttpResponse& res, std::string_view name) {
  for (const auto& [k, v] : res.headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

struct Fixture {
  Fixture() : clock(ManualClock::kDefaultStart + hours(20)) {
    std::map<std::string, TierLimits> tiers;
    tiers["free"].requests = {0, 0, 0, 0};
    tiers["pro"].requests = {0, 0, 0, 0};
    policy = std::make_unique<RateLimitPolicy>(tiers, "free");
    costs = std::make_unique<CostTracker>(
        PriceTable({{"gpt-4o-mini", {.input_per_million = 0.15, .output_per_million = 0.60}}}),
        std::map<std::string, Budget>{{"free", {.per_day = 1'000'000}}, {"pro", {}}}, clock);
    answer = std::make_shared<AnswerStage>();
    pipeline = std::make_unique<Pipeline>(std::vector<std::shared_ptr<Stage>>{
        std::make_shared<BudgetStage>(*costs, *policy, metrics), answer});
  }
  ManualClock clock;
  MetricsRegistry metrics;
  std::unique_ptr<RateLimitPolicy> policy;
  std::unique_ptr<CostTracker> costs;
  std::shared_ptr<AnswerStage> answer;
  std::unique_ptr<Pipeline> pipeline;
};

TEST(BudgetStageTest, ChargesAfterTheCallAndDeniesOverBudgetWith429UntilMidnight) {
  Fixture f;
  // 450000 nano-USD a call; the free day budget is 1000000: three calls pass.
  for (int i = 0; i < 3; ++i) {
    Exchange e;
    RunPipeline(*f.pipeline, e, "alice");
    EXPECT_EQ(e.res.status, 200) << i;
  }
  EXPECT_EQ(f.costs->check("alice", "free").today, 1'350'000);
  Exchange denied;
  RunPipeline(*f.pipeline, denied, "alice");
  EXPECT_EQ(denied.res.status, 429);
  EXPECT_NE(denied.res.body.find("\"code\":\"budget_exceeded\""), std::string::npos)
      << denied.res.body;
  EXPECT_NE(denied.res.body.find("\"type\":\"insufficient_quota\""), std::string::npos);
  EXPECT_EQ(Header(denied.res, "Retry-After"), std::to_string(4 * 3600));  // 20:00 -> midnight
  EXPECT_EQ(f.answer->calls, 3);
  EXPECT_EQ(f.metrics.value("agentgate_ratelimit_budget_denied_total"), 1);
  std::string text = f.metrics.render_prometheus();
  EXPECT_NE(text.find("agentgate_cost_usd_total{model=\"gpt-4o-mini\"} 0.00135"), std::string::npos)
      << text;
  // A user assigned to a tier without a budget is not denied.
  ASSERT_TRUE(f.policy->set_user_tier("alice", "pro").ok());
  Exchange pro;
  RunPipeline(*f.pipeline, pro, "alice");
  EXPECT_EQ(pro.res.status, 200);
  ASSERT_TRUE(f.policy->set_user_tier("alice", "free").ok());
  f.clock.advance(hours(4));
  Exchange next_day;
  RunPipeline(*f.pipeline, next_day, "alice");
  EXPECT_EQ(next_day.res.status, 200);
}

TEST(BudgetStageTest, AnswersWithoutAnUpstreamAndUnpricedModelsCostNothing) {
  Fixture f;
  f.answer->upstream = "";  // a cache hit
  Exchange hit;
  RunPipeline(*f.pipeline, hit, "bob");
  EXPECT_EQ(f.costs->check("bob", "free").requests_today, 0);
  f.answer->upstream = "mock";
  Exchange local;
  RunPipeline(*f.pipeline, local, "bob", "llama-local");
  EXPECT_EQ(f.costs->check("bob", "free").requests_today, 1);
  EXPECT_EQ(f.costs->check("bob", "free").today, 0);
  EXPECT_NE(f.metrics.render_prometheus().find("agentgate_cost_unpriced_requests_total 1"),
            std::string::npos);
}

}  // namespace
}  // namespace agentgate
