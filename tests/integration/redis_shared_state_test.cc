// The shared-state parts against a real redis-server, in process, with the
// manual clock: analytics windows slide and the day rolls over without
// waiting; spend charged through two trackers is summed and a new UTC day
// starts at 0 while the month keeps it; a tier set through one override store
// reaches another store's policy, and after Redis restarts empty the copies
// follow Redis (nothing crashes).
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <thread>

#include "agentgate/ratelimit/cost_tracker.h"
#include "integration/support/redis_server.h"
#include "ratelimit/redis_override_store.h"
#include "ratelimit/redis_rate_limit_analytics.h"
#include "ratelimit/redis_spend_store.h"
#include "store/redis_client.h"
#include "store/run_sync.h"
#include "support/io_thread.h"
#include "support/wait_for.h"

namespace agentgate {
namespace {

using testing::WaitFor;

namespace asio = boost::asio;
using agentgate::testing::RedisServer;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

std::map<std::string, TierLimits> Tiers() {
  std::map<std::string, TierLimits> t;
  t["free"].requests = {2, 60, 1000, 10000};
  t["pro"].requests = {10, 300, 15000, 150000};
  return t;
}

class RedisSharedStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::available()) GTEST_SKIP() << "no redis-server";
    ASSERT_TRUE(server_.start().ok());
    RedisOptions o;
    o.port = server_.port();
    o.reconnect_min_backoff = milliseconds(20);
    o.reconnect_max_backoff = milliseconds(100);
    client_ = std::make_unique<RedisClient>(io_.executor(), o, metrics_);
    client_->start();
    ASSERT_TRUE(WaitFor([&] { return client_->healthy(); }));
  }
  void TearDown() override { Halt(); }
  // Halt: stops the client's thread; the readers of stores still alive never
  // run again. Each test calls it before its stores go out of scope.
  void Halt() {
    if (client_) client_->stop();
    io_.halt();
  }
  Result<RedisReply> Cmd(std::vector<std::string> args) { return server_.command(args); }

  RedisServer server_;
  MetricsRegistry metrics_;
  ManualClock clock_;  // 2026-01-01T00:00:00Z
  testing::IoThread io_;
  std::unique_ptr<RedisClient> client_;
};

// HaltOnExit: declared after a test's stores, halts the client's thread
// before they are destroyed, on every way out of the test.
struct HaltOnExit {
  std::function<void()> halt;
  ~HaltOnExit() { halt(); }
};

TEST_F(RedisSharedStateTest, AnalyticsWindowsSlideAndTopUsersRankWithTheManualClock) {
  RedisRateLimitAnalytics a(*client_, "", clock_, metrics_);
  RedisRateLimitAnalytics b(*client_, "", clock_, metrics_);  // a second instance
  HaltOnExit halt{[this] { Halt(); }};
  for (int i = 0; i < 3; ++i) a.record("alice", true);
  a.record("alice", false);
  b.record("bob", true);
  b.record("alice", true);
  ASSERT_TRUE(RunSync<Status>([&] { return a.flush(); }).ok());
  ASSERT_TRUE(RunSync<Status>([&] { return b.flush(); }).ok());

  Result<UserRateStats> s = RunSync<Result<UserRateStats>>([&] { return b.stats("alice"); });
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->allowed, 4);
  EXPECT_EQ(s->denied, 1);
  EXPECT_EQ(s->allowed_today, 4);
  EXPECT_EQ(s->denied_today, 1);
  EXPECT_EQ(s->requests, (std::array<int64_t, 4>{5, 5, 5, 5}));
  auto top = RunSync<Result<std::vector<UserRateStats>>>(
      [&] { return a.top_users(RateWindow::kSecond, 10); });
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0].user, "alice");
  EXPECT_EQ((*top)[0].requests[0], 5);
  EXPECT_EQ((*top)[1].user, "bob");

  clock_.advance(seconds(2));  // the second window has moved past them
  s = RunSync<Result<UserRateStats>>([&] { return a.stats("alice"); });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->requests, (std::array<int64_t, 4>{0, 5, 5, 5}));
  top = RunSync<Result<std::vector<UserRateStats>>>(
      [&] { return a.top_users(RateWindow::kSecond, 10); });
  ASSERT_TRUE(top.ok());
  EXPECT_TRUE(top->empty());
  top = RunSync<Result<std::vector<UserRateStats>>>(
      [&] { return a.top_users(RateWindow::kMinute, 1); });
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->size(), 1u) << "limit";
  EXPECT_EQ((*top)[0].user, "alice");

  // The next UTC day, a day sub-bucket (3 h) later: totals stay, today starts
  // at 0, and the day window (whose oldest sub-bucket counts in part) is empty.
  clock_.advance(hours(27));
  s = RunSync<Result<UserRateStats>>([&] { return a.stats("alice"); });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->allowed, 4);
  EXPECT_EQ(s->allowed_today, 0);
  EXPECT_EQ(s->requests, (std::array<int64_t, 4>{0, 0, 0, 0}));
  // Window keys expire by themselves: the second's sub-buckets within 1.25 s.
  Result<RedisReply> keys = Cmd({"KEYS", "an:top:{second}:*"});
  ASSERT_TRUE(keys.ok());
  ASSERT_FALSE(keys->elements.empty());
  for (const RedisReply& k : keys->elements) {
    Result<RedisReply> ttl = Cmd({"PTTL", k.str});
    ASSERT_TRUE(ttl.ok());
    EXPECT_GT(ttl->integer, 0);
    EXPECT_LE(ttl->integer, 1250);
  }
}

TEST_F(RedisSharedStateTest, SpendFromTwoInstancesIsSummedAndANewDayStartsAtZero) {
  PriceTable prices({{"m", {.input_per_million = 1000, .output_per_million = 2000}}});
  std::map<std::string, Budget> tiers = {{"free", {}}};
  CostTracker ta(prices, tiers, clock_), tb(prices, tiers, clock_);
  RedisSpendStore a(ta, *client_, "", clock_, metrics_), b(tb, *client_, "", clock_, metrics_);
  CostTracker tc(prices, tiers, clock_);  // a later instance: nothing seen yet
  RedisSpendStore c(tc, *client_, "", clock_, metrics_);
  HaltOnExit halt{[this] { Halt(); }};
  Result<int64_t> c1 = a.charge("alice", "m", 100, 50);  // 0.2 USD
  Result<int64_t> c2 = b.charge("alice", "m", 10, 0);    // 0.01 USD
  ASSERT_TRUE(c1.ok() && c2.ok());
  const int64_t total = *c1 + *c2;
  EXPECT_EQ(total, UsdToNano(0.21));
  ASSERT_TRUE(WaitFor([&] {  // charges are sent in the background
    Result<RedisReply> r = Cmd({"HGET", "costs:{alice}:m:2026-01", "requests"});
    return r.ok() && r->str == "2";
  }));
  for (RedisSpendStore* store : {&a, &b}) {
    SpendStatus s = RunSync<SpendStatus>([&] { return store->read("alice", "free"); },
                                         SpendStatus{});
    EXPECT_EQ(s.today, total);
    EXPECT_EQ(s.this_month, total);
    EXPECT_EQ(s.requests_today, 2);
  }
  clock_.advance(hours(24));
  SpendStatus s = RunSync<SpendStatus>([&] { return a.read("alice", "free"); }, SpendStatus{});
  EXPECT_EQ(s.day, "2026-01-02");
  EXPECT_EQ(s.today, 0);
  EXPECT_EQ(s.this_month, total);
  // A budget set through A binds on B, whose view is read before its first check.
  Status set = RunSync<Status>([&] { return a.set_user_budget("alice", {kBudgetInherit, total}); });
  ASSERT_TRUE(set.ok()) << set.ToString();
  ASSERT_TRUE(RunSync<Status>([&] {
                return b.set_tier_budget("free", {kBudgetInherit, kBudgetInherit});
              }).ok());
  tb.replace_user_budget("alice", {kBudgetInherit, total});  // as B's change feed would
  tc.replace_user_budget("alice", {kBudgetInherit, total});
  s = RunSync<SpendStatus>([&] { return c.check("alice", "free"); }, SpendStatus{});
  EXPECT_FALSE(s.allowed) << "the first check of a budgeted user reads the fleet's spend";
  EXPECT_EQ(s.exceeded, "month");
}

TEST_F(RedisSharedStateTest, ATierSetThroughOneStoreReachesTheOthersAndFollowsAnEmptyRestart) {
  RateLimitPolicy pa(Tiers(), "free"), pb(Tiers(), "free");
  ChangeFeedOptions fast{.poll = milliseconds(10)};
  RedisOverrideStore a(pa, *client_, "", metrics_, fast), b(pb, *client_, "", metrics_, fast);
  HaltOnExit halt{[this] { Halt(); }};
  a.start();
  b.start();
  Status s = RunSync<Status>([&] { return a.set_user_tier("alice", "pro"); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pa.resolve("alice", "").tier, "pro");
  ASSERT_TRUE(WaitFor([&] { return pb.resolve("alice", "").tier == "pro"; }));
  s = RunSync<Status>([&] {
    return b.set_custom_limit("alice", RateWindow::kMinute, 7, "/v1/embeddings");
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(WaitFor([&] { return pa.has_endpoint_limits("alice", "/v1/embeddings"); }));
  EXPECT_EQ(pa.resolve(EndpointLimitKey("alice", "/v1/embeddings"), "").requests[1], 7);

  // Bad input: rejected before Redis is touched.
  EXPECT_EQ(RunSync<Status>([&] { return a.set_user_tier("bob", "gold"); }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RunSync<Status>([&] {
              return a.set_custom_limit("bob", RateWindow::kDay, -2, "");
            }).code(),
            StatusCode::kInvalidArgument);
  Result<RedisReply> exists = Cmd({"EXISTS", "ovr:{bob}"});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->integer, 0);

  // Redis restarts with nothing: both copies reload (the settings are gone).
  ASSERT_TRUE(server_.restart().ok());
  ASSERT_TRUE(WaitFor([&] { return pa.resolve("alice", "").tier == "free"; }));
  ASSERT_TRUE(WaitFor([&] { return pb.resolve("alice", "").tier == "free"; }));
  ASSERT_TRUE(WaitFor([&] { return client_->healthy(); }));
  s = RunSync<Status>([&] { return b.set_user_tier("alice", "pro"); });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(WaitFor([&] { return pa.resolve("alice", "").tier == "pro"; }));
}

}  // namespace
}  // namespace agentgate
