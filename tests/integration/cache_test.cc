// The exact response cache through the real agentgate binary in front of the
// real agentgate-mock: hits do not reach the upstream (counted at the mock).
#include <gtest/gtest.h>

#include <thread>

#include "integration/support/gateway_process.h"
#include "integration/support/http_client.h"

namespace agentgate::test {
namespace {

constexpr const char* kAdminKey = "admin-secret-for-tests";
const TestHeaders kAdmin = {{"Authorization", std::string("Bearer ") + kAdminKey}};

std::string ConfigFor(uint16_t mock_port, const std::string& extra = "") {
  return "server:\n  admin_key: " + std::string(kAdminKey) +
         "\nupstreams:\n"
         "  - name: mock\n"
         "    base_url: http://127.0.0.1:" + std::to_string(mock_port) + "/v1\n"
         "    api_key: upstream-key\n"
         "    models: [gpt-4o, gpt-4o-mini]\n"
         "    first_byte_timeout_ms: 3000\n"
         // One user sends bursts here; rate limits are ratelimit_test.cc's, and
         // breakers and retries resilience_test.cc's.
         "rate_limit:\n  enabled: false\n"
         "circuit_breaker: {enabled: false}\nerror_recovery: {max_attempts: 1}\n" + extra;
}

std::string Chat(const std::string& content, const std::string& model = "gpt-4o-mini",
                 const std::string& extra = "") {
  return R"({"model":")" + model + R"(",)" + extra + R"("messages":[{"role":"user","content":")" +
         content + R"("}]})";
}

class CacheTest : public ::testing::Test {
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
  int UpstreamCalls() {
    Json j = Request(mock_->port(), "GET", "/_mock/stats").json();
    return j["calls"].value("/v1/chat/completions", 0);
  }
  HttpResult Post(const std::string& body, const TestHeaders& headers = {}) {
    return Request(gw_->port(), "POST", "/v1/chat/completions", body, headers);
  }

  std::unique_ptr<MockProcess> mock_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(CacheTest, IdenticalAndReorderedRequestsHitWithoutAnUpstreamCall) {
  HttpResult first = Post(Chat("cache me"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-cache"), "MISS");
  EXPECT_EQ(UpstreamCalls(), 1);

  HttpResult second = Post(Chat("cache me"));
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.header("x-cache"), "HIT");
  EXPECT_EQ(second.header("x-cache-kind"), "exact");
  EXPECT_EQ(second.body, first.body);

  HttpResult reordered = Post(
      "{ \"messages\": [ { \"content\": \"cache me\", \"role\": \"user\" } ],\n \"model\": \"gpt-4o-mini\" }");
  EXPECT_EQ(reordered.header("x-cache"), "HIT");
  EXPECT_EQ(reordered.body, first.body);
  EXPECT_EQ(UpstreamCalls(), 1);

  Json stats = Request(gw_->port(), "GET", "/api/v1/cache/stats", "", kAdmin).json();
  EXPECT_EQ(stats["enabled"], true);
  EXPECT_EQ(stats["exact"]["hits"], 2);
  EXPECT_EQ(stats["exact"]["misses"], 1);
  EXPECT_EQ(stats["exact"]["entries"], 1);
}

TEST_F(CacheTest, ChangedModelOrParameterMisses) {
  ASSERT_EQ(Post(Chat("q", "gpt-4o-mini", R"("temperature":0.2,)")).status, 200);
  EXPECT_EQ(Post(Chat("q", "gpt-4o", R"("temperature":0.2,)")).header("x-cache"), "MISS");
  EXPECT_EQ(Post(Chat("q", "gpt-4o-mini", R"("temperature":0.3,)")).header("x-cache"), "MISS");
  EXPECT_EQ(Post(Chat("q", "gpt-4o-mini", R"("temperature":0.2,"max_tokens":9,)")).header("x-cache"),
            "MISS");
  EXPECT_EQ(UpstreamCalls(), 4);
  EXPECT_EQ(Post(Chat("q", "gpt-4o-mini", R"("temperature":0.20,)")).header("x-cache"), "HIT");
  EXPECT_EQ(UpstreamCalls(), 4);
}

TEST_F(CacheTest, NoCrossTenantHits) {
  auto make_key = [&](const std::string& user, const std::string& tenant) {
    HttpResult r = Request(gw_->port(), "POST", "/api/v1/keys",
                           R"({"user_id":")" + user + R"(","tenant":")" + tenant + R"("})", kAdmin);
    EXPECT_EQ(r.status, 201) << r.body;
    return TestHeaders{{"Authorization", "Bearer " + r.json()["key"].get<std::string>()}};
  };
  TestHeaders a = make_key("alice", "tenant-a");
  TestHeaders a2 = make_key("anna", "tenant-a");
  TestHeaders b = make_key("bob", "tenant-b");
  const std::string q = Chat("what is our secret plan?");
  EXPECT_EQ(Post(q, a).header("x-cache"), "MISS");
  EXPECT_EQ(Post(q, b).header("x-cache"), "MISS");  // same question, other tenant
  EXPECT_EQ(UpstreamCalls(), 2);
  EXPECT_EQ(Post(q, b).header("x-cache"), "HIT");
  EXPECT_EQ(Post(q, a2).header("x-cache"), "HIT");  // same tenant, other user
  EXPECT_EQ(UpstreamCalls(), 2);
}

TEST_F(CacheTest, ErrorsAreNeverCached) {
  SetFaults(R"({"error_rate":1,"status":500})");
  HttpResult e1 = Post(Chat("fragile"));
  EXPECT_EQ(e1.status, 500);
  HttpResult e2 = Post(Chat("fragile"));
  EXPECT_EQ(e2.status, 500);
  EXPECT_EQ(e2.header("x-cache"), "MISS");
  EXPECT_EQ(UpstreamCalls(), 2);
  SetFaults("{}");
  HttpResult ok = Post(Chat("fragile"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("x-cache"), "MISS");
  EXPECT_EQ(Post(Chat("fragile")).header("x-cache"), "HIT");
  EXPECT_EQ(UpstreamCalls(), 3);
  Json stats = Request(gw_->port(), "GET", "/api/v1/cache/stats", "", kAdmin).json();
  EXPECT_EQ(stats["exact"]["entries"], 1);
}

TEST_F(CacheTest, StreamIsCapturedAndReplayedAsSse) {
  const std::string body = Chat("one two three four", "gpt-4o",
                                R"("stream":true,"stream_options":{"include_usage":true},)");
  SseResult first = RequestSse(gw_->port(), "POST", "/v1/chat/completions", body);
  ASSERT_EQ(first.status, 200) << first.error;
  ASSERT_TRUE(first.done());
  EXPECT_EQ(first.header("x-cache"), "MISS");
  EXPECT_EQ(UpstreamCalls(), 1);

  SseResult second = RequestSse(gw_->port(), "POST", "/v1/chat/completions", body);
  ASSERT_EQ(second.status, 200) << second.error;
  EXPECT_TRUE(second.error.empty()) << second.error;
  EXPECT_EQ(second.header("x-cache"), "HIT");
  EXPECT_EQ(second.header("content-type").find("text/event-stream"), 0u);
  EXPECT_TRUE(second.done());
  EXPECT_EQ(second.events, first.events);
  EXPECT_GE(second.http_chunks, 4u);  // replayed event by event, not as one lump
  std::string text;
  bool role = false, finish = false, usage = false;
  for (const Json& e : second.json_events()) {
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    if (e.contains("usage") && e["usage"].is_object()) usage = true;
    if (e["choices"].empty()) continue;
    const Json& c = e["choices"][0];
    if (c["delta"].contains("role")) role = true;
    if (c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
    if (c["finish_reason"].is_string()) finish = true;
  }
  EXPECT_TRUE(role);
  EXPECT_TRUE(finish);
  EXPECT_TRUE(usage);
  EXPECT_EQ(text, "Echo: one two three four");
  EXPECT_EQ(UpstreamCalls(), 1);

  // The non-streamed question is a separate entry, answered as JSON.
  HttpResult whole = Post(Chat("one two three four", "gpt-4o"));
  EXPECT_EQ(whole.header("x-cache"), "MISS");
  EXPECT_EQ(whole.json()["choices"][0]["message"]["content"], "Echo: one two three four");
}

TEST_F(CacheTest, TruncatedStreamsAreNotCached) {
  SetFaults(R"({"truncate_stream":true})");
  const std::string body = Chat("cut me short please now", "gpt-4o", R"("stream":true,)");
  SseResult first = RequestSse(gw_->port(), "POST", "/v1/chat/completions", body);
  EXPECT_FALSE(first.done());
  SetFaults("{}");
  SseResult second = RequestSse(gw_->port(), "POST", "/v1/chat/completions", body);
  EXPECT_EQ(second.header("x-cache"), "MISS");
  EXPECT_TRUE(second.done());
  EXPECT_EQ(UpstreamCalls(), 2);
}

TEST_F(CacheTest, CacheControlNoCacheAndNoStore) {
  ASSERT_EQ(Post(Chat("controls")).header("x-cache"), "MISS");
  HttpResult fresh = Post(Chat("controls"), {{"Cache-Control", "no-cache"}});
  EXPECT_EQ(fresh.header("x-cache"), "MISS");
  EXPECT_EQ(UpstreamCalls(), 2);
  HttpResult bypass = Post(Chat("never stored"), {{"Cache-Control", "max-age=0, No-Store"}});
  EXPECT_EQ(bypass.status, 200);
  EXPECT_EQ(bypass.header("x-cache"), "BYPASS");
  EXPECT_EQ(Post(Chat("never stored")).header("x-cache"), "MISS");  // no-store stored nothing
  EXPECT_EQ(Post(Chat("controls")).header("x-cache"), "HIT");
  EXPECT_EQ(UpstreamCalls(), 4);
  // no-cache still stores: a fresh question asked with no-cache hits next time.
  EXPECT_EQ(Post(Chat("fresh one"), {{"Cache-Control", "no-cache"}}).header("x-cache"), "MISS");
  EXPECT_EQ(Post(Chat("fresh one")).header("x-cache"), "HIT");
}

TEST_F(CacheTest, ConcurrentIdenticalRequestsMakeOneUpstreamCall) {
  SetFaults(R"({"latency_ms":600})");
  constexpr int kClients = 50;
  std::vector<HttpResult> results(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] { results[i] = Post(Chat("thundering herd")); });
  }
  for (auto& t : threads) t.join();
  int misses = 0;
  for (const HttpResult& r : results) {
    ASSERT_EQ(r.status, 200) << r.body << r.error;
    EXPECT_EQ(r.body, results[0].body);
    if (r.header("x-cache") == "MISS") ++misses;
  }
  EXPECT_EQ(misses, 1);
  EXPECT_EQ(UpstreamCalls(), 1);
}

TEST_F(CacheTest, StreamingFollowersReceiveTheLeadersChunksAsTheyArrive) {
  SetFaults(R"({"stream_chunk_delay_ms":200})");
  const std::string body =
      Chat("one two three four five six", "gpt-4o", R"("stream":true,)");
  constexpr int kClients = 5;
  std::vector<SseResult> results(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      results[i] = RequestSse(gw_->port(), "POST", "/v1/chat/completions", body);
    });
  }
  for (auto& t : threads) t.join();
  const SseResult* leader = nullptr;
  for (const SseResult& r : results) {
    ASSERT_EQ(r.status, 200) << r.error;
    if (r.header("x-cache") == "MISS") leader = &r;
  }
  ASSERT_NE(leader, nullptr);
  ASSERT_TRUE(leader->done());
  ASSERT_GE(leader->events.size(), 6u);  // several chunks, 200 ms apart
  EXPECT_EQ(UpstreamCalls(), 1);
  for (const SseResult& r : results) {
    if (&r == leader) continue;
    EXPECT_EQ(r.header("x-cache"), "HIT");
    EXPECT_EQ(r.header("x-cache-kind"), "inflight");
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.events, leader->events);
    // Live, not at the end: the first chunk came while the leader had
    // several more to go (each 200 ms apart).
    EXPECT_LT(r.first_data_at, leader->finished_at - std::chrono::milliseconds(600));
    EXPECT_GE(r.http_chunks, 4u);
  }
}

TEST_F(CacheTest, WithoutDedupConcurrentRequestsEachCallTheUpstream) {
  gw_.reset();
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port(), "cache:\n  dedup: false\n"));
  ASSERT_NE(gw_, nullptr);
  SetFaults(R"({"latency_ms":400})");
  constexpr int kClients = 8;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&] { EXPECT_EQ(Post(Chat("no herd control")).status, 200); });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(UpstreamCalls(), 1);  // the control for ConcurrentIdenticalRequestsMakeOneUpstreamCall
}

TEST_F(CacheTest, DisabledCacheNeitherMarksNorStores) {
  gw_.reset();
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port(), "cache:\n  enabled: false\n"));
  ASSERT_NE(gw_, nullptr);
  EXPECT_EQ(Post(Chat("uncached")).header("x-cache"), "");
  EXPECT_EQ(Post(Chat("uncached")).header("x-cache"), "");
  EXPECT_EQ(UpstreamCalls(), 2);
  Json stats = Request(gw_->port(), "GET", "/api/v1/cache/stats", "", kAdmin).json();
  EXPECT_EQ(stats["enabled"], false);
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/cache/health", "", kAdmin).json()["status"],
            "disabled");
}

int EmbeddingCalls(uint16_t mock_port) {
  Json j = Request(mock_port, "GET", "/_mock/stats").json();
  return j["calls"].value("/v1/embeddings", 0);
}

TEST_F(CacheTest, EmbeddingsAreCachedPerInputString) {
  auto embed = [&](const std::string& input, const TestHeaders& h = {}) {
    HttpResult r = Request(gw_->port(), "POST", "/v1/embeddings",
                           R"({"model":"gpt-4o-mini","input":)" + input + "}", h);
    EXPECT_EQ(r.status, 200) << r.body;
    return r;
  };
  HttpResult first = embed(R"(["alpha words","beta words"])");
  EXPECT_EQ(first.header("x-cache-embeddings"), "0/2");
  EXPECT_EQ(EmbeddingCalls(mock_->port()), 1);

  // Both inputs known, in another order: no upstream call, original order kept.
  HttpResult swapped = embed(R"(["beta words","alpha words"])");
  EXPECT_EQ(swapped.header("x-cache-embeddings"), "2/2");
  EXPECT_EQ(EmbeddingCalls(mock_->port()), 1);
  Json f = first.json(), s = swapped.json();
  ASSERT_EQ(s["data"].size(), 2u);
  EXPECT_EQ(s["data"][0]["index"], 0);
  EXPECT_EQ(s["data"][0]["embedding"], f["data"][1]["embedding"]);
  EXPECT_EQ(s["data"][1]["embedding"], f["data"][0]["embedding"]);

  // One known, one new: only the new one goes upstream.
  HttpResult mixed = embed(R"(["alpha words","gamma words"])");
  EXPECT_EQ(mixed.header("x-cache-embeddings"), "1/2");
  EXPECT_EQ(EmbeddingCalls(mock_->port()), 2);
  Json last = Request(mock_->port(), "GET", "/_mock/stats").json()["last_request"];
  EXPECT_EQ(last["input"], Json::array({"gamma words"}));
  // The merged answer equals what the upstream gives for the whole batch.
  HttpResult direct = embed(R"(["alpha words","gamma words"])", {{"Cache-Control", "no-store"}});
  EXPECT_EQ(direct.header("x-cache-embeddings"), "");
  Json m = mixed.json(), d = direct.json();
  ASSERT_EQ(m["data"].size(), 2u);
  EXPECT_EQ(m["data"][0]["embedding"], d["data"][0]["embedding"]);
  EXPECT_EQ(m["data"][1]["embedding"], d["data"][1]["embedding"]);
  EXPECT_EQ(m["data"][1]["index"], 1);

  // A single string input is the same entry as that string in a batch.
  EXPECT_EQ(embed(R"("gamma words")").header("x-cache-embeddings"), "1/1");
  // Another encoding is another entry.
  HttpResult b64 = Request(gw_->port(), "POST", "/v1/embeddings",
                           R"({"model":"gpt-4o-mini","encoding_format":"base64","input":"gamma words"})");
  EXPECT_EQ(b64.header("x-cache-embeddings"), "0/1");
  EXPECT_TRUE(b64.json()["data"][0]["embedding"].is_string());

  Json stats = Request(gw_->port(), "GET", "/api/v1/cache/stats", "", kAdmin).json();
  EXPECT_EQ(stats["embedding"]["entries"], 4);
  HttpResult cleared =
      Request(gw_->port(), "DELETE", "/api/v1/cache/clear?type=embedding", "", kAdmin);
  EXPECT_EQ(cleared.json()["cleared"]["embedding"], 4);
  EXPECT_EQ(cleared.json()["cleared"]["exact"], 0);
}

TEST_F(CacheTest, EmbeddingUpstreamErrorsAreNotCached) {
  SetFaults(R"({"error_rate":1,"status":503})");
  HttpResult r = Request(gw_->port(), "POST", "/v1/embeddings",
                         R"({"model":"gpt-4o-mini","input":["delta words"]})");
  EXPECT_EQ(r.status, 503);
  SetFaults("{}");
  HttpResult ok = Request(gw_->port(), "POST", "/v1/embeddings",
                          R"({"model":"gpt-4o-mini","input":["delta words"]})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("x-cache-embeddings"), "0/1");
  EXPECT_EQ(EmbeddingCalls(mock_->port()), 2);
}

TEST_F(CacheTest, SemanticHitsForRewordedQuestionsButNotForOtherNumbers) {
  HttpResult first = Post(Chat("What is the capital of France?"));
  ASSERT_EQ(first.header("x-cache"), "MISS");
  HttpResult similar = Post(Chat("what is the capital of FRANCE"));
  ASSERT_EQ(similar.status, 200);
  EXPECT_EQ(similar.header("x-cache"), "HIT");
  EXPECT_EQ(similar.header("x-cache-kind"), "semantic");
  EXPECT_GE(std::stod(similar.header("x-cache-similarity")), 0.95);
  EXPECT_EQ(similar.body, first.body);
  EXPECT_EQ(UpstreamCalls(), 1);

  EXPECT_EQ(Post(Chat("What is 2+2?")).header("x-cache"), "MISS");
  EXPECT_EQ(Post(Chat("What is 2+3?")).header("x-cache"), "MISS");  // other numbers
  EXPECT_EQ(Post(Chat("What is 2+3?")).header("x-cache"), "HIT");   // exact
  EXPECT_EQ(UpstreamCalls(), 3);

  // Another agent type, or a hot temperature, never shares the entry.
  EXPECT_EQ(Post(Chat("WHAT is the capital of France"), {{"X-Agent-Type", "sales"}}).header("x-cache"),
            "MISS");
  EXPECT_EQ(Post(Chat("what is the capital of France!", "gpt-4o-mini", R"("temperature":1.5,)"))
                .header("x-cache"),
            "MISS");
  EXPECT_EQ(Post(Chat("What is the capital of France!!", "gpt-4o-mini", R"("temperature":1.5,)"))
                .header("x-cache"),
            "MISS");
  EXPECT_EQ(UpstreamCalls(), 6);
  Json stats = Request(gw_->port(), "GET", "/api/v1/cache/stats", "", kAdmin).json();
  EXPECT_EQ(stats["semantic"]["hits"], 1);
  EXPECT_GE(stats["semantic"]["average_similarity"].get<double>(), 0.95);
}

TEST_F(CacheTest, AdminClearHealthAndAudit) {
  ASSERT_EQ(Post(Chat("to be cleared")).header("x-cache"), "MISS");
  EXPECT_EQ(Request(gw_->port(), "DELETE", "/api/v1/cache/clear").status, 401);
  HttpResult bad = Request(gw_->port(), "DELETE", "/api/v1/cache/clear?type=bogus", "", kAdmin);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"]["type"], "invalid_request_error");
  EXPECT_EQ(Post(Chat("to be cleared")).header("x-cache"), "HIT");  // the bad call cleared nothing
  HttpResult cleared = Request(gw_->port(), "DELETE", "/api/v1/cache/clear", "", kAdmin);
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_EQ(cleared.json()["cleared"]["exact"], 1);
  EXPECT_EQ(Post(Chat("to be cleared")).header("x-cache"), "MISS");
  Json audit = Request(gw_->port(), "GET", "/api/v1/audit", "", kAdmin).json();
  ASSERT_GE(audit["data"].size(), 1u);
  EXPECT_EQ(audit["data"][0]["route"], "DELETE /api/v1/cache/clear");
  HttpResult health = Request(gw_->port(), "GET", "/api/v1/cache/health", "", kAdmin);
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json()["status"], "ok");
  EXPECT_EQ(health.json()["exact"]["store"], "memory");
}

TEST_F(CacheTest, ConfigIsValidatedAppliedAndSurvivesARestart) {
  auto get_config = [&] { return Request(gw_->port(), "GET", "/api/v1/cache/config", "", kAdmin).json(); };
  auto post_config = [&](const std::string& body) {
    return Request(gw_->port(), "POST", "/api/v1/cache/config", body, kAdmin);
  };
  const Json before = get_config();
  EXPECT_EQ(before["similarity_threshold"], 0.95);
  EXPECT_EQ(before["default_ttl_s"], 300.0);
  EXPECT_EQ(post_config(R"({"max_size":5})").status, 200);
  EXPECT_EQ(Request(gw_->port(), "POST", "/api/v1/cache/config", R"({"max_size":6})").status, 401);

  // Bad input: 400 naming the key, nothing changed (also not the valid keys beside it).
  const std::pair<const char*, const char*> bad[] = {
      {R"({"similarity_threshold":2,"max_size":7})", "similarity_threshold"},
      {R"({"default_ttl_s":-1})", "default_ttl_s"},
      {R"({"max_size":0})", "max_size"},
      {R"({"semantic_expiry_s":"soon"})", "semantic_expiry_s"},
      {R"({"bogus":1})", "bogus"},
      {R"(not json)", ""},
  };
  for (const auto& [body, key] : bad) {
    HttpResult r = post_config(body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.json()["error"]["type"], "invalid_request_error");
    EXPECT_NE(r.json()["error"]["message"].get<std::string>().find(key), std::string::npos)
        << r.body;
  }
  Json unchanged = get_config();
  EXPECT_EQ(unchanged["similarity_threshold"], 0.95);
  EXPECT_EQ(unchanged["max_size"], 5);

  // The threshold applies at once: a paraphrase that missed at 0.95 hits at 0.3.
  ASSERT_EQ(Post(Chat("What is the capital city of France?")).header("x-cache"), "MISS");
  EXPECT_EQ(Post(Chat("Which city is the capital of France?")).header("x-cache"), "MISS");
  HttpResult ok = post_config(R"({"similarity_threshold":0.3,"default_ttl_s":42,"embedding_max_size":77})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json()["similarity_threshold"], 0.3);
  HttpResult reworded = Post(Chat("France: which city is its capital?"));
  EXPECT_EQ(reworded.header("x-cache"), "HIT");
  EXPECT_EQ(reworded.header("x-cache-kind"), "semantic");
  Json stats = Request(gw_->port(), "GET", "/api/v1/cache/stats", "", kAdmin).json();
  EXPECT_EQ(stats["exact"]["default_ttl_s"], 42.0);
  EXPECT_EQ(stats["exact"]["max_size"], 5);
  EXPECT_EQ(stats["embedding"]["max_size"], 77);
  EXPECT_EQ(stats["semantic"]["similarity_threshold"], 0.3);

  Json audit = Request(gw_->port(), "GET", "/api/v1/audit", "", kAdmin).json();
  ASSERT_GE(audit["data"].size(), 2u);
  EXPECT_EQ(audit["data"][0]["route"], "POST /api/v1/cache/config");
  EXPECT_NE(audit["data"][0]["summary"].get<std::string>().find("similarity_threshold"),
            std::string::npos) << audit.dump();

  // A restart on the same data directory keeps the changes over the file's values.
  const std::string dir = gw_->dir();
  gw_.reset();
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port()), {}, dir);
  ASSERT_NE(gw_, nullptr);
  Json after = get_config();
  EXPECT_EQ(after["similarity_threshold"], 0.3);
  EXPECT_EQ(after["default_ttl_s"], 42.0);
  EXPECT_EQ(after["max_size"], 5);
  EXPECT_EQ(after["embedding_max_size"], 77);
  EXPECT_EQ(after["semantic_expiry_s"], 3600.0);  // never changed: the file's value
}

TEST_F(CacheTest, MetricsGivePerMinuteHitRates) {
  ASSERT_EQ(Post(Chat("count me")).header("x-cache"), "MISS");
  ASSERT_EQ(Post(Chat("count me")).header("x-cache"), "HIT");
  ASSERT_EQ(Post(Chat("count me")).header("x-cache"), "HIT");
  HttpResult r = Request(gw_->port(), "GET", "/api/v1/cache/metrics", "", kAdmin);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["bucket_s"], 60);
  const Json& exact = j["series"]["exact"];
  ASSERT_EQ(exact.size(), 60u);
  // The requests fall in the last minute or two (a minute may have turned meanwhile).
  uint64_t hits = 0, misses = 0;
  for (const Json& b : exact) {
    hits += b["hits"].get<uint64_t>();
    misses += b["misses"].get<uint64_t>();
  }
  EXPECT_EQ(hits, 2u);
  EXPECT_EQ(misses, 1u);
  EXPECT_EQ(exact[0]["hits"], 0);
  EXPECT_EQ(exact[59]["minute"].get<int64_t>() - exact[0]["minute"].get<int64_t>(), 59 * 60);
  EXPECT_TRUE(j["series"].contains("semantic"));
  EXPECT_TRUE(j["series"].contains("embedding"));
  EXPECT_EQ(Request(gw_->port(), "GET", "/api/v1/cache/metrics").status, 401);
}

TEST_F(CacheTest, TestRouteRoundTripsEachCacheTypeAndLeavesNothing) {
  HttpResult r = Request(gw_->port(), "POST", "/api/v1/cache/test", "", kAdmin);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["ok"], true) << r.body;
  for (const char* type : {"exact", "semantic", "embedding"}) {
    EXPECT_EQ(j[type]["ok"], true) << type;
    EXPECT_EQ(j[type]["store"], "memory") << type;
    EXPECT_GE(j[type]["latency_ms"].get<double>(), 0.0) << type;
  }
  Json stats = Request(gw_->port(), "GET", "/api/v1/cache/stats", "", kAdmin).json();
  EXPECT_EQ(stats["exact"]["entries"], 0);
  EXPECT_EQ(stats["semantic"]["entries"], 0);
  EXPECT_EQ(stats["embedding"]["entries"], 0);
  EXPECT_EQ(stats["exact"]["hits"], 0);  // probes touch no counters
  Json audit = Request(gw_->port(), "GET", "/api/v1/audit", "", kAdmin).json();
  ASSERT_GE(audit["data"].size(), 1u);
  EXPECT_EQ(audit["data"][0]["route"], "POST /api/v1/cache/test");
}

TEST_F(CacheTest, CacheAdminRoutesSayWhenTheCacheIsDisabled) {
  gw_.reset();
  gw_ = GatewayProcess::Start(ConfigFor(mock_->port(), "cache:\n  enabled: false\n"));
  ASSERT_NE(gw_, nullptr);
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/cache/config"}, {"POST", "/api/v1/cache/config"},
           {"GET", "/api/v1/cache/metrics"}, {"POST", "/api/v1/cache/test"}}) {
    HttpResult r = Request(gw_->port(), method, path, R"({"max_size":5})", kAdmin);
    EXPECT_EQ(r.status, 503) << method << " " << path;
    EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("disabled"), std::string::npos);
  }
}

TEST_F(CacheTest, SemanticQueriesEmbeddedByAnUpstreamModelThroughTheEmbeddingCache) {
  gw_.reset();
  gw_ = GatewayProcess::Start(
      ConfigFor(mock_->port(), "cache:\n  semantic_embedding_model: gpt-4o-mini\n"));
  ASSERT_NE(gw_, nullptr);
  HttpResult first = Post(Chat("What is the capital of France?"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-cache"), "MISS");
  EXPECT_EQ(EmbeddingCalls(mock_->port()), 1);  // the query, embedded upstream
  HttpResult similar = Post(Chat("what is the capital of FRANCE"));
  ASSERT_EQ(similar.status, 200);
  EXPECT_EQ(similar.header("x-cache-kind"), "semantic");
  EXPECT_EQ(similar.body, first.body);
  EXPECT_EQ(UpstreamCalls(), 1);
  EXPECT_EQ(EmbeddingCalls(mock_->port()), 2);
  // The same text in another partition (another temperature): an exact and
  // semantic miss, but its embedding comes from the embedding cache.
  HttpResult other = Post(Chat("What is the capital of France?", "gpt-4o-mini", R"("temperature":0.5,)"));
  EXPECT_EQ(other.header("x-cache"), "MISS");
  EXPECT_EQ(UpstreamCalls(), 2);
  EXPECT_EQ(EmbeddingCalls(mock_->port()), 2);
  // The guard still refuses other numbers.
  EXPECT_EQ(Post(Chat("What is 2+2?")).header("x-cache"), "MISS");
  EXPECT_EQ(Post(Chat("What is 2+3?")).header("x-cache"), "MISS");
  EXPECT_EQ(UpstreamCalls(), 4);
}

TEST_F(CacheTest, WhenTheEmbeddingModelFailsRequestsPassWithoutTheSemanticCache) {
  gw_.reset();
  gw_ = GatewayProcess::Start(
      ConfigFor(mock_->port(), "cache:\n  semantic_embedding_model: gpt-4o-mini\n"));
  ASSERT_NE(gw_, nullptr);
  SetFaults(R"({"error_rate":1,"status":500})");
  HttpResult failed = Post(Chat("What is the capital of Spain?"));
  EXPECT_GE(failed.status, 500) << failed.body;  // the chat call's own error, not the embedder's
  SetFaults("{}");
  HttpResult ok = Post(Chat("What is the capital of Spain?"));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.header("x-cache"), "MISS");
}

}  // namespace
}  // namespace agentgate::test
