// Security of the admin API and of users' data, through the real agentgate
// binary (every optional part enabled) in front of the real agentgate-mock:
// no client key, wrong key or look-alike of the admin key reaches any admin
// route (every route of docs/openapi.json under /api/), a client key cannot
// act as another user, and /metrics carries no user's data.
#include <gtest/gtest.h>

#include <set>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using testing::WaitFor;

using namespace std::chrono_literals;

constexpr const char* kAdminKey = "admin-key-security-0123456789";
const TestHeaders kAdmin = {{"Authorization", std::string("Bearer ") + kAdminKey}};

std::string Config(uint16_t mock_port) {
  // Defaults: caches (exact + semantic), rate limits, budgets, breakers,
  // experiments all on, so that every admin route is registered.
  return "server:\n  admin_key: " + std::string(kAdminKey) +
         "\nupstreams:\n"
         "  - name: mock\n"
         "    base_url: http://127.0.0.1:" + std::to_string(mock_port) + "/v1\n"
         "    api_key: upstream-key\n"
         "    models: [gpt-4o, gpt-4o-mini, text-embedding-3-small]\n"
         "error_recovery: {max_attempts: 1}\n";
}

std::string Chat(const std::string& content, const std::string& extra = "") {
  return R"({"model":"gpt-4o-mini",)" + extra + R"("messages":[{"role":"user","content":")" +
         content + R"("}]})";
}

class SecurityAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
    gw_ = GatewayProcess::Start(Config(mock_->port()));
    ASSERT_NE(gw_, nullptr);
  }
  // NewKey: a client key's secret for `user` (in `tenant`).
  std::string NewKey(const std::string& user, const std::string& tenant = "") {
    HttpResult r = Request(gw_->port(), "POST", "/api/v1/keys",
                           R"({"user_id":")" + user + R"(","tenant":")" + tenant + R"("})", kAdmin);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("key", "");
  }
  Json Usage(const std::string& user) {
    return Request(gw_->port(), "GET", "/api/v1/usage/" + user, "", kAdmin).json();
  }

  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
};

// AdminRoutes: "<METHOD> <path>" of every documented /api/ route, with its
// path parameters filled in.
std::vector<std::pair<std::string, std::string>> AdminRoutes(uint16_t port) {
  Json doc = Request(port, "GET", "/docs/openapi.json").json();
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [path, item] : doc["paths"].items()) {
    if (path.rfind("/api/", 0) != 0) continue;
    std::string filled;
    for (size_t i = 0; i < path.size();) {
      if (path[i] == '{') {
        size_t end = path.find('}', i);
        std::string name = path.substr(i + 1, end - i - 1);
        filled += name == "user_id" ? "bob" : name == "name" ? "mock" : "1";
        i = end + 1;
      } else {
        filled += path[i++];
      }
    }
    for (auto& [method, op] : item.items()) {
      if (method == "parameters" || method == "summary" || method == "description") continue;
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.emplace_back(m, filled);
    }
  }
  return out;
}

TEST_F(SecurityAuthTest, NoClientKeyOrWrongKeyReachesAnyAdminRoute) {
  const std::string alice = NewKey("alice");
  ASSERT_FALSE(alice.empty());
  ASSERT_EQ(Request(gw_->port(), "POST", "/v1/chat/completions", Chat("hi"),
                    {{"Authorization", "Bearer " + alice}})
                .status,
            200);
  const std::string admin(kAdminKey);
  const std::vector<TestHeaders> attempts = {
      {},                                                      // no key
      {{"Authorization", "Bearer " + alice}},                  // a client key
      {{"Authorization", "Bearer " + admin.substr(0, admin.size() - 1)}},  // a prefix
      {{"Authorization", "Bearer " + admin + "x"}},            // longer
      {{"Authorization", "Bearer " + admin.substr(0, admin.size() - 1) + "X"}},  // last byte
      {{"Authorization", admin}},                              // no scheme
      {{"Authorization", "Basic " + admin}},                   // another scheme
      {{"X-Api-Key", admin}},                                  // another header
      {{"Authorization", "Bearer"}},
  };
  const std::string body = R"({"user_id":"bob","tier":"enterprise","name":"x","type":"all"})";
  auto routes = AdminRoutes(gw_->port());
  ASSERT_GE(routes.size(), 30u);
  int tried = 0;
  for (const auto& [method, path] : routes) {
    for (const TestHeaders& h : attempts) {
      HttpResult r = Request(gw_->port(), method, path, body, h);
      ++tried;
      EXPECT_EQ(r.status, 401) << method << " " << path << " with " << (h.empty() ? "" : h[0].second);
      EXPECT_EQ(r.json()["error"]["type"], "authentication_error") << method << " " << path;
      EXPECT_EQ(r.body.find("bob"), std::string::npos) << method << " " << path;
    }
  }
  EXPECT_EQ(tried, static_cast<int>(routes.size() * attempts.size()));
  // Nothing changed: the audit log holds only the key creation, one key exists.
  Json audit = Request(gw_->port(), "GET", "/api/v1/audit", "", kAdmin).json();
  ASSERT_EQ(audit["data"].size(), 1u) << audit.dump();
  EXPECT_EQ(audit["data"][0]["route"], "POST /api/v1/keys");
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/keys", "", kAdmin).json()["data"].size(), 1u);
  // The admin key itself does work on the same routes (so the 401s were not 404s in disguise).
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/ratelimit/status/bob", "", kAdmin).status, 200);
}

TEST_F(SecurityAuthTest, AClientKeyActsOnlyAsItsOwnUser) {
  const std::string alice = NewKey("alice");
  const std::string bob = NewKey("bob");
  ASSERT_EQ(Request(gw_->port(), "POST", "/v1/chat/completions", Chat("bob's question"),
                    {{"Authorization", "Bearer " + bob}})
                .status,
            200);
  // Alice claims to be bob in every way a request can name a user.
  HttpResult r = Request(gw_->port(), "POST", "/v1/chat/completions",
                         Chat("alice pretending", R"("user":"bob",)"),
                         {{"Authorization", "Bearer " + alice}, {"X-User-Id", "bob"}});
  ASSERT_EQ(r.status, 200) << r.body;
  WaitFor([&] { return Usage("alice").value("requests", 0) >= 1; }, 1s);
  EXPECT_EQ(Usage("alice")["requests"], 1);
  EXPECT_EQ(Usage("bob")["requests"], 1);  // only bob's own request
  // Rate limits too: each request counted once, against its key's user.
  for (const std::string user : {"alice", "bob"}) {
    Json status = Request(gw_->port(), "GET", "/api/v1/ratelimit/status/" + user, "", kAdmin).json();
    EXPECT_EQ(status["windows"]["day"]["used"], 1) << user << ": " << status.dump();
  }

  // With keys, neither user can read any stats: every per-user route is admin-only.
  for (const std::string& path :
       {std::string("/api/v1/usage/bob"), std::string("/api/v1/usage/alice"),
        std::string("/api/v1/ratelimit/status/bob"), std::string("/api/v1/ratelimit/stats/bob"),
        std::string("/api/v1/ratelimit/top-users"), std::string("/api/v1/dlq?user=bob"),
        std::string("/api/v1/cache/stats")}) {
    EXPECT_EQ(Request(gw_->port(), "GET", path, "", {{"Authorization", "Bearer " + alice}}).status, 401)
        << path;
  }
  // The open /metrics names no user, tenant or key.
  std::string metrics = Request(gw_->port(), "GET", "/metrics").body;
  EXPECT_EQ(metrics.find("alice"), std::string::npos);
  EXPECT_EQ(metrics.find("bob"), std::string::npos);
  EXPECT_EQ(metrics.find(alice.substr(4)), std::string::npos);
  EXPECT_EQ(metrics.find("user=\""), std::string::npos);  // routes are labelled by pattern
  EXPECT_NE(metrics.find("route=\"/api/v1/ratelimit/stats/{user_id}\""), std::string::npos);
}

TEST_F(SecurityAuthTest, UnknownOrRevokedClientKeysAreRefused) {
  const std::string alice = NewKey("alice");
  Json keys = Request(gw_->port(), "GET", "/api/v1/keys", "", kAdmin).json();
  const std::string id = keys["data"][0]["id"];
  EXPECT_EQ(keys.dump().find(alice), std::string::npos);  // the list never shows the secret
  for (const std::string& bad :
       {std::string("agk-") + std::string(48, '0'), alice.substr(0, alice.size() - 1),
        alice + "0", std::string(kAdminKey)}) {
    HttpResult r = Request(gw_->port(), "POST", "/v1/chat/completions", Chat("x"),
                           {{"Authorization", "Bearer " + bad}});
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.json()["error"]["type"], "authentication_error");
  }
  ASSERT_EQ(Request(gw_->port(), "DELETE", "/api/v1/keys/" + id, "", kAdmin).status, 200);
  ASSERT_EQ(Request(gw_->port(), "POST", "/api/v1/keys", R"({"user_id":"other"})", kAdmin).status, 201);
  EXPECT_EQ(Request(gw_->port(), "POST", "/v1/chat/completions", Chat("x"),
                    {{"Authorization", "Bearer " + alice}})
                .status,
            401);
  EXPECT_EQ(Request(mock_->port(), "GET", "/_mock/stats").json()["total"], 0);
}

}  // namespace
}  // namespace agentgate::test
