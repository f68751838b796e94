// The Redis dead-letter queue against a real redis-server: the same contract
// as the SQLite store, the bound across two stores sharing one Redis, and a
// fleet of two agentgate processes sharing their dead letters, one of them
// killed with SIGKILL.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "integration/support/redis_server.h"
#include "support/io_thread.h"
#include "unit/resilience/dead_letter_queue_contract.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using agentgate::testing::Await;
using agentgate::testing::Letter;
using agentgate::testing::RedisServer;
using namespace std::chrono_literals;

class RedisDeadLetterQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::available()) GTEST_SKIP() << "no redis-server";
    ASSERT_TRUE(server_.start().ok());
    RedisOptions o;
    o.port = server_.port();
    o.concern = "default";
    client_ = std::make_unique<RedisClient>(io_.executor(), o, metrics_);
    client_->start();
  }
  void TearDown() override {
    if (client_) client_->stop();
    io_.join();
  }
  std::unique_ptr<DeadLetterQueue> Open(int64_t max_entries = 100, std::string prefix = "") {
    return NewRedisDeadLetterQueue(*client_, std::move(prefix), clock_, &metrics_,
                                   {.max_entries = max_entries});
  }

  RedisServer server_;
  ManualClock clock_;
  MetricsRegistry metrics_;
  agentgate::testing::IoThread io_;
  std::unique_ptr<RedisClient> client_;
};

TEST_F(RedisDeadLetterQueueTest, AddGetListRemoveReplay) {
  agentgate::testing::ExpectAddGetListRemoveReplay(*Open(), 1767225600000);
}

TEST_F(RedisDeadLetterQueueTest, BoundedDropsOldestAndCountsThem) {
  agentgate::testing::ExpectBoundedDropsOldest(*Open(3), metrics_);
  // The dropped entries' hashes are gone too, not only their ids.
  EXPECT_EQ(server_.command({"EXISTS", "{dlq}:e:1"})->integer, 0);
  EXPECT_EQ(server_.command({"EXISTS", "{dlq}:e:5"})->integer, 1);
}

TEST_F(RedisDeadLetterQueueTest, SecretsAreScrubbedFromTheBody) {
  agentgate::testing::ExpectSecretsScrubbed(*Open());
}

TEST_F(RedisDeadLetterQueueTest, TwoStoresShareOneQueueAndItsBound) {
  auto a = Open(4), b = Open(4);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Await(a->add(Letter("a" + std::to_string(i)))).ok());
    ASSERT_TRUE(Await(b->add(Letter("b" + std::to_string(i)))).ok());
  }
  EXPECT_EQ(*Await(a->size()), 4);
  auto all = Await(b->list({}));
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ(all->front().user, "b2");
  EXPECT_EQ(all->back().user, "a1");
  // Prefixes separate deployments that share one Redis DB.
  auto other = Open(4, "staging:");
  EXPECT_EQ(*Await(other->size()), 0);
}

TEST_F(RedisDeadLetterQueueTest, RedisAwayIsAnErrorNotACrashAndTheQueueComesBack) {
  auto q = Open();
  ASSERT_TRUE(Await(q->add(Letter("before"))).ok());
  ASSERT_TRUE(server_.stop().ok());
  auto failed = Await(q->add(Letter("during")));
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(Await(q->list({})).ok());
  // The test server keeps no dataset across a restart; the script cache is
  // empty too, so this also exercises the NOSCRIPT reload.
  ASSERT_TRUE(server_.restart().ok());
  Result<int64_t> id = Unavailable("not yet");
  // Retried through the real client's reconnect backoff.
  testing::WaitFor([&] { return (id = Await(q->add(Letter("after")))).ok(); }, 10s, 5ms);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(Await(q->get(*id))->user, "after");
}

// Two gateways sharing one Redis: a request that fails on one is a dead
// letter the other lists; SIGKILL of the first loses nothing.
TEST(GatewayRedisDeadLetterTest, InstancesShareDeadLettersAndSurviveKill9) {
  if (!RedisServer::available()) GTEST_SKIP() << "no redis-server";
  RedisServer redis;
  ASSERT_TRUE(redis.start().ok());
  auto mock = MockProcess::Start();
  ASSERT_NE(mock, nullptr);
  const std::string admin = "Bearer dlq-admin-key";
  const std::string config =
      "server:\n  admin_key: dlq-admin-key\n"
      "redis:\n  host: 127.0.0.1\n  port: " + std::to_string(redis.port()) + "\n"
      "upstreams:\n  - name: mock\n    base_url: http://127.0.0.1:" +
      std::to_string(mock->port()) + "/v1\n    models: [\"*\"]\n"
      "rate_limit:\n  enabled: false\ncache:\n  enabled: false\n"
      "error_recovery: {max_attempts: 1}\n";
  auto a = GatewayProcess::Start(config);
  auto b = GatewayProcess::Start(config);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(Request(mock->port(), "POST", "/_mock/faults", R"({"error_rate":1,"status":500})")
                .status,
            200);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Request(a->port(), "POST", "/v1/chat/completions",
                      R"({"model":"gpt-4o-mini","user":"u)" + std::to_string(i) +
                          R"(","messages":[{"role":"user","content":"lost?"}]})")
                  .status,
              500);
  }
  a->process().signal(SIGKILL);
  a->process().wait(20s);

  auto list = Request(b->port(), "GET", "/api/v1/dlq", "", {{"Authorization", admin}});
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json()["data"].size(), 3u);
  EXPECT_EQ(list.json()["total"], 3);
  EXPECT_EQ(list.json()["data"][0]["user"], "u2");
  EXPECT_EQ(list.json()["data"][0]["error_class"], "RECOVERABLE");
  int64_t id = list.json()["data"][0]["id"];

  ASSERT_EQ(Request(mock->port(), "POST", "/_mock/faults", "{}").status, 200);
  auto replay = Request(b->port(), "POST", "/api/v1/dlq/" + std::to_string(id) + "/replay", "",
                        {{"Authorization", admin}});
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json()["status"], 200);
  auto after =
      Request(b->port(), "GET", "/api/v1/dlq/" + std::to_string(id), "", {{"Authorization", admin}});
  EXPECT_EQ(after.json()["replays"], 1);
  EXPECT_EQ(Request(b->port(), "DELETE", "/api/v1/dlq/" + std::to_string(id), "",
                    {{"Authorization", admin}})
                .status,
            200);
  EXPECT_EQ(Request(b->port(), "GET", "/api/v1/dlq/" + std::to_string(id), "",
                    {{"Authorization", admin}})
                .status,
            404);
}

}  // namespace
}  // namespace agentgate::test
