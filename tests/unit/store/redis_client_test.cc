// RedisClient parts that need no server: backoff, reply values, fail-fast.
#include "store/redis_client.h"

#include <gtest/gtest.h>

#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace agentgate {
namespace {

using std::chrono::milliseconds;

TEST(RedisBackoffTest, DoublesFromMinToMaxWithJitter) {
  const Nanos min = milliseconds(100), max = milliseconds(5000);
  EXPECT_EQ(BackoffDelay(0, min, max, 0.0), min);
  EXPECT_EQ(BackoffDelay(0, min, max, 0.99), min);
  EXPECT_EQ(BackoffDelay(1, min, max, 0.0), milliseconds(100));
  EXPECT_EQ(BackoffDelay(1, min, max, 0.5), milliseconds(150));
  EXPECT_EQ(BackoffDelay(3, min, max, 0.0), milliseconds(400));
  EXPECT_EQ(BackoffDelay(3, min, max, 1.0), milliseconds(800));
  for (int attempt = 0; attempt < 100; ++attempt) {
    for (double u : {0.0, 0.3, 0.999}) {
      const Nanos d = BackoffDelay(attempt, min, max, u);
      EXPECT_GE(d, min);
      EXPECT_LE(d, max);
    }
  }
  EXPECT_EQ(BackoffDelay(50, min, max, 1.0), max);
  EXPECT_EQ(BackoffDelay(50, min, max, 0.0), milliseconds(2500));
}

TEST(RedisReplyTest, DebugStringAndEquality) {
  RedisReply a = RedisReply::Array({RedisReply::Integer(3), RedisReply::String("x"),
                                    RedisReply::Nil(), RedisReply::Error("ERR no")});
  EXPECT_EQ(DebugString(a), "[(integer) 3, \"x\", (nil), (error) ERR no]");
  EXPECT_EQ(a, a);
  EXPECT_NE(RedisReply::String("OK"), RedisReply::StatusReply("OK"));
  EXPECT_TRUE(RedisReply::StatusReply("OK").is_ok_status());
}

TEST(RedisClientUnitTest, NotStartedFailsFastAndCounts) {
  MetricsRegistry metrics;
  boost::asio::io_context io;
  RedisOptions options;
  options.concern = "unit";
  RedisClient client(io.get_executor(), options, metrics);
  EXPECT_EQ(client.state(), RedisState::kStopped);
  std::optional<Result<RedisReply>> out;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        std::vector<std::string> cmd = {"PING"};
        out.emplace(co_await client.command(std::move(cmd)));
      },
      boost::asio::detached);
  io.run();
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(metrics.value("agentgate_redis_commands_total", {{"concern", "unit"}}), 1);
  EXPECT_EQ(metrics.value("agentgate_redis_errors_total", {{"concern", "unit"}}), 1);
}

}  // namespace
}  // namespace agentgate
