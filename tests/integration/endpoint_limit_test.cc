// Per-endpoint custom limits through the real agentgate binary in front of
// agentgate-mock: POST /api/v1/ratelimit/custom-limit with `endpoint`. The
// limits that bind are per day, so nothing depends on timing.
#include <gtest/gtest.h>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"

namespace agentgate::test {
namespace {

constexpr const char* kAdminKey = "admin-secret-for-tests";
const TestHeaders kAdmin = {{"Authorization", std::string("Bearer ") + kAdminKey}};
constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello endpoints"}]})";
constexpr const char* kEmbed = R"({"model":"gpt-4o-mini","input":"hello endpoints"})";

class EndpointLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
    gw_ = GatewayProcess::Start(
        "server:\n  admin_key: " + std::string(kAdminKey) +
        "\nupstreams:\n"
        "  - name: mock\n"
        "    base_url: http://127.0.0.1:" + std::to_string(mock_->port()) + "/v1\n"
        "    api_key: upstream-key\n"
        "    models: [gpt-4o-mini]\n"
        "cache:\n  enabled: false\n"
        "rate_limit:\n  tiers:\n    free: {per_second: 0, per_minute: 0}\n");
    ASSERT_NE(gw_, nullptr);
  }
  int Call(const char* path, const char* body, const std::string& user) {
    return Request(gw_->port(), "POST", path, body, {{"X-User-Id", user}}).status;
  }
  HttpResult Admin(std::string_view method, std::string_view target, std::string_view body = {}) {
    return Request(gw_->port(), method, target, body, kAdmin);
  }

  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(EndpointLimitTest, ALimitForChatCompletionsAppliesToThatEndpointOnly) {
  auto set = Admin("POST", "/api/v1/ratelimit/custom-limit",
                   R"({"user_id":"ann","window":"day","limit":1,"endpoint":"/v1/chat/completions"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json()["endpoint"], "/v1/chat/completions");
  EXPECT_EQ(Call("/v1/chat/completions", kChat, "ann"), 200);
  auto denied = Request(gw_->port(), "POST", "/v1/chat/completions", kChat, {{"X-User-Id", "ann"}});
  EXPECT_EQ(denied.status, 429) << denied.body;
  EXPECT_EQ(denied.header("x-ratelimit-limit"), "1");
  // Embeddings and other users keep the tier's limits.
  EXPECT_EQ(Call("/v1/embeddings", kEmbed, "ann"), 200);
  EXPECT_EQ(Call("/v1/embeddings", kEmbed, "ann"), 200);
  EXPECT_EQ(Call("/v1/chat/completions", kChat, "ben"), 200);
  EXPECT_EQ(Call("/v1/chat/completions", kChat, "ben"), 200);
  Json status = Admin("GET", "/api/v1/ratelimit/status/ann").json();
  EXPECT_EQ(status["endpoint_limits"]["/v1/chat/completions"]["day"], 1);
  EXPECT_TRUE(status["custom_limits"].empty());
  // Reset forgets the endpoint's count too.
  ASSERT_EQ(Admin("POST", "/api/v1/ratelimit/reset/ann").status, 200);
  EXPECT_EQ(Call("/v1/chat/completions", kChat, "ann"), 200);
}

TEST_F(EndpointLimitTest, BadEndpointIs400AndChangesNothing) {
  ASSERT_EQ(Admin("POST", "/api/v1/ratelimit/custom-limit",
                  R"({"user_id":"cat","window":"day","limit":5,"endpoint":"/v1/embeddings"})")
                .status,
            200);
  for (const char* body : {
           R"({"user_id":"cat","window":"day","limit":1,"endpoint":"/v1/models"})",
           R"({"user_id":"cat","window":"day","limit":1,"endpoint":"/api/v1/ratelimit/tier"})",
           R"({"user_id":"cat","window":"day","limit":1,"endpoint":""})",
           R"({"user_id":"cat","window":"day","limit":1,"endpoint":7})",
           R"({"user_id":"cat","window":"day","limit":-1,"endpoint":"/v1/embeddings"})",
           R"({"user_id":"cat","window":"week","limit":1,"endpoint":"/v1/embeddings"})",
       }) {
    auto r = Admin("POST", "/api/v1/ratelimit/custom-limit", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error") << body;
  }
  Json status = Admin("GET", "/api/v1/ratelimit/status/cat").json();
  EXPECT_EQ(status["endpoint_limits"].size(), 1u) << status.dump();
  EXPECT_EQ(status["endpoint_limits"]["/v1/embeddings"]["day"], 5);
  EXPECT_TRUE(status["custom_limits"].empty());
}

}  // namespace
}  // namespace agentgate::test
