// Secrets never logged nor stored in clear: the real agentgate binary is
// driven through every path that handles a key (admin calls right and wrong,
// client keys right and wrong, the upstream key on success, on a refused key
// and on replay, a dead letter whose request carried Authorization and an
// api_key in its body), at log level trace with the access log on. Then its
// whole log output, every file in its data dir (SQLite and WAL) and, in the
// Redis variant, a dump of every Redis database are searched for each secret.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "integration/support/redis_server.h"

namespace agentgate::test {
namespace {

using namespace std::chrono_literals;
using agentgate::testing::RedisServer;
using agentgate::testing::RedisServerOptions;

constexpr const char* kAdminKey = "ADMINSECRET-7f3a9c1e5b";
constexpr const char* kUpstreamKey = "UPSTREAMSECRET-4d2b8e6a0c";
constexpr const char* kWrongUpstreamKey = "WRONGUPSTREAMSECRET-91ce";
constexpr const char* kBodySecret = "BODYSECRET-sk-5e7d";
const std::string kWrongClientKey = "agk-" + std::string(40, 'f') + "WRONGCLI";

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class SecuritySecretsTest : public ::testing::TestWithParam<bool> {
 protected:
  bool redis() const { return GetParam(); }

  void SetUp() override {
    if (redis()) {
      if (!RedisServer::available()) GTEST_SKIP() << "no redis-server";
      redis_dir_ = MakeTempDir("secrets_redis");
      redis_ = std::make_unique<RedisServer>(RedisServerOptions{
          .extra_args = {"--dir", redis_dir_, "--dbfilename", "scan.rdb", "--rdbcompression", "no"}});
      ASSERT_TRUE(redis_->start().ok());
    }
    mock_ = MockProcess::Start({"--api-key", kUpstreamKey});
    ASSERT_NE(mock_, nullptr);
    const std::string base = "http://127.0.0.1:" + std::to_string(mock_->port()) + "/v1";
    std::string config =
        "server:\n  admin_key: " + std::string(kAdminKey) +
        "\n  log_level: trace\n  access_log: text\n"
        "upstreams:\n"
        "  - name: good\n    base_url: " + base + "\n    api_key: " + kUpstreamKey +
        "\n    models: [gpt-4o-mini, text-embedding-3-small]\n"
        "  - name: refused\n    base_url: " + base + "\n    api_key: " + kWrongUpstreamKey +
        "\n    models: [gpt-4o]\n"
        "rate_limit: {default_tier: enterprise}\n"
        "circuit_breaker: {enabled: false}\n"
        "error_recovery: {max_attempts: 1}\n";
    if (redis()) {
      config += "redis:\n  host: 127.0.0.1\n  port: " + std::to_string(redis_->port()) + "\n";
    }
    gw_ = GatewayProcess::Start(config);
    ASSERT_NE(gw_, nullptr);
  }

  HttpResult Admin(const std::string& method, const std::string& path, const std::string& body = "") {
    return Request(gw_->port(), method, path, body,
                   {{"Authorization", std::string("Bearer ") + kAdminKey}});
  }
  HttpResult Chat(const std::string& key, const std::string& model, const std::string& content,
                  const std::string& extra = "") {
    return Request(gw_->port(), "POST", "/v1/chat/completions",
                   R"({"model":")" + model + R"(",)" + extra +
                       R"("messages":[{"role":"user","content":")" + content + R"("}]})",
                   {{"Authorization", "Bearer " + key}});
  }

  std::string redis_dir_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_P(SecuritySecretsTest, KeysAreNeverLoggedNorStoredInClear) {
  HttpResult created = Admin("POST", "/api/v1/keys", R"({"user_id":"alice","tenant":"t1","tier":"enterprise"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string client_key = created.json()["key"];
  ASSERT_GT(client_key.size(), 20u);

  // Every path that handles a key.
  EXPECT_EQ(Chat(client_key, "gpt-4o-mini", "hello").status, 200);
  EXPECT_EQ(Chat(client_key, "gpt-4o-mini", "hello").header("x-cache"), "HIT");
  EXPECT_EQ(RequestSse(gw_->port(), "POST", "/v1/chat/completions",
                       R"({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"s"}]})",
                       {{"Authorization", "Bearer " + client_key}})
                .status,
            200);
  EXPECT_EQ(Request(gw_->port(), "POST", "/v1/embeddings",
                    R"({"model":"text-embedding-3-small","input":["a","b"]})",
                    {{"Authorization", "Bearer " + client_key}})
                .status,
            200);
  EXPECT_EQ(Chat(kWrongClientKey, "gpt-4o-mini", "x").status, 401);
  EXPECT_EQ(Chat(kAdminKey, "gpt-4o-mini", "x").status, 401);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/keys", "",
                    {{"Authorization", "Bearer " + client_key}}).status, 401);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/keys", "",
                    {{"Authorization", std::string("Bearer ") + kAdminKey + "x"}}).status, 401);
  // The upstream refuses the second upstream's key: an error is logged about it.
  EXPECT_EQ(Chat(client_key, "gpt-4o", "refused").status, 401);
  // A dead letter from a request carrying Authorization and a key in its body.
  ASSERT_EQ(Request(mock_->port(), "POST", "/_mock/faults", R"({"error_rate":1,"status":502})").status, 200);
  EXPECT_EQ(Chat(client_key, "gpt-4o-mini", "dead letter",
                 std::string(R"("api_key":")") + kBodySecret + R"(",)").status,
            502);
  ASSERT_EQ(Request(mock_->port(), "POST", "/_mock/faults", "{}").status, 200);
  HttpResult dlq = Admin("GET", "/api/v1/dlq");
  ASSERT_EQ(dlq.status, 200);
  ASSERT_GE(dlq.json()["data"].size(), 1u) << dlq.body;
  const std::string id = std::to_string(dlq.json()["data"][0]["id"].get<int64_t>());
  HttpResult letter = Admin("GET", "/api/v1/dlq/" + id);
  ASSERT_EQ(letter.status, 200);
  EXPECT_NE(letter.body.find("dead letter"), std::string::npos);
  for (const char* h : {"authorization", "Authorization", "Bearer"}) {
    EXPECT_EQ(letter.body.find(h), std::string::npos) << h << " in " << letter.body;
  }
  EXPECT_EQ(Admin("POST", "/api/v1/dlq/" + id + "/replay").json()["status"], 200);
  EXPECT_EQ(Admin("POST", "/api/v1/cache/test", R"({"type":"all"})").status / 100, 2);

  // Stop (flushes write-behind state), then search everything it wrote.
  gw_->process().signal(SIGTERM);
  ASSERT_EQ(gw_->process().wait(20s), 0) << gw_->process().output();
  const std::string log = gw_->process().output();
  ASSERT_NE(log.find("POST /v1/chat/completions"), std::string::npos);  // the access log is there
  ASSERT_NE(log.find("refused our credentials"), std::string::npos);
  std::vector<std::string> secrets = {kAdminKey, kUpstreamKey, kWrongUpstreamKey, kBodySecret,
                                      kWrongClientKey, client_key, client_key.substr(10)};
  for (const std::string& s : secrets) {
    EXPECT_EQ(log.find(s), std::string::npos) << "logged: " << s;
  }
  int files = 0;
  bool saw_alice = false;  // the scan reads real content (the key's row, the DLQ entry)
  for (const auto& e : std::filesystem::recursive_directory_iterator(gw_->dir() + "/data")) {
    if (!e.is_regular_file()) continue;
    ++files;
    std::string bytes = ReadAll(e.path());
    saw_alice = saw_alice || bytes.find("alice") != std::string::npos;
    for (const std::string& s : secrets) {
      EXPECT_EQ(bytes.find(s), std::string::npos) << s << " stored in " << e.path();
    }
  }
  EXPECT_GE(files, 1);
  EXPECT_TRUE(saw_alice);
  if (redis()) {
    Result<RedisReply> saved = redis_->command({"SAVE"});
    ASSERT_TRUE(saved.ok()) << saved.status().message();
    std::string dump = ReadAll(redis_dir_ + "/scan.rdb");
    ASSERT_NE(dump.find("REDIS"), std::string::npos);
    ASSERT_NE(dump.find("dead letter"), std::string::npos);  // the dead letter lives in Redis
    for (const std::string& s : secrets) {
      EXPECT_EQ(dump.find(s), std::string::npos) << s << " stored in Redis";
    }
    EXPECT_EQ(dump.find("Bearer"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, SecuritySecretsTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Redis" : "Embedded"; });

}  // namespace
}  // namespace agentgate::test
