// The Redis embedding store against a real redis-server: bounded by
// max_size, least recently used first (a hit counts as a use), across two
// stores sharing one Redis, with the recency set kept in step.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "integration/support/redis_server.h"
#include "store/redis_cache_stores.h"
#include "support/io_thread.h"

namespace agentgate::test {
namespace {

using agentgate::testing::RedisServer;
using namespace std::chrono_literals;

EmbeddingValuePtr Vec(float x) { return std::make_shared<const Json>(Json::array({x, 1.0f})); }

class RedisEmbeddingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::available()) GTEST_SKIP() << "no redis-server";
    ASSERT_TRUE(server_.start().ok());
    RedisOptions o;
    o.port = server_.port();
    o.concern = "embedding";
    client_ = std::make_unique<RedisClient>(io_.executor(), o, metrics_);
    client_->start();
  }
  void TearDown() override {
    if (client_) client_->stop();
    io_.join();
  }
  std::unique_ptr<EmbeddingStore> Open(size_t max_size, Nanos ttl = Nanos(0)) {
    return NewRedisEmbeddingStore(*client_, "", ttl, max_size, metrics_, clock_);
  }
  // Set: stores `key` one millisecond after the previous use.
  void Set(EmbeddingStore& s, const std::string& key, float x) {
    clock_.advance(1ms);
    s.set(key, Vec(x));
  }
  bool Has(EmbeddingStore& s, const std::string& key) {
    clock_.advance(1ms);
    return s.get(key) != nullptr;
  }
  int64_t Int(std::vector<std::string> cmd) {
    Result<RedisReply> r = server_.command(std::move(cmd));
    return r.ok() ? r->integer : -1;
  }

  RedisServer server_;
  ManualClock clock_;
  MetricsRegistry metrics_;
  agentgate::testing::IoThread io_;
  std::unique_ptr<RedisClient> client_;
};

TEST_F(RedisEmbeddingStoreTest, BoundedByMaxSizeEvictingTheLeastRecentlyUsed) {
  auto store = Open(3);
  Set(*store, "a", 1);
  Set(*store, "b", 2);
  Set(*store, "c", 3);
  EXPECT_TRUE(Has(*store, "a"));  // a is now more recent than b
  Set(*store, "d", 4);            // over the bound: b goes
  EXPECT_FALSE(Has(*store, "b"));
  EXPECT_TRUE(Has(*store, "a"));
  EXPECT_TRUE(Has(*store, "c"));
  EXPECT_TRUE(Has(*store, "d"));
  EXPECT_EQ(Int({"EXISTS", "embedding:b"}), 0);
  EXPECT_EQ(Int({"ZCARD", "embedding-lru"}), 3);
  EmbeddingStoreStats st = store->stats();
  EXPECT_EQ(st.entries, 3u);
  EXPECT_EQ(st.max_size, 3u);
  EXPECT_EQ(st.evictions, 1u);
  // No expiry by default.
  EXPECT_EQ(Int({"PTTL", "embedding:a"}), -1);
}

TEST_F(RedisEmbeddingStoreTest, ManyStoresStayWithinTheBound) {
  auto store = Open(50);
  for (int i = 0; i < 500; ++i) Set(*store, "k" + std::to_string(i), static_cast<float>(i));
  EXPECT_EQ(store->stats().entries, 50u);
  EXPECT_EQ(store->stats().evictions, 450u);
  EXPECT_EQ(Int({"ZCARD", "embedding-lru"}), 50);
  EXPECT_TRUE(Has(*store, "k499"));
  EXPECT_FALSE(Has(*store, "k449"));
  EXPECT_TRUE(Has(*store, "k450"));
}

TEST_F(RedisEmbeddingStoreTest, TwoInstancesShareOneBound) {
  auto a = Open(4), b = Open(4);
  Set(*a, "a1", 1);
  Set(*b, "b1", 2);
  Set(*a, "a2", 3);
  Set(*b, "b2", 4);
  EXPECT_TRUE(Has(*b, "a1"));  // a hit on the other instance counts as a use
  Set(*a, "a3", 5);            // evicts b1, the least recently used
  EXPECT_FALSE(Has(*a, "b1"));
  EXPECT_TRUE(Has(*a, "a1"));
  EXPECT_EQ(a->stats().entries, 4u);
}

TEST_F(RedisEmbeddingStoreTest, ASmallerMaxSizeTrimsOnTheNextStoreAndClearEmptiesAll) {
  auto store = Open(10);
  for (int i = 0; i < 10; ++i) Set(*store, "k" + std::to_string(i), static_cast<float>(i));
  store->set_max_size(2);
  Set(*store, "last", 1);
  EXPECT_EQ(store->stats().entries, 2u);
  EXPECT_TRUE(Has(*store, "last"));
  EXPECT_TRUE(Has(*store, "k9"));
  EXPECT_TRUE(store->erase("k9"));
  EXPECT_EQ(Int({"ZCARD", "embedding-lru"}), 1);
  store->clear();
  EXPECT_EQ(Int({"DBSIZE"}), 0);
}

TEST_F(RedisEmbeddingStoreTest, ZeroMaxSizeIsUnboundedAndTtlStillApplies) {
  auto store = Open(0, std::chrono::minutes(5));
  for (int i = 0; i < 20; ++i) Set(*store, "k" + std::to_string(i), static_cast<float>(i));
  EXPECT_EQ(store->stats().entries, 20u);
  const int64_t ttl = Int({"PTTL", "embedding:k0"});
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 300000);
}

}  // namespace
}  // namespace agentgate::test
