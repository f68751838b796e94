// The Redis RateLimiter (its Lua script) against a real redis-server with the
// manual clock: the same decisions as the memory backend on the same random
// trace, within the documented bound by an exact sliding log, NOSCRIPT reload,
// TTLs, reset, errors while Redis is away, memory per user.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>
#include <random>

#include "agentgate/ratelimit/rate_limiter.h"
#include "integration/support/redis_server.h"
#include "ratelimit/redis_rate_limit_script.h"
#include "store/redis_client.h"
#include "support/io_thread.h"
#include "support/wait_for.h"

namespace agentgate {
namespace {

using testing::WaitFor;

namespace asio = boost::asio;
using agentgate::testing::IoThread;
using agentgate::testing::RedisServer;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

int64_t Integer(const Result<RedisReply>& r) { return r.ok() ? r->integer : -1; }

std::map<std::string, TierLimits> Tiers() {
  std::map<std::string, TierLimits> t;
  t["free"].requests = {2, 60, 1000, 10000};
  t["mixed"].requests = {10, 100, 500, 0};
  t["hourly"].requests = {0, 0, 40, 100};
  t["busy"].requests = {20, 1000, 3000, 0};  // many runs: the memory backend spills
  return t;
}

class RedisRateLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::available()) GTEST_SKIP() << "no redis-server";
    ASSERT_TRUE(server_.start().ok());
    RedisOptions o;
    o.port = server_.port();
    o.concern = "ratelimit";
    o.reconnect_min_backoff = milliseconds(20);
    o.reconnect_max_backoff = milliseconds(100);
    o.command_timeout = milliseconds(2000);
    client_ = std::make_unique<RedisClient>(io_.executor(), o, metrics_);
    client_->start();
    ASSERT_TRUE(WaitFor([&] { return client_->healthy(); }));
  }
  void TearDown() override {
    if (client_) client_->stop();
  }

  std::unique_ptr<RateLimiter> NewLimiter(RedisRateLimiterOptions o = {}) {
    return NewRedisRateLimiter(policy_, *client_, clock_, std::move(o));
  }

  RedisServer server_;
  MetricsRegistry metrics_;
  IoThread io_;
  std::unique_ptr<RedisClient> client_;
  ManualClock clock_;  // starts at a multiple of every bucket width
  RateLimitPolicy policy_{Tiers(), "free"};
};

void ExpectSameDecision(const RateDecision& m, const RateDecision& r, const std::string& what) {
  ASSERT_EQ(m.allowed, r.allowed) << what;
  EXPECT_EQ(m.tier, r.tier) << what;
  EXPECT_EQ(m.retry_after, r.retry_after) << what;
  EXPECT_EQ(m.most_restrictive, r.most_restrictive) << what;
  for (int w = 0; w < kRateWindowCount; ++w) {
    EXPECT_EQ(m.windows[w].limit, r.windows[w].limit) << what << " window " << w;
    EXPECT_EQ(m.windows[w].used, r.windows[w].used) << what << " window " << w;
    EXPECT_EQ(m.windows[w].remaining, r.windows[w].remaining) << what << " window " << w;
    EXPECT_EQ(m.windows[w].reset, r.windows[w].reset) << what << " window " << w;
  }
}

// A random trace (Poisson arrivals in phases of random rate, a few users,
// occasional check_limit / record_request / larger costs / long gaps) gives
// the same decisions, field by field, from both backends; and by an exact
// sliding log of the admitted requests, no window ever exceeds its limit by
// more than the documented bound, floor(limit / 100).
TEST_F(RedisRateLimiterTest, SameDecisionsAsTheMemoryBackendOnARandomTrace) {
  auto redis = NewLimiter();
  auto memory = NewMemoryRateLimiter(policy_, clock_);
  std::mt19937_64 rng(7);
  const std::vector<std::pair<std::string, std::string>> users = {
      {"u-free", "free"}, {"u-mixed", "mixed"}, {"u-hourly", "hourly"}, {"u-busy", "busy"}};
  std::map<std::string, std::vector<int64_t>> log;  // admitted times per user
  std::uniform_real_distribution<double> factor(0.2, 4.0);
  std::uniform_int_distribution<int> pick(0, 99);
  int admitted = 0, denied = 0;
  for (int phase = 0; phase < 60; ++phase) {
    double rate = 8.0 * factor(rng);  // requests per second, all users
    std::exponential_distribution<double> gap(rate);
    int n = std::uniform_int_distribution<int>(50, 250)(rng);
    if (phase % 10 == 9) clock_.advance(minutes(std::uniform_int_distribution<int>(5, 400)(rng)));
    for (int i = 0; i < n; ++i) {
      clock_.advance(Nanos(std::max<int64_t>(1, static_cast<int64_t>(gap(rng) * 1e9))));
      const auto& [user, tier] = users[rng() % users.size()];
      const int64_t t = clock_.now().count();
      int op = pick(rng);
      std::string what = "phase " + std::to_string(phase) + " i " + std::to_string(i) + " " + user;
      if (op < 10) {
        auto m = memory->check_limit(user, tier, 1 + op % 3);
        auto r = redis->check_limit(user, tier, 1 + op % 3);
        ASSERT_TRUE(m.ok() && r.ok()) << r.status().ToString();
        ExpectSameDecision(*m, *r, "check " + what);
        continue;
      }
      if (op < 13) {
        ASSERT_TRUE(memory->record_request(user, 1, tier).ok());
        ASSERT_TRUE(redis->record_request(user, 1, tier).ok());
        log[user].push_back(t);
        continue;
      }
      int64_t cost = op < 16 ? 3 : 1;
      auto m = memory->acquire(user, tier, cost);
      auto r = redis->acquire(user, tier, cost);
      ASSERT_TRUE(m.ok() && r.ok()) << r.status().ToString();
      ExpectSameDecision(*m, *r, "acquire " + what);
      if (!r->allowed) {
        ++denied;
        continue;
      }
      ++admitted;
      auto& l = log[user];
      for (int64_t c = 0; c < cost; ++c) l.push_back(t);
      ResolvedLimits limits = policy_.resolve(user, tier);
      for (int w = 0; w < kRateWindowCount; ++w) {
        if (limits.requests[w] == 0) continue;
        int64_t width = RateWindowWidth(static_cast<RateWindow>(w)).count();
        int64_t exact = l.end() - std::upper_bound(l.begin(), l.end(), t - width);
        // The documented bound: at most floor(limit / 100) over.
        ASSERT_LE(exact, limits.requests[w] + limits.requests[w] / 100) << what << " window " << w;
      }
    }
  }
  EXPECT_GT(admitted, 1000);
  EXPECT_GT(denied, 500);  // the trace does hit the limits
}

TEST_F(RedisRateLimiterTest, ScriptIsReloadedAfterScriptFlush) {
  auto rl = NewLimiter();
  auto sha = server_.command({"SCRIPT", "LOAD", RedisRateLimitScript()});
  ASSERT_TRUE(sha.ok());
  ASSERT_TRUE(rl->acquire("alice", "free").ok());
  ASSERT_TRUE(server_.command({"SCRIPT", "FLUSH"}).ok());
  EXPECT_EQ(server_.command({"SCRIPT", "EXISTS", sha->str})->elements.at(0).integer, 0);
  auto d = rl->acquire("alice", "free");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->windows[0].used, 2);
  EXPECT_EQ(server_.command({"SCRIPT", "EXISTS", sha->str})->elements.at(0).integer, 1);
  EXPECT_FALSE(rl->acquire("alice", "free")->allowed);  // the third in the same second
}

TEST_F(RedisRateLimiterTest, OneKeyPerUserWithATtlOfADayAndAMinute) {
  auto rl = NewLimiter({.key_prefix = "pfx:"});
  ASSERT_TRUE(rl->acquire("bob", "free").ok());
  EXPECT_EQ(Integer(server_.command({"EXISTS", "pfx:rl:bob"})), 1);
  EXPECT_EQ(Integer(server_.command({"DBSIZE"})), 1);
  int64_t ttl = Integer(server_.command({"PTTL", "pfx:rl:bob"}));
  EXPECT_GT(ttl, (86400 + 60) * 1000LL - 30'000);
  EXPECT_LE(ttl, (86400 + 60) * 1000LL);
  // The value is the RunLog: an 8-byte header and one 6-byte run per window.
  EXPECT_EQ(Integer(server_.command({"STRLEN", "pfx:rl:bob"})), 8 + 4 * 6);
  // check_limit writes nothing; a denial neither.
  ASSERT_TRUE(rl->check_limit("carl", "free").ok());
  EXPECT_EQ(Integer(server_.command({"EXISTS", "pfx:rl:carl"})), 0);
  EXPECT_EQ(rl->users(), 1u);
  EXPECT_GT(rl->bytes_per_user(), 0);
  EXPECT_LE(rl->bytes_per_user(), 1024);
}

TEST_F(RedisRateLimiterTest, ResetDeletesTheUsersKey) {
  auto rl = NewLimiter();
  ASSERT_TRUE(rl->acquire("dana", "free")->allowed);
  ASSERT_TRUE(rl->acquire("dana", "free")->allowed);
  ASSERT_FALSE(rl->acquire("dana", "free")->allowed);
  ASSERT_TRUE(rl->reset("dana").ok());
  EXPECT_EQ(Integer(server_.command({"EXISTS", "rl:dana"})), 0);
  auto d = rl->acquire("dana", "free");
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->windows[3].used, 1);
}

TEST_F(RedisRateLimiterTest, BadCostIsRejectedAndWritesNothing) {
  auto rl = NewLimiter();
  EXPECT_EQ(rl->acquire("erin", "free", -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rl->record_request("erin", -5).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Integer(server_.command({"EXISTS", "rl:erin"})), 0);
  // A cost above the limit never passes: retry after the window's width.
  auto d = rl->acquire("erin", "free", 3);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->retry_after, seconds(1));
}

// Redis away: a failed Result (the stage fails open on it); back (restarted
// with an empty dataset, so the script must be loaded again): limits apply.
TEST_F(RedisRateLimiterTest, UnavailableWhileRedisIsDownAndLimitsApplyWhenBack) {
  auto rl = NewLimiter();
  ASSERT_TRUE(rl->acquire("fred", "free")->allowed);
  ASSERT_TRUE(server_.stop().ok());
  auto down = rl->acquire("fred", "free");
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(down.status().code() == StatusCode::kUnavailable ||
              down.status().code() == StatusCode::kDeadlineExceeded)
      << down.status().ToString();
  EXPECT_FALSE(rl->reset("fred").ok());
  ASSERT_TRUE(server_.restart().ok());
  ASSERT_TRUE(WaitFor([&] { return client_->healthy(); }));
  auto d1 = rl->acquire("fred", "free");
  ASSERT_TRUE(d1.ok()) << d1.status().ToString();
  EXPECT_TRUE(d1->allowed);
  EXPECT_TRUE(rl->acquire("fred", "free")->allowed);
  EXPECT_FALSE(rl->acquire("fred", "free")->allowed);
}

// Memory per user in Redis: 20k users through the async path (many in
// flight on one connection), measured by INFO memory and MEMORY USAGE.
TEST_F(RedisRateLimiterTest, MemoryPerUserIsUnderOneKilobyte) {
  auto rl = NewLimiter({.owns_database = true});
  auto used_memory = [&] {
    auto r = server_.command({"INFO", "memory"});
    std::string s = r.ok() ? r->str : "";
    auto at = s.find("used_memory:");
    return at == std::string::npos ? int64_t{-1} : std::stoll(s.substr(at + 12));
  };
  ASSERT_TRUE(rl->acquire("warm-up", "free").ok());
  const int64_t before = used_memory();
  constexpr int kUsers = 20000;
  asio::io_context io;
  int failures = 0;
  int next = 0;
  for (int c = 0; c < 64; ++c) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          while (next < kUsers) {
            std::string user = "user-" + std::to_string(next++);
            Result<RateDecision> d = co_await rl->acquire_async(user, "free");
            if (!d.ok() || !d->allowed) ++failures;
          }
        },
        [](std::exception_ptr) {});
  }
  io.run();
  ASSERT_EQ(failures, 0);
  const int64_t after = used_memory();
  EXPECT_EQ(rl->users(), static_cast<size_t>(kUsers + 1));
  double per_user = static_cast<double>(after - before) / kUsers;
  std::printf("[redis memory] %d users: %.1f B/user (INFO used_memory), MEMORY USAGE %.0f B\n",
              kUsers, per_user, rl->bytes_per_user());
  EXPECT_GT(per_user, 32);  // measured: the key, a 32-byte value, the TTL
  EXPECT_LT(per_user, 1024);
}

}  // namespace
}  // namespace agentgate
