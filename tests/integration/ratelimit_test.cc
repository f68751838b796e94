// Rate limits through the real agentgate binary in front of agentgate-mock.
// The binary runs on the real clock, so nothing here depends on timing: the
// limits that bind are per day (custom limits set through the admin API).
#include <gtest/gtest.h>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"

namespace agentgate::test {
namespace {

constexpr const char* kAdminKey = "admin-secret-for-tests";
const TestHeaders kAdmin = {{"Authorization", std::string("Bearer ") + kAdminKey}};
constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello limits"}]})";

std::string ConfigFor(uint16_t mock_port, const std::string& extra = "") {
  return "server:\n  admin_key: " + std::string(kAdminKey) +
         "\nupstreams:\n"
         "  - name: mock\n"
         "    base_url: http://127.0.0.1:" + std::to_string(mock_port) + "/v1\n"
         "    api_key: upstream-key\n"
         "    models: [gpt-4o-mini]\n"
         // Identical requests must reach the limiter and the mock: no cache.
         "cache:\n  enabled: false\n" + extra;
}

class RateLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
    gw_ = GatewayProcess::Start(ConfigFor(mock_->port()));
    ASSERT_NE(gw_, nullptr);
  }
  HttpResult Chat(const std::string& user) {
    return Request(gw_->port(), "POST", "/v1/chat/completions", kChat, {{"X-User-Id", user}});
  }
  HttpResult Admin(std::string_view method, std::string_view target, std::string_view body = {}) {
    return Request(gw_->port(), method, target, body, kAdmin);
  }
  // OnlyDayLimit: `user` limited to `per_day` requests per day, other windows unlimited.
  void OnlyDayLimit(const std::string& user, int per_day) {
    for (const char* w : {"second", "minute", "hour"}) {
      auto r = Admin("POST", "/api/v1/ratelimit/custom-limit",
                     R"({"user_id":")" + user + R"(","window":")" + w + R"(","limit":0})");
      ASSERT_EQ(r.status, 200) << r.body;
    }
    auto r = Admin("POST", "/api/v1/ratelimit/custom-limit",
                   R"({"user_id":")" + user + R"(","window":"day","limit":)" +
                       std::to_string(per_day) + "}");
    ASSERT_EQ(r.status, 200) << r.body;
  }

  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(RateLimitTest, FourthRequestOverACustomLimitOfThreePerDayIs429WithHeaders) {
  OnlyDayLimit("carol", 3);
  for (int i = 0; i < 3; ++i) {
    auto r = Chat("carol");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-ratelimit-limit"), "3");
    EXPECT_EQ(r.header("x-ratelimit-remaining"), std::to_string(2 - i));
    EXPECT_EQ(r.header("ratelimit-policy"), R"("day";q=3;w=86400)");
    EXPECT_EQ(r.header("ratelimit").rfind(R"("day";r=)" + std::to_string(2 - i) + ";t=", 0), 0u)
        << r.header("ratelimit");
  }
  auto denied = Chat("carol");
  ASSERT_EQ(denied.status, 429) << denied.body;
  Json e = denied.json()["error"];
  EXPECT_EQ(e["type"], "rate_limit_error");
  EXPECT_EQ(e["code"], "rate_limit_exceeded");
  int64_t retry = std::stoll(denied.header("retry-after"));
  EXPECT_GT(retry, 86000);
  // Admission times are kept to 1/256 of a bucket (3 h / 256 = 42 s), rounded up.
  EXPECT_LE(retry, 86400 + 86400 / 8 / 256 + 1);
  EXPECT_EQ(denied.header("x-ratelimit-limit"), "3");
  EXPECT_EQ(denied.header("x-ratelimit-remaining"), "0");
  EXPECT_GT(std::stoll(denied.header("x-ratelimit-reset")), 86000);
  // The upstream saw only the three admitted requests.
  EXPECT_EQ(Request(mock_->port(), "GET", "/_mock/stats").json()["total"], 3);
  // Another user (free tier, fresh) passes with the free tier's headers.
  auto other = Chat("dave");
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.header("ratelimit-policy"),
            R"("second";q=2;w=1, "minute";q=60;w=60, "hour";q=1000;w=3600, "day";q=10000;w=86400)");

  // Status, stats and top users report it.
  Json status = Admin("GET", "/api/v1/ratelimit/status/carol").json();
  EXPECT_EQ(status["tier"], "free");
  EXPECT_EQ(status["windows"]["day"]["used"], 3);
  EXPECT_EQ(status["windows"]["day"]["remaining"], 0);
  EXPECT_EQ(status["custom_limits"]["day"], 3);
  Json stats = Admin("GET", "/api/v1/ratelimit/stats/carol").json();
  EXPECT_EQ(stats["allowed"], 3);
  EXPECT_EQ(stats["denied"], 1);
  EXPECT_EQ(stats["requests"]["day"], 4);
  auto top = Admin("GET", "/api/v1/ratelimit/top-users?window=day&limit=1");
  ASSERT_EQ(top.status, 200) << top.body;
  ASSERT_EQ(top.json()["data"].size(), 1u);
  EXPECT_EQ(top.json()["data"][0]["user_id"], "carol");

  // Reset lets carol in again.
  EXPECT_EQ(Admin("POST", "/api/v1/ratelimit/reset/carol").status, 200);
  EXPECT_EQ(Chat("carol").status, 200);
}

TEST_F(RateLimitTest, StreamedAnswersCarryTheHeadersToo) {
  OnlyDayLimit("ivan", 5);
  auto r = RequestSse(gw_->port(), "POST", "/v1/chat/completions",
                      R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]})",
                      {{"X-User-Id", "ivan"}});
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.header("x-ratelimit-limit"), "5");
  EXPECT_EQ(r.header("x-ratelimit-remaining"), "4");
  EXPECT_EQ(r.header("ratelimit-policy"), R"("day";q=5;w=86400)");
}

TEST_F(RateLimitTest, BadAdminInputIs400AndChangesNothing) {
  OnlyDayLimit("erin", 5);
  const char* bad_custom[] = {
      R"({"user_id":"erin","window":"day","limit":-1})",
      R"({"user_id":"erin","window":"day","limit":1.5})",
      R"({"user_id":"erin","window":"day","limit":"7"})",
      R"({"user_id":"erin","window":"week","limit":7})",
      R"({"user_id":"erin","window":"day"})",
      R"({"user_id":"","window":"day","limit":7})",
      R"({"user_id":"erin","window":"day","limit":7,"extra":1})",
      "{",
  };
  for (const char* body : bad_custom) {
    auto r = Admin("POST", "/api/v1/ratelimit/custom-limit", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error") << body;
  }
  auto bad_tier = Admin("POST", "/api/v1/ratelimit/tier", R"({"user_id":"erin","tier":"platinum"})");
  EXPECT_EQ(bad_tier.status, 400);
  EXPECT_EQ(Admin("POST", "/api/v1/ratelimit/tier", R"({"user_id":"erin"})").status, 400);
  EXPECT_EQ(Admin("GET", "/api/v1/ratelimit/top-users?window=week").status, 400);
  EXPECT_EQ(Admin("GET", "/api/v1/ratelimit/top-users?limit=-3").status, 400);
  EXPECT_EQ(Admin("GET", "/api/v1/ratelimit/top-users?limit=abc").status, 400);
  Json status = Admin("GET", "/api/v1/ratelimit/status/erin").json();
  EXPECT_EQ(status["tier"], "free");
  EXPECT_EQ(status["custom_limits"]["day"], 5);
  EXPECT_EQ(status["windows"]["day"]["limit"], 5);
  // Admin routes need the admin key.
  EXPECT_EQ(Request(gw_->port(), "POST", "/api/v1/ratelimit/tier",
                    R"({"user_id":"erin","tier":"pro"})", {{"Authorization", "Bearer nope"}})
                .status,
            401);
}

TEST_F(RateLimitTest, TierAndCustomLimitsAreAuditedAndSurviveARestart) {
  ASSERT_EQ(Admin("POST", "/api/v1/ratelimit/tier", R"({"user_id":"fred","tier":"enterprise"})").status,
            200);
  OnlyDayLimit("gina", 2);
  Json tiers = Admin("GET", "/api/v1/ratelimit/tiers").json();
  EXPECT_EQ(tiers["default_tier"], "free");
  EXPECT_EQ(tiers["tiers"]["pro"]["per_second"], 10);
  EXPECT_EQ(tiers["tiers"]["enterprise"]["per_day"], 500000);
  Json health = Admin("GET", "/api/v1/ratelimit/health").json();
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["backend"], "memory");
  Json audit = Admin("GET", "/api/v1/audit").json();
  std::string all = audit.dump();
  EXPECT_NE(all.find("set rate-limit tier of user 'fred' to 'enterprise'"), std::string::npos) << all;
  EXPECT_NE(all.find("set custom rate limit of user 'gina': day = 2"), std::string::npos) << all;

  std::string dir = gw_->dir();
  gw_.reset();
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port()), {}, dir);
  ASSERT_NE(gw_, nullptr);
  Json fred = Admin("GET", "/api/v1/ratelimit/status/fred").json();
  EXPECT_EQ(fred["tier"], "enterprise");
  EXPECT_EQ(fred["windows"]["second"]["limit"], 50);
  EXPECT_EQ(Chat("gina").status, 200);
  EXPECT_EQ(Chat("gina").status, 200);
  EXPECT_EQ(Chat("gina").status, 429);
}

TEST_F(RateLimitTest, TokenBudgetChargesReportedUsageAndDeniesTheNextRequest) {
  gw_.reset();
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port(),
                                        "rate_limit:\n  tiers:\n    free:\n      tokens_per_day: 1\n"));
  ASSERT_NE(gw_, nullptr);
  auto first = Chat("hank");
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_GT(first.json()["usage"]["total_tokens"].get<int64_t>(), 1);
  auto second = Chat("hank");
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_EQ(second.json()["error"]["code"], "tokens_exceeded");
  EXPECT_FALSE(second.header("retry-after").empty());
  Json status = Admin("GET", "/api/v1/ratelimit/status/hank").json();
  EXPECT_EQ(status["tokens"]["day"]["limit"], 1);
  EXPECT_EQ(status["tokens"]["day"]["used"], first.json()["usage"]["total_tokens"]);
}

}  // namespace
}  // namespace agentgate::test
