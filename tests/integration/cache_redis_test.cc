// The caches on Redis: two real agentgate instances sharing one real
// redis-server and one agentgate-mock. Entries written by one instance are
// hits on the other (counted at the mock), in the documented DBs; Redis away
// is a miss, never a client error.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"
#include "integration/support/redis_server.h"
#include "support/wait_for.h"

namespace agentgate::test {
namespace {

using testing::WaitFor;

constexpr const char* kAdminKey = "admin-secret-for-tests";
const TestHeaders kAdmin = {{"Authorization", std::string("Bearer ") + kAdminKey}};

std::string Chat(const std::string& content, const std::string& extra = "") {
  return R"({"model":"gpt-4o-mini",)" + extra + R"("messages":[{"role":"user","content":")" +
         content + R"("}]})";
}

class CacheRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.start().ok());
    mock_ = MockProcess::Start({"--api-key", "upstream-key"});
    ASSERT_NE(mock_, nullptr);
    a_ = GatewayProcess::Start(Config());
    ASSERT_NE(a_, nullptr);
    b_ = GatewayProcess::Start(Config());
    ASSERT_NE(b_, nullptr);
  }

  std::string Config(const std::string& cache = "") {
    return "server:\n  admin_key: " + std::string(kAdminKey) +
           "\nredis:\n  host: 127.0.0.1\n  port: " + std::to_string(redis_.port()) +
           "\n  connect_timeout_ms: 200\n  command_timeout_ms: 200\n"
           "upstreams:\n"
           "  - name: mock\n"
           "    base_url: http://127.0.0.1:" + std::to_string(mock_->port()) + "/v1\n"
           "    api_key: upstream-key\n"
           "    models: [gpt-4o, gpt-4o-mini]\n"
           "    first_byte_timeout_ms: 5000\n"
           "rate_limit:\n  enabled: false\n"
           "circuit_breaker: {enabled: false}\nerror_recovery: {max_attempts: 1}\n"
           "cache:\n  semantic_enabled: false\n" + cache;
  }
  void SetFaults(const std::string& json) {
    ASSERT_EQ(Request(mock_->port(), "POST", "/_mock/faults", json).status, 200);
  }
  int Calls(const std::string& path = "/v1/chat/completions") {
    Json j = Request(mock_->port(), "GET", "/_mock/stats").json();
    return j["calls"].value(path, 0);
  }
  HttpResult Post(GatewayProcess& gw, const std::string& body, const TestHeaders& headers = {}) {
    return Request(gw.port(), "POST", "/v1/chat/completions", body, headers);
  }
  // Keys: the number of keys in Redis DB `db` (INFO keyspace).
  int64_t Keys(int db) {
    Result<RedisReply> r = redis_.command({"INFO", "keyspace"});
    if (!r.ok()) return -1;
    const std::string tag = "db" + std::to_string(db) + ":keys=";
    size_t at = r->str.find(tag);
    if (at == std::string::npos) return 0;
    return std::stoll(r->str.substr(at + tag.size()));
  }

  agentgate::testing::RedisServer redis_;
  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> a_, b_;
};

TEST_F(CacheRedisTest, ResponsesWrittenByOneInstanceHitOnTheOther) {
  HttpResult first = Post(*a_, Chat("shared between instances"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-cache"), "MISS");
  EXPECT_EQ(Keys(2), 1);  // DB 2: responses

  HttpResult other = Post(*b_, Chat("shared between instances"));
  ASSERT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(other.header("x-cache"), "HIT");
  EXPECT_EQ(other.header("x-cache-kind"), "exact");
  EXPECT_EQ(other.body, first.body);
  EXPECT_EQ(Calls(), 1);

  // Entries carry the cache TTL (PX).
  Result<RedisReply> keys = redis_.command({"EVAL",
      "redis.call('SELECT', 2) local k = redis.call('KEYS', '*') "
      "return {k[1], redis.call('PTTL', k[1])}", "0"});
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->elements.size(), 2u) << DebugString(*keys);
  EXPECT_EQ(keys->elements[0].str.rfind("response:", 0), 0u) << keys->elements[0].str;
  EXPECT_GT(keys->elements[1].integer, 290000);
  EXPECT_LE(keys->elements[1].integer, 300000);

  // Stats report the Redis store; clearing on one instance clears for both.
  Json stats = Request(b_->port(), "GET", "/api/v1/cache/stats", "", kAdmin).json();
  EXPECT_EQ(stats["exact"]["store"], "redis");
  EXPECT_EQ(stats["exact"]["entries"], 1);
  HttpResult cleared = Request(b_->port(), "DELETE", "/api/v1/cache/clear?type=exact", "", kAdmin);
  EXPECT_EQ(cleared.json()["cleared"]["exact"], 1) << cleared.body;
  EXPECT_EQ(Keys(2), 0);
  EXPECT_EQ(Post(*a_, Chat("shared between instances")).header("x-cache"), "MISS");
  EXPECT_EQ(Calls(), 2);
}

TEST_F(CacheRedisTest, StreamsWrittenByOneInstanceReplayOnTheOther) {
  const std::string body = Chat("stream me across", R"("stream":true,)");
  SseResult first = RequestSse(a_->port(), "POST", "/v1/chat/completions", body);
  ASSERT_EQ(first.status, 200) << first.error;
  ASSERT_TRUE(first.done());
  SseResult second = RequestSse(b_->port(), "POST", "/v1/chat/completions", body);
  ASSERT_EQ(second.status, 200) << second.error;
  EXPECT_EQ(second.header("x-cache"), "HIT");
  EXPECT_TRUE(second.done());
  EXPECT_EQ(second.events, first.events);
  EXPECT_EQ(Calls(), 1);
}

TEST_F(CacheRedisTest, EmbeddingsAreSharedAsBinaryVectors) {
  auto embed = [&](GatewayProcess& gw, const std::string& input) {
    HttpResult r = Request(gw.port(), "POST", "/v1/embeddings",
                           R"({"model":"gpt-4o-mini","input":)" + input + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    return r;
  };
  HttpResult first = embed(*a_, R"(["red fox","blue bird"])");
  EXPECT_EQ(first.header("x-cache-embeddings"), "0/2");
  EXPECT_EQ(Keys(3), 3);  // DB 3: two embeddings and their recency set (the max_size bound)
  HttpResult other = embed(*b_, R"(["blue bird","red fox"])");
  EXPECT_EQ(other.header("x-cache-embeddings"), "2/2");
  EXPECT_EQ(Calls("/v1/embeddings"), 1);
  Json f = first.json(), o = other.json();
  ASSERT_EQ(o["data"].size(), 2u);
  EXPECT_EQ(o["data"][0]["embedding"], f["data"][1]["embedding"]);
  EXPECT_EQ(o["data"][1]["embedding"], f["data"][0]["embedding"]);
  // Stored as binary floats (tag, then 4 or 8 bytes a value), not JSON text.
  Result<RedisReply> v = redis_.command({"EVAL",
      "redis.call('SELECT', 3) local k = redis.call('KEYS', 'embedding:*') "
      "return redis.call('GET', k[1])",
      "0"});
  ASSERT_TRUE(v.ok());
  const size_t dims = f["data"][0]["embedding"].size();
  ASSERT_FALSE(v->str.empty());
  EXPECT_TRUE(v->str[0] == 'f' || v->str[0] == 'd') << v->str.substr(0, 20);
  EXPECT_EQ(v->str.size(), 1 + dims * (v->str[0] == 'f' ? 4 : 8));
}

TEST_F(CacheRedisTest, RedisAwayIsAMissNeverAnError) {
  ASSERT_TRUE(redis_.stop().ok());
  for (int i = 0; i < 2; ++i) {
    HttpResult r = Post(*a_, Chat("redis is down"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-cache"), "MISS");
  }
  HttpResult e = Request(a_->port(), "POST", "/v1/embeddings",
                         R"({"model":"gpt-4o-mini","input":"still works"})");
  EXPECT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(Calls(), 2);
  std::string metrics = Request(a_->port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("agentgate_cache_store_errors_total{cache=\"response\"}"), std::string::npos);
  EXPECT_NE(metrics.find("agentgate_cache_store_errors_total{cache=\"embedding\"}"), std::string::npos);
  EXPECT_EQ(metrics.find("agentgate_cache_store_errors_total{cache=\"response\"} 0\n"), std::string::npos);

  ASSERT_TRUE(redis_.restart().ok());
  // Once reconnected, it caches again (bounded polling: each try is a round trip).
  EXPECT_TRUE(WaitFor(
      [&] {
        Post(*a_, Chat("after the outage"));
        return Post(*b_, Chat("after the outage")).header("x-cache") == "HIT";
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50)));
}

// Replicated: polls `gw`'s /metrics until it has inserted `n` semantic
// entries from other instances (bounded; each poll is a loopback round trip).
bool Replicated(GatewayProcess& gw, int n) {
  const std::string line = "agentgate_cache_replicated_total{cache=\"semantic\"} " + std::to_string(n) + "\n";
  return WaitFor(
      [&] { return Request(gw.port(), "GET", "/metrics").body.find(line) != std::string::npos; },
      std::chrono::seconds(5), std::chrono::milliseconds(25));
}

TEST_F(CacheRedisTest, SemanticEntriesAreSharedThroughRedis) {
  std::string config = Config();
  const std::string off = "  semantic_enabled: false\n";
  config.replace(config.find(off), off.size(), "  semantic_enabled: true\n");
  a_ = GatewayProcess::Start(config);
  b_ = GatewayProcess::Start(config);
  ASSERT_NE(a_, nullptr);
  ASSERT_NE(b_, nullptr);
  HttpResult first = Post(*a_, Chat("What is the capital of France?"));
  ASSERT_EQ(first.header("x-cache"), "MISS");
  EXPECT_EQ(Keys(1), 1);  // DB 1: the shared log of semantic entries
  ASSERT_TRUE(Replicated(*b_, 1));
  HttpResult hit = Post(*b_, Chat("what is the capital of FRANCE"));
  EXPECT_EQ(hit.header("x-cache"), "HIT");
  EXPECT_EQ(hit.header("x-cache-kind"), "semantic");
  EXPECT_EQ(hit.body, first.body);  // A's answer
  EXPECT_EQ(Calls(), 1);
  // The partition travels with the entry: another agent type misses.
  EXPECT_EQ(Post(*b_, Chat("what is the capital of France"), {{"X-Agent-Type", "other"}})
                .header("x-cache"), "MISS");
  EXPECT_EQ(Calls(), 2);

  // A new instance loads the live entries at start (B's own too, now).
  auto c = GatewayProcess::Start(config);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(Replicated(*c, 2));
  HttpResult late = Post(*c, Chat("WHAT is the capital of France?"));
  EXPECT_EQ(late.header("x-cache-kind"), "semantic");
  EXPECT_EQ(late.body, first.body);
  EXPECT_EQ(Calls(), 2);

  // Clearing the semantic cache also clears the shared log.
  HttpResult cleared = Request(a_->port(), "DELETE", "/api/v1/cache/clear?type=semantic", "", kAdmin);
  EXPECT_EQ(cleared.status, 200);
  EXPECT_EQ(Keys(1), 0);
}

TEST_F(CacheRedisTest, KeyPrefixModePutsEveryCacheKeyInDbZeroUnderThePrefix) {
  std::string config = Config();
  const std::string redis_line = "\nredis:\n";
  config.replace(config.find(redis_line), redis_line.size(), "\nredis:\n  key_prefix: \"tenant7:\"\n");
  a_ = GatewayProcess::Start(config);
  b_ = GatewayProcess::Start(config);
  ASSERT_NE(a_, nullptr);
  ASSERT_NE(b_, nullptr);
  ASSERT_EQ(Post(*a_, Chat("prefixed")).header("x-cache"), "MISS");
  EXPECT_EQ(Post(*b_, Chat("prefixed")).header("x-cache"), "HIT");
  EXPECT_EQ(Request(a_->port(), "POST", "/v1/embeddings",
                    R"({"model":"gpt-4o-mini","input":"prefixed words"})").status, 200);
  EXPECT_EQ(Keys(2), 0);
  EXPECT_EQ(Keys(3), 0);
  Result<RedisReply> keys = redis_.command({"KEYS", "*"});
  ASSERT_TRUE(keys.ok());
  std::vector<std::string> names;
  for (const RedisReply& k : keys->elements) {
    const size_t colon = k.str.find(':', 8);
    names.push_back(colon == std::string::npos ? k.str : k.str.substr(0, colon + 1));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());  // embeddings: both caches
  EXPECT_EQ(names, (std::vector<std::string>{"tenant7:embedding-lru", "tenant7:embedding:",
                                             "tenant7:response:"}));
}

TEST_F(CacheRedisTest, TestRouteRoundTripsThroughRedis) {
  HttpResult r = Request(a_->port(), "POST", "/api/v1/cache/test", "", kAdmin);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["ok"], true) << r.body;
  EXPECT_EQ(j["exact"]["store"], "redis");
  EXPECT_EQ(j["embedding"]["store"], "redis");
  EXPECT_EQ(j["semantic"]["enabled"], false);  // off in this fixture
  EXPECT_EQ(Keys(2), 0);  // the probes were removed
  EXPECT_EQ(Keys(3), 0);
  ASSERT_TRUE(redis_.stop().ok());
  j = Request(a_->port(), "POST", "/api/v1/cache/test", "", kAdmin).json();
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["exact"]["ok"], false);
  EXPECT_FALSE(j["exact"]["error"].get<std::string>().empty());
}

// ConcurrentPosts: `n` identical requests at once, alternating between the
// two instances.
std::vector<HttpResult> ConcurrentPosts(GatewayProcess& a, GatewayProcess& b, int n,
                                        const std::string& body) {
  std::vector<HttpResult> results(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    GatewayProcess& gw = i % 2 == 0 ? a : b;
    threads.emplace_back([&results, &gw, &body, i] {
      results[i] = Request(gw.port(), "POST", "/v1/chat/completions", body);
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

TEST_F(CacheRedisTest, ConcurrentIdenticalRequestsOnTwoInstancesMakeOneUpstreamCall) {
  SetFaults(R"({"latency_ms":800})");
  std::vector<HttpResult> results = ConcurrentPosts(*a_, *b_, 50, Chat("herd across instances"));
  int misses = 0, inflight = 0;
  for (const HttpResult& r : results) {
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.body, results[0].body);
    if (r.header("x-cache") == "MISS") ++misses;
    if (r.header("x-cache-kind") == "inflight") ++inflight;
  }
  EXPECT_EQ(misses, 1);
  EXPECT_EQ(Calls(), 1);
  EXPECT_GE(inflight, 40);  // the rest waited for the leader (a few may hit the stored entry)
  EXPECT_EQ(Keys(4), 0);    // the lock (DB 4) was released
  // The follower instance counted its remote wait.
  std::string ma = Request(a_->port(), "GET", "/metrics").body;
  std::string mb = Request(b_->port(), "GET", "/metrics").body;
  const std::string remote = "result=\"remote_inflight_hit\"} 1\n";
  EXPECT_TRUE(ma.find(remote) != std::string::npos || mb.find(remote) != std::string::npos);
}

TEST_F(CacheRedisTest, StreamingFollowersOnTheOtherInstanceReceiveTheLeadersChunksAsTheyArrive) {
  SetFaults(R"({"stream_chunk_delay_ms":200})");
  const std::string body = Chat("one two three four five six seven", R"("stream":true,)");
  SseResult leader;
  std::thread leader_thread(
      [&] { leader = RequestSse(a_->port(), "POST", "/v1/chat/completions", body); });
  // Followers join once the leader's upstream call is under way.
  WaitFor([&] { return Calls() != 0; }, std::chrono::seconds(10));
  constexpr int kFollowers = 6;  // 4 on the other instance, 2 beside the leader
  std::vector<SseResult> followers(kFollowers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kFollowers; ++i) {
    threads.emplace_back([&, i] {
      const uint16_t port = i < 4 ? b_->port() : a_->port();
      followers[i] = RequestSse(port, "POST", "/v1/chat/completions", body);
    });
  }
  for (auto& t : threads) t.join();
  leader_thread.join();
  ASSERT_EQ(leader.status, 200) << leader.error;
  EXPECT_EQ(leader.header("x-cache"), "MISS");
  ASSERT_TRUE(leader.done());
  ASSERT_GE(leader.events.size(), 6u);  // several chunks, 200 ms apart
  EXPECT_EQ(Calls(), 1);
  for (int i = 0; i < kFollowers; ++i) {
    const SseResult& r = followers[i];
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.header("x-cache"), "HIT") << i;
    EXPECT_EQ(r.header("x-cache-kind"), "inflight") << i;
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.events, leader.events) << i;
    // Live, not at the end: the first chunk came while the leader had
    // several more to go (each 200 ms apart).
    EXPECT_LT(r.first_data_at, leader.finished_at - std::chrono::milliseconds(600)) << i;
  }
  // The other instance relayed through Redis; the shared stream (DB 4)
  // expires by itself, shortly after its end, and the lock is gone.
  std::string mb = Request(b_->port(), "GET", "/metrics").body;
  EXPECT_NE(mb.find("result=\"remote_inflight_hit\"} 1\n"), std::string::npos);
  Result<RedisReply> ttl = redis_.command({"EVAL",
      "redis.call('SELECT', 4) local k = redis.call('KEYS', '*') "
      "local out = {} for _, x in ipairs(k) do out[#out + 1] = x out[#out + 1] = redis.call('PTTL', x) end "
      "return out", "0"});
  ASSERT_TRUE(ttl.ok());
  ASSERT_EQ(ttl->elements.size(), 2u) << DebugString(*ttl);
  EXPECT_EQ(ttl->elements[0].str.rfind("dedup-stream:", 0), 0u) << ttl->elements[0].str;
  EXPECT_GT(ttl->elements[1].integer, 0);
  EXPECT_LE(ttl->elements[1].integer, 5000);
}

TEST_F(CacheRedisTest, ABrokenLeaderStreamEndsTheRemoteFollowersStreamWithAnErrorEvent) {
  SetFaults(R"({"stream_chunk_delay_ms":150,"truncate_stream":true})");
  const std::string body = Chat("one two three four five six seven eight", R"("stream":true,)");
  SseResult leader;
  std::thread leader_thread(
      [&] { leader = RequestSse(a_->port(), "POST", "/v1/chat/completions", body); });
  WaitFor([&] { return Calls() != 0; }, std::chrono::seconds(10));
  SseResult follower = RequestSse(b_->port(), "POST", "/v1/chat/completions", body);
  leader_thread.join();
  ASSERT_EQ(leader.status, 200) << leader.error;
  ASSERT_EQ(follower.status, 200) << follower.error;
  EXPECT_EQ(follower.header("x-cache-kind"), "inflight");
  EXPECT_FALSE(leader.done());
  EXPECT_FALSE(follower.done());  // never a [DONE] after a broken stream
  ASSERT_FALSE(follower.events.empty());
  EXPECT_NE(follower.events.back().find("\"error\""), std::string::npos) << follower.events.back();
  EXPECT_EQ(Calls(), 1);
  EXPECT_EQ(Keys(2), 0);  // nothing broken was stored
}

TEST_F(CacheRedisTest, ConcurrentIdenticalStreamsOnTwoInstancesMakeOneUpstreamCall) {
  SetFaults(R"({"stream_chunk_delay_ms":100})");
  const std::string body = Chat("streamed herd across instances", R"("stream":true,)");
  constexpr int kClients = 50;
  std::vector<SseResult> results(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      const uint16_t port = i % 2 == 0 ? a_->port() : b_->port();
      results[i] = RequestSse(port, "POST", "/v1/chat/completions", body);
    });
  }
  for (auto& t : threads) t.join();
  int misses = 0;
  for (const SseResult& r : results) {
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_TRUE(r.done()) << r.error;
    EXPECT_EQ(r.events, results[0].events);
    if (r.header("x-cache") == "MISS") ++misses;
  }
  EXPECT_EQ(misses, 1);
  EXPECT_EQ(Calls(), 1);
}

TEST_F(CacheRedisTest, WhenTheRemoteLeaderStoresNothingFollowersCallTheUpstream) {
  // Errors are never shared: each instance's leader sees the lock released
  // with nothing stored and calls the upstream itself.
  SetFaults(R"({"latency_ms":500,"error_rate":1,"status":500})");
  std::vector<HttpResult> results = ConcurrentPosts(*a_, *b_, 10, Chat("failing herd"));
  for (const HttpResult& r : results) EXPECT_GE(r.status, 500) << r.body;
  EXPECT_GE(Calls(), 2);
  EXPECT_LE(Calls(), 10);
}

TEST_F(CacheRedisTest, WithoutRedisLocksTwoInstancesEachCallTheUpstream) {
  // The control: with dedup off, the same herd reaches the upstream more than once.
  a_ = GatewayProcess::Start(Config("  dedup: false\n"));
  b_ = GatewayProcess::Start(Config("  dedup: false\n"));
  ASSERT_NE(a_, nullptr);
  ASSERT_NE(b_, nullptr);
  SetFaults(R"({"latency_ms":500})");
  std::vector<HttpResult> results = ConcurrentPosts(*a_, *b_, 10, Chat("uncontrolled herd"));
  for (const HttpResult& r : results) EXPECT_EQ(r.status, 200);
  EXPECT_GT(Calls(), 1);
}

TEST_F(CacheRedisTest, ALockLeftByADeadLeaderDelaysFollowersAtMostTheDedupTimeout) {
  a_ = GatewayProcess::Start(Config("  dedup_timeout_s: 1\n"));
  ASSERT_NE(a_, nullptr);
  // Some instance took the lock and died: nothing is stored, the lock stays.
  Result<RedisReply> keys = redis_.command({"EVAL",
      "redis.call('SELECT', 4) redis.call('FLUSHDB') return 1", "0"});
  ASSERT_TRUE(keys.ok());
  // Find the lock name by letting a request take and release it first.
  ASSERT_EQ(Post(*a_, Chat("orphaned lock"), {{"Cache-Control", "no-cache"}}).status, 200);
  EXPECT_EQ(Calls(), 1);
  Result<RedisReply> response_keys = redis_.command({"EVAL",
      "redis.call('SELECT', 2) local k = redis.call('KEYS', '*') "
      "for _, x in ipairs(k) do redis.call('DEL', x) end "
      "redis.call('SELECT', 4) "
      "for _, x in ipairs(k) do redis.call('SET', 'dedup:' .. string.sub(x, 10), 'dead', 'PX', 60000) end "
      "return #k", "0"});
  ASSERT_TRUE(response_keys.ok());
  ASSERT_EQ(response_keys->integer, 1) << DebugString(*response_keys);
  const auto start = std::chrono::steady_clock::now();
  HttpResult r = Post(*a_, Chat("orphaned lock"));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-cache"), "MISS");
  EXPECT_EQ(Calls(), 2);
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(5));
}

}  // namespace
}  // namespace agentgate::test
