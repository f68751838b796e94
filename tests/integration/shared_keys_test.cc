// Client API keys shared by two agentgate processes through one real
// redis-server: a key created through A authenticates on B, a key revoked
// through B is refused on A, either lists the fleet's keys; Redis holds the
// digest, never the secret; bad input is 400 and writes nothing; while Redis
// is away known keys still authenticate (also after a restart) and
// create/revoke are 503.
//
// Propagation (the change feed's 250 ms poll) is waited for by polling with a
// deadline, never by sleeping a fixed time.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "integration/support/redis_server.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using testing::WaitFor;

using namespace std::chrono_literals;

constexpr const char* kAdminKey = "admin-secret-for-key-tests";
const TestHeaders kAdmin = {{"Authorization", std::string("Bearer ") + kAdminKey}};
constexpr const char* kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello shared keys"}]})";

std::string ConfigFor(uint16_t mock_port, int redis_port) {
  return "server:\n  admin_key: " + std::string(kAdminKey) +
         "\nupstreams:\n"
         "  - name: mock\n"
         "    base_url: http://127.0.0.1:" + std::to_string(mock_port) + "/v1\n"
         "    api_key: upstream-key\n"
         "    models: [gpt-4o-mini]\n"
         "cache:\n  enabled: false\n"
         "redis:\n  host: 127.0.0.1\n  port: " + std::to_string(redis_port) +
         "\n  connect_timeout_ms: 500\n  command_timeout_ms: 500\n";
}

// StoredFields: every field and value of hash `key` in database `db`.
std::vector<std::string> StoredFields(int port, int db, const std::string& key) {
  std::vector<std::string> out;
  redisContext* c = redisConnect("127.0.0.1", port);
  if (c == nullptr || c->err) {
    ADD_FAILURE() << "cannot connect to redis";
    if (c) redisFree(c);
    return out;
  }
  auto* sel = static_cast<redisReply*>(redisCommand(c, "SELECT %d", db));
  if (sel) freeReplyObject(sel);
  auto* r = static_cast<redisReply*>(redisCommand(c, "HGETALL %s", key.c_str()));
  if (r && r->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < r->elements; ++i) out.emplace_back(r->element[i]->str, r->element[i]->len);
  }
  if (r) freeReplyObject(r);
  redisFree(c);
  return out;
}

class SharedKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!agentgate::testing::RedisServer::available()) GTEST_SKIP() << "no redis-server";
    ASSERT_TRUE(redis_.start().ok());
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
    a_ = GatewayProcess::Start(ConfigFor(mock_->port(), redis_.port()));
    ASSERT_NE(a_, nullptr);
    b_ = GatewayProcess::Start(ConfigFor(mock_->port(), redis_.port()));
    ASSERT_NE(b_, nullptr);
  }
  static HttpResult Admin(uint16_t port, std::string_view method, std::string_view target,
                          std::string_view body = {}) {
    return Request(port, method, target, body, kAdmin);
  }
  static int ChatWith(uint16_t port, const std::string& key) {
    return Request(port, "POST", "/v1/chat/completions", kChat,
                   {{"Authorization", "Bearer " + key}})
        .status;
  }
  // CreateKey: the secret and id of a new key for `user`, through `port`.
  static std::pair<std::string, std::string> CreateKey(uint16_t port, const std::string& user) {
    HttpResult r = Admin(port, "POST", "/api/v1/keys", R"({"user_id":")" + user + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    if (r.status != 201) return {};
    return {r.json()["key"].get<std::string>(), r.json()["id"].get<std::string>()};
  }
  static bool Lists(uint16_t port, const std::string& id) {
    Json list = Admin(port, "GET", "/api/v1/keys").json();
    for (const Json& k : list["data"]) {
      if (k["id"] == id) return true;
    }
    return false;
  }
  std::string Digest() {
    Result<RedisReply> r = redis_.command({"DEBUG", "DIGEST"});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->str : "";
  }

  agentgate::testing::RedisServer redis_{{.extra_args = {"--enable-debug-command", "yes"}}};
  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> a_, b_;
};

TEST_F(SharedKeysTest, KeyCreatedOnOneInstanceWorksOnTheOtherAndRevokedOnTheOtherIsRefused) {
  const uint16_t a = a_->port(), b = b_->port();
  auto [secret, id] = CreateKey(a, "alice");
  ASSERT_FALSE(secret.empty());
  EXPECT_EQ(ChatWith(a, secret), 200) << "works at once where it was created";
  EXPECT_EQ(ChatWith(a, "agk-not-a-key"), 401);
  // B ran open (no keys anywhere); it closes once it has seen the key.
  ASSERT_TRUE(WaitFor([&] { return Lists(b, id); })) << "B never listed the key created through A";
  EXPECT_EQ(ChatWith(b, secret), 200);
  EXPECT_EQ(ChatWith(b, "agk-not-a-key"), 401);

  // Only the digest is in Redis.
  const std::vector<std::string> stored = StoredFields(redis_.port(), 6, "ck:id:" + id);
  ASSERT_FALSE(stored.empty()) << "the key is not in DB 6 as ck:id:<id>";
  for (const std::string& f : stored) EXPECT_EQ(f.find(secret), std::string::npos);

  // Another key stays, so that the fleet does not run open once `id` is gone.
  auto [kept, kept_id] = CreateKey(a, "keeper");
  ASSERT_TRUE(WaitFor([&] { return Lists(b, kept_id); }));
  HttpResult revoked = Admin(b, "DELETE", "/api/v1/keys/" + id);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(ChatWith(b, secret), 401) << "refused at once where it was revoked";
  ASSERT_TRUE(WaitFor([&] { return ChatWith(a, secret) == 401; })) << "A still accepts it";
  EXPECT_FALSE(Lists(a, id));
  HttpResult again = Admin(a, "DELETE", "/api/v1/keys/" + id);
  EXPECT_EQ(again.status, 404) << again.body;

  // A new instance loads the keys created before it started.
  auto [secret2, id2] = CreateKey(b, "bob");
  auto c = GatewayProcess::Start(ConfigFor(mock_->port(), redis_.port()));
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(WaitFor([&] { return Lists(c->port(), id2); }));
  EXPECT_EQ(ChatWith(c->port(), secret2), 200);
  EXPECT_EQ(ChatWith(c->port(), "agk-not-a-key"), 401);
}

TEST_F(SharedKeysTest, BadInputIs400AndWritesNothingToRedis) {
  CreateKey(a_->port(), "carol");
  const std::string before = Digest();
  ASSERT_FALSE(before.empty());
  for (const char* body : {R"({"tier":"free"})", R"({"user_id":""})", R"({"user_id":5})",
                           R"({"user_id":"dan","extra":1})", R"({"user_id":"dan","tier":"platinum"})",
                           "not json"}) {
    HttpResult r = Admin(b_->port(), "POST", "/api/v1/keys", body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
    EXPECT_TRUE(r.json()["error"].contains("message")) << r.body;
  }
  HttpResult missing = Admin(b_->port(), "DELETE", "/api/v1/keys/key_nope");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_TRUE(missing.json()["error"].contains("message")) << missing.body;
  EXPECT_EQ(Digest(), before) << "bad input wrote to Redis";
}

TEST_F(SharedKeysTest, WhileRedisIsAwayKnownKeysAuthenticateAndChangesAre503) {
  const uint16_t a = a_->port(), b = b_->port();
  auto [secret, id] = CreateKey(a, "erin");
  ASSERT_TRUE(WaitFor([&] { return Lists(b, id); }));
  ASSERT_TRUE(redis_.stop().ok());
  EXPECT_EQ(ChatWith(a, secret), 200);
  EXPECT_EQ(ChatWith(b, secret), 200);
  EXPECT_EQ(ChatWith(b, "agk-not-a-key"), 401) << "not open while Redis is away";
  HttpResult create = Admin(b, "POST", "/api/v1/keys", R"({"user_id":"frank"})");
  EXPECT_EQ(create.status, 503) << create.body;
  EXPECT_TRUE(create.json()["error"].contains("message")) << create.body;
  HttpResult revoke = Admin(a, "DELETE", "/api/v1/keys/" + id);
  EXPECT_EQ(revoke.status, 503) << revoke.body;
  EXPECT_EQ(ChatWith(a, secret), 200) << "a refused revoke changes nothing";

  // B restarted while Redis is away authenticates with the copy it kept.
  const std::string dir = b_->dir();
  b_.reset();
  b_ = GatewayProcess::Start(ConfigFor(mock_->port(), redis_.port()), {}, dir);
  ASSERT_NE(b_, nullptr);
  EXPECT_EQ(ChatWith(b_->port(), secret), 200);
  EXPECT_EQ(ChatWith(b_->port(), "agk-not-a-key"), 401) << "not open after a restart";
}

}  // namespace
}  // namespace agentgate::test
