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

}  // namespace
}  // namespace agentgate
