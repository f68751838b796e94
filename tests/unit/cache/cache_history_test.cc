#include "cache/cache_history.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

using namespace std::chrono_literals;

TEST(CacheHistoryTest, GrowthBetweenSamplesLandsInTheCurrentMinute) {
  ManualClock clock;  // starts on a minute boundary
  CacheHistory h(clock);
  h.sample({{"exact", {.hits = 100, .misses = 50}}});  // baseline: not counted
  clock.advance(10s);
  h.sample({{"exact", {.hits = 103, .misses = 51}}});
  clock.advance(40s);
  h.sample({{"exact", {.hits = 106, .misses = 51}}});
  clock.advance(60s);  // next minute
  h.sample({{"exact", {.hits = 106, .misses = 53}}, {"semantic", {.hits = 1, .misses = 1}}});
  Json j = h.json();
  ASSERT_EQ(j["exact"].size(), CacheHistory::kMinutes);
  const Json& last = j["exact"][CacheHistory::kMinutes - 1];
  const Json& before = j["exact"][CacheHistory::kMinutes - 2];
  EXPECT_EQ(before["minute"].get<int64_t>() + 60, last["minute"].get<int64_t>());
  EXPECT_EQ(last["minute"].get<int64_t>() % 60, 0);
  EXPECT_EQ(before["hits"], 6);
  EXPECT_EQ(before["misses"], 1);
  EXPECT_NEAR(before["hit_rate"].get<double>(), 6.0 / 7.0, 1e-9);
  EXPECT_EQ(last["hits"], 0);
  EXPECT_EQ(last["misses"], 2);
  EXPECT_EQ(j["exact"][0]["hits"], 0);
  EXPECT_EQ(j["semantic"][CacheHistory::kMinutes - 1]["hits"], 0);  // baseline only
}

TEST(CacheHistoryTest, MinutesOlderThanAnHourAreForgotten) {
  ManualClock clock;
  CacheHistory h(clock);
  h.sample({{"embedding", {}}});
  clock.advance(1s);
  h.sample({{"embedding", {.hits = 5}}});
  Json j = h.json();
  EXPECT_EQ(j["embedding"][CacheHistory::kMinutes - 1]["hits"], 5);
  clock.advance(59min);
  EXPECT_EQ(h.json()["embedding"][0]["hits"], 5);  // still the oldest of the 60
  clock.advance(1min);
  h.sample({{"embedding", {.hits = 5}}});  // reuses the ring slot of an hour ago
  j = h.json();
  for (const Json& b : j["embedding"]) EXPECT_EQ(b["hits"], 0);
}

TEST(CacheHistoryTest, ACounterThatWentDownCountsFromZero) {
  ManualClock clock;
  CacheHistory h(clock);
  h.sample({{"exact", {.hits = 10}}});
  h.sample({{"exact", {.hits = 3}}});
  EXPECT_EQ(h.json()["exact"][CacheHistory::kMinutes - 1]["hits"], 3);
}

}  // namespace
}  // namespace agentgate
