#include "gateway/stages/experiment_stage.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "gateway/pipeline.h"

namespace agentgate {
namespace {

// Answers `status` after `latency` of manual time; remembers the model it saw.
class UpstreamFake final : public Stage {
 public:
  explicit UpstreamFake(ManualClock& clock) : clock_(clock) {}
  std::string_view name() const override { return "upstream"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next) override {
    clock_.advance(latency);
    seen_model = ctx.info.model;
    seen_body = ctx.request.body;
    ctx.response.status = status;
    co_return;
  }
  ManualClock& clock_;
  std::chrono::milliseconds latency{250};
  int status = 200;
  std::string seen_model;
  std::string seen_body;
};

struct Exchange {
  HttpRequest req;
  HttpResponse res;
};

void Send(const Pipeline& p, Exchange& r, const std::string& user, std::string body) {
  r.req.body = std::move(body);
  boost::asio::io_context io;
  RequestContext ctx(r.req, r.res, ProxyEndpoint::kChatCompletions);
  auto info = ParseProxyRequest(ProxyEndpoint::kChatCompletions, r.req.body);
  ASSERT_TRUE(info.ok());
  ctx.info = *info;
  ctx.principal.user_id = user;
  boost::asio::co_spawn(io, p.run(ctx), boost::asio::detached);
  io.run();
}

std::string HeaderOf(const HttpResponse& res, std::string_view name) {
  for (const auto& [k, v] : res.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(ExperimentStage, RewritesModelAndRecordsSuccessWithLatency) {
  ManualClock clock;
  MetricsRegistry metrics;
  ExperimentManager manager(nullptr);
  ExperimentSpec spec;
  spec.name = "checkout";
  spec.variants = {"gpt-4o", "gpt-4o-mini"};
  spec.target_model = "ab";
  ASSERT_TRUE(manager.create(spec).ok());
  auto upstream = std::make_shared<UpstreamFake>(clock);
  auto stage = std::make_shared<ExperimentStage>(manager, clock, metrics);
  Pipeline p({stage, upstream});
  // "Zoë" hashes to 0.4951 under seed "checkout": the first variant.
  Exchange ok;
  Send(p, ok, "Zo\xC3\xAB", R"({"model":"ab","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(upstream->seen_model, "gpt-4o");
  EXPECT_NE(upstream->seen_body.find(R"("model":"gpt-4o")"), std::string::npos);
  EXPECT_EQ(HeaderOf(ok.res, "X-Experiment"), "checkout");
  EXPECT_EQ(HeaderOf(ok.res, "X-Variant"), "gpt-4o");
  upstream->status = 503;
  upstream->latency = std::chrono::milliseconds(1000);
  Exchange failed;
  Send(p, failed, "Zo\xC3\xAB", R"({"model":"ab","messages":[{"role":"user","content":"hi"}]})");
  auto r = manager.results("checkout");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->variants[0].impressions, 2u);
  EXPECT_EQ(r->variants[0].outcomes, 2u);
  EXPECT_EQ(r->variants[0].conversions, 1u);
  EXPECT_DOUBLE_EQ(r->variants[0].value_mean, 625.0);  // (250 + 1000) / 2 ms
  EXPECT_EQ(r->variants[1].impressions, 0u);
  // Other models pass untouched and unassigned.
  Exchange other;
  Send(p, other, "u", R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(HeaderOf(other.res, "X-Experiment"), "");
  EXPECT_EQ(manager.results("checkout")->variants[0].impressions, 2u);
  // No user (a replay): unassigned.
  Exchange replay;
  Send(p, replay, "", R"({"model":"ab","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(upstream->seen_model, "ab");
  EXPECT_EQ(HeaderOf(replay.res, "X-Experiment"), "");
  // Stopped: requests pass through with their own model.
  ASSERT_TRUE(manager.stop("checkout").ok());
  Exchange stopped;
  Send(p, stopped, "Zo\xC3\xAB", R"({"model":"ab","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(upstream->seen_model, "ab");
  EXPECT_EQ(HeaderOf(stopped.res, "X-Experiment"), "");
  EXPECT_EQ(stage->name(), "experiment");
  EXPECT_NE(metrics.render_prometheus().find("agentgate_experiment_outcomes_total 2"),
            std::string::npos)
      << metrics.render_prometheus();
}

TEST(SetSystemPrompt, ReplacesALeadingSystemMessage) {
  std::string body =
      R"({"model":"m","messages":[{"role":"system","content":"old"},{"role":"user","content":"hi"}]})";
  ASSERT_TRUE(SetSystemPrompt(body, "Be \"terse\".").ok());
  Json j = Json::parse(body);
  ASSERT_EQ(j["messages"].size(), 2u);
  EXPECT_EQ(j["messages"][0]["content"], "Be \"terse\".");
  EXPECT_EQ(j["messages"][1]["content"], "hi");
  EXPECT_EQ(j["model"], "m");
}

TEST(SetSystemPrompt, InsertsOneWhenAbsent) {
  std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.2})";
  ASSERT_TRUE(SetSystemPrompt(body, "P").ok());
  Json j = Json::parse(body);
  ASSERT_EQ(j["messages"].size(), 2u);
  EXPECT_EQ(j["messages"][0]["role"], "system");
  EXPECT_EQ(j["messages"][0]["content"], "P");
  EXPECT_EQ(j["temperature"], 0.2);
}

TEST(SetSystemPrompt, RejectsBodiesWithoutMessages) {
  std::string body = R"({"model":"m","prompt":"x"})";
  const std::string before = body;
  EXPECT_EQ(SetSystemPrompt(body, "P").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(body, before);
  std::string bad = "not json";
  EXPECT_FALSE(SetSystemPrompt(bad, "P").ok());
}

}  // namespace
}  // namespace agentgate
