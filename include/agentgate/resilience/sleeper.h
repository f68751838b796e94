// Sleeper: how a retry waits out its backoff. Production waits on an Asio
// timer of the calling coroutine's executor; tests use ManualSleeper, which
// moves a ManualClock instead of waiting.
//
//   co_await sleeper.sleep(std::chrono::seconds(2));
//
// Thread-safety: both implementations may be used by many coroutines at once.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <mutex>
#include <vector>

#include "agentgate/core/clock.h"

namespace agentgate {

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // sleep: resumes after `d` (at once when d <= 0). Cancelled with the
  // calling coroutine (its cancellation slot).
  virtual boost::asio::awaitable<void> sleep(Nanos d) = 0;
};

// AsioSleeper: a steady_timer on the current coroutine's executor.
class AsioSleeper final : public Sleeper {
 public:
  boost::asio::awaitable<void> sleep(Nanos d) override;
};

// ManualSleeper: advances `clock` by each requested delay and records it;
// never waits. `clock` must outlive it.
class ManualSleeper final : public Sleeper {
 public:
  explicit ManualSleeper(ManualClock& clock) : clock_(clock) {}
  boost::asio::awaitable<void> sleep(Nanos d) override;
  std::vector<Nanos> delays() const;

 private:
  ManualClock& clock_;
  mutable std::mutex mu_;
  std::vector<Nanos> delays_;  // GUARDED_BY(mu_)
};

}  // namespace agentgate
