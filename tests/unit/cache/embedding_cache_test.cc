#include "agentgate/cache/embedding_cache.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

TEST(EmbeddingCacheTest, GetEmbeddingCallsTheEmbedderOnlyOnAMiss) {
  ManualClock clock;
  EmbeddingCache cache({.max_size = 100}, clock);
  int calls = 0;
  auto embed = [&](std::string_view text) -> Result<std::vector<float>> {
    ++calls;
    return std::vector<float>{static_cast<float>(text.size()), 0.5f};
  };
  Result<std::vector<float>> a = cache.get_embedding("a cat", "m1", embed);
  Result<std::vector<float>> b = cache.get_embedding("a cat", "m1", embed);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(*b, (std::vector<float>{5.0f, 0.5f}));
  (void)cache.get_embedding("a cat", "m2", embed);  // another model: another entry
  (void)cache.get_embedding("a dog", "m1", embed);  // another text
  EXPECT_EQ(calls, 3);
  clock.advance(std::chrono::hours(24 * 365));  // no expiry by default
  (void)cache.get_embedding("a cat", "m1", embed);
  EXPECT_EQ(calls, 3);
  EmbeddingCacheStats s = cache.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(s.entries, 3u);
}

TEST(EmbeddingCacheTest, EmbedderErrorsAreReturnedAndNotStored) {
  ManualClock clock;
  EmbeddingCache cache({}, clock);
  int calls = 0;
  auto failing = [&](std::string_view) -> Result<std::vector<float>> {
    ++calls;
    return Unavailable("embedder down");
  };
  EXPECT_EQ(cache.get_embedding("x", "m", failing).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(cache.get_embedding("x", "m", failing).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(EmbeddingCacheTest, KeysSeparateTenantParamsAndText) {
  const std::string p = EmbeddingParams("m");
  const std::string k = EmbeddingCacheKey("t", p, "text");
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, EmbeddingCacheKey("t", p, "text"));
  EXPECT_NE(k, EmbeddingCacheKey("u", p, "text"));
  EXPECT_NE(k, EmbeddingCacheKey("t", EmbeddingParams("m2"), "text"));
  EXPECT_NE(k, EmbeddingCacheKey("t", p, "text "));
  EXPECT_EQ(p, R"({"encoding_format":"float","model":"m"})");
}

TEST(EmbeddingCacheTest, BoundedBySize) {
  ManualClock clock;
  EmbeddingCache cache({.max_size = 16}, clock);
  for (int i = 0; i < 200; ++i) cache.store("k" + std::to_string(i), Json::array({i}));
  EXPECT_LE(cache.stats().entries, 16u);
  ASSERT_NE(cache.lookup("k199"), nullptr);
  EXPECT_EQ(*cache.lookup("k199"), Json::array({199}));
  cache.clear();
  EXPECT_EQ(cache.stats().entries, 0u);
}

}  // namespace
}  // namespace agentgate
