// The real agentgate binary with a real redis-server: /readyz reports Redis,
// degraded (still serving) while it is away, ready again once it is back.
#include <gtest/gtest.h>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "integration/support/redis_server.h"

namespace agentgate::test {
namespace {

constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello redis"}]})";

// PollReadyz: polls /readyz until its status is `want` (bounded by count;
// each poll is a loopback round trip).
Json PollReadyz(uint16_t port, const std::string& want) {
  Json last;
  for (int i = 0; i < 20000; ++i) {
    last = Request(port, "GET", "/readyz").json();
    if (last.is_object() && last["status"] == want) return last;
  }
  return last;
}

TEST(GatewayRedisTest, ReadinessFollowsRedisAndServingNeverStops) {
  agentgate::testing::RedisServer redis;
  ASSERT_TRUE(redis.start().ok());
  auto mock = MockProcess::Start();
  ASSERT_NE(mock, nullptr);
  std::string config = "redis:\n  host: 127.0.0.1\n  port: " + std::to_string(redis.port()) +
                       "\n  connect_timeout_ms: 200\n  command_timeout_ms: 200\n"
                       "upstreams:\n  - name: mock\n    base_url: http://127.0.0.1:" +
                       std::to_string(mock->port()) + "\n    models: [\"*\"]\n";
  auto gw = GatewayProcess::Start(config);
  ASSERT_NE(gw, nullptr);

  Json ready = PollReadyz(gw->port(), "ready");
  ASSERT_EQ(ready["status"], "ready") << ready.dump();
  EXPECT_EQ(ready["checks"]["redis"]["ok"], true);

  ASSERT_TRUE(redis.stop().ok());
  Json degraded = PollReadyz(gw->port(), "degraded");
  ASSERT_EQ(degraded["status"], "degraded") << degraded.dump();
  EXPECT_EQ(degraded["checks"]["redis"]["ok"], false);
  EXPECT_FALSE(degraded["checks"]["redis"]["reason"].get<std::string>().empty());
  EXPECT_EQ(Request(gw->port(), "GET", "/readyz").status, 200);  // degraded still serves
  EXPECT_EQ(Request(gw->port(), "POST", "/v1/chat/completions", kChat).status, 200);

  ASSERT_TRUE(redis.restart().ok());
  Json back = PollReadyz(gw->port(), "ready");
  EXPECT_EQ(back["status"], "ready") << back.dump();
  std::string metrics = Request(gw->port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("agentgate_redis_reconnects_total{concern=\"ratelimit\"}"), std::string::npos);
}

}  // namespace
}  // namespace agentgate::test
