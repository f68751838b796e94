#include "agentgate/ratelimit/cost_tracker.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "store/sqlite_db.h"

namespace agentgate {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using std::chrono::sys_days;
using namespace std::chrono_literals;

// At(y, m, d, h): that UTC time since the epoch.
Nanos At(std::chrono::year y, unsigned m, unsigned d, int h = 0) {
  sys_days day{y / std::chrono::month(m) / std::chrono::day(d)};
  return day.time_since_epoch() + hours(h);
}

PriceTable Prices() {
  return PriceTable({{"gpt-4o-mini", {.input_per_million = 0.15, .output_per_million = 0.60}},
                     {"gpt-4o", {.input_per_million = 2.50, .output_per_million = 10.00}}});
}

std::map<std::string, Budget> Tiers() {
  return {{"free", {.per_day = UsdToNano(0.001), .per_month = UsdToNano(0.01)}},
          {"pro", {.per_day = 0, .per_month = 0}}};
}

TEST(PriceTableTest, CostIsTokensTimesPricePerMillionRoundedToNanoUsd) {
  PriceTable p = Prices();
  // 1000 in x 0.15 $/M + 500 out x 0.60 $/M = 0.00015 + 0.0003 = 0.00045 $.
  EXPECT_EQ(p.cost("gpt-4o-mini", 1000, 500), 450'000);
  // 1 in x 2.5 $/M = 2.5e-6 $ = 2500 nano-USD; 3 out x 10 $/M = 30000.
  EXPECT_EQ(p.cost("gpt-4o", 1, 3), 32'500);
  EXPECT_EQ(p.cost("gpt-4o", 1'000'000, 1'000'000), UsdToNano(12.5));
  EXPECT_EQ(p.cost("unknown-model", 1000, 1000), 0);
  EXPECT_EQ(p.cost("gpt-4o-mini", -5, 0), 0);  // nonsense usage never refunds
  EXPECT_EQ(UsdToNano(0.1), 100'000'000);
  EXPECT_DOUBLE_EQ(NanoToUsd(450'000), 0.00045);
}

TEST(UtcPeriodTest, DayAndMonthLabelsAndTimeLeftAcrossYearAndLeapFebruary) {
  UtcPeriod a = UtcPeriodOf(ManualClock::kDefaultStart);  // 2026-01-01T00:00Z
  EXPECT_EQ(a.day, "2026-01-01");
  EXPECT_EQ(a.month, "2026-01");
  EXPECT_EQ(a.day_left, hours(24));
  EXPECT_EQ(a.month_left, hours(24 * 31));
  UtcPeriod b = UtcPeriodOf(At(std::chrono::year(2028), 2, 28, 12));
  EXPECT_EQ(b.day, "2028-02-28");
  EXPECT_EQ(b.day_left, hours(12));
  EXPECT_EQ(b.month_left, hours(12 + 24));  // 2028 is a leap year: Feb 29 still to come
  UtcPeriod c = UtcPeriodOf(At(std::chrono::year(2026), 12, 31, 23) + 1s);
  EXPECT_EQ(c.day, "2026-12-31");
  EXPECT_EQ(c.month, "2026-12");
  EXPECT_EQ(c.month_left, hours(1) - 1s);
  EXPECT_EQ(UtcPeriodOf(At(std::chrono::year(2026), 12, 31, 23) + hours(1)).month, "2027-01");
}

TEST(CostTrackerTest, DayBudgetDeniesUntilUtcMidnightThenSpendStartsAgain) {
  ManualClock clock(At(std::chrono::year(2026), 3, 10, 18));
  CostTracker t(Prices(), Tiers(), clock);
  // 0.00045 $ per call; the free day budget is 0.001 $.
  for (int i = 0; i < 3; ++i) {
    SpendStatus s = t.check("alice", "free");
    ASSERT_TRUE(s.allowed) << i;
    auto cost = t.charge("alice", "gpt-4o-mini", 1000, 500);
    ASSERT_TRUE(cost.ok());
    EXPECT_EQ(*cost, 450'000);
  }
  // 3 x 0.00045 = 0.00135 $ >= 0.001 $: the third call crossed the budget.
  SpendStatus s = t.check("alice", "free");
  EXPECT_FALSE(s.allowed);
  EXPECT_EQ(s.exceeded, "day");
  EXPECT_EQ(s.today, 1'350'000);
  EXPECT_EQ(s.this_month, 1'350'000);
  EXPECT_EQ(s.requests_today, 3);
  EXPECT_EQ(s.day_budget, 1'000'000);
  EXPECT_EQ(s.month_budget, 10'000'000);
  EXPECT_EQ(s.retry_after, hours(6));
  EXPECT_EQ(s.day, "2026-03-10");
  // Another user and another tier are not affected.
  EXPECT_TRUE(t.check("bob", "free").allowed);
  EXPECT_TRUE(t.check("alice", "pro").allowed);
  clock.advance(hours(6) - 1ns);
  EXPECT_FALSE(t.check("alice", "free").allowed);
  clock.advance(1ns);
  s = t.check("alice", "free");
  EXPECT_TRUE(s.allowed);
  EXPECT_EQ(s.today, 0);
  EXPECT_EQ(s.requests_today, 0);
  EXPECT_EQ(s.this_month, 1'350'000);
  EXPECT_EQ(s.requests_month, 3);
}

TEST(CostTrackerTest, MonthBudgetHoldsAcrossDaysAndFreesOnTheFirstOfTheNextMonth) {
  ManualClock clock(At(std::chrono::year(2026), 2, 27, 12));
  CostTracker t(Prices(), Tiers(), clock);
  ASSERT_TRUE(t.set_user_budget("carol", {.per_day = 0, .per_month = UsdToNano(0.02)}).ok());
  // gpt-4o: 1000 out = 0.01 $ each.
  ASSERT_TRUE(t.charge("carol", "gpt-4o", 0, 1000).ok());
  clock.advance(hours(24));  // 2026-02-28
  EXPECT_TRUE(t.check("carol", "free").allowed);  // day budget 0 = unlimited for carol
  ASSERT_TRUE(t.charge("carol", "gpt-4o", 0, 1000).ok());
  SpendStatus s = t.check("carol", "free");
  EXPECT_FALSE(s.allowed);
  EXPECT_EQ(s.exceeded, "month");
  EXPECT_EQ(s.today, UsdToNano(0.01));
  EXPECT_EQ(s.this_month, UsdToNano(0.02));
  EXPECT_EQ(s.day_budget, 0);
  EXPECT_EQ(s.retry_after, hours(12));  // 2026-03-01T00:00Z
  clock.advance(hours(12));
  s = t.check("carol", "free");
  EXPECT_TRUE(s.allowed);
  EXPECT_EQ(s.month, "2026-03");
  EXPECT_EQ(s.this_month, 0);
}

TEST(CostTrackerTest, UserBudgetOverridesTierBudgetWhichOverridesConfig) {
  ManualClock clock;
  CostTracker t(Prices(), Tiers(), clock);
  ASSERT_TRUE(t.charge("dan", "gpt-4o", 0, 200).ok());  // 0.002 $
  EXPECT_FALSE(t.check("dan", "free").allowed);  // config: 0.001 $ a day
  ASSERT_TRUE(t.set_tier_budget("free", {.per_day = UsdToNano(0.005)}).ok());
  SpendStatus s = t.check("dan", "free");
  EXPECT_TRUE(s.allowed);
  EXPECT_EQ(s.day_budget, UsdToNano(0.005));
  EXPECT_EQ(s.month_budget, UsdToNano(0.01));  // month not set at run time: config
  ASSERT_TRUE(t.set_user_budget("dan", {.per_day = UsdToNano(0.002)}).ok());
  EXPECT_FALSE(t.check("dan", "free").allowed);
  ASSERT_TRUE(t.set_user_budget("dan", {.per_day = 0}).ok());  // unlimited for dan
  EXPECT_TRUE(t.check("dan", "free").allowed);
  EXPECT_EQ(t.check("dan", "free").day_budget, 0);
  ASSERT_TRUE(t.set_user_budget("dan", Budget{}).ok());  // back to the tier's
  EXPECT_EQ(t.check("dan", "free").day_budget, UsdToNano(0.005));
  ASSERT_TRUE(t.set_tier_budget("free", Budget{}).ok());  // back to config
  EXPECT_EQ(t.check("dan", "free").day_budget, UsdToNano(0.001));
  // A tier without any budget: never denies.
  EXPECT_TRUE(t.check("dan", "pro").allowed);
}

TEST(CostTrackerTest, BadInputsAreRejectedAndChangeNothing) {
  ManualClock clock;
  CostTracker t(Prices(), Tiers(), clock);
  ASSERT_TRUE(t.set_user_budget("erin", {.per_day = 5}).ok());
  EXPECT_EQ(t.set_user_budget("", {.per_day = 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.set_user_budget("erin", {.per_day = -2}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.set_tier_budget("gold", {.per_day = 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.set_tier_budget("free", {.per_month = -7}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.user_budget("erin"), (Budget{.per_day = 5}));
  EXPECT_EQ(t.tier_budget("free"), Budget{});
  EXPECT_EQ(t.charge("", "gpt-4o", 1, 1).status().code(), StatusCode::kInvalidArgument);
}

TEST(CostTrackerTest, UnpricedModelCostsNothingButIsCounted) {
  ManualClock clock;
  CostTracker t(Prices(), Tiers(), clock);
  auto cost = t.charge("fay", "my-local-model", 5000, 5000);
  ASSERT_TRUE(cost.ok());
  EXPECT_EQ(*cost, 0);
  ASSERT_TRUE(t.charge("fay", "gpt-4o-mini", 1000, 0).ok());
  SpendStatus s = t.check("fay", "free");
  EXPECT_EQ(s.requests_today, 2);
  EXPECT_EQ(s.today, 150'000);
  EXPECT_EQ(t.unpriced_requests(), 1);
  auto by_model = t.cost_by_model();
  ASSERT_EQ(by_model.size(), 1u);
  EXPECT_EQ(by_model[0].first, "gpt-4o-mini");
  EXPECT_EQ(by_model[0].second, 150'000);
}

// Rows(db, user, period): nano_usd and requests stored for that row (-1 if none).
std::pair<int64_t, int64_t> Row(SqliteDb& db, const std::string& user, const std::string& period) {
  auto st = db.prepare("SELECT nano_usd, requests FROM cost_spend WHERE user_id = ? AND period = ?");
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(st->bind_text(1, user).ok());
  EXPECT_TRUE(st->bind_text(2, period).ok());
  auto row = st->step();
  if (!row.ok() || !*row) return {-1, -1};
  return {st->column_int64(0), st->column_int64(1)};
}

TEST(CostTrackerTest, ChargesAreWrittenBehindOncePerIntervalAndKeptWhenAWriteFails) {
  auto db = SqliteDb::open_memory();
  ASSERT_TRUE(db.ok());
  ManualClock clock;  // 2026-01-01
  auto t = CostTracker::Open(**db, Prices(), Tiers(), clock, {.flush_interval = seconds(1)});
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->charge("hal", "gpt-4o", 0, 100).ok());  // 1 ms after open: not yet due
  EXPECT_EQ(Row(**db, "hal", "2026-01-01").first, -1);
  clock.advance(seconds(1));
  ASSERT_TRUE((*t)->charge("hal", "gpt-4o", 0, 100).ok());  // due: both written
  EXPECT_EQ(Row(**db, "hal", "2026-01-01"), (std::pair<int64_t, int64_t>{2'000'000, 2}));
  EXPECT_EQ(Row(**db, "hal", "2026-01"), (std::pair<int64_t, int64_t>{2'000'000, 2}));
  // The store fails: the charge stays pending, is counted, and the next
  // successful write carries it.
  ASSERT_TRUE((*db)->exec("ALTER TABLE cost_spend RENAME TO cost_spend_away").ok());
  clock.advance(seconds(1));
  ASSERT_TRUE((*t)->charge("hal", "gpt-4o", 0, 100).ok());
  EXPECT_EQ((*t)->store_errors(), 1);
  EXPECT_EQ((*t)->check("hal", "free").today, 3'000'000);  // memory counts it regardless
  ASSERT_TRUE((*db)->exec("ALTER TABLE cost_spend_away RENAME TO cost_spend").ok());
  ASSERT_TRUE((*t)->flush().ok());
  EXPECT_EQ(Row(**db, "hal", "2026-01-01"), (std::pair<int64_t, int64_t>{3'000'000, 3}));
  EXPECT_EQ((*t)->store_errors(), 1);
}

TEST(CostTrackerTest, SpendAndBudgetsSurviveARestartButPastDaysDoNotCount) {
  auto dir = std::filesystem::temp_directory_path() /
             ("agentgate_cost_" + std::to_string(::getpid()) + "_" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  ManualClock clock(At(std::chrono::year(2026), 5, 30, 10));
  {
    auto db = SqliteDb::open({.data_dir = dir.string()});
    ASSERT_TRUE(db.ok());
    auto t = CostTracker::Open(**db, Prices(), Tiers(), clock);
    ASSERT_TRUE(t.ok()) << t.status().message();
    ASSERT_TRUE((*t)->charge("gus", "gpt-4o", 100, 100).ok());  // 0.00125 $
    clock.advance(hours(24));                                    // 2026-05-31
    ASSERT_TRUE((*t)->charge("gus", "gpt-4o", 0, 100).ok());     // 0.001 $
    ASSERT_TRUE((*t)->set_user_budget("gus", {.per_day = UsdToNano(3)}).ok());
    ASSERT_TRUE((*t)->set_tier_budget("pro", {.per_month = UsdToNano(50)}).ok());
  }
  {
    auto db = SqliteDb::open({.data_dir = dir.string()});
    ASSERT_TRUE(db.ok());
    auto t = CostTracker::Open(**db, Prices(), Tiers(), clock);
    ASSERT_TRUE(t.ok()) << t.status().message();
    SpendStatus s = (*t)->check("gus", "pro");
    EXPECT_EQ(s.today, 1'000'000);
    EXPECT_EQ(s.requests_today, 1);
    EXPECT_EQ(s.this_month, 2'250'000);
    EXPECT_EQ(s.requests_month, 2);
    EXPECT_EQ(s.day_budget, UsdToNano(3));
    EXPECT_EQ(s.month_budget, UsdToNano(50));
    EXPECT_EQ((*t)->user_budget("gus"), (Budget{.per_day = UsdToNano(3)}));
    // Charges after the restart add to the loaded spend.
    ASSERT_TRUE((*t)->charge("gus", "gpt-4o", 0, 100).ok());
    EXPECT_EQ((*t)->check("gus", "pro").this_month, 3'250'000);
  }
  clock.advance(hours(24));  // 2026-06-01: a new day and month
  {
    auto db = SqliteDb::open({.data_dir = dir.string()});
    ASSERT_TRUE(db.ok());
    auto t = CostTracker::Open(**db, Prices(), Tiers(), clock);
    ASSERT_TRUE(t.ok());
    SpendStatus s = (*t)->check("gus", "pro");
    EXPECT_EQ(s.today, 0);
    EXPECT_EQ(s.this_month, 0);
    EXPECT_EQ(s.day_budget, UsdToNano(3));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace agentgate
