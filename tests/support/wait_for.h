// WaitFor: polls `done` every `every` until it holds or `timeout` passes, and
// returns its last value. Only for state that changes on its own in real
// time (another process such as a gateway instance or redis-server, a
// connection, a background thread); code that takes a Clock is tested with
// a ManualClock instead, never by waiting.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace agentgate::testing {

inline bool WaitFor(const std::function<bool()>& done,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20),
                    std::chrono::milliseconds every = std::chrono::milliseconds(10)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return done();
    std::this_thread::sleep_for(every);
  }
  return true;
}

}  // namespace agentgate::testing
