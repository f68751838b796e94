// Wrappers that put the resilience components around any async call of the
// library (a Redis command, an embedding request, ...):
//
//   Result<Reply> r = co_await CallThrough<Reply>(breaker, [&] { return redis.command(args); });
//   Result<Reply> r = co_await WithRetry<Reply>(policy, clock, sleeper, &budget,
//                                               [&] { return redis.command(args); });
//   Embedding e = co_await WithFallback<Embedding>([&] { return embed(text); }, Embedding{});
//
// A call is a callable returning boost::asio::awaitable<Result<T>>. Its
// failures are classified with ClassifyStatus (error_class.h).
//
// Thread-safety: as the components used; the wrappers keep no state.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <random>
#include <utility>

#include "agentgate/core/status.h"
#include "agentgate/resilience/circuit_breaker.h"
#include "agentgate/resilience/error_class.h"
#include "agentgate/resilience/retry.h"
#include "agentgate/resilience/sleeper.h"

namespace agentgate {

// CallThrough: `call` under `breaker`. Rejected: kUnavailable at once,
// without calling. A TRANSIENT or RECOVERABLE failure counts against the
// breaker; other failures say nothing about the dependency's health.
template <typename T, typename F>
boost::asio::awaitable<Result<T>> CallThrough(CircuitBreaker& breaker, F call) {
  CircuitBreaker::Permit permit = breaker.try_acquire();
  if (!permit.allowed()) {
    co_return Status(StatusCode::kUnavailable,
                     "circuit breaker '" + breaker.name() + "' is open");
  }
  Result<T> r = co_await call();
  if (r.ok()) {
    breaker.on_success(permit);
  } else if (IsRetryable(ClassifyStatus(r.status()))) {
    breaker.on_failure(permit);
  } else {
    breaker.on_ignored(permit);
  }
  co_return r;
}

// WithRetry: `call` again while it fails retryably and the schedule (policy,
// deadline, `budget` when not null) allows, waiting with `sleeper`. Returns
// the last result.
template <typename T, typename F>
boost::asio::awaitable<Result<T>> WithRetry(const RetryPolicy& policy, const Clock& clock,
                                            Sleeper& sleeper, RetryBudget* budget, F call) {
  thread_local std::mt19937_64 seeds{std::random_device{}()};
  RetrySchedule schedule(policy, clock, budget, seeds());
  for (;;) {
    Result<T> r = co_await call();
    if (r.ok()) co_return r;
    std::optional<Nanos> wait = schedule.next(ClassifyStatus(r.status()));
    if (!wait) co_return r;
    co_await sleeper.sleep(*wait);
  }
}

// WithFallback: `primary`'s value, or `fallback` when it fails.
template <typename T, typename F>
boost::asio::awaitable<T> WithFallback(F primary, T fallback) {
  Result<T> r = co_await primary();
  if (r.ok()) co_return std::move(r).value();
  co_return fallback;
}

}  // namespace agentgate
