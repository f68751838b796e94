// Rate limits shared through one real redis-server: three agentgate
// processes hammered by one user admit no more than the limit in total;
// with Redis killed mid-load requests keep being served (fail-open, counted)
// and limits apply again once it is back, without restarting agentgate.
//
// The binaries run on the real clock. The tier "burst" (20 per second, 50 per
// minute) binds within one burst of a few seconds: nothing waits a window out.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "integration/support/redis_server.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kAdminKey = "admin-secret-for-tests";
constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello shared limits"}]})";

std::string ConfigFor(uint16_t mock_port, int redis_port, bool fail_open = true) {
  return "server:\n  admin_key: " + std::string(kAdminKey) +
         "\nupstreams:\n"
         "  - name: mock\n"
         "    base_url: http://127.0.0.1:" + std::to_string(mock_port) + "/v1\n"
         "    models: [gpt-4o-mini]\n"
         "cache:\n  enabled: false\n"
         "redis:\n  host: 127.0.0.1\n  port: " + std::to_string(redis_port) +
         "\n  connect_timeout_ms: 200\n  command_timeout_ms: 200\n"
         "rate_limit:\n  default_tier: burst\n  enable_analytics: false\n" +
         std::string(fail_open ? "" : "  fail_open: false\n") +
         "  tiers:\n    burst: {per_second: 20, per_minute: 50, per_hour: 0, per_day: 0}\n";
}

// Metric: the value of an unlabelled counter in /metrics text, 0 if absent.
double Metric(uint16_t port, const std::string& name) {
  std::string text = Request(port, "GET", "/metrics").body;
  size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + name.size() + 2));
}

struct Outcome {
  int status;
  Steady::time_point sent;
  Steady::time_point received;
  bool limited;  // carried RateLimit headers (the limiter answered)
};

class RateLimitRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
    ASSERT_TRUE(redis_.start().ok());
    mock_ = MockProcess::Start();
    ASSERT_NE(mock_, nullptr);
  }

  std::unique_ptr<GatewayProcess> StartGateway(bool fail_open = true) {
    return GatewayProcess::Start(ConfigFor(mock_->port(), redis_.port(), fail_open));
  }

  Outcome Chat(uint16_t port, const std::string& user) {
    Outcome o;
    o.sent = Steady::now();
    HttpResult r = Request(port, "POST", "/v1/chat/completions", kChat, {{"X-User-Id", user}});
    o.received = Steady::now();
    o.status = r.status;
    o.limited = !r.header("x-ratelimit-limit").empty();
    return o;
  }

  agentgate::testing::RedisServer redis_;
  std::unique_ptr<MockProcess> mock_;
};

TEST_F(RateLimitRedisTest, ThreeInstancesTogetherAdmitNoMoreThanTheLimit) {
  std::vector<std::unique_ptr<GatewayProcess>> gws;
  for (int i = 0; i < 3; ++i) {
    gws.push_back(StartGateway());
    ASSERT_NE(gws.back(), nullptr);
  }
  Json health = Request(gws[0]->port(), "GET", "/api/v1/ratelimit/health", {},
                        {{"Authorization", std::string("Bearer ") + kAdminKey}})
                    .json();
  EXPECT_EQ(health["backend"], "redis") << health.dump();

  // 12 clients (4 per instance) hammer as fast as they can for 4 s: the
  // second limit binds at once and the minute limit (50) before the end.
  constexpr int kClients = 12;
  const auto deadline = Steady::now() + milliseconds(4000);
  std::mutex mu;
  std::vector<Outcome> outcomes;
  std::vector<int> admitted_by(3, 0);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      uint16_t port = gws[c % 3]->port();
      while (Steady::now() < deadline) {
        Outcome o = Chat(port, "hammer");
        std::lock_guard lock(mu);
        outcomes.push_back(o);
        if (o.status == 200) ++admitted_by[c % 3];
      }
    });
  }
  for (auto& t : clients) t.join();

  int admitted = 0, denied = 0, other = 0;
  std::vector<Outcome> ok;
  for (const Outcome& o : outcomes) {
    if (o.status == 200) {
      ++admitted;
      ok.push_back(o);
    } else if (o.status == 429) {
      ++denied;
    } else {
      ++other;
    }
    EXPECT_TRUE(o.limited) << "every answer comes through the limiter";
  }
  std::printf("[shared limits] requests=%zu admitted=%d (per instance %d/%d/%d) denied=%d\n",
              outcomes.size(), admitted, admitted_by[0], admitted_by[1], admitted_by[2], denied);
  EXPECT_EQ(other, 0);
  EXPECT_GT(denied, 0);
  // Minute window: the whole burst is shorter than a minute. (Each instance
  // alone would admit 50: the three share one count.)
  EXPECT_LE(admitted, 50);
  EXPECT_GE(admitted, 40) << "about 20 a second for 4 s, capped by the minute's 50";
  for (int i = 0; i < 3; ++i) EXPECT_GT(admitted_by[i], 0) << "instance " << i;
  // Second window: requests sent and answered within one second were
  // admitted within it; there are at most 20 of them.
  std::sort(ok.begin(), ok.end(), [](const Outcome& a, const Outcome& b) { return a.sent < b.sent; });
  int worst = 0;
  for (size_t i = 0; i < ok.size(); ++i) {
    int n = 0;
    for (size_t j = i; j < ok.size(); ++j) {
      if (ok[j].received <= ok[i].sent + milliseconds(1000)) ++n;
    }
    worst = std::max(worst, n);
  }
  EXPECT_LE(worst, 20);
  // The upstream saw exactly the admitted requests.
  EXPECT_EQ(Request(mock_->port(), "GET", "/_mock/stats").json()["total"], admitted);

  // Admin routes read and reset the shared counts: status on one instance
  // shows every instance's admissions; a reset on another frees the user.
  const TestHeaders admin = {{"Authorization", std::string("Bearer ") + kAdminKey}};
  Json status = Request(gws[2]->port(), "GET", "/api/v1/ratelimit/status/hammer", {}, admin).json();
  EXPECT_EQ(status["windows"]["minute"]["used"], admitted) << status.dump();
  EXPECT_EQ(status["allowed"], false) << status.dump();
  EXPECT_EQ(Chat(gws[1]->port(), "hammer").status, 429);
  EXPECT_EQ(Request(gws[0]->port(), "POST", "/api/v1/ratelimit/reset/hammer", {}, admin).status, 200);
  EXPECT_EQ(Chat(gws[1]->port(), "hammer").status, 200);
}

TEST_F(RateLimitRedisTest, RedisDownMidLoadFailsOpenAndLimitsComeBackWithoutARestart) {
  auto gw = StartGateway();
  ASSERT_NE(gw, nullptr);
  const uint16_t port = gw->port();

  // Load from 4 clients until told to stop; phase tags each answer.
  std::atomic<int> phase{0};  // 0: Redis up, 1: Redis down, 2: Redis back
  std::atomic<bool> stop{false};
  std::atomic<int> counts[3][3] = {};  // [phase][0: 200 limited, 1: 429, 2: 200 unlimited (fail-open)]
  std::atomic<int> errors{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        int p = phase.load();
        Outcome o = Chat(port, "steady");
        if (o.status == 429) {
          ++counts[p][1];
        } else if (o.status == 200) {
          ++counts[p][o.limited ? 0 : 2];
        } else {
          ++errors;
        }
      }
    });
  }
  EXPECT_TRUE(testing::WaitFor([&] { return counts[0][1].load() > 0; }, std::chrono::seconds(30)))
      << "limits apply with Redis up";
  ASSERT_TRUE(redis_.stop().ok());
  phase = 1;
  EXPECT_TRUE(testing::WaitFor([&] { return counts[1][2].load() >= 50; }, std::chrono::seconds(30)))
      << "served while Redis is down (more than the minute limit)";
  ASSERT_TRUE(redis_.restart().ok());  // same port, empty dataset: the script must be reloaded
  phase = 2;
  EXPECT_TRUE(testing::WaitFor([&] { return counts[2][1].load() > 0; }, std::chrono::seconds(30)))
      << "limits apply again once Redis is back";
  stop = true;
  for (auto& t : clients) t.join();

  std::printf("[fail-open] up: %d ok / %d denied; down: %d ok (%d unlimited) / %d denied; back: "
              "%d ok (%d unlimited, while reconnecting) / %d denied; errors %d\n",
              counts[0][0].load(), counts[0][1].load(), counts[1][0].load() + counts[1][2].load(),
              counts[1][2].load(), counts[1][1].load(), counts[2][0].load() + counts[2][2].load(),
              counts[2][2].load(), counts[2][1].load(), errors.load());
  // Back: within a minute of the restart, at most the minute's 50 by the limiter.
  EXPECT_LE(counts[2][0].load(), 50);
  EXPECT_EQ(errors.load(), 0) << "no request failed, Redis or not";
  double fail_open = Metric(port, "agentgate_ratelimit_fail_open_total");
  double store_errors = Metric(port, "agentgate_ratelimit_store_errors_total");
  EXPECT_GE(fail_open, counts[1][2].load());
  EXPECT_GE(store_errors, fail_open);
  // Back: the count is in Redis again (DB 7, the restarted server's only key).
  auto info = redis_.command({"INFO", "keyspace"});
  ASSERT_TRUE(info.ok());
  EXPECT_NE(info->str.find("db7:keys=1"), std::string::npos) << info->str;
}

// rate_limit.fail_open: false: while Redis is away the answer is 503 (in the
// OpenAI error shape) and nothing reaches the upstream; back, 200 again.
TEST_F(RateLimitRedisTest, FailClosedAnswers503WhileRedisIsDown) {
  auto gw = StartGateway(/*fail_open=*/false);
  ASSERT_NE(gw, nullptr);
  ASSERT_EQ(Chat(gw->port(), "closed").status, 200);
  ASSERT_TRUE(redis_.stop().ok());
  HttpResult r = Request(gw->port(), "POST", "/v1/chat/completions", kChat, {{"X-User-Id", "closed"}});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_TRUE(r.json()["error"].is_object()) << r.body;
  EXPECT_EQ(Request(mock_->port(), "GET", "/_mock/stats").json()["total"], 1);
  EXPECT_GE(Metric(gw->port(), "agentgate_ratelimit_store_errors_total"), 1);
  EXPECT_EQ(Metric(gw->port(), "agentgate_ratelimit_fail_open_total"), 0);
  ASSERT_TRUE(redis_.restart().ok());
  int status = 0;
  for (int i = 0; i < 4000 && status != 200; ++i) status = Chat(gw->port(), "closed").status;
  EXPECT_EQ(status, 200) << "served again once Redis is back";
}

}  // namespace
}  // namespace agentgate::test
