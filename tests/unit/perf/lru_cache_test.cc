#include "agentgate/perf/lru_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <list>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace agentgate {
namespace {

using std::chrono::seconds;

LruCacheOptions Exact(size_t max_size, Nanos ttl = Nanos(0)) {
  return {.max_size = max_size, .default_ttl = ttl, .shards = 1};
}

TEST(LruCacheTest, SetGetEraseClear) {
  ManualClock clock;
  LruCache<std::string, int> cache(Exact(10), clock);
  EXPECT_FALSE(cache.get("a"));
  EXPECT_TRUE(cache.set("a", 1));
  EXPECT_EQ(cache.get("a"), 1);
  cache.set("a", 2);
  EXPECT_EQ(cache.get("a"), 2);
  EXPECT_TRUE(cache.contains("a"));
  EXPECT_TRUE(cache.erase("a"));
  EXPECT_FALSE(cache.erase("a"));
  EXPECT_FALSE(cache.contains("a"));
  cache.set("b", 3);
  cache.set("c", 4);
  cache.clear();
  EXPECT_FALSE(cache.get("b"));
  EXPECT_EQ(cache.stats().size, 0u);
}

TEST(LruCacheTest, SetMaxSizeShrinksAtOnceAndGrowsLater) {
  ManualClock clock;
  LruCache<std::string, int> cache(Exact(5), clock);
  for (int i = 0; i < 5; ++i) cache.set(std::to_string(i), i);
  (void)cache.get("0");  // 0 becomes the most recent; 1 the least
  cache.set_max_size(2);
  EXPECT_EQ(cache.stats().size, 2u);
  EXPECT_EQ(cache.stats().max_size, 2u);
  EXPECT_EQ(cache.stats().evictions, 3u);
  EXPECT_TRUE(cache.contains("0"));
  EXPECT_TRUE(cache.contains("4"));
  cache.set_max_size(4);
  for (int i = 5; i < 9; ++i) cache.set(std::to_string(i), i);
  EXPECT_EQ(cache.stats().size, 4u);
  EXPECT_EQ(cache.options().max_size, 5u);  // the options as constructed
}

TEST(LruCacheTest, DefaultTtlExpiresWithManualClock) {
  ManualClock clock;
  LruCache<std::string, int> cache(Exact(10, seconds(5)), clock);
  cache.set("a", 1);
  clock.advance(seconds(4));
  EXPECT_EQ(cache.get("a"), 1);
  clock.advance(seconds(1));  // exactly at the TTL: expired
  EXPECT_FALSE(cache.get("a"));
  EXPECT_FALSE(cache.contains("a"));
  auto st = cache.stats();
  EXPECT_EQ(st.expirations, 1u);
  EXPECT_EQ(st.size, 0u);
}

TEST(LruCacheTest, PerEntryTtlOverridesDefault) {
  ManualClock clock;
  LruCache<int, int> cache(Exact(10, seconds(10)), clock);
  cache.set(1, 1);               // default: 10 s
  cache.set(2, 2, seconds(2));   // 2 s
  cache.set(3, 3, Nanos(0));     // never
  cache.set(4, 4, seconds(60));  // 60 s
  clock.advance(seconds(3));
  EXPECT_FALSE(cache.contains(2));
  EXPECT_TRUE(cache.contains(1));
  clock.advance(seconds(8));
  EXPECT_FALSE(cache.get(1));
  EXPECT_TRUE(cache.get(4));
  clock.advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(cache.get(3), 3);
  EXPECT_FALSE(cache.get(4));
  // Re-setting a key resets its TTL.
  cache.set(5, 5, seconds(2));
  clock.advance(seconds(1));
  cache.set(5, 6, seconds(2));
  clock.advance(seconds(1));
  EXPECT_EQ(cache.get(5), 6);
}

TEST(LruCacheTest, UpdateChangesExpiryBothWays) {
  ManualClock clock;
  LruCache<int, int> cache(Exact(10), clock);
  cache.set(1, 1, seconds(1));
  cache.set(1, 2, Nanos(0));     // now never expires
  cache.set(2, 2, seconds(5));
  cache.set(2, 3, seconds(1));   // earlier than before
  cache.set(3, 3, seconds(1));
  cache.set(3, 4, seconds(10));  // later than before
  clock.advance(seconds(2));
  EXPECT_EQ(cache.get(1), 2);
  EXPECT_FALSE(cache.contains(2));
  EXPECT_EQ(cache.get(3), 4);
  auto st = cache.stats();
  EXPECT_EQ(st.size, 2u);
  EXPECT_EQ(st.expirations, 1u);
}

TEST(LruCacheTest, ExpiredEntriesAreReclaimedWithoutAccess) {
  ManualClock clock;
  LruCache<int, int> cache(Exact(100), clock);
  for (int i = 0; i < 50; ++i) cache.set(i, i, seconds(1 + i % 5));
  for (int i = 50; i < 60; ++i) cache.set(i, i);  // no TTL
  clock.advance(seconds(3));                       // ttl 1, 2, 3 s: expired
  auto st = cache.stats();                         // reclaims through the heap
  EXPECT_EQ(st.expirations, 30u);
  EXPECT_EQ(st.size, 30u);
  clock.advance(seconds(10));
  EXPECT_EQ(cache.stats().size, 10u);
}

TEST(LruCacheTest, ExpiredEntriesGoBeforeLiveOnesWhenFull) {
  ManualClock clock;
  LruCache<int, int> cache(Exact(3), clock);
  cache.set(1, 1);               // least recent, no TTL
  cache.set(2, 2, seconds(1));   // will expire
  cache.set(3, 3);
  clock.advance(seconds(2));
  cache.set(4, 4);               // needs one slot: the expired 2, not 1
  EXPECT_TRUE(cache.contains(1));
  EXPECT_FALSE(cache.contains(2));
  auto st = cache.stats();
  EXPECT_EQ(st.evictions, 0u);
  EXPECT_EQ(st.expirations, 1u);
}

TEST(LruCacheTest, EvictsLeastRecentlyUsed) {
  ManualClock clock;
  LruCache<int, int> cache(Exact(3), clock);
  cache.set(1, 1);
  cache.set(2, 2);
  cache.set(3, 3);
  EXPECT_TRUE(cache.get(1));  // order now (most recent first): 1 3 2
  cache.set(4, 4);            // evicts 2
  EXPECT_FALSE(cache.contains(2));
  cache.set(3, 30);           // refresh 3: order 3 4 1
  cache.set(5, 5);            // evicts 1
  EXPECT_FALSE(cache.contains(1));
  EXPECT_TRUE(cache.contains(3));
  EXPECT_TRUE(cache.contains(4));
  EXPECT_TRUE(cache.contains(5));
  EXPECT_EQ(cache.stats().evictions, 2u);
}

TEST(LruCacheTest, ContainsDoesNotChangeRecency) {
  ManualClock clock;
  LruCache<int, int> cache(Exact(2), clock);
  cache.set(1, 1);
  cache.set(2, 2);
  EXPECT_TRUE(cache.contains(1));
  cache.set(3, 3);  // 1 is still the least recent
  EXPECT_FALSE(cache.contains(1));
  EXPECT_TRUE(cache.contains(2));
}

TEST(LruCacheTest, StoresNoneValues) {
  ManualClock clock;
  LruCache<std::string, std::optional<int>> cache(Exact(10), clock);
  cache.set("none", std::nullopt);
  EXPECT_TRUE(cache.contains("none"));
  std::optional<std::optional<int>> v = cache.get("none");
  ASSERT_TRUE(v.has_value());  // found...
  EXPECT_FALSE(v->has_value());  // ...and the stored value is "none"
  EXPECT_FALSE(cache.get("absent").has_value());
  EXPECT_FALSE(cache.contains("absent"));
}

TEST(LruCacheTest, StatsCountEveryEvent) {
  ManualClock clock;
  LruCache<int, int> cache(Exact(4), clock);
  for (int i = 0; i < 4; ++i) cache.set(i, i);
  EXPECT_TRUE(cache.get(0));  // hit
  EXPECT_TRUE(cache.get(1));  // hit
  EXPECT_FALSE(cache.get(9));  // miss
  cache.set(4, 4);            // evicts 2
  cache.set(5, 5, seconds(1));  // evicts 3
  clock.advance(seconds(1));
  EXPECT_FALSE(cache.get(5));  // miss + expiration
  auto st = cache.stats();
  EXPECT_EQ(st.size, 3u);
  EXPECT_EQ(st.max_size, 4u);
  EXPECT_DOUBLE_EQ(st.utilization, 0.75);
  EXPECT_EQ(st.hits, 2u);
  EXPECT_EQ(st.misses, 2u);
  EXPECT_EQ(st.evictions, 2u);
  EXPECT_EQ(st.expirations, 1u);
}

TEST(LruCacheTest, ChargeBasedCapacity) {
  ManualClock clock;
  LruCache<std::string, std::string> cache(Exact(100), clock);
  EXPECT_TRUE(cache.set("a", "x", std::nullopt, 40));
  EXPECT_TRUE(cache.set("b", "y", std::nullopt, 40));
  EXPECT_DOUBLE_EQ(cache.stats().utilization, 0.8);
  EXPECT_TRUE(cache.set("c", "z", std::nullopt, 30));  // 110 > 100: evicts "a"
  EXPECT_FALSE(cache.contains("a"));
  EXPECT_TRUE(cache.contains("b"));
  EXPECT_DOUBLE_EQ(cache.stats().utilization, 0.7);
  EXPECT_TRUE(cache.set("d", "w", std::nullopt, 70));  // evicts "b" only: 30 + 70 fits
  EXPECT_FALSE(cache.contains("b"));
  EXPECT_TRUE(cache.contains("c"));
  EXPECT_FALSE(cache.set("huge", "!", std::nullopt, 101));  // larger than the cache
  EXPECT_FALSE(cache.contains("huge"));
  auto st = cache.stats();
  EXPECT_EQ(st.size, 2u);
  EXPECT_EQ(st.evictions, 2u);
  EXPECT_DOUBLE_EQ(st.utilization, 1.0);
}

TEST(LruCacheTest, ShardsSplitCapacity) {
  ManualClock clock;
  LruCache<int, int> cache({.max_size = 64, .shards = 16}, clock);
  for (int i = 0; i < 10'000; ++i) cache.set(i, i);
  auto st = cache.stats();
  EXPECT_EQ(st.size, 64u);  // 16 shards of 4, every one full
  EXPECT_EQ(st.evictions, 10'000u - 64u);
}

TEST(LruCacheTest, ZeroCapacityStoresNothing) {
  ManualClock clock;
  LruCache<int, int> cache(Exact(0), clock);
  EXPECT_FALSE(cache.set(1, 1));
  EXPECT_FALSE(cache.get(1));
}

// ReferenceLru: the textbook LRU the sharded cache must match with shards=1.
class ReferenceLru {
 public:
  explicit ReferenceLru(size_t capacity) : capacity_(capacity) {}
  bool get(uint64_t key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    order_.splice(order_.begin(), order_, it->second);
    return true;
  }
  void set(uint64_t key) {
    if (auto it = index_.find(key); it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    if (order_.size() == capacity_) {
      index_.erase(order_.back());
      order_.pop_back();
      ++evictions_;
    }
    order_.push_front(key);
    index_[key] = order_.begin();
  }
  uint64_t evictions() const { return evictions_; }

 private:
  size_t capacity_;
  std::list<uint64_t> order_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;
  uint64_t evictions_ = 0;
};

// ZipfTrace: `n` accesses over `keys` keys with P(rank k) ~ 1/k^s, seeded.
std::vector<uint64_t> ZipfTrace(size_t n, size_t keys, double s, uint64_t seed) {
  std::vector<double> weights(keys);
  for (size_t k = 0; k < keys; ++k) weights[k] = 1.0 / std::pow(static_cast<double>(k + 1), s);
  std::mt19937_64 rng(seed);
  std::discrete_distribution<size_t> rank(weights.begin(), weights.end());
  // Scatter ranks over the key space so that popular keys are not 0, 1, 2...
  std::vector<uint64_t> ids(keys);
  for (size_t k = 0; k < keys; ++k) ids[k] = rng();
  std::vector<uint64_t> trace(n);
  for (auto& t : trace) t = ids[rank(rng)];
  return trace;
}

TEST(LruCacheTraceTest, SingleShardMatchesReferenceLruExactly) {
  const auto trace = ZipfTrace(200'000, 20'000, 0.9, 42);
  for (size_t capacity : {100u, 1000u, 5000u}) {
    ManualClock clock;
    LruCache<uint64_t, uint64_t> cache(Exact(capacity), clock);
    ReferenceLru reference(capacity);
    uint64_t hits = 0;
    uint64_t ref_hits = 0;
    for (uint64_t key : trace) {
      if (cache.get(key)) {
        ++hits;
      } else {
        cache.set(key, key);
      }
      if (reference.get(key)) {
        ++ref_hits;
      } else {
        reference.set(key);
      }
    }
    auto st = cache.stats();
    EXPECT_EQ(hits, ref_hits) << "capacity " << capacity;
    EXPECT_EQ(st.hits, ref_hits);
    EXPECT_EQ(st.misses, trace.size() - ref_hits);
    EXPECT_EQ(st.evictions, reference.evictions());
    EXPECT_GT(ref_hits, trace.size() / 5);  // the trace is skewed enough to matter
  }
}

TEST(LruCacheTraceTest, ShardedHitRateStaysCloseToExact) {
  const auto trace = ZipfTrace(200'000, 20'000, 0.9, 7);
  ManualClock clock;
  LruCache<uint64_t, uint64_t> cache({.max_size = 1000, .shards = 16}, clock);
  ReferenceLru reference(1000);
  uint64_t ref_hits = 0;
  for (uint64_t key : trace) {
    if (!cache.get(key)) cache.set(key, key);
    if (reference.get(key)) {
      ++ref_hits;
    } else {
      reference.set(key);
    }
  }
  const double exact = static_cast<double>(ref_hits) / static_cast<double>(trace.size());
  const double sharded = static_cast<double>(cache.stats().hits) / static_cast<double>(trace.size());
  EXPECT_NEAR(sharded, exact, 0.02);
}

TEST(LruCacheConcurrencyTest, ManyThreadsGetAndSet) {
  ManualClock clock;
  LruCache<int, int> cache({.max_size = 512, .default_ttl = seconds(10), .shards = 8}, clock);
  constexpr int kThreads = 4;
  constexpr int kOps = 20'000;
  std::atomic<uint64_t> found{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t));
      uint64_t local = 0;
      for (int i = 0; i < kOps; ++i) {
        const int key = static_cast<int>(rng() % 1024);
        switch (rng() % 10) {
          case 0: cache.set(key, key * 2); break;
          case 1: cache.erase(key); break;
          case 2: cache.set(key, key * 2, seconds(1), 2); break;
          case 3:
            if (t == 0 && i % 1000 == 0) clock.advance(seconds(1));
            (void)cache.contains(key);
            break;
          case 4:
            if (i % 2000 == 0) (void)cache.stats();
            break;
          default:
            if (auto v = cache.get(key)) {
              EXPECT_EQ(*v, key * 2);
              ++local;
            }
        }
      }
      found += local;
    });
  }
  for (auto& th : threads) th.join();
  auto st = cache.stats();
  EXPECT_LE(st.utilization, 1.0 + 8.0 / 512);  // per-shard rounding only
  EXPECT_EQ(st.hits, found.load());
}

// Readers take no lock: they must never see a freed node or a torn value
// while writers replace values, grow the index, evict, clear and shrink.
// String values make a freed or half-built value visible to the sanitizers.
TEST(LruCacheConcurrencyTest, LockFreeReadsDuringGrowReplaceEvictAndClear) {
  ManualClock clock;
  LruCache<int, std::string> cache({.max_size = 2048, .shards = 2}, clock);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0};
  auto value_of = [](int key, int version) {
    return std::to_string(key) + ":" + std::string(static_cast<size_t>(24 + version % 8), 'v');
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(100 + t));
      while (!stop.load(std::memory_order_relaxed)) {
        const int key = static_cast<int>(rng() % 4096);
        if (auto v = cache.get(key)) {
          // Whatever version it is, it belongs to this key.
          EXPECT_EQ(v->substr(0, v->find(':')), std::to_string(key));
        }
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::mt19937 rng(7);
  // At least 6 rounds, and on until the readers have read during them (on a
  // loaded machine they may start late).
  for (int round = 0; round < 6 || reads.load(std::memory_order_relaxed) < 10'000; ++round) {
    // Grows each shard's index from empty to ~1000 entries.
    for (int i = 0; i < 3000; ++i) {
      const int key = static_cast<int>(rng() % 4096);
      cache.set(key, value_of(key, i), std::nullopt, 1 + static_cast<size_t>(i % 2));
    }
    for (int i = 0; i < 500; ++i) (void)cache.erase(static_cast<int>(rng() % 4096));
    cache.set_max_size(round % 2 == 0 ? 512 : 2048);
    cache.clear();
  }
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_GT(reads.load(), 0u);
  const auto st = cache.stats();
  EXPECT_EQ(st.size, 0u);
  EXPECT_EQ(st.hits + st.misses, reads.load());
}

}  // namespace
}  // namespace agentgate
