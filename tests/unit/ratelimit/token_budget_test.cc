#include "agentgate/ratelimit/token_budget.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

std::map<std::string, TokenLimits> Tiers() {
  return {{"free", {.per_minute = 10'000, .per_day = 100'000}},
          {"pro", {.per_minute = 0, .per_day = 1'000'000}},
          {"enterprise", {}}};
}

TEST(TokenBudgetTest, ChargedTokensDenyTheNextCallUntilTheMinuteFrees) {
  ManualClock clock;
  TokenBudget b(Tiers(), "free", clock);
  EXPECT_TRUE(b.any_budget());
  auto d = b.check("alice", "free");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->minute_limit, 10'000);
  EXPECT_EQ(d->day_limit, 100'000);
  ASSERT_TRUE(b.charge("alice", 6'000).ok());
  clock.advance(seconds(10));
  EXPECT_TRUE(b.check("alice", "free")->allowed);  // 6000 < 10000
  ASSERT_TRUE(b.charge("alice", 6'000).ok());      // the call that crosses completes
  d = b.check("alice", "free");
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->minute_used, 12'000);
  EXPECT_EQ(d->day_used, 12'000);
  // Under the budget again once the first 6000 leave the minute: 60 s after
  // they were charged (50 s from now), plus at most a bucket's 1/256.
  EXPECT_GE(d->retry_after, seconds(50));
  EXPECT_LE(d->retry_after, seconds(50) + milliseconds(7500 / 256 + 1));
  clock.advance(d->retry_after - milliseconds(1));
  EXPECT_FALSE(b.check("alice", "free")->allowed);
  clock.advance(milliseconds(1));
  d = b.check("alice", "free");
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->minute_used, 6'000);
  EXPECT_EQ(d->day_used, 12'000);
  // Another user is not affected.
  EXPECT_TRUE(b.check("bob", "free")->allowed);
}

TEST(TokenBudgetTest, DayBudgetHoldsAcrossMinutesAndFreesAfter24Hours) {
  ManualClock clock;
  TokenBudget b(Tiers(), "free", clock);
  for (int i = 0; i < 10; ++i) {  // 10 x 9999 tokens, one call every 2 minutes
    ASSERT_TRUE(b.check("carol", "free")->allowed) << i;
    ASSERT_TRUE(b.charge("carol", 9'999).ok());
    clock.advance(minutes(2));
  }
  auto d = b.check("carol", "free");
  EXPECT_TRUE(d->allowed);  // 99990 < 100000
  ASSERT_TRUE(b.charge("carol", 100).ok());
  d = b.check("carol", "free");
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->minute_used, 100);
  EXPECT_EQ(d->day_used, 100'090);
  // Exactly, the first charge (9999 tokens, 20 min ago) would leave the day
  // in 24 h - 20 min. The day's sub-buckets are 3 h wide and one counts in
  // full until its last charge (now) has left: never earlier than exact, at
  // most 24 h plus the 1/256-bucket rounding.
  EXPECT_GE(d->retry_after, hours(24) - minutes(20));
  EXPECT_LE(d->retry_after, hours(24) + seconds(3 * 3600 / 256 + 1));
  clock.advance(d->retry_after);
  EXPECT_TRUE(b.check("carol", "free")->allowed);
}

TEST(TokenBudgetTest, TiersWithoutBudgetsAndUnknownTiersFallBackToTheDefault) {
  ManualClock clock;
  TokenBudget b(Tiers(), "free", clock);
  ASSERT_TRUE(b.charge("dan", 50'000).ok());
  EXPECT_TRUE(b.check("dan", "enterprise")->allowed);   // no budget
  EXPECT_TRUE(b.check("dan", "pro")->allowed);          // minute unlimited, day 1M
  EXPECT_EQ(b.check("dan", "pro")->minute_limit, 0);
  EXPECT_FALSE(b.check("dan", "gold")->allowed);        // unknown: the default (free)
  EXPECT_EQ(b.check("dan", "gold")->tier, "free");
  ASSERT_TRUE(b.charge("dan", 0).ok());                 // nothing to charge
  ASSERT_TRUE(b.charge("dan", -5).ok());
  EXPECT_EQ(b.check("dan", "free")->day_used, 50'000);
  ASSERT_TRUE(b.reset("dan").ok());
  EXPECT_TRUE(b.check("dan", "free")->allowed);
  EXPECT_EQ(b.check("dan", "free")->day_used, 0);
  EXPECT_FALSE(TokenBudget({{"free", {}}}, "free", clock).any_budget());
}

}  // namespace
}  // namespace agentgate
