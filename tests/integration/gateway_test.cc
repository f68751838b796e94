// The real agentgate binary in front of the real agentgate-mock, over loopback.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "server/http_types.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using testing::WaitFor;

using namespace std::chrono_literals;

constexpr const char* kAdminKey = "admin-secret-for-tests";

std::string ConfigFor(uint16_t mock_port, const std::string& extra = "") {
  return "server:\n  admin_key: " + std::string(kAdminKey) +
         "\n  shutdown_grace_ms: 10000\n"
         "upstreams:\n"
         "  - name: mock\n"
         "    base_url: http://127.0.0.1:" + std::to_string(mock_port) + "/v1\n"
         "    api_key: upstream-key\n"
         "    models: [gpt-4o, gpt-4o-mini, text-embedding-3-small]\n"
         "    first_byte_timeout_ms: 1500\n"
         // The plain upstream path: breakers and retries are resilience_test.cc's.
         "circuit_breaker: {enabled: false}\n"
         "error_recovery: {max_attempts: 1}\n" +
         // These tests send bursts as one user; rate limits are tested in ratelimit_test.cc.
         (extra.find("rate_limit:") == std::string::npos ? "rate_limit:\n  enabled: false\n" : "") +
         extra;
}

const TestHeaders kAdmin = {{"Authorization", std::string("Bearer ") + kAdminKey}};
constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello gateway"}]})";

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
    gw_ = GatewayProcess::Start(ConfigFor(mock_->port()));
    ASSERT_NE(gw_, nullptr);
  }
  void SetFaults(const std::string& json) {
    ASSERT_EQ(Request(mock_->port(), "POST", "/_mock/faults", json).status, 200);
  }
  Json MockStats() { return Request(mock_->port(), "GET", "/_mock/stats").json(); }

  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(GatewayTest, HealthMetricsAndAdminAuth) {
  auto health = Request(gw_->port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json()["status"], "ok");
  auto ready = Request(gw_->port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json()["status"], "ready");
  auto metrics = Request(gw_->port(), "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.header("content-type").find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics.body.find("# TYPE agentgate_http_requests_total counter"), std::string::npos);

  auto no_key = Request(gw_->port(), "GET", "/api/v1/keys");
  EXPECT_EQ(no_key.status, 401);
  EXPECT_EQ(no_key.json()["error"]["type"], "authentication_error");
  auto wrong = Request(gw_->port(), "GET", "/api/v1/keys", "", {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/keys", "", kAdmin).status, 200);
}

TEST_F(GatewayTest, ProxiesChatReplacingTheClientKey) {
  auto r = Request(gw_->port(), "POST", "/v1/chat/completions", kChat,
                   {{"Authorization", "Bearer client-key-must-not-leak"}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Echo: hello gateway");
  Json stats = MockStats();
  EXPECT_EQ(stats["last_authorization"], "Bearer upstream-key");
  EXPECT_EQ(stats["calls"]["/v1/chat/completions"], 1);
  auto usage = Request(gw_->port(), "GET", "/api/v1/usage/anonymous", "", kAdmin).json();
  EXPECT_EQ(usage["requests"], 1);
  EXPECT_EQ(usage["total_tokens"], j["usage"]["total_tokens"]);
}

TEST_F(GatewayTest, StreamsChunkByChunkWithUsage) {
  // Events 5 ms apart: each reaches the client on its own, not gathered.
  // (Events that arrive together go on in one chunk.)
  SetFaults(R"({"stream_chunk_delay_ms":5})");
  auto r = RequestSse(gw_->port(), "POST", "/v1/chat/completions",
                      R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},
                          "messages":[{"role":"user","content":"one two three four"}]})",
                      {{"X-User-Id", "streamer"}});
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_TRUE(r.done());
  EXPECT_GE(r.http_chunks, 4u);
  // One Cache-Control, the gateway's (the mock sends its own too).
  int cache_control = 0;
  for (const auto& [name, value] : r.headers) {
    if (EqualsIgnoreCase(name, "Cache-Control")) {
      ++cache_control;
      EXPECT_EQ(value, "no-cache");
    }
  }
  EXPECT_EQ(cache_control, 1);
  // Usage is recorded once the stream's last write completed: the client may ask first.
  Json usage;
  WaitFor(
      [&] {
        usage = Request(gw_->port(), "GET", "/api/v1/usage/streamer", "", kAdmin).json();
        return usage["requests"] == 1;
      },
      1s);
  EXPECT_EQ(usage["requests"], 1);
  EXPECT_GT(usage["completion_tokens"].get<int>(), 0);
}

TEST_F(GatewayTest, BadBodiesGet400WithoutReachingTheUpstream) {
  for (std::string body : {std::string("not json"), std::string("[1]"),
                           std::string(R"({"messages":[{"role":"user"}]})"),
                           std::string(R"({"model":"gpt-4o"})")}) {
    auto r = Request(gw_->port(), "POST", "/v1/chat/completions", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error") << body;
  }
  EXPECT_EQ(MockStats()["total"], 0);
  auto unknown = Request(gw_->port(), "POST", "/v1/chat/completions",
                         R"({"model":"no-such-model","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json()["error"]["code"], "model_not_found");
  EXPECT_EQ(Request(gw_->port(), "GET", "/v1/nothing").status, 404);
  EXPECT_EQ(Request(gw_->port(), "DELETE", "/v1/chat/completions").status, 405);
  EXPECT_EQ(Request(gw_->port(), "GET", "/healthz").status, 200);  // still serving
}

TEST_F(GatewayTest, UpstreamErrorsKeepTheirStatusAndShape) {
  for (int status : {401, 429, 500}) {
    SetFaults(R"({"error_rate":1,"status":)" + std::to_string(status) + "}");
    auto r = Request(gw_->port(), "POST", "/v1/chat/completions", kChat);
    EXPECT_EQ(r.status, status);
    EXPECT_TRUE(r.json()["error"].is_object()) << r.body;
    if (status == 429) {
      EXPECT_EQ(r.header("retry-after"), "1");
    }
  }
}

TEST_F(GatewayTest, BrokenUpstreamAnswersBecome502Or504) {
  SetFaults(R"({"invalid_json_rate":1})");
  auto invalid = Request(gw_->port(), "POST", "/v1/chat/completions", kChat);
  EXPECT_EQ(invalid.status, 502);
  EXPECT_EQ(invalid.json()["error"]["code"], "bad_gateway");

  SetFaults(R"({"reset_rate":1})");
  EXPECT_EQ(Request(gw_->port(), "POST", "/v1/chat/completions", kChat).status, 502);

  SetFaults(R"({"hang_rate":1})");
  auto hung = Request(gw_->port(), "POST", "/v1/chat/completions", kChat);
  EXPECT_EQ(hung.status, 504);
  EXPECT_EQ(hung.json()["error"]["type"], "timeout_error");

  SetFaults(R"({"truncate_stream":true})");
  auto cut = RequestSse(gw_->port(), "POST", "/v1/chat/completions",
                        R"({"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"a b c d e f"}]})");
  EXPECT_EQ(cut.status, 200);
  EXPECT_FALSE(cut.done());
  EXPECT_NE(cut.body.find("event: error"), std::string::npos) << cut.body;
  SetFaults("{}");
  EXPECT_EQ(Request(gw_->port(), "POST", "/v1/chat/completions", kChat).status, 200);
}

TEST_F(GatewayTest, ClientKeysAreRequiredOnceOneExistsAndSurviveRestart) {
  auto created = Request(gw_->port(), "POST", "/api/v1/keys",
                         R"({"user_id":"alice","tier":"pro","name":"laptop"})", kAdmin);
  ASSERT_EQ(created.status, 201) << created.body;
  std::string secret = created.json()["key"];
  std::string id = created.json()["id"];
  EXPECT_EQ(Request(gw_->port(), "POST", "/v1/chat/completions", kChat).status, 401);
  auto ok = Request(gw_->port(), "POST", "/v1/chat/completions", kChat,
                    {{"Authorization", "Bearer " + secret}});
  EXPECT_EQ(ok.status, 200);
  // Client keys cannot reach admin routes.
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/keys", "", {{"Authorization", "Bearer " + secret}}).status,
            401);
  // Bad admin bodies: 400, nothing stored.
  EXPECT_EQ(Request(gw_->port(), "POST", "/api/v1/keys", R"({"tier":"pro"})", kAdmin).status, 400);
  EXPECT_EQ(Request(gw_->port(), "POST", "/api/v1/keys", "{", kAdmin).status, 400);
  EXPECT_EQ(Request(gw_->port(), "POST", "/api/v1/keys", R"({"user_id":"b","tier":"gold"})", kAdmin).status,
            400);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/keys", "", kAdmin).json()["data"].size(), 1u);

  // Restart on the same data dir: the key still works.
  std::string dir = gw_->dir();
  gw_->process().signal(SIGTERM);
  ASSERT_EQ(gw_->process().wait(20s), 0);
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port()), {}, dir);
  ASSERT_NE(gw_, nullptr);
  EXPECT_EQ(Request(gw_->port(), "POST", "/v1/chat/completions", kChat,
                    {{"Authorization", "Bearer " + secret}})
                .status,
            200);
  auto audit = Request(gw_->port(), "GET", "/api/v1/audit", "", kAdmin).json();
  ASSERT_GE(audit["data"].size(), 1u);
  EXPECT_EQ(audit["data"][0]["route"], "POST /api/v1/keys");
  EXPECT_EQ(audit["data"][0]["summary"].get<std::string>().find(secret), std::string::npos);
  EXPECT_EQ(Request(gw_->port(), "DELETE", "/api/v1/keys/" + id, "", kAdmin).status, 200);
  EXPECT_EQ(Request(gw_->port(), "DELETE", "/api/v1/keys/" + id, "", kAdmin).status, 404);
}

TEST_F(GatewayTest, ClientThatLeavesAStreamCancelsTheUpstreamRequest) {
  SetFaults(R"({"stream_chunk_delay_ms":200})");
  std::string body =
      R"({"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"a b c d e f g h i j k l"}]})";
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(gw_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
    char buf[4096];
    ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);  // the stream has begun
    ::close(fd);                                     // and the client leaves
  }
  // The gateway notices at its next write and drops the upstream exchange.
  auto cancelled = [&] {
    std::string m = Request(gw_->port(), "GET", "/metrics").body;
    return m.find("agentgate_upstream_streams_cancelled_total{upstream=\"mock\"} 1") != std::string::npos;
  };
  bool seen = false;
  for (int i = 0; i < 3000 && !(seen = cancelled()); ++i) {
  }
  EXPECT_TRUE(seen);
}

TEST_F(GatewayTest, SigtermLetsASlowRequestFinishThenExitsZero) {
  SetFaults(R"({"latency_ms":1000})");
  HttpResult slow;
  std::thread client([&] { slow = Request(gw_->port(), "POST", "/v1/chat/completions", kChat); });
  // Wait until the request is at the upstream, then stop the gateway.
  // (Polls the mock's counter; each poll is a loopback round trip.)
  for (int i = 0; i < 5000 && MockStats()["total"] == 0; ++i) {
  }
  ASSERT_EQ(MockStats()["total"], 1);
  gw_->process().signal(SIGTERM);
  client.join();
  EXPECT_EQ(slow.status, 200) << slow.error;
  EXPECT_EQ(gw_->process().wait(20s), 0);
}

}  // namespace
}  // namespace agentgate::test
