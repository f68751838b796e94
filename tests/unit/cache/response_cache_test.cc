#include "agentgate/cache/response_cache.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

using namespace std::chrono_literals;

CachedResponse Ok(std::string body) {
  CachedResponse r;
  r.body = std::move(body);
  return r;
}

class ResponseCacheTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  ResponseCache cache_{NewMemoryResponseStore({.default_ttl = 300s, .max_size = 100}, clock_),
                       {.default_ttl = 300s, .max_size = 100}};
};

TEST_F(ResponseCacheTest, GetOrComputeComputesOnceThenHits) {
  int calls = 0;
  auto compute = [&]() -> Result<CachedResponse> {
    ++calls;
    return Ok("{\"n\":1}");
  };
  Result<CachedResponsePtr> a = cache_.get_or_compute("k", compute);
  Result<CachedResponsePtr> b = cache_.get_or_compute("k", compute);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ((*b)->body, "{\"n\":1}");
  EXPECT_EQ(a->get(), b->get());  // the same shared entry
  ResponseCacheStats s = cache_.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.stores, 1u);
  EXPECT_DOUBLE_EQ(s.hit_rate, 0.5);
  EXPECT_EQ(s.store.entries, 1u);
}

TEST_F(ResponseCacheTest, EntriesExpireAfterTheirTtl) {
  ASSERT_TRUE(cache_.store("default", Ok("a")));
  ASSERT_TRUE(cache_.store("short", Ok("b"), 10s));
  clock_.advance(9s);
  EXPECT_NE(cache_.lookup("short"), nullptr);
  clock_.advance(1s);
  EXPECT_EQ(cache_.lookup("short"), nullptr);
  EXPECT_NE(cache_.lookup("default"), nullptr);
  clock_.advance(290s);
  EXPECT_EQ(cache_.lookup("default"), nullptr);
}

TEST_F(ResponseCacheTest, ErrorsAreNeverStored) {
  int calls = 0;
  auto failing = [&]() -> Result<CachedResponse> {
    ++calls;
    CachedResponse r = Ok(R"({"error":{"message":"boom"}})");
    r.status = 500;
    return r;
  };
  Result<CachedResponsePtr> a = cache_.get_or_compute("k", failing);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->status, 500);  // returned to the caller, but not kept
  (void)cache_.get_or_compute("k", failing);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(cache_.stats().rejected, 2u);
  EXPECT_EQ(cache_.stats().store.entries, 0u);

  auto status_error = []() -> Result<CachedResponse> { return BadGateway("unreachable"); };
  Result<CachedResponsePtr> b = cache_.get_or_compute("k2", status_error);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kBadGateway);
  EXPECT_EQ(cache_.lookup("k2"), nullptr);

  CachedResponse not_found = Ok("{}");
  not_found.status = 404;
  EXPECT_FALSE(cache_.store("k3", not_found));
  EXPECT_EQ(cache_.lookup("k3"), nullptr);
}

TEST_F(ResponseCacheTest, IncompleteStreamsAreNotStored) {
  CachedResponse s;
  s.streamed = true;
  s.events = {R"({"choices":[]})"};
  s.complete = false;
  EXPECT_FALSE(cache_.store("s", s));
  s.complete = true;
  EXPECT_TRUE(cache_.store("s", s));
  CachedResponsePtr hit = cache_.lookup("s");
  ASSERT_NE(hit, nullptr);
  EXPECT_TRUE(hit->streamed);
  EXPECT_EQ(hit->events.size(), 1u);
}

TEST_F(ResponseCacheTest, BoundedBySizeEraseAndClear) {
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(cache_.store("k" + std::to_string(i), Ok("x")));
  EXPECT_LE(cache_.stats().store.entries, 112u);  // 100 rounded up per shard
  EXPECT_NE(cache_.lookup("k299"), nullptr);
  EXPECT_TRUE(cache_.erase("k299"));
  EXPECT_EQ(cache_.lookup("k299"), nullptr);
  cache_.clear();
  EXPECT_EQ(cache_.stats().store.entries, 0u);
  EXPECT_EQ(cache_.store_kind(), "memory");
}

}  // namespace
}  // namespace agentgate
