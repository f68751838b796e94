#include "agentgate/resilience/circuit_breaker.h"

#include <algorithm>

namespace agentgate {

std::string_view BreakerStateName(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed: return "CLOSED";
    case BreakerState::kOpen: return "OPEN";
    case BreakerState::kHalfOpen: return "HALF_OPEN";
    case BreakerState::kForcedOpen: return "FORCED_OPEN";
    case BreakerState::kForcedClosed: return "FORCED_CLOSED";
  }
  return "UNKNOWN";
}

std::string ValidateBreakerOptions(const CircuitBreakerOptions& o) {
  if (o.failure_threshold < 1) return "failure_threshold must be >= 1";
  if (o.success_threshold < 1) return "success_threshold must be >= 1";
  if (o.timeout <= Nanos(0)) return "timeout must be > 0";
  if (o.half_open_max_probes < 1) return "half_open_max_probes must be >= 1";
  if (!(o.failure_rate_threshold > 0 && o.failure_rate_threshold <= 1)) {
    return "failure_rate_threshold must be in (0, 1]";
  }
  if (o.window_size < 1) return "window_size must be >= 1";
  if (o.window_duration < Nanos(0)) return "window_duration must be >= 0";
  if (o.minimum_calls < 1) return "minimum_calls must be >= 1";
  return "";
}

// Counters: the breaker's declared metrics, labelled breaker=<name>.
struct CircuitBreaker::Counters {
  Counters(MetricsRegistry& r, const std::string& name)
      : success(r.counter("agentgate_circuit_breaker_calls_total",
                          "Calls through a circuit breaker, by outcome",
                          {{"breaker", name}, {"outcome", "success"}})),
        failure(r.counter("agentgate_circuit_breaker_calls_total",
                          "Calls through a circuit breaker, by outcome",
                          {{"breaker", name}, {"outcome", "failure"}})),
        rejected(r.counter("agentgate_circuit_breaker_calls_total",
                           "Calls through a circuit breaker, by outcome",
                           {{"breaker", name}, {"outcome", "rejected"}})),
        state_changes(r.counter("agentgate_circuit_breaker_state_changes_total",
                                "Circuit breaker state transitions", {{"breaker", name}})),
        state(r.gauge("agentgate_circuit_breaker_state",
                      "Circuit breaker state: 0 closed, 1 open, 2 half-open, 3 forced open, "
                      "4 forced closed",
                      {{"breaker", name}})),
        failure_rate(r.gauge("agentgate_circuit_breaker_failure_rate",
                             "Failure rate over the breaker's sliding window, 0..1",
                             {{"breaker", name}})) {}
  Counter& success;
  Counter& failure;
  Counter& rejected;
  Counter& state_changes;
  Gauge& state;
  Gauge& failure_rate;
};

CircuitBreaker::CircuitBreaker(std::string name, CircuitBreakerOptions options,
                               const Clock& clock, MetricsRegistry* metrics)
    : name_(std::move(name)),
      clock_(clock),
      own_metrics_(metrics == nullptr ? std::make_unique<MetricsRegistry>() : nullptr),
      metrics_(metrics == nullptr ? *own_metrics_ : *metrics),
      counters_(std::make_unique<Counters>(metrics_, name_)),
      options_(options) {
  counters_->state.set(0);
}

CircuitBreaker::~CircuitBreaker() = default;

CircuitBreaker::Permit CircuitBreaker::acquire_slow() {
  std::lock_guard lock(mu_);
  Permit p;
  Nanos now = clock_.monotonic();
  BreakerState s = state_.load(std::memory_order_relaxed);
  if (s == BreakerState::kOpen && now - opened_at_ >= options_.timeout) {
    transition(BreakerState::kHalfOpen);
    s = BreakerState::kHalfOpen;
  }
  switch (s) {
    case BreakerState::kClosed:
    case BreakerState::kForcedClosed:
      p.allowed_ = true;
      break;
    case BreakerState::kHalfOpen:
      if (probes_in_flight_ < options_.half_open_max_probes) {
        ++probes_in_flight_;
        p.allowed_ = true;
        p.probe_ = true;
      } else {
        // The probes in flight decide; ask again in a second.
        p.retry_after_ = std::chrono::seconds(1);
      }
      break;
    case BreakerState::kOpen:
      p.retry_after_ = opened_at_ + options_.timeout - now;
      break;
    case BreakerState::kForcedOpen:
      p.retry_after_ = options_.timeout;
      break;
  }
  p.generation_ = generation_.load(std::memory_order_relaxed);
  if (!p.allowed_) counters_->rejected.inc();
  return p;
}

void CircuitBreaker::on_success(const Permit& p) { record(p, false); }
void CircuitBreaker::on_failure(const Permit& p) { record(p, true); }

void CircuitBreaker::on_ignored(const Permit& p) {
  if (!p.allowed_ || !p.probe_) return;
  std::lock_guard lock(mu_);
  if (p.generation_ == generation_.load(std::memory_order_relaxed) && probes_in_flight_ > 0) {
    --probes_in_flight_;
  }
}

void CircuitBreaker::record(const Permit& p, bool failed) {
  if (!p.allowed_) return;
  (failed ? counters_->failure : counters_->success).inc();
  std::lock_guard lock(mu_);
  // The window spans seconds: a time a few milliseconds stale will do, and
  // the coarse clock costs a fifth of the precise one on every call.
  Nanos now = clock_.coarse_monotonic();
  push_outcome(failed, now);
  consecutive_failures_ = failed ? consecutive_failures_ + 1 : 0;
  // An outcome from before the last transition says nothing about this state.
  if (p.generation_ != generation_.load(std::memory_order_relaxed)) return;
  switch (state_.load(std::memory_order_relaxed)) {
    case BreakerState::kClosed:
      if (failed && should_trip()) transition(BreakerState::kOpen);
      break;
    case BreakerState::kHalfOpen:
      if (p.probe_ && probes_in_flight_ > 0) --probes_in_flight_;
      if (failed) {
        transition(BreakerState::kOpen);
      } else if (++half_open_successes_ >= options_.success_threshold) {
        transition(BreakerState::kClosed);
      }
      break;
    default:
      break;
  }
}

bool CircuitBreaker::should_trip() const {
  if (options_.mode == CircuitBreakerOptions::Mode::kConsecutive) {
    return consecutive_failures_ >= options_.failure_threshold;
  }
  return static_cast<int>(window_.size()) >= options_.minimum_calls &&
         window_failure_rate() >= options_.failure_rate_threshold;
}

void CircuitBreaker::transition(BreakerState to) {
  BreakerState from = state_.load(std::memory_order_relaxed);
  if (from == to) return;
  if (to == BreakerState::kOpen) opened_at_ = clock_.monotonic();
  if (to == BreakerState::kClosed || to == BreakerState::kForcedClosed) {
    consecutive_failures_ = 0;
    window_.clear();
    window_failures_ = 0;
    counters_->failure_rate.set(0);
  }
  half_open_successes_ = 0;
  probes_in_flight_ = 0;
  generation_.fetch_add(1, std::memory_order_relaxed);
  state_.store(to, std::memory_order_release);
  counters_->state_changes.inc();
  counters_->state.set(static_cast<double>(to));
}

void CircuitBreaker::push_outcome(bool failed, Nanos now) {
  window_.push_back({now, failed});
  if (failed) ++window_failures_;
  prune_window(now);
  counters_->failure_rate.set(window_failure_rate());
}

void CircuitBreaker::prune_window(Nanos now) {
  auto drop_front = [this] {
    if (window_.front().failed) --window_failures_;
    window_.pop_front();
  };
  while (static_cast<int>(window_.size()) > options_.window_size) drop_front();
  if (options_.window_duration > Nanos(0)) {
    while (!window_.empty() && now - window_.front().at > options_.window_duration) drop_front();
  }
}

double CircuitBreaker::window_failure_rate() const {
  return window_.empty() ? 0.0 : static_cast<double>(window_failures_) / window_.size();
}

void CircuitBreaker::reset() {
  std::lock_guard lock(mu_);
  // Leave a forced state through CLOSED's bookkeeping even when already closed.
  transition(BreakerState::kClosed);
  consecutive_failures_ = 0;
  window_.clear();
  window_failures_ = 0;
  counters_->failure_rate.set(0);
}

void CircuitBreaker::force_open() {
  std::lock_guard lock(mu_);
  transition(BreakerState::kForcedOpen);
}

void CircuitBreaker::force_closed() {
  std::lock_guard lock(mu_);
  transition(BreakerState::kForcedClosed);
}

CircuitBreakerOptions CircuitBreaker::options() const {
  std::lock_guard lock(mu_);
  return options_;
}

void CircuitBreaker::set_options(const CircuitBreakerOptions& options) {
  std::lock_guard lock(mu_);
  options_ = options;
  prune_window(clock_.coarse_monotonic());
  counters_->failure_rate.set(window_failure_rate());
}

BreakerMetrics CircuitBreaker::get_metrics() const {
  BreakerMetrics m;
  m.name = name_;
  m.successful_calls = counters_->success.value();
  m.failed_calls = counters_->failure.value();
  m.rejected_calls = counters_->rejected.value();
  m.total_calls = m.successful_calls + m.failed_calls;
  m.state_changes = counters_->state_changes.value();
  std::lock_guard lock(mu_);
  m.state = state_.load(std::memory_order_relaxed);
  m.consecutive_failures = consecutive_failures_;
  m.failure_rate = window_failure_rate();
  m.window_calls = static_cast<int>(window_.size());
  if (m.state == BreakerState::kOpen) {
    m.retry_after = std::max(Nanos(0), opened_at_ + options_.timeout - clock_.monotonic());
  }
  m.options = options_;
  return m;
}

}  // namespace agentgate
