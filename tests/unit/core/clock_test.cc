#include "agentgate/core/clock.h"

#include <gtest/gtest.h>

namespace agentgate {
namespace {

TEST(ManualClockTest, AdvancesOnlyWhenTold) {
  ManualClock clock;
  Nanos t0 = clock.now();
  EXPECT_EQ(clock.now(), t0);
  clock.advance(std::chrono::seconds(5));
  EXPECT_EQ(clock.now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(clock.monotonic(), clock.now());
}

TEST(SystemClockTest, MonotonicNeverGoesBack) {
  const Clock& c = Clock::system();
  Nanos a = c.monotonic();
  Nanos b = c.monotonic();
  EXPECT_LE(a, b);
  EXPECT_GT(c.now(), std::chrono::seconds(1700000000));
}

}  // namespace
}  // namespace agentgate
