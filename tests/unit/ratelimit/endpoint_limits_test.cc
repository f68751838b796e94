// Per-endpoint custom limits: RateLimitPolicy resolution and persistence, and
// the RateLimitStage counting such requests under their own key.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>

#include "agentgate/ratelimit/rate_limit_policy.h"
#include "agentgate/ratelimit/rate_limiter.h"
#include "gateway/pipeline.h"
#include "gateway/stages/rate_limit_stage.h"
#include "store/sqlite_db.h"

namespace agentgate {
namespace {

constexpr std::string_view kChat = "/v1/chat/completions";

std::map<std::string, TierLimits> Tiers() {
  std::map<std::string, TierLimits> t;
  t["free"].requests = {0, 60, 1000, 10000};
  t["pro"].requests = {0, 300, 15000, 150000};
  return t;
}

TEST(EndpointLimitsTest, AnEndpointLimitReplacesOneWindowForThatEndpointOnly) {
  RateLimitPolicy policy(Tiers(), "free");
  EXPECT_FALSE(policy.has_endpoint_limits("a", kChat));
  ASSERT_TRUE(policy.set_custom_limit("a", RateWindow::kMinute, 5, kChat).ok());
  ASSERT_TRUE(policy.set_custom_limit("a", RateWindow::kHour, 7).ok());  // every endpoint
  EXPECT_TRUE(policy.has_endpoint_limits("a", kChat));
  EXPECT_FALSE(policy.has_endpoint_limits("a", "/v1/embeddings"));
  EXPECT_FALSE(policy.has_endpoint_limits("b", kChat));
  ResolvedLimits general = policy.resolve("a", "");
  EXPECT_EQ(general.requests, (std::array<int64_t, 4>{0, 60, 7, 10000}));
  ResolvedLimits chat = policy.resolve(EndpointLimitKey("a", kChat), "");
  EXPECT_EQ(chat.tier, "free");
  EXPECT_EQ(chat.requests, (std::array<int64_t, 4>{0, 5, 7, 10000}));
  // The user's tier applies to the endpoint key too.
  ASSERT_TRUE(policy.set_user_tier("a", "pro").ok());
  chat = policy.resolve(EndpointLimitKey("a", kChat), "");
  EXPECT_EQ(chat.tier, "pro");
  EXPECT_EQ(chat.requests, (std::array<int64_t, 4>{0, 5, 7, 150000}));
  ASSERT_EQ(policy.override_of("a")->endpoints.size(), 1u);
  EXPECT_EQ(policy.override_of("a")->endpoints.at(std::string(kChat))[1], 5);

  ASSERT_TRUE(policy.clear_custom_limits("a").ok());
  EXPECT_FALSE(policy.has_endpoint_limits("a", kChat));
  EXPECT_EQ(policy.resolve(EndpointLimitKey("a", kChat), "").requests[1], 300);
}

TEST(EndpointLimitsTest, UnknownEndpointOrBadUserIsRejectedAndChangesNothing) {
  RateLimitPolicy policy(Tiers(), "free");
  ASSERT_TRUE(policy.set_custom_limit("a", RateWindow::kMinute, 5, kChat).ok());
  EXPECT_EQ(policy.set_custom_limit("a", RateWindow::kMinute, 9, "/v1/models").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.set_custom_limit("a", RateWindow::kMinute, 9, "v1/chat/completions").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.set_custom_limit("a", RateWindow::kMinute, -1, kChat).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.set_custom_limit(std::string("a\x1f") + "x", RateWindow::kMinute, 1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.override_of("a")->endpoints.size(), 1u);
  EXPECT_EQ(policy.resolve(EndpointLimitKey("a", kChat), "").requests[1], 5);
}

TEST(EndpointLimitsTest, EndpointLimitsSurviveARestart) {
  auto dir = std::filesystem::temp_directory_path() /
             ("agentgate_ep_" + std::to_string(::getpid()) + "_" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  {
    auto db = SqliteDb::open({.data_dir = dir.string()});
    ASSERT_TRUE(db.ok());
    auto policy = RateLimitPolicy::Open(**db, Tiers(), "free");
    ASSERT_TRUE(policy.ok());
    ASSERT_TRUE((*policy)->set_custom_limit("a", RateWindow::kDay, 3, kChat).ok());
    ASSERT_TRUE((*policy)->set_custom_limit("a", RateWindow::kMinute, 4, "/v1/embeddings").ok());
    ASSERT_TRUE((*policy)->set_custom_limit("b", RateWindow::kDay, 8, kChat).ok());
    ASSERT_TRUE((*policy)->clear_custom_limits("b").ok());
  }
  {
    auto db = SqliteDb::open({.data_dir = dir.string()});
    ASSERT_TRUE(db.ok());
    auto policy = RateLimitPolicy::Open(**db, Tiers(), "free");
    ASSERT_TRUE(policy.ok());
    EXPECT_TRUE((*policy)->has_endpoint_limits("a", kChat));
    EXPECT_EQ((*policy)->resolve(EndpointLimitKey("a", kChat), "").requests[3], 3);
    EXPECT_EQ((*policy)->resolve(EndpointLimitKey("a", "/v1/embeddings"), "").requests[1], 4);
    EXPECT_EQ((*policy)->resolve("a", "").requests[3], 10000);
    EXPECT_FALSE((*policy)->has_endpoint_limits("b", kChat));
    EXPECT_FALSE((*policy)->override_of("b").has_value());
  }
  std::filesystem::remove_all(dir);
}

class OkStage final : public Stage {
 public:
  std::string_view name() const override { return "ok"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next) override {
    ctx.response.status = 200;
    co_return;
  }
};

int StatusOf(const Pipeline& p, ProxyEndpoint e, const std::string& user) {
  boost::asio::io_context io;
  HttpRequest req;
  HttpResponse res;
  RequestContext ctx(req, res, e);
  ctx.principal.user_id = user;
  boost::asio::co_spawn(io, p.run(ctx), boost::asio::detached);
  io.run();
  return res.status;
}

TEST(EndpointLimitsTest, TheStageCountsAnEndpointWithItsOwnLimitApartFromTheRest) {
  ManualClock clock;
  RateLimitPolicy policy(Tiers(), "free");
  auto limiter = NewMemoryRateLimiter(policy, clock);
  MetricsRegistry metrics;
  Pipeline p({std::make_shared<RateLimitStage>(
                  *limiter, nullptr, nullptr, metrics,
                  RateLimitStageOptions{.endpoint_policy = &policy}),
              std::make_shared<OkStage>()});
  ASSERT_TRUE(policy.set_custom_limit("u", RateWindow::kMinute, 2, kChat).ok());
  ASSERT_TRUE(policy.set_custom_limit("u", RateWindow::kMinute, 3).ok());
  EXPECT_EQ(StatusOf(p, ProxyEndpoint::kChatCompletions, "u"), 200);
  EXPECT_EQ(StatusOf(p, ProxyEndpoint::kChatCompletions, "u"), 200);
  EXPECT_EQ(StatusOf(p, ProxyEndpoint::kChatCompletions, "u"), 429);  // chat: 2 a minute
  for (int i = 0; i < 3; ++i) EXPECT_EQ(StatusOf(p, ProxyEndpoint::kEmbeddings, "u"), 200) << i;
  EXPECT_EQ(StatusOf(p, ProxyEndpoint::kEmbeddings, "u"), 429);  // the rest: 3 a minute
  EXPECT_EQ(StatusOf(p, ProxyEndpoint::kChatCompletions, "v"), 200);  // another user
  clock.advance(std::chrono::seconds(61));
  EXPECT_EQ(StatusOf(p, ProxyEndpoint::kChatCompletions, "u"), 200);
}

}  // namespace
}  // namespace agentgate
