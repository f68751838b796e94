// Tenant isolation of every cache, through the real agentgate binary, with
// the caches in memory and on a real redis-server: the exact cache (JSON and
// streamed answers), the semantic cache, the embedding cache and the
// de-duplication of in-flight requests never give one tenant's answer to
// another; users of the same tenant do share (the tenant is the boundary,
// docs/configuration.md). Upstream calls are counted at the real mock.
#include <gtest/gtest.h>

#include <future>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "integration/support/redis_server.h"

namespace agentgate::test {
namespace {

using agentgate::testing::RedisServer;

constexpr const char* kAdminKey = "admin-key-tenant-tests";

class SecurityTenantTest : public ::testing::TestWithParam<bool> {
 protected:
  bool redis() const { return GetParam(); }

  void SetUp() override {
    if (redis()) {
      if (!RedisServer::available()) GTEST_SKIP() << "no redis-server";
      redis_ = std::make_unique<RedisServer>();
      ASSERT_TRUE(redis_->start().ok());
    }
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
    std::string config =
        "server:\n  admin_key: " + std::string(kAdminKey) +
        "\nupstreams:\n"
        "  - name: mock\n"
        "    base_url: http://127.0.0.1:" + std::to_string(mock_->port()) + "/v1\n"
        "    api_key: upstream-key\n"
        "    models: [gpt-4o-mini, text-embedding-3-small]\n"
        "    first_byte_timeout_ms: 5000\n"
        "rate_limit:\n  enabled: false\n"
        "circuit_breaker: {enabled: false}\nerror_recovery: {max_attempts: 1}\n"
        "cache:\n  enabled: true\n  semantic_enabled: true\n";
    if (redis()) {
      config += "redis:\n  host: 127.0.0.1\n  port: " + std::to_string(redis_->port()) + "\n";
    }
    gw_ = GatewayProcess::Start(config);
    ASSERT_NE(gw_, nullptr);
    alice_ = Key("alice", "tenant-a");
    anna_ = Key("anna", "tenant-a");
    bob_ = Key("bob", "tenant-b");
  }

  TestHeaders Key(const std::string& user, const std::string& tenant) {
    HttpResult r = Request(gw_->port(), "POST", "/api/v1/keys",
                           R"({"user_id":")" + user + R"(","tenant":")" + tenant + R"("})",
                           {{"Authorization", std::string("Bearer ") + kAdminKey}});
    EXPECT_EQ(r.status, 201) << r.body;
    return {{"Authorization", "Bearer " + r.json().value("key", "")}};
  }
  int Calls(const std::string& path) {
    return Request(mock_->port(), "GET", "/_mock/stats").json()["calls"].value(path, 0);
  }
  HttpResult Chat(const std::string& content, const TestHeaders& who) {
    return Request(gw_->port(), "POST", "/v1/chat/completions",
                   R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":")" + content +
                       R"("}]})",
                   who);
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
  TestHeaders alice_, anna_, bob_;
};

TEST_P(SecurityTenantTest, ExactCacheIsPerTenant) {
  HttpResult a = Chat("the secret plan of tenant a", alice_);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.header("x-cache"), "MISS");
  EXPECT_EQ(Chat("the secret plan of tenant a", bob_).header("x-cache"), "MISS");
  EXPECT_EQ(Calls("/v1/chat/completions"), 2);
  HttpResult same_tenant = Chat("the secret plan of tenant a", anna_);
  EXPECT_EQ(same_tenant.header("x-cache"), "HIT");
  EXPECT_EQ(same_tenant.body, a.body);
  EXPECT_EQ(Calls("/v1/chat/completions"), 2);
}

TEST_P(SecurityTenantTest, StreamedAnswersArePerTenant) {
  const std::string body =
      R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"stream it"}]})";
  SseResult a = RequestSse(gw_->port(), "POST", "/v1/chat/completions", body, alice_);
  ASSERT_TRUE(a.done()) << a.error;
  EXPECT_EQ(a.header("x-cache"), "MISS");
  EXPECT_EQ(RequestSse(gw_->port(), "POST", "/v1/chat/completions", body, bob_).header("x-cache"),
            "MISS");
  EXPECT_EQ(Calls("/v1/chat/completions"), 2);
  EXPECT_EQ(RequestSse(gw_->port(), "POST", "/v1/chat/completions", body, anna_).header("x-cache"),
            "HIT");
  EXPECT_EQ(Calls("/v1/chat/completions"), 2);
}

TEST_P(SecurityTenantTest, SemanticCacheIsPerTenant) {
  ASSERT_EQ(Chat("What is the capital of Peru?", alice_).header("x-cache"), "MISS");
  HttpResult other = Chat("what is the capital of PERU", bob_);
  EXPECT_EQ(other.header("x-cache"), "MISS") << other.header("x-cache-kind");
  EXPECT_EQ(Calls("/v1/chat/completions"), 2);
  HttpResult same = Chat("WHAT is the capital of Peru", anna_);
  EXPECT_EQ(same.header("x-cache"), "HIT");
  EXPECT_EQ(same.header("x-cache-kind"), "semantic");
  EXPECT_EQ(Calls("/v1/chat/completions"), 2);
}

TEST_P(SecurityTenantTest, EmbeddingCacheIsPerTenant) {
  auto embed = [&](const TestHeaders& who, const std::string& input = R"(["private words","more"])") {
    HttpResult r = Request(gw_->port(), "POST", "/v1/embeddings",
                           R"({"model":"text-embedding-3-small","input":)" + input + "}", who);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.header("x-cache-embeddings");
  };
  EXPECT_EQ(embed(alice_), "0/2");
  EXPECT_EQ(embed(bob_), "0/2");
  EXPECT_EQ(Calls("/v1/embeddings"), 2);
  // Another order: not an exact-cache hit, so the per-input cache answers.
  EXPECT_EQ(embed(bob_, R"(["more","private words"])"), "2/2");
  EXPECT_EQ(embed(anna_, R"(["more","private words"])"), "2/2");
  EXPECT_EQ(Calls("/v1/embeddings"), 2);
}

TEST_P(SecurityTenantTest, InFlightDeduplicationIsPerTenant) {
  ASSERT_EQ(Request(mock_->port(), "POST", "/_mock/faults", R"({"latency_ms":400})").status, 200);
  auto a = std::async(std::launch::async, [&] { return Chat("same question at once", alice_); });
  auto b = std::async(std::launch::async, [&] { return Chat("same question at once", bob_); });
  HttpResult ra = a.get(), rb = b.get();
  EXPECT_EQ(ra.status, 200);
  EXPECT_EQ(rb.status, 200);
  EXPECT_EQ(Calls("/v1/chat/completions"), 2);  // one each: tenant b never waits for tenant a
  EXPECT_EQ(rb.header("x-cache"), "MISS");
  EXPECT_EQ(ra.header("x-cache"), "MISS");
  // Control: the same overlap within one tenant is de-duplicated.
  auto c = std::async(std::launch::async, [&] { return Chat("another question at once", alice_); });
  auto d = std::async(std::launch::async, [&] { return Chat("another question at once", anna_); });
  EXPECT_EQ(c.get().status, 200);
  EXPECT_EQ(d.get().status, 200);
  EXPECT_EQ(Calls("/v1/chat/completions"), 3);
}

INSTANTIATE_TEST_SUITE_P(Stores, SecurityTenantTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Redis" : "Memory";
                         });

}  // namespace
}  // namespace agentgate::test
