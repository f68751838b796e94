// State shared by several agentgate processes through one real redis-server:
// tiers, custom limits and resets set through one instance apply on the
// others; spend charged through two instances is summed in the stats read
// from either, and a budget set through one binds on the other; analytics
// (per-user counts, top users) show every instance's traffic; bad input to
// the admin routes is 400 and changes nothing in Redis; in prefix mode every
// key the gateway writes is in DB 0 under its concern's prefix, per-user keys
// with a `{user}` hash tag.
//
// The binaries run on the real clock; propagation (the change feed's 250 ms
// poll, the analytics' 100 ms flush, charges sent after the answer) is waited
// for by polling with a deadline, never by sleeping a fixed time.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <set>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "integration/support/redis_server.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using testing::WaitFor;

using namespace std::chrono_literals;

constexpr const char* kAdminKey = "admin-secret-for-tests";
const TestHeaders kAdmin = {{"Authorization", std::string("Bearer ") + kAdminKey}};
constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello shared state"}]})";
constexpr double kIn = 1000, kOut = 2000;  // USD per million tokens

std::string ConfigFor(uint16_t mock_port, int redis_port, const std::string& redis_extra = "",
                      bool cache = false) {
  return "server:\n  admin_key: " + std::string(kAdminKey) +
         "\nupstreams:\n"
         "  - name: mock\n"
         "    base_url: http://127.0.0.1:" + std::to_string(mock_port) + "/v1\n"
         "    api_key: upstream-key\n"
         "    models: [gpt-4o-mini]\n"
         "cache:\n  enabled: " + (cache ? "true" : "false") + "\n" +
         "redis:\n  host: 127.0.0.1\n  port: " + std::to_string(redis_port) +
         "\n  connect_timeout_ms: 500\n  command_timeout_ms: 500\n" + redis_extra +
         "rate_limit:\n  enable_analytics: true\n"
         "  prices:\n"
         "    gpt-4o-mini: {input_per_million: 1000, output_per_million: 2000}\n"
         "  tiers:\n"
         "    free: {per_second: 0, per_minute: 0}\n"
         "    tiny: {per_second: 0, per_minute: 3, per_hour: 0, per_day: 0}\n";
}

double CostOf(const Json& usage) {
  return (usage["prompt_tokens"].get<double>() * kIn +
          usage["completion_tokens"].get<double>() * kOut) / 1e6;
}

// Keys: every key of logical database `db`.
std::set<std::string> Keys(int port, int db) {
  std::set<std::string> out;
  redisContext* c = redisConnect("127.0.0.1", port);
  if (c == nullptr || c->err) {
    ADD_FAILURE() << "cannot connect to redis";
    if (c) redisFree(c);
    return out;
  }
  auto* sel = static_cast<redisReply*>(redisCommand(c, "SELECT %d", db));
  if (sel) freeReplyObject(sel);
  std::string cursor = "0";
  do {
    auto* r = static_cast<redisReply*>(redisCommand(c, "SCAN %s COUNT 1000", cursor.c_str()));
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
      ADD_FAILURE() << "SCAN failed";
      if (r) freeReplyObject(r);
      break;
    }
    cursor = r->element[0]->str;
    for (size_t i = 0; i < r->element[1]->elements; ++i) out.insert(r->element[1]->element[i]->str);
    freeReplyObject(r);
  } while (cursor != "0");
  redisFree(c);
  return out;
}

class SharedStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
    ASSERT_TRUE(redis_.start().ok());
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
  }
  void StartPair(const std::string& redis_extra = "", bool cache = false) {
    a_ = GatewayProcess::Start(ConfigFor(mock_->port(), redis_.port(), redis_extra, cache));
    ASSERT_NE(a_, nullptr);
    b_ = GatewayProcess::Start(ConfigFor(mock_->port(), redis_.port(), redis_extra, cache));
    ASSERT_NE(b_, nullptr);
  }
  static HttpResult Chat(uint16_t port, const std::string& user, const std::string& body = kChat) {
    return Request(port, "POST", "/v1/chat/completions", body, {{"X-User-Id", user}});
  }
  // ChatAbout: a request no other request repeats (never a cache hit).
  static HttpResult ChatAbout(uint16_t port, const std::string& user, int n) {
    return Chat(port, user,
                R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello )" + user +
                    " " + std::to_string(n) + R"("}]})");
  }
  static HttpResult Admin(uint16_t port, std::string_view method, std::string_view target,
                          std::string_view body = {}) {
    return Request(port, method, target, body, kAdmin);
  }
  static Json Status(uint16_t port, const std::string& user) {
    return Admin(port, "GET", "/api/v1/ratelimit/status/" + user).json();
  }
  // Digest: a digest of every key and value in every database.
  std::string Digest() {
    Result<RedisReply> r = redis_.command({"DEBUG", "DIGEST"});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->str : "";
  }

  agentgate::testing::RedisServer redis_{{.extra_args = {"--enable-debug-command", "yes"}}};
  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> a_, b_;
};

TEST_F(SharedStateTest, TierCustomLimitAndResetSetThroughOneInstanceApplyOnTheOther) {
  StartPair();
  const uint16_t a = a_->port(), b = b_->port();
  ASSERT_EQ(Chat(b, "carol").status, 200);
  EXPECT_EQ(Status(b, "carol")["tier"], "free");

  HttpResult set = Admin(a, "POST", "/api/v1/ratelimit/tier", R"({"user_id":"carol","tier":"tiny"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(Status(a, "carol")["tier"], "tiny") << "applied at once where it was set";
  ASSERT_TRUE(WaitFor([&] { return Status(b, "carol")["tier"] == "tiny"; }))
      << Status(b, "carol").dump();
  HttpResult via_b = Chat(b, "carol");
  ASSERT_EQ(via_b.status, 200) << via_b.body;
  EXPECT_EQ(via_b.header("x-ratelimit-limit"), "3") << "the tier set through A limits B";
  EXPECT_EQ(via_b.header("x-ratelimit-remaining"), "1") << "and the count is shared";

  // A custom limit set through B applies on A.
  set = Admin(b, "POST", "/api/v1/ratelimit/custom-limit",
              R"({"user_id":"carol","window":"minute","limit":2})");
  ASSERT_EQ(set.status, 200) << set.body;
  ASSERT_TRUE(WaitFor([&] { return Status(a, "carol")["custom_limits"]["minute"] == 2; }))
      << Status(a, "carol").dump();
  HttpResult denied = Chat(a, "carol");
  EXPECT_EQ(denied.status, 429) << denied.body;
  EXPECT_EQ(denied.header("x-ratelimit-limit"), "2");

  // A per-endpoint limit set through A is listed by B.
  set = Admin(a, "POST", "/api/v1/ratelimit/custom-limit",
              R"({"user_id":"carol","window":"hour","limit":7,"endpoint":"/v1/embeddings"})");
  ASSERT_EQ(set.status, 200) << set.body;
  ASSERT_TRUE(WaitFor([&] {
    return Status(b, "carol")["endpoint_limits"]["/v1/embeddings"]["hour"] == 7;
  })) << Status(b, "carol").dump();

  // A reset through B frees A.
  ASSERT_EQ(Admin(b, "POST", "/api/v1/ratelimit/reset/carol").status, 200);
  HttpResult after = Chat(a, "carol");
  EXPECT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.header("x-ratelimit-remaining"), "1");

  // A new instance loads what was set before it started.
  auto c = GatewayProcess::Start(ConfigFor(mock_->port(), redis_.port()));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Status(c->port(), "carol")["tier"] == "tiny"; }));
  EXPECT_EQ(Status(c->port(), "carol")["custom_limits"]["minute"], 2);
}

TEST_F(SharedStateTest, BadInputToTheAdminRoutesIs400AndChangesNothingInRedis) {
  StartPair();
  ASSERT_EQ(Admin(a_->port(), "POST", "/api/v1/ratelimit/tier", R"({"user_id":"dan","tier":"tiny"})")
                .status,
            200);
  ASSERT_TRUE(WaitFor([&] { return Status(b_->port(), "dan")["tier"] == "tiny"; }));
  const std::string before = Digest();
  ASSERT_FALSE(before.empty());
  const std::pair<const char*, const char*> bad[] = {
      {"/api/v1/ratelimit/tier", R"({"user_id":"dan","tier":"platinum"})"},
      {"/api/v1/ratelimit/tier", R"({"user_id":"","tier":"tiny"})"},
      {"/api/v1/ratelimit/tier", R"({"tier":"tiny"})"},
      {"/api/v1/ratelimit/tier", R"({"user_id":"dan","tier":"tiny","extra":1})"},
      {"/api/v1/ratelimit/tier", R"(not json)"},
      {"/api/v1/ratelimit/custom-limit", R"({"user_id":"dan","window":"minute","limit":-1})"},
      {"/api/v1/ratelimit/custom-limit", R"({"user_id":"dan","window":"minute","limit":1.5})"},
      {"/api/v1/ratelimit/custom-limit", R"({"user_id":"dan","window":"fortnight","limit":5})"},
      {"/api/v1/ratelimit/custom-limit", R"({"user_id":"dan","window":"minute","limit":"5"})"},
      {"/api/v1/ratelimit/custom-limit",
       R"({"user_id":"dan","window":"minute","limit":5,"endpoint":"/v1/other"})"},
      {"/api/v1/ratelimit/budget", R"({"user_id":"dan","usd_per_day":-3})"},
      {"/api/v1/ratelimit/budget", R"({"tier":"platinum","usd_per_day":3})"},
      {"/api/v1/ratelimit/budget", R"({"user_id":"dan","tier":"tiny","usd_per_day":3})"},
  };
  for (uint16_t port : {a_->port(), b_->port()}) {
    for (const auto& [route, body] : bad) {
      HttpResult r = Admin(port, "POST", route, body);
      EXPECT_EQ(r.status, 400) << route << " " << body << ": " << r.body;
      EXPECT_TRUE(r.json()["error"].contains("message")) << r.body;
    }
  }
  EXPECT_EQ(Digest(), before) << "bad input wrote to Redis";
  EXPECT_EQ(Status(b_->port(), "dan")["tier"], "tiny");
  EXPECT_EQ(Status(a_->port(), "dan")["custom_limits"], Json::object());
}

TEST_F(SharedStateTest, SpendChargedThroughTwoInstancesIsSummedAndABudgetSetOnOneBindsOnTheOther) {
  StartPair();
  const uint16_t a = a_->port(), b = b_->port();
  HttpResult ra = Chat(a, "erin");
  HttpResult rb = Chat(b, "erin");
  ASSERT_EQ(ra.status, 200) << ra.body;
  ASSERT_EQ(rb.status, 200) << rb.body;
  const double total = CostOf(ra.json()["usage"]) + CostOf(rb.json()["usage"]);
  ASSERT_GT(total, 0.001);
  for (uint16_t port : {a, b}) {
    Json spend;
    EXPECT_TRUE(WaitFor([&] {
      spend = Admin(port, "GET", "/api/v1/ratelimit/stats/erin").json()["spend"];
      return spend["requests_today"] == 2;
    })) << spend.dump();
    EXPECT_NEAR(spend["today_usd"].get<double>(), total, 1e-6) << spend.dump();
    EXPECT_NEAR(spend["this_month_usd"].get<double>(), total, 1e-6) << spend.dump();
  }
  // A day budget below what was spent, set through A, denies through B.
  const std::string budget =
      R"({"user_id":"erin","usd_per_day":)" + std::to_string(total / 2) + "}";
  HttpResult set = Admin(a, "POST", "/api/v1/ratelimit/budget", budget);
  ASSERT_EQ(set.status, 200) << set.body;
  HttpResult last;
  EXPECT_TRUE(WaitFor([&] {
    last = Chat(b, "erin");
    return last.status == 429;
  })) << last.status << " " << last.body;
  EXPECT_EQ(last.json()["error"]["code"], "budget_exceeded") << last.body;
  EXPECT_FALSE(last.header("retry-after").empty());
}

TEST_F(SharedStateTest, TopUsersAndStatsThroughEitherInstanceShowBothInstancesTraffic) {
  StartPair();
  const uint16_t a = a_->port(), b = b_->port();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Chat(a, "gina").status, 200);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Chat(b, "hank").status, 200);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(Chat(b, "gina").status, 200);
  for (uint16_t port : {a, b}) {
    Json top;
    EXPECT_TRUE(WaitFor([&] {
      top = Admin(port, "GET", "/api/v1/ratelimit/top-users?window=minute&limit=5").json();
      return top["data"].size() == 2 && top["data"][0]["window_requests"] == 5 &&
             top["data"][1]["window_requests"] == 5;
    })) << top.dump();
    std::set<std::string> users;
    for (const Json& u : top["data"]) users.insert(u["user_id"].get<std::string>());
    EXPECT_EQ(users, (std::set<std::string>{"gina", "hank"})) << top.dump();
    Json gina = Admin(port, "GET", "/api/v1/ratelimit/stats/gina").json();
    EXPECT_EQ(gina["allowed"], 5) << gina.dump();
    EXPECT_EQ(gina["allowed_today"], 5) << gina.dump();
    EXPECT_EQ(gina["denied"], 0) << gina.dump();
    EXPECT_EQ(gina["requests"]["hour"], 5) << gina.dump();
  }
  // Denials are counted too, fleet-wide.
  ASSERT_EQ(Admin(a, "POST", "/api/v1/ratelimit/tier", R"({"user_id":"ivan","tier":"tiny"})").status,
            200);
  ASSERT_TRUE(WaitFor([&] { return Status(b, "ivan")["tier"] == "tiny"; }));
  int denied = 0;
  for (int i = 0; i < 5; ++i) denied += Chat(i % 2 ? a : b, "ivan").status == 429;
  EXPECT_EQ(denied, 2);
  Json ivan;
  EXPECT_TRUE(WaitFor([&] {
    ivan = Admin(a, "GET", "/api/v1/ratelimit/stats/ivan").json();
    return ivan["allowed"] == 3 && ivan["denied"] == 2;
  })) << ivan.dump();
}

// Metric: the value of the sample `name{labels}` in /metrics text, 0 if absent.
double Metric(uint16_t port, const std::string& sample) {
  std::string text = Request(port, "GET", "/metrics").body;
  size_t at = text.find("\n" + sample + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + sample.size() + 2));
}

TEST_F(SharedStateTest, WhileRedisIsAwaySharedPartsFailOpenAndTheyResumeByThemselves) {
  StartPair();
  const uint16_t a = a_->port(), b = b_->port();
  ASSERT_EQ(Admin(a, "POST", "/api/v1/ratelimit/budget", R"({"user_id":"kim","usd_per_day":1000})")
                .status,
            200);
  ASSERT_EQ(Chat(a, "kim").status, 200);
  ASSERT_TRUE(redis_.stop().ok());
  for (int i = 0; i < 4; ++i) {
    HttpResult r = Chat(i % 2 ? a : b, "kim");
    EXPECT_EQ(r.status, 200) << "fail-open: " << r.body;
  }
  HttpResult refused =
      Admin(b, "POST", "/api/v1/ratelimit/tier", R"({"user_id":"kim","tier":"tiny"})");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_TRUE(WaitFor([&] {
    return Metric(a, R"(agentgate_ratelimit_shared_errors_total{kind="spend"})") > 0;
  }));
  EXPECT_GT(Metric(a, "agentgate_cost_store_errors_total"), 0);

  // Redis is back (empty): settings written now reach the other instance
  // again, without a restart of either.
  ASSERT_TRUE(redis_.start().ok());
  HttpResult set;
  ASSERT_TRUE(WaitFor([&] {
    set = Admin(b, "POST", "/api/v1/ratelimit/tier", R"({"user_id":"kim","tier":"tiny"})");
    return set.status == 200;
  })) << set.body;
  EXPECT_TRUE(WaitFor([&] { return Status(a, "kim")["tier"] == "tiny"; }))
      << Status(a, "kim").dump();
  Json top;
  EXPECT_TRUE(WaitFor([&] {
    Chat(a, "lou");
    top = Admin(b, "GET", "/api/v1/ratelimit/top-users?window=minute").json();
    return top["data"].size() >= 1 && top["data"][0]["user_id"] == "lou";
  })) << top.dump();
}

TEST_F(SharedStateTest, PrefixModePutsEveryKeyInDbZeroUnderItsConcernWithUserHashTags) {
  StartPair("  mode: prefix\n  key_prefix: \"ag1:\"\n", /*cache=*/true);
  const uint16_t a = a_->port(), b = b_->port();
  ASSERT_EQ(Admin(a, "POST", "/api/v1/ratelimit/tier", R"({"user_id":"alice","tier":"tiny"})").status,
            200);
  ASSERT_EQ(Admin(b, "POST", "/api/v1/ratelimit/custom-limit",
                  R"({"user_id":"bob","window":"hour","limit":50,"endpoint":"/v1/chat/completions"})")
                .status,
            200);
  ASSERT_TRUE(WaitFor([&] {
    return !Status(a, "bob")["endpoint_limits"]["/v1/chat/completions"].is_null();
  }));
  ASSERT_EQ(Admin(a, "POST", "/api/v1/ratelimit/budget", R"({"user_id":"bob","usd_per_day":100})")
                .status,
            200);
  ASSERT_EQ(Admin(a, "POST", "/api/v1/ratelimit/budget", R"({"tier":"free","usd_per_month":500})")
                .status,
            200);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ChatAbout(i % 2 ? a : b, "alice", i).status, 200);
    EXPECT_EQ(ChatAbout(i % 2 ? b : a, "bob", i).status, 200);
  }
  Json bob;
  ASSERT_TRUE(WaitFor([&] {
    bob = Admin(b, "GET", "/api/v1/ratelimit/stats/bob").json();
    return bob["allowed"] == 3 && bob["spend"]["requests_today"] == 3;
  })) << bob.dump();
  ASSERT_EQ(Admin(a, "GET", "/api/v1/ratelimit/top-users?window=hour").status, 200);

  for (int db = 1; db < 16; ++db) EXPECT_EQ(Keys(redis_.port(), db).size(), 0u) << "DB " << db;
  const std::set<std::string> keys = Keys(redis_.port(), 0);
  const std::string concerns[] = {"semantic:", "response:", "embedding:", "dedup:", "costs:",
                                  "keys:",     "ratelimit:", "default:", "{dlq}:"};
  for (const std::string& k : keys) {
    bool known = false;
    for (const std::string& c : concerns) known = known || k.starts_with("ag1:" + c);
    EXPECT_TRUE(known) << "key outside every concern's prefix: " << k;
    for (const char* user : {"alice", "bob"}) {
      if (k.find(user) != std::string::npos) {
        EXPECT_NE(k.find(std::string("{") + user + "}"), std::string::npos)
            << "per-user key without its hash tag: " << k;
      }
    }
  }
  for (const char* expected :
       {"ag1:ratelimit:rl:{alice}", "ag1:ratelimit:ovr:{alice}", "ag1:ratelimit:ovr:{bob}",
        "ag1:ratelimit:an:{bob}", "ag1:costs:budget:user:{bob}", "ag1:costs:budget:tier:free"}) {
    EXPECT_EQ(keys.count(expected), 1u) << expected << " missing; keys: " << keys.size();
  }
  bool spend_key = false, response_key = false, endpoint_key = false;
  for (const std::string& k : keys) {
    spend_key = spend_key || k.starts_with("ag1:costs:costs:{bob}:d:");
    response_key = response_key || k.starts_with("ag1:response:");
    endpoint_key = endpoint_key || k == "ag1:ratelimit:rl:{bob}\x1f/v1/chat/completions";
  }
  EXPECT_TRUE(spend_key);
  EXPECT_TRUE(response_key);
  EXPECT_TRUE(endpoint_key) << "per-endpoint counts are tagged with the user alone";
}

}  // namespace
}  // namespace agentgate::test
