// Clock: the one source of time for every component.
//
// Components take a `const Clock&` (or shared_ptr) and never call the system
// clocks themselves, so that tests drive TTLs, windows, breaker timeouts and
// backoff with a ManualClock instead of sleeping.
//
//   ManualClock clock;
//   LruCache<std::string, int> cache(options, clock);
//   cache.set("a", 1, std::chrono::seconds(5));
//   clock.advance(std::chrono::seconds(6));   // "a" has now expired
//
// Thread-safety: every method of every Clock may be called concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace agentgate {

using Nanos = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;

  // now: wall-clock time since the Unix epoch. Use for timestamps that are
  // stored or shared between instances (audit log, Redis windows).
  virtual Nanos now() const = 0;

  // monotonic: a steady time that never goes back. Use for durations, TTLs
  // and timeouts inside one process.
  virtual Nanos monotonic() const = 0;

  // coarse_monotonic: like monotonic() but may be a few milliseconds stale;
  // cheaper (no vDSO clock read on Linux). Good enough for TTLs.
  virtual Nanos coarse_monotonic() const { return monotonic(); }

  // system: the process-wide real clock. Never destroyed.
  static const Clock& system();
};

// SystemClock: real time from the operating system.
class SystemClock final : public Clock {
 public:
  Nanos now() const override;
  Nanos monotonic() const override;
  Nanos coarse_monotonic() const override;
};

// ManualClock: time that moves only when a test says so. now() and
// monotonic() advance together. Starts at 2026-01-01T00:00:00Z wall time.
class ManualClock final : public Clock {
 public:
  static constexpr Nanos kDefaultStart = std::chrono::seconds(1767225600);

  explicit ManualClock(Nanos start = kDefaultStart) : now_(start.count()) {}

  Nanos now() const override { return Nanos(now_.load(std::memory_order_acquire)); }
  Nanos monotonic() const override { return now(); }

  // advance: moves time forward by `d` (must be >= 0).
  void advance(Nanos d) { now_.fetch_add(d.count(), std::memory_order_acq_rel); }
  // set: jumps to `t` (tests only; may go back, which real clocks never do).
  void set(Nanos t) { now_.store(t.count(), std::memory_order_release); }

 private:
  std::atomic<int64_t> now_;
};

// ToSeconds: a duration as floating-point seconds.
inline double ToSeconds(Nanos d) { return std::chrono::duration<double>(d).count(); }

}  // namespace agentgate
