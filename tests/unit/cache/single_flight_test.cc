#include "cache/single_flight.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>
#include <thread>

namespace agentgate {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

CachedResponsePtr Answer(std::string body) {
  auto r = std::make_shared<CachedResponse>();
  r->body = std::move(body);
  return r;
}

// Spawns a follower's wait on `ioc`, storing what it got in `out`.
void SpawnWait(net::io_context& ioc, SingleFlight::Ticket& ticket, Nanos timeout,
               std::optional<CachedResponsePtr>& out) {
  net::co_spawn(
      ioc,
      [&ticket, timeout, &out]() -> net::awaitable<void> { out = co_await ticket.wait(timeout); },
      net::detached);
}

TEST(SingleFlightTest, FirstJoinLeadsOthersFollowUntilTheFlightEnds) {
  SingleFlight flights;
  SingleFlight::Ticket leader = flights.join("k");
  SingleFlight::Ticket follower = flights.join("k");
  SingleFlight::Ticket other = flights.join("other");
  EXPECT_TRUE(leader.leader());
  EXPECT_FALSE(follower.leader());
  EXPECT_TRUE(other.leader());
  EXPECT_EQ(flights.in_flight(), 2u);
  leader.finish(Answer("a"));
  EXPECT_EQ(flights.in_flight(), 1u);
  EXPECT_TRUE(flights.join("k").leader());  // a new flight after the end
}

TEST(SingleFlightTest, FollowersOnOtherThreadsGetTheLeadersAnswer) {
  SingleFlight flights;
  SingleFlight::Ticket leader = flights.join("k");
  SingleFlight::Ticket f1 = flights.join("k");
  SingleFlight::Ticket f2 = flights.join("k");
  net::io_context ioc1, ioc2;
  std::optional<CachedResponsePtr> got1, got2;
  SpawnWait(ioc1, f1, 1h, got1);
  SpawnWait(ioc2, f2, 1h, got2);
  ioc1.poll();  // both waits registered, nothing answered yet
  ioc2.poll();
  EXPECT_FALSE(got1.has_value());
  CachedResponsePtr answer = Answer("shared");
  std::thread leader_thread([&] { leader.finish(answer); });
  leader_thread.join();
  ioc1.run();  // returns once the woken wait completes: no 1 h timer left
  ioc2.run();
  ASSERT_TRUE(got1.has_value());
  ASSERT_TRUE(got2.has_value());
  EXPECT_EQ(got1->get(), answer.get());
  EXPECT_EQ(got2->get(), answer.get());
}

TEST(SingleFlightTest, AFollowerJoiningAfterTheEndGetsTheAnswerAtOnce) {
  SingleFlight flights;
  SingleFlight::Ticket leader = flights.join("k");
  SingleFlight::Ticket late = flights.join("k");
  leader.finish(Answer("early"));
  net::io_context ioc;
  std::optional<CachedResponsePtr> got;
  SpawnWait(ioc, late, 1h, got);
  ioc.run();
  ASSERT_TRUE(got.has_value());
  ASSERT_NE(*got, nullptr);
  EXPECT_EQ((*got)->body, "early");
}

TEST(SingleFlightTest, ALeaderGoneWithoutAnswerReleasesFollowersWithNothing) {
  SingleFlight flights;
  std::optional<SingleFlight::Ticket> leader(flights.join("k"));
  SingleFlight::Ticket follower = flights.join("k");
  net::io_context ioc;
  std::optional<CachedResponsePtr> got;
  SpawnWait(ioc, follower, 1h, got);
  ioc.poll();
  leader.reset();  // e.g. the leader's request failed or was cancelled
  ioc.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, nullptr);
  EXPECT_EQ(flights.in_flight(), 0u);
}

TEST(SingleFlightTest, FollowersStopWaitingAtTheirTimeout) {
  SingleFlight flights;
  SingleFlight::Ticket leader = flights.join("k");
  SingleFlight::Ticket follower = flights.join("k");
  net::io_context ioc;
  std::optional<CachedResponsePtr> got;
  SpawnWait(ioc, follower, 1ms, got);  // the leader never finishes while it waits
  ioc.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, nullptr);
  leader.finish(Answer("too late"));
}

// Spawns a follower's watch from `from` on `ioc`, storing what it got in `out`.
void SpawnWatch(net::io_context& ioc, SingleFlight::Ticket& ticket, size_t from, Nanos timeout,
                std::optional<SingleFlight::Ticket::Update>& out) {
  net::co_spawn(
      ioc,
      [&ticket, from, timeout, &out]() -> net::awaitable<void> {
        out = co_await ticket.watch(from, timeout);
      },
      net::detached);
}

TEST(SingleFlightTest, StreamingFollowersSeeEachChunkAsTheLeaderPublishesIt) {
  SingleFlight flights;
  SingleFlight::Ticket leader = flights.join("k");
  SingleFlight::Ticket follower = flights.join("k");
  net::io_context ioc;
  std::optional<SingleFlight::Ticket::Update> got;
  SpawnWatch(ioc, follower, 0, 1h, got);
  ioc.poll();
  EXPECT_FALSE(got.has_value());  // nothing published yet
  leader.publish("data: a\n\n");
  ioc.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->live);
  EXPECT_FALSE(got->done);
  EXPECT_FALSE(got->stream_ended);
  EXPECT_EQ(got->chunks, std::vector<std::string>{"data: a\n\n"});

  got.reset();
  ioc.restart();
  SpawnWatch(ioc, follower, 1, 1h, got);
  ioc.poll();
  EXPECT_FALSE(got.has_value());  // waits for chunk 2, not chunk 1 again
  leader.publish("data: b\n\n");
  leader.publish("data: [DONE]\n\n");
  leader.end_stream(true);
  ioc.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->chunks, (std::vector<std::string>{"data: b\n\n", "data: [DONE]\n\n"}));
  EXPECT_TRUE(got->stream_ended);
  EXPECT_TRUE(got->stream_ok);
  leader.finish(Answer("whole"));
}

TEST(SingleFlightTest, ALateStreamingFollowerGetsEveryChunkSoFarAtOnce) {
  SingleFlight flights;
  SingleFlight::Ticket leader = flights.join("k");
  leader.publish("one");
  leader.publish("two");
  SingleFlight::Ticket late = flights.join("k");
  net::io_context ioc;
  std::optional<SingleFlight::Ticket::Update> got;
  SpawnWatch(ioc, late, 0, 1h, got);
  ioc.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->chunks, (std::vector<std::string>{"one", "two"}));
  leader.end_stream(false);  // a broken stream: followers learn it
  got.reset();
  ioc.restart();
  SpawnWatch(ioc, late, 2, 1h, got);
  ioc.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->chunks.empty());
  EXPECT_TRUE(got->stream_ended);
  EXPECT_FALSE(got->stream_ok);
}

TEST(SingleFlightTest, PublishedChunksDoNotEndAWholeAnswerWait) {
  SingleFlight flights;
  SingleFlight::Ticket leader = flights.join("k");
  SingleFlight::Ticket follower = flights.join("k");
  net::io_context ioc;
  std::optional<CachedResponsePtr> got;
  SpawnWait(ioc, follower, 1h, got);
  ioc.poll();
  leader.publish("chunk");
  ioc.poll();
  EXPECT_FALSE(got.has_value());  // woken, but the flight is not over: waits again
  leader.finish(Answer("whole"));
  ioc.run();
  ASSERT_TRUE(got.has_value());
  ASSERT_NE(*got, nullptr);
  EXPECT_EQ((*got)->body, "whole");
}

TEST(SingleFlightTest, AWatchWithNothingNewTimesOut) {
  SingleFlight flights;
  SingleFlight::Ticket leader = flights.join("k");
  SingleFlight::Ticket follower = flights.join("k");
  net::io_context ioc;
  std::optional<SingleFlight::Ticket::Update> got;
  SpawnWatch(ioc, follower, 0, 1ms, got);
  ioc.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->timed_out);
  EXPECT_FALSE(got->live);
  EXPECT_FALSE(got->done);
}

}  // namespace
}  // namespace agentgate
