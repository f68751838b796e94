#include "agentgate/ratelimit/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "config/config.h"
#include "store/sqlite_db.h"

namespace agentgate {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::map<std::string, TierLimits> Tiers() {
  std::map<std::string, TierLimits> t;
  for (const auto& [name, c] : DefaultTiers()) {
    t[name].requests = {c.per_second, c.per_minute, c.per_hour, c.per_day};
  }
  return t;
}

TEST(RateLimiterTest, FreeTierAdmitsTwoPerSecondThenDeniesWithRetryAfter) {
  RateLimitPolicy policy(Tiers(), "free");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock);
  for (int i = 0; i < 2; ++i) {
    auto d = rl->acquire("alice", "");
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(d->allowed);
    EXPECT_EQ(d->tier, "free");
  }
  auto d = rl->acquire("alice", "");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->most_restrictive, static_cast<int>(RateWindow::kSecond));
  EXPECT_EQ(d->windows[0].limit, 2);
  EXPECT_EQ(d->windows[0].remaining, 0);
  EXPECT_EQ(d->windows[1].limit, 60);
  EXPECT_EQ(d->windows[1].remaining, 58);
  EXPECT_GT(d->retry_after, Nanos(0));
  EXPECT_LE(d->retry_after, seconds(1) + milliseconds(1));
  // Just before retry_after it still denies; at retry_after it admits.
  clock.advance(d->retry_after - milliseconds(1));
  EXPECT_FALSE(rl->acquire("alice", "")->allowed);
  clock.advance(milliseconds(1));
  EXPECT_TRUE(rl->acquire("alice", "")->allowed);
  // Another user is not affected.
  EXPECT_TRUE(rl->acquire("bob", "")->allowed);
}

TEST(RateLimiterTest, CallerTierAppliesAndUnknownTierFallsBackToDefault) {
  RateLimitPolicy policy(Tiers(), "free");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(rl->acquire("p", "pro")->allowed) << i;
  EXPECT_FALSE(rl->acquire("p", "pro")->allowed);
  auto d = rl->acquire("x", "no-such-tier");
  EXPECT_EQ(d->tier, "free");
}

TEST(RateLimiterTest, CheckLimitHasNoSideEffectAndRecordRequestCounts) {
  RateLimitPolicy policy(Tiers(), "free");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl->check_limit("a", "")->allowed);
  EXPECT_EQ(rl->check_limit("a", "")->windows[0].used, 0);
  ASSERT_TRUE(rl->record_request("a", 2).ok());
  auto d = rl->check_limit("a", "");
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->windows[0].used, 2);
  EXPECT_EQ(d->windows[3].remaining, 9998);
  EXPECT_FALSE(rl->acquire("a", "", -1).ok());
}

TEST(RateLimiterTest, WindowsSlideInsteadOfResettingAtABoundary) {
  // A fixed window would admit 2 at 0.9 s and 2 more at 1.1 s.
  RateLimitPolicy policy(Tiers(), "free");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock);
  clock.advance(milliseconds(900));
  EXPECT_TRUE(rl->acquire("a", "")->allowed);
  EXPECT_TRUE(rl->acquire("a", "")->allowed);
  clock.advance(milliseconds(200));
  EXPECT_FALSE(rl->acquire("a", "")->allowed);
  clock.advance(milliseconds(790));  // 1.89 s: the two of 0.9 s are still in (0.89, 1.89]
  EXPECT_FALSE(rl->acquire("a", "")->allowed);
  clock.advance(milliseconds(20));   // 1.91 s: they have left
  EXPECT_TRUE(rl->acquire("a", "")->allowed);
}

TEST(RateLimiterTest, StatusReportsResetOfTheOldestCountedRequest) {
  RateLimitPolicy policy(Tiers(), "free");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock);
  auto d = rl->acquire("a", "");
  EXPECT_GT(d->windows[0].reset, milliseconds(990));
  EXPECT_LE(d->windows[0].reset, seconds(1) + milliseconds(1));
  EXPECT_GT(rl->check_limit("a", "")->windows[3].reset, std::chrono::hours(23));
  clock.advance(milliseconds(400));
  d = rl->check_limit("a", "");
  EXPECT_LE(d->windows[0].reset, milliseconds(601));
  EXPECT_EQ(d->windows[0].remaining, 1);
}

TEST(RateLimiterTest, ResetForgetsCountsButNotLimits) {
  RateLimitPolicy policy(Tiers(), "free");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock);
  ASSERT_TRUE(policy.set_custom_limit("a", RateWindow::kDay, 1).ok());
  EXPECT_TRUE(rl->acquire("a", "")->allowed);
  EXPECT_FALSE(rl->acquire("a", "")->allowed);
  ASSERT_TRUE(rl->reset("a").ok());
  EXPECT_TRUE(rl->acquire("a", "")->allowed);
  EXPECT_FALSE(rl->acquire("a", "")->allowed);
}

TEST(RateLimiterTest, CustomLimitOverridesTierAndBadInputChangesNothing) {
  RateLimitPolicy policy(Tiers(), "free");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock);
  ASSERT_TRUE(policy.set_custom_limit("a", RateWindow::kSecond, 5).ok());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl->acquire("a", "")->allowed) << i;
  EXPECT_FALSE(rl->acquire("a", "")->allowed);
  EXPECT_EQ(policy.set_custom_limit("a", RateWindow::kSecond, -1).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.set_user_tier("a", "platinum").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.resolve("a", "").requests[0], 5);
  EXPECT_EQ(policy.resolve("a", "").tier, "free");
  EXPECT_FALSE(ParseRateWindow("week").ok());
  // Assigned tier wins over the caller's.
  ASSERT_TRUE(policy.set_user_tier("b", "enterprise").ok());
  EXPECT_EQ(policy.resolve("b", "free").tier, "enterprise");
  EXPECT_EQ(policy.resolve("b", "free").requests[0], 50);
  ASSERT_TRUE(policy.clear_custom_limits("a").ok());
  EXPECT_EQ(policy.resolve("a", "").requests[0], 2);
  EXPECT_FALSE(policy.override_of("a").has_value());
}

TEST(RateLimiterTest, OverridesSurviveARestart) {
  auto dir = std::filesystem::temp_directory_path() /
             ("agentgate_rl_" + std::to_string(::getpid()) + "_" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  {
    auto db = SqliteDb::open({.data_dir = dir.string()});
    ASSERT_TRUE(db.ok());
    auto policy = RateLimitPolicy::Open(**db, Tiers(), "free");
    ASSERT_TRUE(policy.ok());
    ASSERT_TRUE((*policy)->set_custom_limit("a", RateWindow::kHour, 7).ok());
    ASSERT_TRUE((*policy)->set_user_tier("a", "basic").ok());
    ASSERT_TRUE((*policy)->set_user_tier("b", "pro").ok());
  }
  {
    auto db = SqliteDb::open({.data_dir = dir.string()});
    ASSERT_TRUE(db.ok());
    auto policy = RateLimitPolicy::Open(**db, Tiers(), "free");
    ASSERT_TRUE(policy.ok());
    ResolvedLimits a = (*policy)->resolve("a", "");
    EXPECT_EQ(a.tier, "basic");
    EXPECT_EQ(a.requests[0], 5);
    EXPECT_EQ(a.requests[2], 7);
    EXPECT_EQ((*policy)->resolve("b", "").tier, "pro");
  }
  std::filesystem::remove_all(dir);
}

TEST(RateLimiterTest, ConcurrentAcquiresNeverExceedTheLimit) {
  std::map<std::string, TierLimits> tiers;
  tiers["t"].requests = {0, 0, 0, 1000};
  RateLimitPolicy policy(tiers, "t");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 1000; ++j) {
        if (rl->acquire("hot", "")->allowed) admitted.fetch_add(1);
        (void)rl->acquire("cold" + std::to_string(j), "");
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 1000);
  EXPECT_EQ(rl->users(), 1001u);
}

TEST(RateLimiterTest, MemoryPerUserIsAtMost256Bytes) {
  RateLimitPolicy policy(Tiers(), "free");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock);
  for (int i = 0; i < 200000; ++i) (void)rl->acquire("user" + std::to_string(i), "");
  EXPECT_EQ(rl->users(), 200000u);
  std::printf("[memory] %.1f bytes per user at 200k users\n", rl->bytes_per_user());
  EXPECT_LE(rl->bytes_per_user(), 256.0);
}

}  // namespace
}  // namespace agentgate

namespace agentgate {
namespace {

TEST(RateLimiterTest, IdleUsersAreSweptWhenTheShardWouldGrow) {
  RateLimitPolicy policy(Tiers(), "free");
  ManualClock clock;
  auto rl = NewMemoryRateLimiter(policy, clock, {.shards = 1});
  // A day limit under 100: runs of one admission, so the first leaving the
  // day window does not take the second along (see rate_limiter.h).
  ASSERT_TRUE(policy.set_custom_limit("active", RateWindow::kDay, 50).ok());
  for (int i = 0; i < 1000; ++i) (void)rl->acquire("old" + std::to_string(i), "");
  (void)rl->acquire("active", "");
  clock.advance(std::chrono::hours(20));
  (void)rl->acquire("active", "");  // active within the day: kept
  clock.advance(std::chrono::hours(8));
  for (int i = 0; i < 100; ++i) (void)rl->acquire("new" + std::to_string(i), "");
  EXPECT_EQ(rl->users(), 1001u - 1000u + 100u);
  // The kept user's count survived the compaction.
  EXPECT_EQ(rl->check_limit("active", "")->windows[3].used, 1);
  EXPECT_EQ(rl->check_limit("new5", "")->windows[3].used, 1);
  EXPECT_EQ(rl->check_limit("old5", "")->windows[3].used, 0);
}

}  // namespace
}  // namespace agentgate
