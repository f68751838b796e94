#include "agentgate/core/clock.h"

#include <time.h>

namespace agentgate {

namespace {
Nanos ReadClock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return Nanos(static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
}
}  // namespace

const Clock& Clock::system() {
  static const SystemClock* const kClock = new SystemClock();
  return *kClock;
}

Nanos SystemClock::now() const { return ReadClock(CLOCK_REALTIME); }
Nanos SystemClock::monotonic() const { return ReadClock(CLOCK_MONOTONIC); }
Nanos SystemClock::coarse_monotonic() const { return ReadClock(CLOCK_MONOTONIC_COARSE); }

}  // namespace agentgate
