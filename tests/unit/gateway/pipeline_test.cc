#include "gateway/pipeline.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace agentgate {
namespace {

using std::chrono::milliseconds;

// Passes the request on through a helper coroutine that gets a copy of
// `next`, spending 1 ms before and 2 ms after the rest of the pipeline.
class OuterStage final : public Stage {
 public:
  explicit OuterStage(ManualClock& clock) : clock_(clock) {}
  std::string_view name() const override { return "outer"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override {
    clock_.advance(milliseconds(1));
    co_await PassOn(ctx, next);
    clock_.advance(milliseconds(2));
  }

 private:
  static boost::asio::awaitable<void> PassOn(RequestContext& ctx, Next next) { co_await next(ctx); }
  ManualClock& clock_;
};

// Answers `status` after 5 ms.
class AnswerStage final : public Stage {
 public:
  explicit AnswerStage(ManualClock& clock) : clock_(clock) {}
  std::string_view name() const override { return "answer"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next) override {
    clock_.advance(milliseconds(5));
    ctx.response.status = status;
    co_return;
  }
  int status = 200;

 private:
  ManualClock& clock_;
};

struct Fixture {
  Fixture() : profiler(clock) {
    answer = std::make_shared<AnswerStage>(clock);
    pipeline = std::make_unique<Pipeline>(
        std::vector<std::shared_ptr<Stage>>{std::make_shared<OuterStage>(clock), answer},
        &profiler);
  }
  void run() {
    HttpRequest req;
    HttpResponse res;
    boost::asio::io_context io;
    RequestContext ctx(req, res, ProxyEndpoint::kChatCompletions);
    boost::asio::co_spawn(io, pipeline->run(ctx), boost::asio::detached);
    io.run();
  }
  FunctionMetrics site(std::string_view name) { return profiler.site(name).metrics(); }

  ManualClock clock;
  Profiler profiler;
  std::shared_ptr<AnswerStage> answer;
  std::unique_ptr<Pipeline> pipeline;
};

TEST(PipelineTest, ProfilesEachStageInclusiveOfTheStagesAfterIt) {
  Fixture f;
  f.run();
  FunctionMetrics outer = f.site("stage.outer");
  FunctionMetrics answer = f.site("stage.answer");
  // The copy of `next` handed to the helper records nothing of its own.
  EXPECT_EQ(outer.calls, 1u);
  EXPECT_EQ(outer.total_time, milliseconds(8));
  EXPECT_EQ(answer.calls, 1u);
  EXPECT_EQ(answer.total_time, milliseconds(5));
  EXPECT_EQ(outer.errors, 0u);
  EXPECT_EQ(answer.errors, 0u);
}

TEST(PipelineTest, AnAnswerOf500OrMoreCountsAsAnErrorInEveryStageItPassedThrough) {
  Fixture f;
  f.answer->status = 502;
  f.run();
  f.answer->status = 499;
  f.run();
  EXPECT_EQ(f.site("stage.outer").calls, 2u);
  EXPECT_EQ(f.site("stage.outer").errors, 1u);
  EXPECT_EQ(f.site("stage.answer").errors, 1u);
}

TEST(PipelineTest, ADisabledProfilerRecordsNothing) {
  Fixture f;
  f.profiler.set_enabled(false);
  f.run();
  EXPECT_EQ(f.site("stage.outer").calls, 0u);
  EXPECT_EQ(f.site("stage.answer").calls, 0u);
  EXPECT_EQ(f.answer->status, 200);
}

}  // namespace
}  // namespace agentgate
