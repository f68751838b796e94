#include "agentgate/resilience/breaker_registry.h"

namespace agentgate {

BreakerRegistry::BreakerRegistry(CircuitBreakerOptions defaults, const Clock& clock,
                                 MetricsRegistry* metrics)
    : defaults_(defaults), clock_(clock), metrics_(metrics) {}

CircuitBreaker& BreakerRegistry::get(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = breakers_.find(name);
  if (it == breakers_.end()) {
    auto b = std::make_unique<CircuitBreaker>(std::string(name), defaults_, clock_, metrics_);
    it = breakers_.emplace(std::string(name), std::move(b)).first;
  }
  return *it->second;
}

CircuitBreaker* BreakerRegistry::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = breakers_.find(name);
  return it == breakers_.end() ? nullptr : it->second.get();
}

std::vector<CircuitBreaker*> BreakerRegistry::all() const {
  std::lock_guard lock(mu_);
  std::vector<CircuitBreaker*> out;
  out.reserve(breakers_.size());
  for (const auto& [name, b] : breakers_) out.push_back(b.get());
  return out;
}

}  // namespace agentgate
