// Retries: RetryPolicy (how many attempts, how long between them), the
// RetryBudget that keeps retries a small share of traffic, and RetrySchedule,
// which answers "retry this failure, and after how long?" for one call.
//
//   RetrySchedule schedule(policy, clock, &budget, seed);
//   for (;;) {
//     Outcome o = co_await attempt();
//     if (o.ok) break;
//     std::optional<Nanos> wait = schedule.next(o.error_class, o.retry_after);
//     if (!wait) break;            // not retryable, attempts, deadline or budget spent
//     co_await sleeper.sleep(*wait);
//   }
//
// Jitter: the default is full jitter (a delay uniform in [0, backoff]): the
// AWS Architecture Blog's "Exponential Backoff And Jitter" measured it to
// need the fewest calls and the least time under contention, because clients
// that failed together spread out instead of retrying in waves. The
// documented ±50% multiplicative jitter (backoff * [0.5, 1.5)) is kept as
// JitterMode::kProportional.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

#include "agentgate/core/clock.h"
#include "agentgate/resilience/error_class.h"

namespace agentgate {

enum class JitterMode : uint8_t {
  kNone,          // exactly the exponential backoff
  kFull,          // uniform in [0, backoff] (default, see above)
  kProportional,  // backoff * uniform in [0.5, 1.5): the documented ±50%
};

// JitterModeName / ParseJitterMode: "none", "full", "proportional".
std::string_view JitterModeName(JitterMode m);
std::optional<JitterMode> ParseJitterMode(std::string_view s);

// RetryPolicy: defaults as documented for `error_recovery:`.
struct RetryPolicy {
  // Attempts per call, the first included, >= 1. Default: 3.
  int max_attempts = 3;
  // Backoff before retry n (1-based) is base_delay * exponential_base^(n-1),
  // capped by max_delay. Default: 1 s.
  Nanos base_delay = std::chrono::seconds(1);
  // Cap on any one delay, the server's Retry-After included. Default: 60 s.
  Nanos max_delay = std::chrono::seconds(60);
  // Growth factor of the backoff, >= 1. Default: 2.
  double exponential_base = 2.0;
  // Jitter applied to the backoff. Default: kFull.
  JitterMode jitter = JitterMode::kFull;
  // Whether TRANSIENT / RECOVERABLE failures are retried. Defaults: true.
  bool retry_transient = true;
  bool retry_recoverable = true;
  // Time from the first attempt after which no retry starts; 0 means no
  // deadline. Default: 0.
  Nanos deadline = Nanos(0);
};

// BackoffDelay: the delay before retry `retry` (1-based) of a failure of
// class `c`, before jitter is applied when `u` is nullopt, else with jitter
// from the uniform sample u in [0, 1). TRANSIENT failures retry at once the
// first time, then back off as if one retry earlier.
Nanos BackoffDelay(const RetryPolicy& p, int retry, ErrorClass c, std::optional<double> u);

// ParseRetryAfter: a Retry-After header value, delay-seconds ("2", "1.5") or
// an HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT", measured from `now_wall`,
// the wall time since the epoch). nullopt when unparseable; a date in the
// past is 0.
std::optional<Nanos> ParseRetryAfter(std::string_view value, Nanos now_wall);

// ParseBodyRetryDelay: a provider's retry hint in a JSON error body:
// Google's `"retryDelay": "2s"` (anywhere in error.details) or a numeric
// `error.retry_after` in seconds. nullopt when there is none.
std::optional<Nanos> ParseBodyRetryDelay(std::string_view body);

// RetryBudgetOptions: how many retries the budget allows.
struct RetryBudgetOptions {
  // Retries allowed as a share of requests over the window, in [0, 1].
  // Default: 0.2.
  double ratio = 0.2;
  // Retries allowed over the window whatever the traffic, so that a quiet
  // gateway can still retry. Default: 10.
  int min_retries = 10;
  // The sliding window, in whole seconds >= 1. Default: 10 s.
  Nanos window = std::chrono::seconds(10);
};

// RetryBudget: caps retries at `ratio` of requests (plus the floor) over a
// sliding window of one-second buckets, so that a failing dependency does not
// see a retry storm.
// Thread-safety: lock-free (on_request is on every request's path). Under
// concurrent use the counts are approximate: a bucket being recycled may
// lose a few counts, and racing try_retry calls may admit a few retries more.
// `clock` must outlive it.
class RetryBudget {
 public:
  RetryBudget(RetryBudgetOptions options, const Clock& clock);

  // on_request: counts one first attempt.
  void on_request();
  // try_retry: whether one more retry fits; counts it when it does.
  bool try_retry();

  int64_t requests_in_window() const;
  int64_t retries_in_window() const;

 private:
  static constexpr int kMaxBuckets = 64;
  struct Bucket {
    std::atomic<int64_t> second{-1};
    std::atomic<int64_t> requests{0};
    std::atomic<int64_t> retries{0};
  };
  int64_t now_second() const;
  Bucket& bucket_at(int64_t second);  // recycled when it held an older second
  void sums(int64_t second, int64_t* requests, int64_t* retries) const;

  const RetryBudgetOptions options_;
  const int buckets_;
  const Clock& clock_;
  Bucket ring_[kMaxBuckets];
};

// RetrySchedule: the retry decisions of one call. Not thread-safe: one per
// call. `clock` and `budget` (may be null) must outlive it.
class RetrySchedule {
 public:
  // Counts the first attempt in `budget`. `seed` feeds the jitter.
  RetrySchedule(const RetryPolicy& policy, const Clock& clock, RetryBudget* budget,
                uint64_t seed);

  // next: after attempt attempts() failed with class `c`, the delay before
  // the next one, or nullopt when the call must stop: the class is not
  // retried, max_attempts are spent, the deadline would pass, or the budget
  // is empty. `server_delay` (Retry-After) is honoured: the delay is at
  // least it, and at most max_delay.
  std::optional<Nanos> next(ErrorClass c, std::optional<Nanos> server_delay = std::nullopt);

  // attempts: attempts made so far (1 before the first next()).
  int attempts() const { return attempts_; }
  // budget_exhausted: the last next() refused because of the budget.
  bool budget_exhausted() const { return budget_exhausted_; }

 private:
  const RetryPolicy& policy_;
  const Clock& clock_;
  RetryBudget* budget_;
  uint64_t rng_;  // splitmix64 state: cheap to seed once per call
  Nanos started_;
  int attempts_ = 1;
  bool budget_exhausted_ = false;
};

}  // namespace agentgate
