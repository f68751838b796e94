// Resilience against the real agentgate-mock's fault injection: breakers,
// classified retries, admin routes.
#include <gtest/gtest.h>

#include <csignal>
#include <future>

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
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]})";

std::string ConfigFor(uint16_t mock_port, const std::string& sections) {
  return "server:\n  admin_key: " + std::string(kAdminKey) +
         "\nupstreams:\n"
         "  - name: mock\n"
         "    base_url: http://127.0.0.1:" + std::to_string(mock_port) + "/v1\n"
         "    api_key: upstream-key\n"
         "    models: [gpt-4o-mini]\n"
         "    first_byte_timeout_ms: 1500\n"
         // Every request must reach the upstream path: no limits, no cache.
         "rate_limit:\n  enabled: false\ncache:\n  enabled: false\n" + sections;
}

class ResilienceTest : public ::testing::Test {
 protected:
  void Start(const std::string& sections) {
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
    gw_ = GatewayProcess::Start(ConfigFor(mock_->port(), sections));
    ASSERT_NE(gw_, nullptr);
  }
  void SetFaults(const std::string& json) {
    ASSERT_EQ(Request(mock_->port(), "POST", "/_mock/faults", json).status, 200);
  }
  int MockCalls() {
    return Request(mock_->port(), "GET", "/_mock/stats").json()["calls"].value(
        "/v1/chat/completions", 0);
  }
  HttpResult Chat() { return Request(gw_->port(), "POST", "/v1/chat/completions", kChat); }
  std::string Metrics() { return Request(gw_->port(), "GET", "/metrics").body; }

  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(ResilienceTest, FiveFailuresOpenTheBreakerAndCallsStopReachingTheUpstream) {
  Start("error_recovery: {max_attempts: 1}\n");
  SetFaults(R"({"error_rate":1,"status":500})");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Chat().status, 500);
  EXPECT_EQ(MockCalls(), 5);
  for (int i = 0; i < 3; ++i) {
    HttpResult r = Chat();
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.json()["error"]["type"], "service_unavailable") << r.body;
    int retry_after = std::stoi(r.header("retry-after"));
    EXPECT_GE(retry_after, 58);
    EXPECT_LE(retry_after, 60);
  }
  EXPECT_EQ(MockCalls(), 5);  // rejected calls cost no upstream traffic

  auto list = Request(gw_->port(), "GET", "/api/v1/circuit-breakers", "", kAdmin);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json()["data"][0]["name"], "mock");
  auto one = Request(gw_->port(), "GET", "/api/v1/circuit-breakers/mock", "", kAdmin).json();
  EXPECT_EQ(one["state"], "OPEN");
  EXPECT_EQ(one["failed_calls"], 5);
  EXPECT_EQ(one["rejected_calls"], 3);
  EXPECT_NE(Metrics().find(R"(agentgate_circuit_breaker_state{breaker="mock"} 1)"),
            std::string::npos);

  // Reset (audited) lets calls through again.
  SetFaults("{}");
  auto reset = Request(gw_->port(), "POST", "/api/v1/circuit-breakers/mock/reset", "", kAdmin);
  ASSERT_EQ(reset.status, 200);
  EXPECT_EQ(reset.json()["state"], "CLOSED");
  EXPECT_EQ(Chat().status, 200);
  auto audit = Request(gw_->port(), "GET", "/api/v1/audit", "", kAdmin);
  EXPECT_NE(audit.body.find("circuit breaker 'mock': reset"), std::string::npos) << audit.body;
}

TEST_F(ResilienceTest, AdminRoutesRejectBadInputAndKeepState) {
  Start("");
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/circuit-breakers/nope", "", kAdmin).status, 404);
  EXPECT_EQ(Request(gw_->port(), "POST", "/api/v1/circuit-breakers/nope/reset", "", kAdmin).status,
            404);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/circuit-breakers").status, 401);
  for (std::string body : {std::string("not json"), std::string(R"({"failure_threshold":0})"),
                           std::string(R"({"timeout_s":-1})"), std::string(R"({"mode":"x"})"),
                           std::string(R"({"failure_rate_threshold":2})"),
                           std::string(R"({"bogus":1})")}) {
    auto r = Request(gw_->port(), "PUT", "/api/v1/circuit-breakers/mock", body, kAdmin);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error") << body;
  }
  auto one = Request(gw_->port(), "GET", "/api/v1/circuit-breakers/mock", "", kAdmin).json();
  EXPECT_EQ(one["config"]["failure_threshold"], 5);

  auto set = Request(gw_->port(), "PUT", "/api/v1/circuit-breakers/mock",
                     R"({"failure_threshold":2,"timeout_s":30})", kAdmin);
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json()["config"]["failure_threshold"], 2);

  // Forced open: no traffic; forced closed: traffic; both audited.
  ASSERT_EQ(
      Request(gw_->port(), "POST", "/api/v1/circuit-breakers/mock/force-open", "", kAdmin).status,
      200);
  EXPECT_EQ(Chat().status, 503);
  EXPECT_EQ(MockCalls(), 0);
  ASSERT_EQ(
      Request(gw_->port(), "POST", "/api/v1/circuit-breakers/mock/force-closed", "", kAdmin).status,
      200);
  EXPECT_EQ(Chat().status, 200);
  auto audit = Request(gw_->port(), "GET", "/api/v1/audit", "", kAdmin).body;
  EXPECT_NE(audit.find("force-open"), std::string::npos);
  EXPECT_NE(audit.find("thresholds set"), std::string::npos);
}

TEST_F(ResilienceTest, UnauthorizedUpstreamIsNotRetriedAndRaisesTheAlert) {
  Start("error_recovery: {max_attempts: 3, base_delay_s: 0.05, max_delay_s: 0.1}\n");
  SetFaults(R"({"error_rate":1,"status":401})");
  EXPECT_EQ(Chat().status, 401);
  EXPECT_EQ(MockCalls(), 1);
  EXPECT_NE(Metrics().find(R"(agentgate_upstream_alerts_total{upstream="mock"} 1)"),
            std::string::npos);
}

TEST_F(ResilienceTest, ServerErrorsAreRetriedAndSucceedWhenTheUpstreamRecovers) {
  Start("error_recovery: {max_attempts: 3, base_delay_s: 1, max_delay_s: 2, jitter: none}\n");
  SetFaults(R"({"error_rate":1,"status":500})");
  auto pending = std::async(std::launch::async, [this] { return Chat(); });
  // The first attempt fails at once; the retry waits 1 s: recover meanwhile.
  WaitFor([&] { return MockCalls() >= 1; }, 1s);
  SetFaults("{}");
  HttpResult r = pending.get();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(MockCalls(), 2);
  EXPECT_NE(Metrics().find(R"(agentgate_upstream_retries_total{upstream="mock"} 1)"),
            std::string::npos);
}

TEST_F(ResilienceTest, DeadLettersSurviveKill9AndReplayWorks) {
  const std::string sections = "error_recovery: {max_attempts: 2, base_delay_s: 0, max_delay_s: 0}\n";
  Start(sections);
  SetFaults(R"({"error_rate":1,"status":502})");
  HttpResult failed = Request(gw_->port(), "POST", "/v1/chat/completions",
                              R"({"model":"gpt-4o-mini","user":"alice","api_key":"sk-secret",)"
                              R"("messages":[{"role":"user","content":"keep me"}]})",
                              {{"Authorization", "Bearer client-secret"}});
  EXPECT_EQ(failed.status, 502);
  EXPECT_EQ(MockCalls(), 2);

  auto list = Request(gw_->port(), "GET", "/api/v1/dlq?upstream=mock", "", kAdmin);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json()["data"].size(), 1u);
  int64_t id = list.json()["data"][0]["id"];
  EXPECT_EQ(list.json()["data"][0]["attempts"], 2);
  EXPECT_EQ(list.json()["data"][0]["error_class"], "RECOVERABLE");

  // kill -9, restart on the same data dir: the entry is still there.
  std::string dir = gw_->dir();
  gw_->process().signal(SIGKILL);
  gw_->process().wait(20s);
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port(), sections), {}, dir);
  ASSERT_NE(gw_, nullptr);
  auto one = Request(gw_->port(), "GET", "/api/v1/dlq/" + std::to_string(id), "", kAdmin);
  ASSERT_EQ(one.status, 200) << one.body;
  std::string body = one.json()["body"];
  EXPECT_NE(body.find("keep me"), std::string::npos);
  EXPECT_EQ(body.find("sk-secret"), std::string::npos);
  EXPECT_EQ(one.body.find("client-secret"), std::string::npos);
  EXPECT_EQ(one.json()["user"], "alice");

  // Replay once the upstream has recovered.
  SetFaults("{}");
  auto replay =
      Request(gw_->port(), "POST", "/api/v1/dlq/" + std::to_string(id) + "/replay", "", kAdmin);
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json()["status"], 200);
  EXPECT_EQ(replay.json()["response"]["object"], "chat.completion");
  auto after = Request(gw_->port(), "GET", "/api/v1/dlq/" + std::to_string(id), "", kAdmin).json();
  EXPECT_EQ(after["replays"], 1);
  EXPECT_EQ(after["last_replay_status"], 200);

  // Bad ids, unknown ids, bad filters; delete.
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/dlq/abc", "", kAdmin).status, 400);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/dlq/99999", "", kAdmin).status, 404);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/dlq?limit=0", "", kAdmin).status, 400);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/dlq?limit=x", "", kAdmin).status, 400);
  EXPECT_EQ(Request(gw_->port(), "POST", "/api/v1/dlq/99999/replay", "", kAdmin).status, 404);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/dlq").status, 401);
  EXPECT_EQ(
      Request(gw_->port(), "DELETE", "/api/v1/dlq/" + std::to_string(id), "", kAdmin).status, 200);
  EXPECT_EQ(
      Request(gw_->port(), "DELETE", "/api/v1/dlq/" + std::to_string(id), "", kAdmin).status, 404);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/dlq", "", kAdmin).json()["total"], 0);
  auto audit = Request(gw_->port(), "GET", "/api/v1/audit", "", kAdmin).body;
  EXPECT_NE(audit.find("replayed dead letter"), std::string::npos);
  EXPECT_NE(audit.find("deleted dead letter"), std::string::npos);
}

TEST_F(ResilienceTest, UnderFaultsEveryRequestEndsInASuccessOrADeadLetter) {
  // A breaker that would open, or an empty budget, also ends in dead letters;
  // here they are wide so that most requests succeed on a retry.
  Start("circuit_breaker: {failure_threshold: 50}\n"
        "error_recovery: {max_attempts: 3, base_delay_s: 0.01, max_delay_s: 0.05, "
        "retry_budget_percent: 100}\n");
  // first_byte_timeout_ms is 1500 in ConfigFor: hung calls time out as TRANSIENT.
  SetFaults(R"({"error_rate":0.3,"status":503,"hang_rate":0.1,"retry_after_s":0})");
  constexpr int kRequests = 30;
  int ok = 0;
  int failed = 0;
  for (int i = 0; i < kRequests; ++i) {
    HttpResult r = Chat();
    ASSERT_NE(r.status, 0) << r.error;  // always an answer
    (r.status == 200 ? ok : failed)++;
  }
  auto dlq = Request(gw_->port(), "GET", "/api/v1/dlq?limit=1000", "", kAdmin).json();
  EXPECT_EQ(dlq["total"], failed);
  EXPECT_EQ(ok + dlq["total"].get<int>(), kRequests);  // nothing is lost
  EXPECT_GE(ok, 20);  // 40% of calls fail: 6.4% of requests fail all three attempts
}

TEST_F(ResilienceTest, AFailingBurstStaysWithinTheRetryBudget) {
  Start("circuit_breaker: {enabled: false}\n"
        "error_recovery: {max_attempts: 3, base_delay_s: 0, max_delay_s: 0, "
        "retry_budget_percent: 20, retry_budget_min_retries: 5}\n");
  SetFaults(R"({"error_rate":1,"status":500})");
  constexpr int kRequests = 50;
  for (int i = 0; i < kRequests; ++i) EXPECT_EQ(Chat().status, 500);
  // Without a budget: 150 calls. With it: 50 + max(5, 20% of 50).
  EXPECT_LE(MockCalls(), kRequests + 10);
  EXPECT_GE(MockCalls(), kRequests + 5);
}

TEST_F(ResilienceTest, RetryAfterIsHonouredAndBegunStreamsAreNeverRetried) {
  Start("error_recovery: {max_attempts: 2, base_delay_s: 0, max_delay_s: 5}\n");
  SetFaults(R"({"error_rate":1,"status":429,"retry_after_s":1})");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Chat().status, 429);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1s);  // backoff 0, Retry-After 1 s
  EXPECT_EQ(MockCalls(), 2);

  // An error before the stream began is retried; a stream cut half-way is not.
  SetFaults(R"({"error_rate":1,"status":500})");
  constexpr const char* kStream =
      R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"a b c d"}]})";
  EXPECT_EQ(Request(gw_->port(), "POST", "/v1/chat/completions", kStream).status, 500);
  EXPECT_EQ(MockCalls(), 4);
  SetFaults(R"({"truncate_stream":true})");
  SseResult cut = RequestSse(gw_->port(), "POST", "/v1/chat/completions", kStream);
  EXPECT_EQ(cut.status, 200);
  EXPECT_FALSE(cut.done());
  EXPECT_EQ(MockCalls(), 5);
}

}  // namespace
}  // namespace agentgate::test
