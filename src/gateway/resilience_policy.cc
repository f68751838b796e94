#include "gateway/resilience_policy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "agentgate/resilience/error_class.h"
#include "server/error_response.h"

namespace agentgate {

// UpstreamMetrics: the declared metrics of one upstream.
struct ResiliencePolicy::UpstreamMetrics {
  UpstreamMetrics(MetricsRegistry& r, const std::string& up)
      : retries(r.counter("agentgate_upstream_retries_total",
                          "Upstream calls repeated after a retryable failure",
                          {{"upstream", up}})),
        rejected(r.counter("agentgate_upstream_breaker_rejections_total",
                           "Upstream calls not made because the upstream's breaker was open",
                           {{"upstream", up}})),
        budget_exhausted(r.counter("agentgate_upstream_retry_budget_exhausted_total",
                                   "Retries refused by the retry budget", {{"upstream", up}})),
        alerts(r.counter("agentgate_upstream_alerts_total",
                         "CRITICAL upstream failures (401/403: credentials refused)",
                         {{"upstream", up}})),
        transient(r.counter("agentgate_upstream_failures_total",
                            "Failed upstream calls, by error class",
                            {{"upstream", up}, {"class", "transient"}})),
        recoverable(r.counter("agentgate_upstream_failures_total",
                              "Failed upstream calls, by error class",
                              {{"upstream", up}, {"class", "recoverable"}})),
        permanent(r.counter("agentgate_upstream_failures_total",
                            "Failed upstream calls, by error class",
                            {{"upstream", up}, {"class", "permanent"}})),
        critical(r.counter("agentgate_upstream_failures_total",
                           "Failed upstream calls, by error class",
                           {{"upstream", up}, {"class", "critical"}})) {}

  Counter& failures(ErrorClass c) {
    switch (c) {
      case ErrorClass::kTransient: return transient;
      case ErrorClass::kRecoverable: return recoverable;
      case ErrorClass::kPermanent: return permanent;
      case ErrorClass::kCritical: return critical;
    }
    return permanent;
  }

  Counter& retries;
  Counter& rejected;
  Counter& budget_exhausted;
  Counter& alerts;
  Counter& transient;
  Counter& recoverable;
  Counter& permanent;
  Counter& critical;
};

namespace {

uint64_t RandomSeed() {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return (static_cast<uint64_t>(rng()) << 31) ^ rng();
}

// ResetResponse: forget a previous attempt's answer before the next one.
void ResetResponse(HttpResponse& res) {
  res.status = 200;
  res.content_type = "application/json";
  res.headers.clear();
  res.body.clear();
}

// ServerDelay: the upstream's retry hint in its answer, header first.
std::optional<Nanos> ServerDelay(const HttpResponse& res, const Clock& clock) {
  for (const auto& [k, v] : res.headers) {
    if (EqualsIgnoreCase(k, "retry-after")) {
      if (auto d = ParseRetryAfter(v, clock.now())) return d;
    }
  }
  return ParseBodyRetryDelay(res.body);
}

Status FailureFor(const Status& s, const std::string& upstream) {
  std::string m = "upstream '" + upstream + "': " + s.message();
  if (s.code() == StatusCode::kDeadlineExceeded) return DeadlineExceeded(std::move(m));
  return BadGateway(std::move(m));
}

}  // namespace

ResiliencePolicy::ResiliencePolicy(std::vector<std::string> upstream_names,
                                   BreakerRegistry* breakers, RetryPolicy retry,
                                   RetryBudgetOptions budget, const Clock& clock,
                                   Sleeper& sleeper, MetricsRegistry& metrics,
                                   DeadLetterQueue* dead_letters)
    : names_(std::move(upstream_names)),
      retry_(retry),
      budget_(budget, clock),
      clock_(clock),
      sleeper_(sleeper),
      dead_letters_(dead_letters),
      dlq_store_errors_(metrics.counter("agentgate_dlq_store_errors_total",
                                        "Failed requests the dead-letter store could not keep")) {
  for (const std::string& n : names_) {
    breakers_.push_back(breakers != nullptr ? &breakers->get(n) : nullptr);
    metrics_.push_back(std::make_unique<UpstreamMetrics>(metrics, n));
  }
}

ResiliencePolicy::~ResiliencePolicy() = default;

boost::asio::awaitable<void> ResiliencePolicy::dead_letter(const RequestContext& ctx,
                                                         const std::string& upstream,
                                                         int attempts,
                                                         const std::string& error_class,
                                                         const std::string& error) const {
  if (dead_letters_ == nullptr || !ctx.request.header("x-agentgate-dlq-replay").empty()) co_return;
  DeadLetter d;
  d.user = ctx.principal.user_id;
  d.upstream = upstream;
  d.model = ctx.info.model;
  d.function = std::string(ProxyEndpointPath(ctx.endpoint));
  d.attempts = attempts;
  d.error_class = error_class;
  d.error = error;
  d.status = ctx.response.status;
  d.body = ctx.request.body;  // headers (Authorization) are never stored
  d.stream = ctx.info.stream;
  Result<int64_t> id = co_await dead_letters_->add(std::move(d));
  if (!id.ok()) {
    dlq_store_errors_.inc();
    spdlog::error("dead-letter queue: could not store a failed request: {}",
                  id.status().ToString());
  }
}

boost::asio::awaitable<std::optional<size_t>> ResiliencePolicy::run(
    RequestContext& ctx, const std::vector<RouteTarget>& plan, const Attempt& attempt) {
  RetrySchedule schedule(retry_, clock_, &budget_, RandomSeed());
  std::optional<Nanos> soonest_probe;  // over the targets whose breaker refused
  std::optional<size_t> answered;      // the target whose error answer ctx.response holds
  Status last;                         // the last failure without an answer
  bool attempted = false;
  int attempts = 0;
  std::string last_upstream;           // the last upstream called
  ErrorClass last_class = ErrorClass::kTransient;
  for (size_t i = 0; i < plan.size(); ++i) {
    const size_t up = plan[i].upstream;
    CircuitBreaker* breaker = breakers_[up];  // null when breakers are off
    UpstreamMetrics& m = *metrics_[up];
    for (;;) {
      CircuitBreaker::Permit permit;
      if (breaker != nullptr) permit = breaker->try_acquire();
      if (breaker != nullptr && !permit.allowed()) {
        m.rejected.inc();
        soonest_probe = std::min(soonest_probe.value_or(permit.retry_after()), permit.retry_after());
        break;  // to the next target
      }
      if (attempted) ResetResponse(ctx.response);
      attempted = true;
      ++attempts;
      last_upstream = names_[up];
      answered.reset();
      Status s = co_await attempt(plan[i]);
      if (ctx.streamed) {
        // The client has bytes: whatever happens now cannot be retried.
        if (breaker != nullptr && s.ok()) breaker->on_success(permit);
        if (breaker != nullptr && !s.ok()) breaker->on_failure(permit);
        co_return i;
      }
      ErrorClass c;
      if (!s.ok()) {
        c = ClassifyStatus(s);
        last = FailureFor(s, names_[up]);
      } else if (ctx.response.status < 400) {
        if (breaker != nullptr) breaker->on_success(permit);
        co_return i;
      } else {
        c = ClassifyHttpStatus(ctx.response.status);
        answered = i;
      }
      m.failures(c).inc();
      last_class = c;
      if (breaker != nullptr) {
        if (IsRetryable(c)) {
          breaker->on_failure(permit);
        } else if (c == ErrorClass::kPermanent) {
          breaker->on_success(permit);  // the upstream is healthy; the request is wrong
        } else {
          breaker->on_ignored(permit);  // credentials refused: says nothing of its health
        }
      }
      if (c == ErrorClass::kCritical) {
        m.alerts.inc();
        spdlog::error("upstream '{}' refused our credentials ({}): check its api_key",
                      names_[up], ctx.response.status);
      }
      if (!IsRetryable(c)) {
        if (!answered) SetError(ctx.response, last);
        if (c == ErrorClass::kCritical) {
          const std::string cls(ErrorClassName(c));
          const std::string why = answered ? "upstream answered " +
                                                 std::to_string(ctx.response.status)
                                           : last.message();
          co_await dead_letter(ctx, last_upstream, attempts, cls, why);
        }
        co_return answered;
      }
      std::optional<Nanos> server_delay;
      if (answered) server_delay = ServerDelay(ctx.response, clock_);
      std::optional<Nanos> wait = schedule.next(c, server_delay);
      if (!wait) {
        if (schedule.budget_exhausted()) m.budget_exhausted.inc();
        break;  // to the next target
      }
      m.retries.inc();
      co_await sleeper_.sleep(*wait);
    }
  }
  const std::string last_class_name(ErrorClassName(last_class));
  if (answered) {
    const std::string why = "upstream answered " + std::to_string(ctx.response.status);
    co_await dead_letter(ctx, last_upstream, attempts, last_class_name, why);
    co_return answered;
  }
  if (attempted) {
    SetError(ctx.response, last);
    const std::string why = last.message();
    co_await dead_letter(ctx, last_upstream, attempts, last_class_name, why);
    co_return std::nullopt;
  }
  // Every breaker refused: no upstream traffic at all.
  Nanos wait = soonest_probe.value_or(Nanos(0));
  int64_t secs = std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(wait + std::chrono::seconds(1) -
                                                          Nanos(1))
             .count());
  SetError(ctx.response,
           Unavailable("every upstream for model '" + ctx.info.model +
                       "' is failing (circuit breaker open); retry in " + std::to_string(secs) +
                       " s"));
  ctx.response.set_header("Retry-After", std::to_string(secs));
  const std::string no_upstream, breaker_open = "BREAKER_OPEN", why = "circuit breaker open";
  co_await dead_letter(ctx, no_upstream, 0, breaker_open, why);
  co_return std::nullopt;
}

}  // namespace agentgate
