#include "cache/cache_settings.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

using namespace std::chrono_literals;

TEST(CacheSettingsTest, PatchChangesOnlyTheGivenKeys) {
  const CacheSettings base = CacheSettingsFrom(CacheConfig{});
  EXPECT_EQ(base.similarity_threshold, 0.95);
  EXPECT_EQ(base.default_ttl, 300s);
  Result<CacheSettings> s = PatchCacheSettings(
      base, Json::parse(R"({"similarity_threshold":0.9,"default_ttl_s":60,"embedding_max_size":7})"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->similarity_threshold, 0.9);
  EXPECT_EQ(s->default_ttl, 60s);
  EXPECT_EQ(s->embedding_max_size, 7u);
  EXPECT_EQ(s->semantic_ttl, base.semantic_ttl);
  EXPECT_EQ(s->max_size, base.max_size);
  EXPECT_EQ(CacheSettingsJson(*s)["default_ttl_s"], 60.0);
}

TEST(CacheSettingsTest, BadValuesAreRejectedNamingTheKey) {
  const CacheSettings base;
  const std::pair<const char*, const char*> cases[] = {
      {R"({"similarity_threshold":0})", "similarity_threshold"},
      {R"({"similarity_threshold":1.01})", "similarity_threshold"},
      {R"({"similarity_threshold":"high"})", "similarity_threshold"},
      {R"({"default_ttl_s":0})", "default_ttl_s"},
      {R"({"default_ttl_s":-5})", "default_ttl_s"},
      {R"({"semantic_expiry_s":1e12})", "semantic_expiry_s"},
      {R"({"max_size":0})", "max_size"},
      {R"({"max_size":1.5})", "max_size"},
      {R"({"semantic_max_entries":-1})", "semantic_max_entries"},
      {R"({"embedding_max_size":"10"})", "embedding_max_size"},
      {R"({"similarity_threshold":0.9,"colour":"red"})", "colour"},
      {R"({})", "body"},
      {R"([1])", "body"},
  };
  for (const auto& [body, key] : cases) {
    Result<CacheSettings> s = PatchCacheSettings(base, Json::parse(body));
    ASSERT_FALSE(s.ok()) << body;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.status().message().rfind(key, 0), 0u) << s.status().message();
  }
}

TEST(CacheSettingsTest, StoreKeepsTheLatestValueOfEachKey) {
  auto db = SqliteDb::open_memory();
  ASSERT_TRUE(db.ok());
  auto store = CacheSettingsStore::Open(**db);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*(*store)->load(), Json::object());
  ASSERT_TRUE((*store)->save(Json::parse(R"({"max_size":5,"default_ttl_s":10})")).ok());
  ASSERT_TRUE((*store)->save(Json::parse(R"({"max_size":6})")).ok());
  auto again = CacheSettingsStore::Open(**db);  // migrations are idempotent
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->load(), Json::parse(R"({"default_ttl_s":10,"max_size":6})"));
}

TEST(CacheSettingsTest, ApplyReachesEachCache) {
  ManualClock clock;
  ResponseCache exact(NewMemoryResponseStore({.max_size = 100}, clock), {.max_size = 100});
  SemanticCache semantic({}, clock);
  EmbeddingCache embedding({.max_size = 100}, clock);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(exact.store("k" + std::to_string(i), CachedResponse{.body = "b"}));
    embedding.store("e" + std::to_string(i), Json::array({1.0}));
  }
  CacheSettings s;
  s.similarity_threshold = 0.5;
  s.default_ttl = 7s;
  s.semantic_ttl = 9s;
  s.max_size = 4;
  s.semantic_max_entries = 3;
  s.embedding_max_size = 2;
  ApplyCacheSettings(s, &exact, &semantic, &embedding);
  EXPECT_EQ(exact.options().default_ttl, 7s);
  EXPECT_EQ(exact.options().max_size, 4u);
  EXPECT_LE(exact.stats().store.entries, 4u + 15u);  // per-shard capacity rounds up
  EXPECT_LT(exact.stats().store.entries, 20u);
  EXPECT_LT(embedding.stats().entries, 20u);
  EXPECT_EQ(semantic.options().similarity_threshold, 0.5);
  EXPECT_EQ(semantic.options().ttl, 9s);
  EXPECT_EQ(semantic.options().max_entries, 3u);

  // The new default TTL applies to entries stored from now on.
  ASSERT_TRUE(exact.store("fresh", CachedResponse{.body = "b"}));
  clock.advance(6s);
  EXPECT_NE(exact.lookup("fresh"), nullptr);
  clock.advance(2s);
  EXPECT_EQ(exact.lookup("fresh"), nullptr);
}

TEST(CacheSettingsTest, SemanticTunablesTakeEffect) {
  ManualClock clock;
  SemanticCache cache({.similarity_threshold = 0.99}, clock);
  const SemanticNamespace ns{.tenant = "t"};
  std::vector<float> a = {1, 0, 0, 0}, b = {0.9f, 0.436f, 0, 0};  // cosine ~0.9
  ASSERT_TRUE(cache.set("what is the capital of france", ns, "Paris", a));
  EXPECT_FALSE(cache.get("what is the capital of france please", ns, b));
  cache.set_tunables(0.85, std::chrono::seconds(5), 1);
  EXPECT_TRUE(cache.get("what is the capital of france please", ns, b));
  // One entry per partition now: a second set evicts the first.
  ASSERT_TRUE(cache.set("what is the capital of spain", ns, "Madrid", {0, 0, 1, 0}));
  EXPECT_EQ(cache.stats().entries, 1u);
  clock.advance(std::chrono::seconds(6));  // the new TTL
  EXPECT_FALSE(cache.get("what is the capital of spain", ns, {0, 0, 1, 0}));
}

TEST(CacheSettingsTest, ProbesRoundTripAndLeaveNothingBehind) {
  ManualClock clock;
  ResponseCache exact(NewMemoryResponseStore({}, clock), {});
  SemanticCache semantic({}, clock);
  EmbeddingCache embedding({}, clock);
  EXPECT_TRUE(exact.probe().ok());
  EXPECT_TRUE(semantic.probe().ok());
  EXPECT_TRUE(embedding.probe().ok());
  EXPECT_EQ(exact.stats().store.entries, 0u);
  EXPECT_EQ(semantic.stats().entries, 0u);
  EXPECT_EQ(semantic.stats().partitions, 0u);
  EXPECT_EQ(embedding.stats().entries, 0u);
  EXPECT_EQ(embedding.stats().hits + embedding.stats().misses, 0u);
}

}  // namespace
}  // namespace agentgate
