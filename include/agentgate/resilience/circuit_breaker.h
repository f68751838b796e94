// CircuitBreaker: stops calls to a dependency that keeps failing, and lets a
// bounded number of probes find out when it has recovered.
//
//   CircuitBreaker breaker("openai", CircuitBreakerOptions{}, clock, &metrics);
//   CircuitBreaker::Permit p = breaker.try_acquire();
//   if (!p.allowed()) return Unavailable("breaker open; retry in " ...);  // p.retry_after()
//   Status s = co_await call();
//   if (s.ok()) breaker.on_success(p); else breaker.on_failure(p);
//
// States (BreakerState): CLOSED admits every call; OPEN rejects every call
// until `timeout` has passed since it opened; then HALF_OPEN admits at most
// `half_open_max_probes` calls at once, closes after `success_threshold`
// successes and reopens on any failure.
//
// Trip rules (CircuitBreakerOptions::mode):
//   kConsecutive  `failure_threshold` failures in a row open it (the default,
//                 as documented for circuit_breaker.failure_threshold).
//   kFailureRate  the failure rate over a sliding window of the last
//                 `window_size` calls (and, when `window_duration` > 0, of
//                 those not older than it) reaches `failure_rate_threshold`,
//                 once the window holds at least `minimum_calls` calls
//                 (as Resilience4j and Polly do).
//
// Thread-safety: every method may be called from any thread. try_acquire()
// in CLOSED (or FORCED_CLOSED) is one atomic load and takes no lock; every
// other path takes the breaker's mutex.
// Ownership: the breaker keeps a reference to `clock` and, when given, to the
// `metrics` registry; both must outlive it.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "agentgate/core/clock.h"
#include "agentgate/core/metrics.h"

namespace agentgate {

enum class BreakerState : uint8_t {
  kClosed,        // normal: every call goes through; failures are counted
  kOpen,          // tripped: every call is rejected until the open timeout passes
  kHalfOpen,      // probing: a bounded number of calls test the dependency
  kForcedOpen,    // an operator forced it open: rejects everything until reset()
  kForcedClosed,  // an operator forced it closed: admits everything, never trips
};

// BreakerStateName: "CLOSED", "OPEN", "HALF_OPEN", "FORCED_OPEN", "FORCED_CLOSED".
std::string_view BreakerStateName(BreakerState s);

// CircuitBreakerOptions: thresholds of one breaker; may be replaced at runtime
// with CircuitBreaker::set_options.
struct CircuitBreakerOptions {
  enum class Mode {
    kConsecutive,  // trip on failure_threshold failures in a row
    kFailureRate,  // trip on failure_rate_threshold over the sliding window
  };
  // Trip rule. Default: kConsecutive.
  Mode mode = Mode::kConsecutive;

  // kConsecutive: failures in a row that open the breaker, >= 1. Default: 5.
  int failure_threshold = 5;

  // Successes in HALF_OPEN that close it again, >= 1. Default: 2.
  int success_threshold = 2;

  // Time OPEN before the first half-open probe, > 0. Default: 60 s.
  Nanos timeout = std::chrono::seconds(60);

  // Calls admitted at once in HALF_OPEN; the rest are rejected at once, >= 1.
  // Default: 1.
  int half_open_max_probes = 1;

  // kFailureRate: failed / total calls in the window that opens it, in
  // (0, 1]. Default: 0.5.
  double failure_rate_threshold = 0.5;

  // Sliding window: the last `window_size` calls (>= 1). Default: 20.
  int window_size = 20;

  // Sliding window: calls older than this drop out; 0 keeps them until
  // pushed out by newer ones. Default: 0.
  Nanos window_duration = Nanos(0);

  // kFailureRate: calls the window must hold before the rate can trip, >= 1.
  // Default: 10.
  int minimum_calls = 10;
};

// BreakerMetrics: a snapshot of one breaker's counters, as /metrics shows them.
struct BreakerMetrics {
  std::string name;
  BreakerState state = BreakerState::kClosed;
  uint64_t total_calls = 0;       // admitted calls with a recorded outcome
  uint64_t successful_calls = 0;
  uint64_t failed_calls = 0;
  uint64_t rejected_calls = 0;    // refused without calling the dependency
  uint64_t state_changes = 0;
  int consecutive_failures = 0;
  double failure_rate = 0;        // over the sliding window, 0..1
  int window_calls = 0;           // calls in the sliding window
  Nanos retry_after = Nanos(0);   // OPEN: time until the next probe may go
  CircuitBreakerOptions options;
};

class CircuitBreaker {
 public:
  // Permit: the answer of try_acquire; hand it back to on_success, on_failure
  // or on_ignored exactly once when allowed().
  class Permit {
   public:
    bool allowed() const { return allowed_; }
    // retry_after: when rejected, time until the breaker will admit a probe.
    Nanos retry_after() const { return retry_after_; }
    bool probe() const { return probe_; }

   private:
    friend class CircuitBreaker;
    bool allowed_ = false;
    bool probe_ = false;      // counted against half_open_max_probes
    uint64_t generation_ = 0; // state epoch it was admitted in
    Nanos retry_after_ = Nanos(0);
  };

  // REQUIRES: `options` valid (see the ranges above); clock (and metrics when
  // not null) outlive the breaker. Without a registry the breaker keeps its
  // own. Metrics carry the label breaker=<name>.
  CircuitBreaker(std::string name, CircuitBreakerOptions options, const Clock& clock,
                 MetricsRegistry* metrics = nullptr);
  ~CircuitBreaker();
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  const std::string& name() const { return name_; }

  // try_acquire: whether a call may go now. Lock-free when CLOSED. A rejected
  // call is counted and costs nothing else.
  Permit try_acquire() {
    BreakerState s = state_.load(std::memory_order_acquire);
    if (s == BreakerState::kClosed || s == BreakerState::kForcedClosed) {
      Permit p;
      p.allowed_ = true;
      p.generation_ = generation_.load(std::memory_order_acquire);
      return p;
    }
    return acquire_slow();
  }

  // on_success / on_failure: the outcome of an admitted call. Outcomes of
  // calls admitted before the last state change count in the totals but do
  // not move the state.
  void on_success(const Permit& p);
  void on_failure(const Permit& p);
  // on_ignored: the call ended without telling anything about the
  // dependency (cancelled by the client, a permanent error of the request);
  // frees a half-open probe slot.
  void on_ignored(const Permit& p);

  // state: the current state (OPEN stays OPEN until a call asks after the
  // timeout, then becomes HALF_OPEN).
  BreakerState state() const { return state_.load(std::memory_order_acquire); }

  // reset: CLOSED with empty counters of the window and streaks (totals stay).
  void reset();
  // force_open / force_closed: hold the state until reset().
  void force_open();
  void force_closed();

  // options / set_options: the thresholds, changed at runtime. REQUIRES:
  // valid options (ValidateBreakerOptions).
  CircuitBreakerOptions options() const;
  void set_options(const CircuitBreakerOptions& options);

  BreakerMetrics get_metrics() const;

 private:
  struct Counters;

  Permit acquire_slow();
  void record(const Permit& p, bool failed);
  void transition(BreakerState to);        // REQUIRES: mu_ held
  void push_outcome(bool failed, Nanos now);  // REQUIRES: mu_ held
  void prune_window(Nanos now);            // REQUIRES: mu_ held
  double window_failure_rate() const;      // REQUIRES: mu_ held
  bool should_trip() const;                // REQUIRES: mu_ held

  const std::string name_;
  const Clock& clock_;
  std::unique_ptr<MetricsRegistry> own_metrics_;  // when none was given
  MetricsRegistry& metrics_;
  std::unique_ptr<Counters> counters_;            // constant after construction

  std::atomic<BreakerState> state_{BreakerState::kClosed};  // written under mu_
  std::atomic<uint64_t> generation_{0};                     // written under mu_

  mutable std::mutex mu_;
  CircuitBreakerOptions options_;       // GUARDED_BY(mu_)
  Nanos opened_at_ = Nanos(0);          // GUARDED_BY(mu_)
  int consecutive_failures_ = 0;        // GUARDED_BY(mu_)
  int half_open_successes_ = 0;         // GUARDED_BY(mu_)
  int probes_in_flight_ = 0;            // GUARDED_BY(mu_)
  struct Outcome {
    Nanos at;
    bool failed;
  };
  std::deque<Outcome> window_;          // GUARDED_BY(mu_)
  int window_failures_ = 0;             // GUARDED_BY(mu_)
};

// ValidateBreakerOptions: "" when valid, else what is wrong ("failure_threshold
// must be >= 1").
std::string ValidateBreakerOptions(const CircuitBreakerOptions& o);

}  // namespace agentgate
