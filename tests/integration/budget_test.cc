// Costs and spend budgets through the real agentgate binary in front of
// agentgate-mock (which reports usage: prompt and completion tokens). The
// binary runs on the real clock; the budgets that bind are per UTC day, and
// a request started near midnight could see its day change, which these
// tests tolerate by comparing the spend with what was charged, not with a day.
#include <gtest/gtest.h>

#include <csignal>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using testing::WaitFor;

using namespace std::chrono_literals;

constexpr const char* kAdminKey = "admin-secret-for-tests";
const TestHeaders kAdmin = {{"Authorization", std::string("Bearer ") + kAdminKey}};
constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello budgets"}]})";
constexpr const char* kStream =
    R"({"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},)"
    R"("messages":[{"role":"user","content":"hello streamed budgets"}]})";
// Prices: 1000 USD per million input tokens, 2000 per million output tokens,
// so a call costs a few cents and the arithmetic is easy to check.
constexpr double kIn = 1000, kOut = 2000;

// ConfigFor: `free_fields` are added to the free tier, whose request limits
// per second and minute are lifted (these tests send bursts).
std::string ConfigFor(uint16_t mock_port, const std::string& free_fields = "") {
  return "server:\n  admin_key: " + std::string(kAdminKey) +
         "\nupstreams:\n"
         "  - name: mock\n"
         "    base_url: http://127.0.0.1:" + std::to_string(mock_port) + "/v1\n"
         "    api_key: upstream-key\n"
         "    models: [gpt-4o-mini, llama-local]\n"
         "cache:\n  enabled: false\n"
         "rate_limit:\n"
         "  prices:\n"
         "    gpt-4o-mini: {input_per_million: 1000, output_per_million: 2000}\n"
         "  tiers:\n"
         "    free: {per_second: 0, per_minute: 0" + free_fields + "}\n";
}

double CostOf(const Json& usage) {
  return (usage["prompt_tokens"].get<double>() * kIn +
          usage["completion_tokens"].get<double>() * kOut) / 1e6;
}

class BudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
    gw_ = GatewayProcess::Start(ConfigFor(mock_->port()));
    ASSERT_NE(gw_, nullptr);
  }
  HttpResult Chat(const std::string& user, const char* body = kChat) {
    return Request(gw_->port(), "POST", "/v1/chat/completions", body, {{"X-User-Id", user}});
  }
  HttpResult Admin(std::string_view method, std::string_view target, std::string_view body = {}) {
    return Request(gw_->port(), method, target, body, kAdmin);
  }
  Json Spend(const std::string& user) {
    HttpResult r = Admin("GET", "/api/v1/ratelimit/stats/" + user);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["spend"];
  }

  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(BudgetTest, CostOfEachCallIsChargedAndAUserOverBudgetGets429BudgetExceeded) {
  auto first = Chat("alice");
  ASSERT_EQ(first.status, 200) << first.body;
  const double cost = CostOf(first.json()["usage"]);
  ASSERT_GT(cost, 0.001);
  Json spend = Spend("alice");
  EXPECT_EQ(spend["currency"], "USD");
  EXPECT_NEAR(spend["today_usd"].get<double>(), cost, 1e-9);
  EXPECT_NEAR(spend["this_month_usd"].get<double>(), cost, 1e-9);
  EXPECT_EQ(spend["requests_today"], 1);
  EXPECT_TRUE(spend["budget"]["day_usd"].is_null());  // no budget by default
  EXPECT_TRUE(spend["remaining"]["day_usd"].is_null());

  // A day budget just above what was spent: the next call passes (and
  // crosses it), the one after is denied.
  auto set = Admin("POST", "/api/v1/ratelimit/budget",
                   R"({"user_id":"alice","usd_per_day":)" + std::to_string(cost * 1.5) + "}");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_NEAR(set.json()["budget"]["usd_per_day"].get<double>(), cost * 1.5, 1e-9);
  EXPECT_TRUE(set.json()["budget"]["usd_per_month"].is_null());
  EXPECT_NEAR(set.json()["spend"]["remaining"]["day_usd"].get<double>(), cost * 0.5, 1e-9);
  auto second = Chat("alice");
  ASSERT_EQ(second.status, 200) << second.body;
  auto denied = Chat("alice");
  ASSERT_EQ(denied.status, 429) << denied.body;
  Json e = denied.json()["error"];
  EXPECT_EQ(e["code"], "budget_exceeded");
  EXPECT_EQ(e["type"], "insufficient_quota");
  int64_t retry = std::stoll(denied.header("retry-after"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 86400);
  spend = Spend("alice");
  EXPECT_EQ(spend["exceeded"], "day");
  EXPECT_EQ(spend["remaining"]["day_usd"], 0.0);
  EXPECT_EQ(spend["requests_today"], 2);  // the denied call cost nothing

  // Other users are not affected; a budget of 0 is unlimited.
  EXPECT_EQ(Chat("bob").status, 200);
  ASSERT_EQ(Admin("POST", "/api/v1/ratelimit/budget", R"({"user_id":"alice","usd_per_day":0})").status,
            200);
  EXPECT_EQ(Chat("alice").status, 200);

  std::string metrics = Admin("GET", "/metrics").body;
  EXPECT_NE(metrics.find("agentgate_ratelimit_budget_denied_total 1\n"), std::string::npos) << metrics;
  // The sample's value (no std::regex: g++ 12 warns inside it under ASan).
  const std::string sample = "agentgate_cost_usd_total{model=\"gpt-4o-mini\"} ";
  const size_t at = metrics.find(sample);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_GT(std::stod(metrics.substr(at + sample.size())), 3 * 0.001);

  Json audit = Admin("GET", "/api/v1/audit").json();
  ASSERT_GE(audit["data"].size(), 1u);
  EXPECT_EQ(audit["data"][0]["route"], "POST /api/v1/ratelimit/budget");
}

TEST_F(BudgetTest, StreamedCallIsChargedFromTheUsageChunkAtTheEnd) {
  SseResult s = RequestSse(gw_->port(), "POST", "/v1/chat/completions", kStream,
                           {{"X-User-Id", "carol"}});
  ASSERT_EQ(s.status, 200) << s.body;
  ASSERT_TRUE(s.done());
  Json usage;
  for (const Json& ev : s.json_events()) {
    if (ev.contains("usage") && ev["usage"].is_object()) usage = ev["usage"];
  }
  ASSERT_TRUE(usage.is_object()) << s.body;
  // The charge follows the stream's last write, so the client may ask
  // before it is made: poll for it (briefly).
  Json spend;
  WaitFor([&] { return (spend = Spend("carol"))["requests_today"] != 0; }, 2s);
  EXPECT_NEAR(spend["today_usd"].get<double>(), CostOf(usage), 1e-9);
  EXPECT_EQ(spend["requests_today"], 1);
}

TEST_F(BudgetTest, UnpricedModelCostsNothingButIsCounted) {
  auto r = Chat("dan", R"({"model":"llama-local","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json spend = Spend("dan");
  EXPECT_EQ(spend["today_usd"], 0.0);
  EXPECT_EQ(spend["requests_today"], 1);
  EXPECT_NE(Admin("GET", "/metrics").body.find("agentgate_cost_unpriced_requests_total 1\n"),
            std::string::npos);
}

TEST_F(BudgetTest, TierBudgetFromConfigAppliesAndCanBeChangedAtRunTime) {
  gw_.reset();
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port(),
                                        ", budget_usd_per_month: 0.000001"));
  ASSERT_NE(gw_, nullptr);
  EXPECT_EQ(Chat("erin").status, 200);
  auto denied = Chat("erin");
  ASSERT_EQ(denied.status, 429) << denied.body;
  EXPECT_EQ(denied.json()["error"]["code"], "budget_exceeded");
  EXPECT_GE(std::stoll(denied.header("retry-after")), 1);
  EXPECT_LE(std::stoll(denied.header("retry-after")), 31 * 86400);
  EXPECT_EQ(Spend("erin")["exceeded"], "month");
  // The tier's budget raised at run time: erin passes again.
  auto set = Admin("POST", "/api/v1/ratelimit/budget", R"({"tier":"free","usd_per_month":1000})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json()["tier"], "free");
  EXPECT_EQ(Chat("erin").status, 200);
  // null: back to the configured budget.
  ASSERT_EQ(Admin("POST", "/api/v1/ratelimit/budget", R"({"tier":"free","usd_per_month":null})").status,
            200);
  EXPECT_EQ(Chat("erin").status, 429);
}

TEST_F(BudgetTest, BadBudgetInputIs400AndChangesNothing) {
  ASSERT_EQ(Admin("POST", "/api/v1/ratelimit/budget", R"({"user_id":"fay","usd_per_day":2})").status,
            200);
  const std::vector<std::string> bad = {
      "{",
      "[]",
      R"({"usd_per_day":1})",                                   // no user or tier
      R"({"user_id":"fay","tier":"free","usd_per_day":1})",     // both
      R"({"user_id":"fay"})",                                   // no budget field
      R"({"user_id":"","usd_per_day":1})",
      R"({"user_id":7,"usd_per_day":1})",
      R"({"user_id":"fay","usd_per_day":-1})",
      R"({"user_id":"fay","usd_per_day":"5"})",
      R"({"user_id":"fay","usd_per_day":1e12})",
      R"({"user_id":"fay","usd_per_day":1,"usd_per_month":-3})",  // one good, one bad field
      R"({"user_id":"fay","usd_per_week":1})",
      R"({"tier":"gold","usd_per_day":1})",
  };
  for (const std::string& body : bad) {
    auto r = Admin("POST", "/api/v1/ratelimit/budget", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error") << body;
  }
  Json spend = Spend("fay");
  EXPECT_EQ(spend["budget"]["day_usd"], 2.0);
  EXPECT_TRUE(spend["budget"]["month_usd"].is_null());
  // The tier kept no run-time budget either: a free user has none.
  EXPECT_TRUE(Spend("gus")["budget"]["day_usd"].is_null());
  EXPECT_EQ(Request(gw_->port(), "POST", "/api/v1/ratelimit/budget",
                    R"({"user_id":"fay","usd_per_day":9})")
                .status,
            401);  // no admin key
  EXPECT_EQ(Spend("fay")["budget"]["day_usd"], 2.0);
}

TEST_F(BudgetTest, SpendAndBudgetsSurviveARestart) {
  auto r = Chat("hal");
  ASSERT_EQ(r.status, 200) << r.body;
  const double cost = CostOf(r.json()["usage"]);
  ASSERT_EQ(Admin("POST", "/api/v1/ratelimit/budget",
                  R"({"user_id":"hal","usd_per_month":)" + std::to_string(cost * 1.5) + "}")
                .status,
            200);
  std::string dir = gw_->dir();
  gw_->process().signal(SIGTERM);  // a graceful stop writes the pending spend
  ASSERT_EQ(gw_->process().wait(20s), 0);
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port()), {}, dir);
  ASSERT_NE(gw_, nullptr);
  Json spend = Spend("hal");
  EXPECT_NEAR(spend["this_month_usd"].get<double>(), cost, 1e-9);
  EXPECT_EQ(spend["requests_this_month"], 1);
  EXPECT_NEAR(spend["budget"]["month_usd"].get<double>(), cost * 1.5, 1e-9);
  EXPECT_EQ(Chat("hal").status, 200);  // crosses the budget
  EXPECT_EQ(Chat("hal").status, 429);
}

}  // namespace
}  // namespace agentgate::test
